"""Members' cross-signing identities as the bot pinned them, and the devices it saw for them.

An account's master key is pinned the first time the bot sees it (trust on first use). A
device is trusted while the pinned identity signs it (device ← self-signing key ← master
key, checked in homeward.matrix.cross_signing) and no other master key has replaced the
pinned one on the homeserver; `trusted_since` is set exactly then, so "which devices are
trusted" and "since when" are one column. When the homeserver shows another master key
(`seen_key`), none of the account's devices is trusted until a coordinator restores trust
(`restore`), which pins the new key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from homeward.matrix.cross_signing import MemberKeys
from homeward.store.changes import bookkeeping
from homeward.store.sql import Connection, Row


@dataclass(frozen=True)
class Identity:
    user_id: str
    master_key: str | None  # pinned; None while the account has shown no cross-signing
    pinned_at: datetime | None
    seen_key: str | None  # another master key the homeserver shows, not trusted yet
    seen_at: datetime | None

    @property
    def changed(self) -> bool:
        """The homeserver shows a master key other than the pinned one: nothing of theirs is trusted."""
        return self.seen_key is not None


@dataclass(frozen=True)
class TrustedDevice:
    user_id: str
    device_id: str
    ed25519: str
    curve25519: str
    trusted_since: datetime


@dataclass
class Learned:
    """What one `/keys/query` answer changed for one account."""

    user_id: str
    pinned: str | None = None  # a master key pinned now (first use)
    changed_to: str | None = None  # another master key seen for the first time
    back_to_pinned: bool = False  # the homeserver shows the pinned key again: the change is over
    newly_trusted: list[str] = field(default_factory=list)  # devices trusted from now on
    untrusted: list[str] = field(default_factory=list)  # devices present and not trusted
    new_untrusted: list[str] = field(default_factory=list)  # of those, the ones seen for the first time
    no_identity: bool = False  # the account has no (valid) cross-signing identity
    #: Some device of the account was trusted before this answer: a newly trusted one is a member's *new* device.
    had_trusted: bool = False

    @property
    def trust_moved(self) -> bool:
        """Whether which of the account's devices are trusted may have changed."""
        return bool(self.pinned or self.changed_to or self.back_to_pinned or self.newly_trusted)


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


