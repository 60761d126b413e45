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

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from homeward.care.pathway import Pathway
from homeward.dev.postgres import LocalPostgres, PostgresUnavailable
from homeward.dev.synapse import LocalSynapse
from homeward.store.db import Fence, PostgresStore, Store
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


#: Where the tests' Synapses keep their files: in memory when the machine has a tmpfs there. Synapse's
#: SQLite commits (an fsync each, several per event) were a fifth of a command's round trip on disk.
SYNAPSE_TMPFS = Path("/dev/shm")
#: The least room free in SYNAPSE_TMPFS for the test Synapses to use it (their databases grow to hundreds of MiB).
SYNAPSE_TMPFS_FREE = 2 * 1024**3


@contextlib.asynccontextmanager
async def synapse_folder(logs: Path) -> AsyncIterator[Path]:
    """A folder for Synapse servers' files: under /dev/shm while they run (`logs` itself where there is no
    /dev/shm). Afterwards their logs (*.log, synapse.out) are copied to `logs`, where the same relative
    paths have them, and the folder is removed. Stop the servers before leaving the block."""
    if not (
        SYNAPSE_TMPFS.is_dir()
        and os.access(SYNAPSE_TMPFS, os.W_OK)
        and shutil.disk_usage(SYNAPSE_TMPFS).free >= SYNAPSE_TMPFS_FREE
    ):
        yield logs  # e.g. a container's 64 MiB /dev/shm: a session's Synapse would fill it
        return
    base = Path(tempfile.mkdtemp(prefix="homeward-synapse-", dir=SYNAPSE_TMPFS))
    try:
        yield base
    finally:
        for log in [*base.rglob("*.log"), *base.rglob("synapse.out")]:
            (logs / log.relative_to(base)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(log, logs / log.relative_to(base))
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
async def synapse(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalSynapse]:
    """One Synapse for the whole test session, on a free loopback port.

    Its config, database and logs (homeserver.log, synapse.out) are in a folder under
    /dev/shm while it runs (`synapse_folder`); at the end the logs are copied to the
    pytest temp dir "synapse": look there when a test fails strangely. Tests that stop
    or kill this server must start it again before they end.
    """
    async with synapse_folder(tmp_path_factory.mktemp("synapse")) as base:
        server = LocalSynapse(base)
        try:
            await server.start()
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


# --- the two store engines ---------------------------------------------------------------------------

#: The engines the store's tests run on: `make test` covers both (PostgreSQL from the machine's binaries).
ENGINES = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    """One throwaway PostgreSQL server for the session (homeward.dev.postgres), started when a test first asks.

    Without PostgreSQL binaries the PostgreSQL variants are skipped, except in CI (`CI` set),
    where `.ci/run` installs them and their absence is an error.
    """
    try:
        server = LocalPostgres()
        server.start()
    except PostgresUnavailable as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL is not available here: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """Each test that asks runs once per engine."""
    return str(request.param)


OpenStore = Callable[..., Awaitable[Store]]


@pytest.fixture
def open_store(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> OpenStore:
    """`store = await open_store()`: a new, migrated store of the test's engine, acting (it holds the lease).

    Opened again with the same arguments it is the same store (SQLite: `path`, default
    tmp_path/homeward.sqlite3; PostgreSQL: a schema of its own for the test).
    """
    url = request.getfixturevalue("postgres").fresh_url(migrated=True) if engine == "postgresql" else None

    async def make(path: Path | None = None) -> Store:
        if url is None:
            return await Store.open(path or tmp_path / "homeward.sqlite3")
        store = await PostgresStore.open_url(url)
        if not await store.take_lease("tests", ttl_s=3600):
            store.fence = Fence("tests", (await _lease_token(store)))  # opened again: the lease is the test's
        return store

    return make


async def _lease_token(store: Store) -> int:
    async with store.read() as db:
        rows = list(await db.execute_fetchall("SELECT token FROM lease WHERE name = 'acting'"))
    return int(rows[0][0])


@pytest.fixture
def each_engine(engine: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test once per engine, unchanged: on PostgreSQL, `Store.open(path)` opens a store of its own per path.

    For tests written against `Store.open` that never touch the SQLite file itself
    (`pytestmark = pytest.mark.usefixtures("each_engine")`).
    """
    if engine == "postgresql":
        server = request.getfixturevalue("postgres")
        urls: dict[Path, str] = {}

        async def open_postgresql(cls: type[Store], path: Path) -> Store:
            url = urls.get(Path(path)) or urls.setdefault(Path(path), server.fresh_url(migrated=True))
            store = await PostgresStore.open_url(url)
            if not await store.take_lease("tests", ttl_s=3600):
                store.fence = Fence("tests", await _lease_token(store))
            return store

        monkeypatch.setattr(Store, "open", classmethod(open_postgresql))
    return engine
