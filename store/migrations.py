"""The schema, as a numbered list of migrations applied in order at start-up.

Append only: a released migration is never edited. `PRAGMA user_version` holds the
number of migrations applied, so a database written by a newer Homeward is refused.
"""

MIGRATIONS: list[str] = [
    # 1: the walking skeleton — sync position, handled events, the outbox, rooms.
    """
    CREATE TABLE kv (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    -- One row per Matrix event the bot has acted on: never act twice, even after a restart.
    CREATE TABLE handled_events (
        event_id   TEXT PRIMARY KEY,
        room_id    TEXT NOT NULL,
        handled_at TEXT NOT NULL
    );
    -- Messages to send, written in the same transaction as the change that caused them.
    -- The transaction id sent to the homeserver derives from `id`, so a resend is a no-op.
    CREATE TABLE outbox (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        room_id     TEXT NOT NULL,
        event_type  TEXT NOT NULL,
        content     TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        sent_at     TEXT,
        event_id    TEXT,
        attempts    INTEGER NOT NULL DEFAULT 0,
        last_error  TEXT
    );
    CREATE INDEX outbox_pending ON outbox (id) WHERE sent_at IS NULL;
    -- Rooms the bot takes part in, with their language.
    CREATE TABLE rooms (
        room_id    TEXT PRIMARY KEY,
        kind       TEXT NOT NULL CHECK (kind IN ('direct', 'case', 'other')),
        language   TEXT NOT NULL,
        joined_at  TEXT NOT NULL
    );
    -- Encrypted events the bot could not decrypt yet: retried, and the sender is told.
    CREATE TABLE undecrypted (
        event_id    TEXT PRIMARY KEY,
        room_id     TEXT NOT NULL,
        sender      TEXT NOT NULL,
        event_json  TEXT NOT NULL,
        first_seen  TEXT NOT NULL,
        notified_at TEXT
    );
    """,
]