async def identity(db: Connection, user_id: str) -> Identity | None:
    async with db.execute(
        "SELECT master_key, pinned_at, seen_key, seen_at FROM identities WHERE user_id = ?", (user_id,)
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        return None
    return Identity(user_id, row["master_key"], _time(row["pinned_at"]), row["seen_key"], _time(row["seen_at"]))


@bookkeeping
async def learn(db: Connection, keys: MemberKeys, now: datetime) -> Learned:
    """Record what the homeserver says of an account now: pin its master key on first use, note a
    different one, and bring its devices' rows in step (trusted from now, no longer, or gone)."""
    user = keys.user_id
    at = now.isoformat()
    learned = Learned(user, no_identity=keys.master is None)
    known = await identity(db, user)
    pinned = known.master_key if known else None
    seen = known.seen_key if known else None
    if known is None or (pinned is None and keys.master is not None):
        pinned, seen = keys.master, None
        learned.pinned = keys.master
        await db.execute(
            "INSERT INTO identities (user_id, master_key, pinned_at, seen_key, seen_at, checked_at)"
            " VALUES (?, ?, ?, NULL, NULL, ?) ON CONFLICT (user_id) DO UPDATE SET master_key = excluded.master_key,"
            " pinned_at = excluded.pinned_at, seen_key = NULL, seen_at = NULL, checked_at = excluded.checked_at",
            (user, keys.master, at if keys.master else None, at),
        )
    elif keys.master is not None and keys.master != pinned:
        if keys.master != seen:
            seen = keys.master
            learned.changed_to = keys.master
            await db.execute(
                "UPDATE identities SET seen_key = ?, seen_at = ?, checked_at = ? WHERE user_id = ?",
                (keys.master, at, at, user),
            )
    elif keys.master is not None and seen is not None:  # the pinned key is back (a reset undone)
        seen = None
        learned.back_to_pinned = True
        await db.execute(
            "UPDATE identities SET seen_key = NULL, seen_at = NULL, checked_at = ? WHERE user_id = ?", (at, user)
        )
    else:
        await db.execute("UPDATE identities SET checked_at = ? WHERE user_id = ?", (at, user))
    identity_holds = keys.master is not None and keys.master == pinned and seen is None
    rows = await _device_rows(db, user)
    learned.had_trusted = any(row["trusted_since"] is not None for row in rows.values())
    for device_id, device in keys.devices.items():
        signed = device_id in keys.signed
        trusted = identity_holds and signed
        row = rows.pop(device_id, None)
        same_keys = row is not None and (row["ed25519"], row["curve25519"]) == (device.ed25519, device.curve25519)
        since = row["trusted_since"] if row is not None and same_keys else None
        if trusted and since is None:
            since = at
            learned.newly_trusted.append(device_id)
        elif not trusted:
            since = None
            learned.untrusted.append(device_id)
            if not same_keys and pinned is not None:  # an account still setting up its identity: not yet
                learned.new_untrusted.append(device_id)
        await db.execute(
            "INSERT INTO identity_devices (user_id, device_id, ed25519, curve25519, signed_by, first_seen,"
            " trusted_since, told_at, reaction_told_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (user_id, device_id) DO UPDATE"
            " SET ed25519 = excluded.ed25519, curve25519 = excluded.curve25519, signed_by = excluded.signed_by,"
            " first_seen = excluded.first_seen, trusted_since = excluded.trusted_since, told_at = excluded.told_at,"
            " reaction_told_at = excluded.reaction_told_at",
            (
                user,
                device_id,
                device.ed25519,
                device.curve25519,
                keys.master if signed else None,
                row["first_seen"] if same_keys and row is not None else at,
                since,
                row["told_at"] if same_keys and row is not None else None,  # other keys under the id: a new device
                row["reaction_told_at"] if same_keys and row is not None else None,
            ),
        )
    for gone in rows:  # signed out: no longer listed by the homeserver
        await db.execute("DELETE FROM identity_devices WHERE user_id = ? AND device_id = ?", (user, gone))
    return learned


async def _device_rows(db: Connection, user_id: str) -> dict[str, Row]:
    async with db.execute("SELECT * FROM identity_devices WHERE user_id = ?", (user_id,)) as cur:
        return {row["device_id"]: row for row in await cur.fetchall()}


@bookkeeping
async def restore(db: Connection, user_id: str, now: datetime) -> str | None:
    """Pin the master key the homeserver shows instead of the pinned one (a coordinator checked with
    the person); its devices are trusted from now. The key pinned, or None when there was no change."""
    known = await identity(db, user_id)
    if known is None or known.seen_key is None:
        return None
    at = now.isoformat()
    await db.execute(
        "UPDATE identities SET master_key = seen_key, pinned_at = ?, seen_key = NULL, seen_at = NULL WHERE user_id = ?",
        (at, user_id),
    )
    await db.execute(
        "UPDATE identity_devices SET trusted_since = ? WHERE user_id = ? AND signed_by = ?",
        (at, user_id, known.seen_key),
    )
    return known.seen_key


async def trusted_devices(db: Connection, user_id: str | None = None) -> list[TrustedDevice]:
    """The devices trusted now (of one account, or of everyone)."""
    sql = "SELECT user_id, device_id, ed25519, curve25519, trusted_since FROM identity_devices"
    sql += " WHERE trusted_since IS NOT NULL" + (" AND user_id = ?" if user_id else "")
    async with db.execute(sql, (user_id,) if user_id else ()) as cur:
        return [
            TrustedDevice(
                r["user_id"], r["device_id"], r["ed25519"], r["curve25519"], datetime.fromisoformat(r["trusted_since"])
            )
            for r in await cur.fetchall()
        ]


async def known_users(db: Connection) -> set[str]:
    """The accounts whose keys the bot has asked for at least once."""
    async with db.execute("SELECT user_id FROM identities") as cur:
        return {row["user_id"] for row in await cur.fetchall()}


async def is_trusted(db: Connection, user_id: str, device_id: str) -> bool:
    async with db.execute(
        "SELECT 1 FROM identity_devices WHERE user_id = ? AND device_id = ? AND trusted_since IS NOT NULL",
        (user_id, device_id),
    ) as cur:
        return await cur.fetchone() is not None


async def newest_trusted_since(db: Connection, user_id: str) -> datetime | None:
    """When the account's newest trusted device became trusted (None: it has none)."""
    async with db.execute(
        "SELECT max(trusted_since) AS newest FROM identity_devices WHERE user_id = ? AND trusted_since IS NOT NULL",
        (user_id,),
    ) as cur:
        row = await cur.fetchone()
    return _time(row["newest"]) if row else None


async def untrusted_devices(db: Connection, user_id: str) -> list[str]:
    """The ids of the account's listed devices that are not trusted."""
    async with db.execute(
        "SELECT device_id FROM identity_devices WHERE user_id = ? AND trusted_since IS NULL ORDER BY device_id",
        (user_id,),
    ) as cur:
        return [row["device_id"] for row in await cur.fetchall()]


@bookkeeping
async def mark_told(db: Connection, user_id: str, device_id: str, now: datetime, reaction: bool = False) -> bool:
    """Note that the owner of a device the bot does not trust was told so — that a command from it acted
    on nothing, or (`reaction`) that their ✅ does not count while it is there; False if they were already."""
    column = "reaction_told_at" if reaction else "told_at"
    cur = await db.execute(
        f"UPDATE identity_devices SET {column} = ? WHERE user_id = ? AND device_id = ? AND {column} IS NULL",
        (now.isoformat(), user_id, device_id),
    )
    return cur.rowcount == 1


async def identities(db: Connection) -> list[Identity]:
    async with db.execute("SELECT user_id, master_key, pinned_at, seen_key, seen_at FROM identities") as cur:
        return [
            Identity(r["user_id"], r["master_key"], _time(r["pinned_at"]), r["seen_key"], _time(r["seen_at"]))
            for r in await cur.fetchall()
        ]


@dataclass
class _Account:
    identity: Identity
    trusted: dict[str, TrustedDevice]  # by device id

    def by_keys(self, curve25519: str, ed25519: str | None) -> TrustedDevice | None:
        for device in self.trusted.values():
            if device.curve25519 == curve25519 and (ed25519 is None or device.ed25519 == ed25519):
                return device
        return None


class TrustBook:
    """The pinned identities and trusted devices, read from the store once and kept in step with it.

    Every encrypted command asks it (which device sent this, and is it trusted?), and every
    message the bot sends asks it (which devices get the room key), so it answers from memory.
    A change written in a transaction that may still roll back (a coordinator's `!trust`) only
    marks the account stale (`forget`): it is read again, after the commit, before its next use.
    """

    def __init__(self) -> None:
        self._accounts: dict[str, _Account] = {}
        self._stale: set[str] = set()
        self.loaded = False

    async def load(self, db: Connection) -> None:
        trusted: dict[str, dict[str, TrustedDevice]] = {}
        for device in await trusted_devices(db):
            trusted.setdefault(device.user_id, {})[device.device_id] = device
        self._accounts = {i.user_id: _Account(i, trusted.get(i.user_id, {})) for i in await identities(db)}
        self._stale.clear()
        self.loaded = True

    def forget(self, user_id: str) -> None:
        """The account's rows changed (or may have): read them again before the next answer."""
        self._stale.add(user_id)

    @property
    def stale(self) -> bool:
        return bool(self._stale)

    async def refresh(self, db: Connection) -> set[str]:
        """Read the accounts marked stale again; which they were."""
        stale = set(self._stale)
        for user_id in sorted(stale):
            found = await identity(db, user_id)
            if found is None:
                self._accounts.pop(user_id, None)
            else:
                self._accounts[user_id] = _Account(found, {d.device_id: d for d in await trusted_devices(db, user_id)})
        self._stale -= stale
        return stale

    def known(self, user_id: str) -> bool:
        """Whether the bot has the account's keys (asked the homeserver at least once)."""
        return user_id in self._accounts

    def identity(self, user_id: str) -> Identity | None:
        account = self._accounts.get(user_id)
        return account.identity if account else None

    def device(self, user_id: str, curve25519: str, ed25519: str | None = None) -> TrustedDevice | None:
        """The trusted device of `user_id` with these keys (the one a message came from), if any."""
        account = self._accounts.get(user_id)
        return account.by_keys(curve25519, ed25519) if account else None

    def trusts(self, user_id: str, device_id: str, ed25519: str, curve25519: str) -> bool:
        """Whether this device, with exactly these keys, is trusted."""
        account = self._accounts.get(user_id)
        device = account.trusted.get(device_id) if account else None
        return device is not None and (device.ed25519, device.curve25519) == (ed25519, curve25519)

    def trusted(self, user_id: str) -> list[TrustedDevice]:
        account = self._accounts.get(user_id)
        return list(account.trusted.values()) if account else []


async def member_cases(db: Connection, user_id: str) -> list[tuple[int, str]]:
    """(case id, room id) of every case `user_id` is on the team of, whose room exists and was not removed."""
    async with db.execute(
        "SELECT c.id, c.room_id FROM members m JOIN cases c ON c.id = m.case_id"
        " WHERE m.user_id = ? AND c.room_id IS NOT NULL AND c.purged_at IS NULL ORDER BY c.id",
        (user_id,),
    ) as cur:
        return [(row["id"], row["room_id"]) for row in await cur.fetchall()]


async def sent_at(db: Connection, outbox_id: int) -> datetime | None:
    """When an outbox row (the pinned checklist) reached the homeserver; None while it has not."""
    async with db.execute("SELECT sent_at FROM outbox WHERE id = ?", (outbox_id,)) as cur:
        row = await cur.fetchone()
    return _time(row["sent_at"]) if row else None


@bookkeeping
async def mark_no_identity_told(db: Connection, user_id: str, now: datetime) -> bool:
    """Note that the care rooms of an account without cross-signing were told so: False if they were
    already, or if the account has an identity (by now)."""
    cur = await db.execute(
        "UPDATE identities SET told_at = ? WHERE user_id = ? AND master_key IS NULL AND told_at IS NULL",
        (now.isoformat(), user_id),
    )
    return cur.rowcount == 1
