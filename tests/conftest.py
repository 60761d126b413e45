"""Shared pytest fixtures.

Unit tests ask for ``pathways`` (the shipped pathways, loaded once per run; more shared set-up
for tests without a homeserver is in tests/unit.py).

Integration tests ask for the ``synapse`` fixture (a real local homeserver) and, for
users, ``new_user``. Synapse is started lazily: only when the first test that needs
it runs, so ``pytest`` on unit tests alone never starts a server.

pyproject.toml sets pytest-asyncio to ``asyncio_mode = "auto"`` with a *session*
event loop for fixtures and tests, so the session-scoped async fixture below and the
tests share one loop.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from homeward.care.pathway import Pathway
from homeward.dev.synapse import LocalSynapse
from tests.unit import shipped_pathways

#: Every user made by ``new_user`` gets this password; tests never need another.
TEST_PASSWORD = "test-password"

NewUser = Callable[..., Awaitable[tuple[str, str]]]


INTEGRATION = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs a homeserver `synapse`, so `make test-fast` (`-m "not synapse and not slow"`)
    leaves it out without anyone having to remember the mark: all of tests/integration/, and any test that
    asks for the `synapse` fixture, directly or through another fixture."""
    for item in items:
        if item.path.is_relative_to(INTEGRATION) or "synapse" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.synapse)


@pytest.fixture
def pathways() -> dict[str, Pathway]:
    """The pathways shipped in pathways/, by id (loaded once per run; see tests/unit.py)."""
    return shipped_pathways()


@pytest.fixture(scope="session")
async def synapse(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalSynapse]:
    """One Synapse for the whole test session, on a free loopback port.

    Its config, database and logs (homeserver.log, synapse.out) are in a pytest
    temp dir; look there when a test fails strangely. Tests that stop or kill this
    server must start it again before they end.
    """
    server = LocalSynapse(tmp_path_factory.mktemp("synapse"))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def new_user(synapse: LocalSynapse) -> NewUser:
    """Factory for fresh users: ``user_id, password = await new_user()``.

    Localparts are unique (``u-<8 hex>``), so tests never share state through
    users. Optional keyword arguments: ``prefix``, ``admin``, ``displayname``.
    """

    async def make(prefix: str = "u", admin: bool = False, displayname: str | None = None) -> tuple[str, str]:
        localpart = f"{prefix}-{uuid.uuid4().hex[:8]}"
        user_id = await synapse.register(localpart, TEST_PASSWORD, admin=admin, displayname=displayname)
        return user_id, TEST_PASSWORD

    return make
