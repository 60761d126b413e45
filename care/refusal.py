"""A decision of the care logic that the user must read, in their own language."""

from __future__ import annotations

from typing import Any


class Refusal(Exception):
    """Something was not allowed or not possible: a catalog key and the values it needs."""

    def __init__(self, key: str, **values: Any) -> None:
        self.key = key
        self.values = values
        super().__init__(key)
