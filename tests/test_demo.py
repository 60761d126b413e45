"""`make run`'s demo configuration (dev/demo.py): its staff may open cases, its guardian may not."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from homeward.config import load_config
from homeward.dev.demo import _write_bot_config
from homeward.dev.synapse import LocalSynapse


class FakeServer:
    url = "http://127.0.0.1:8008"
    server_name = "localhost"

    def user_id(self, name: str) -> str:
        return f"@{name}:{self.server_name}"


def fake_server() -> LocalSynapse:
    """What the demo's configuration reads of its homeserver, and nothing more."""
    return cast(LocalSynapse, FakeServer())


def test_the_demos_staff_may_open_cases_and_its_guardian_may_not(tmp_path: Path) -> None:
    config = load_config(_write_bot_config(tmp_path, fake_server(), "pw"), {})
    assert all(config.case_opener(f"@{name}:localhost") for name in ("coordinator", "nurse", "caseofficer"))
    assert not config.case_opener("@guardian:localhost")


def test_a_demo_configuration_from_before_case_openers_gets_them(tmp_path: Path) -> None:
    path = _write_bot_config(tmp_path, fake_server(), "pw")
    path.write_text(
        "\n".join(line for line in path.read_text().splitlines() if not line.startswith("case_openers")) + "\n"
    )
    config = load_config(_write_bot_config(tmp_path, fake_server(), "pw"), {})
    assert config.case_opener("@nurse:localhost") and not config.case_opener("@guardian:localhost")
