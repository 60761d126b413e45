"""The schema, as a numbered list of migrations applied in order at start-up.

Append only: a released migration is never edited. `PRAGMA user_version` (SQLite) or the
table `homeward_schema` (PostgreSQL) holds the number of migrations applied, so a database
written by a newer Homeward is refused. One list for both engines: written as SQLite and
PostgreSQL both run it, or as SQLite that `store.sql.to_postgresql` translates (the rules
are in store/README.md).
A migration is an SQL script, or a function of the connection where SQL alone cannot do
it (hashing existing rows); each runs in its own transaction.
"""

from collections.abc import Awaitable, Callable

from homeward.store.chain import chain_existing_rows
from homeward.store.delays import make_pseudonym_key
from homeward.store.sql import Connection

Migration = str | Callable[[Connection], Awaitable[None]]

MIGRATIONS: list[Migration] = [
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
    # 2: care-team rooms — cases, members and lanes, named dates, items, acknowledgements,
    # phase checklists, the audit trail; outbox rows that are not plain events.
    """
    ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'event';
    -- Pending rows with the same key are replaced by a newer one (checklist edits).
    ALTER TABLE outbox ADD COLUMN supersede_key TEXT;
    CREATE INDEX outbox_supersede ON outbox (supersede_key) WHERE sent_at IS NULL;
    CREATE INDEX outbox_event ON outbox (event_id);
    CREATE TABLE cases (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        room_id       TEXT UNIQUE,             -- NULL until the homeserver created the room
        create_outbox INTEGER NOT NULL,        -- the outbox row that creates the room
        pathway_id    TEXT NOT NULL,
        label         TEXT NOT NULL,
        phase_id      TEXT NOT NULL,
        opened_by     TEXT NOT NULL,
        opened_at     TEXT NOT NULL,
        opened_in     TEXT NOT NULL,           -- the room where !case new was sent
        reactions     INTEGER NOT NULL DEFAULT 1
    );
    CREATE TABLE members (
        case_id     INTEGER NOT NULL REFERENCES cases (id),
        user_id     TEXT NOT NULL,
        lane_id     TEXT,
        coordinator INTEGER NOT NULL DEFAULT 0,
        added_by    TEXT NOT NULL,
        added_at    TEXT NOT NULL,
        PRIMARY KEY (case_id, user_id)
    );
    CREATE TABLE case_dates (
        case_id  INTEGER NOT NULL REFERENCES cases (id),
        date_id  TEXT NOT NULL,
        value    TEXT NOT NULL,                -- ISO date, or ISO date-time with offset
        set_by   TEXT NOT NULL,
        set_at   TEXT NOT NULL,
        PRIMARY KEY (case_id, date_id)
    );
    CREATE TABLE items (
        case_id     INTEGER NOT NULL REFERENCES cases (id),
        item_id     TEXT NOT NULL,
        sent_at     TEXT,
        sent_by     TEXT,
        sent_outbox INTEGER,                   -- the bot's message for a sent notice
        assigned_to TEXT,
        PRIMARY KEY (case_id, item_id)
    );
    CREATE TABLE acks (
        case_id   INTEGER NOT NULL REFERENCES cases (id),
        item_id   TEXT NOT NULL,
        lane_id   TEXT NOT NULL,
        user_id   TEXT NOT NULL,
        at        TEXT NOT NULL,
        on_behalf INTEGER NOT NULL DEFAULT 0,
        note      TEXT,
        event_id  TEXT NOT NULL,
        PRIMARY KEY (case_id, item_id, lane_id)
    );
    CREATE TABLE checklists (
        case_id   INTEGER NOT NULL REFERENCES cases (id),
        phase_id  TEXT NOT NULL,
        outbox_id INTEGER NOT NULL,            -- the checklist message; edits point at its event
        PRIMARY KEY (case_id, phase_id)
    );
    -- Append-only: the application inserts rows and never updates or deletes them.
    CREATE TABLE audit (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        case_id    INTEGER,
        room_id    TEXT NOT NULL,
        at         TEXT NOT NULL,              -- UTC
        actor      TEXT NOT NULL,
        actor_lane TEXT,
        action     TEXT NOT NULL,
        details    TEXT NOT NULL,              -- JSON
        event_id   TEXT
    );
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    """,  # noqa: E501 — a released migration is never edited, not even its line breaks
    # 3: deadlines and reminders — every planned reminder is a row; the store is the truth.
    """
    ALTER TABLE cases ADD COLUMN quiet TEXT;  -- "20:00-08:00", "off", or NULL for the default
    CREATE TABLE reminders (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        case_id     INTEGER NOT NULL REFERENCES cases (id),
        item_id     TEXT NOT NULL,
        kind        TEXT NOT NULL CHECK (kind IN ('before', 'due', 'overdue', 'custom')),
        sequence    INTEGER NOT NULL,
        due         TEXT,                     -- the item's due time this reminder is about (UTC)
        planned_at  TEXT NOT NULL,            -- when it should go out (UTC, outside quiet hours)
        fire_at     TEXT NOT NULL,            -- planned_at, or later after a snooze
        status      TEXT NOT NULL DEFAULT 'planned' CHECK (status IN ('planned', 'sent', 'cancelled')),
        fired_at    TEXT,
        outbox_id   INTEGER,                  -- the message; delivered when that row is sent
        requested_by TEXT,                    -- for !remind
        UNIQUE (case_id, item_id, kind, sequence, due)
    );
    CREATE INDEX reminders_next ON reminders (fire_at) WHERE status = 'planned';
    CREATE TABLE snoozes (
        case_id INTEGER NOT NULL REFERENCES cases (id),
        item_id TEXT NOT NULL,
        lane_id TEXT NOT NULL,
        until   TEXT NOT NULL,
        PRIMARY KEY (case_id, item_id, lane_id)
    );
    """,
    # 4: guardian consent — every answer is kept; the latest of each person counts.
    """
    CREATE TABLE consent_answers (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        case_id    INTEGER NOT NULL REFERENCES cases (id),
        consent_id TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        answer     TEXT NOT NULL CHECK (answer IN ('yes', 'no', 'revoke')),
        at         TEXT NOT NULL,
        event_id   TEXT NOT NULL
    );
    CREATE INDEX consent_answers_case ON consent_answers (case_id, consent_id);
    CREATE TRIGGER consent_answers_no_update BEFORE UPDATE ON consent_answers BEGIN SELECT RAISE(ABORT, 'consent answers are never changed'); END;
    CREATE TRIGGER consent_answers_no_delete BEFORE DELETE ON consent_answers BEGIN SELECT RAISE(ABORT, 'consent answers are never deleted'); END;
    """,  # noqa: E501 — a released migration is never edited, not even its line breaks
    # 5: the coordinated plan and meeting minutes, as append-only change logs (versions).
    """
    CREATE TABLE plan_changes (
        case_id  INTEGER NOT NULL REFERENCES cases (id),
        version  INTEGER NOT NULL,
        record   TEXT NOT NULL,               -- care.plan.PlanChange.to_record()
        event_id TEXT NOT NULL,
        PRIMARY KEY (case_id, version)
    );
    CREATE TABLE minutes_changes (
        case_id     INTEGER NOT NULL REFERENCES cases (id),
        meeting_key TEXT NOT NULL,            -- the pathway's meeting id, or extra-<n>
        version     INTEGER NOT NULL,
        record      TEXT NOT NULL,            -- care.minutes.MinutesChange.to_record()
        event_id    TEXT NOT NULL,
        PRIMARY KEY (case_id, meeting_key, version)
    );
    CREATE TRIGGER plan_changes_no_update BEFORE UPDATE ON plan_changes BEGIN SELECT RAISE(ABORT, 'plan history is append-only'); END;
    CREATE TRIGGER plan_changes_no_delete BEFORE DELETE ON plan_changes BEGIN SELECT RAISE(ABORT, 'plan history is append-only'); END;
    CREATE TRIGGER minutes_changes_no_update BEFORE UPDATE ON minutes_changes BEGIN SELECT RAISE(ABORT, 'minutes history is append-only'); END;
    CREATE TRIGGER minutes_changes_no_delete BEFORE DELETE ON minutes_changes BEGIN SELECT RAISE(ABORT, 'minutes history is append-only'); END;
    """,  # noqa: E501 — a released migration is never edited, not even its line breaks
    # 6: tasks the team adds (actions from the minutes), alongside the pathway's own items.
    """
    CREATE TABLE extra_tasks (
        case_id     INTEGER NOT NULL REFERENCES cases (id),
        item_id     TEXT NOT NULL,
        phase_id    TEXT NOT NULL,
        lane_id     TEXT NOT NULL,
        title       TEXT NOT NULL,
        due         TEXT,                    -- UTC, or NULL
        source      TEXT NOT NULL,           -- e.g. minutes:meeting1:a1
        created_at  TEXT NOT NULL,
        PRIMARY KEY (case_id, item_id)
    );
    """,
    # 7: what the bot last asked each care room's state to be (name, topic, power levels,
    # server ACL): a new release or a changed setting is brought to every room once, at start-up;
    # and the people without a place on the team it is removing from a care room.
    """
    CREATE TABLE room_state (
        case_id    INTEGER NOT NULL REFERENCES cases (id),
        event_type TEXT NOT NULL,
        content    TEXT NOT NULL,            -- JSON, as queued in the outbox
        PRIMARY KEY (case_id, event_type)
    );
    -- People in a care room without a place on the team whom the bot is removing: one
    -- removal (and one word to the coordinators) per time they are in the room.
    CREATE TABLE removals (
        case_id INTEGER NOT NULL REFERENCES cases (id),
        user_id TEXT NOT NULL,
        since   TEXT NOT NULL,
        PRIMARY KEY (case_id, user_id)
    );
    """,
    # 8: nothing readable that need not be. A sent message keeps only its bookkeeping (the
    # same clearing as store.outbox.mark_sent, for the rows sent before); the audit trail and
    # the consent answers get the columns of their hash chains (store/chain.py).
    """
    ALTER TABLE outbox ADD COLUMN content_size INTEGER;  -- bytes of the content, kept once it is cleared
    ALTER TABLE outbox ADD COLUMN reply_to TEXT;         -- the event a sent answer replied to
    UPDATE outbox SET
        content_size = length(CAST(content AS BLOB)),
        reply_to = json_extract(content, '$."m.relates_to"."m.in_reply_to".event_id'),
        content = '{}'
    WHERE sent_at IS NOT NULL AND content_size IS NULL;
    ALTER TABLE audit ADD COLUMN prev_hash TEXT;
    ALTER TABLE audit ADD COLUMN hash TEXT;
    ALTER TABLE consent_answers ADD COLUMN prev_hash TEXT;
    ALTER TABLE consent_answers ADD COLUMN hash TEXT;
    CREATE INDEX audit_case ON audit (case_id, id);
    """,
    # 9: chain the audit rows and consent answers written before the chain existed.
    chain_existing_rows,
    # 10: a statutory clock reaching its limit is a reminder too (kind 'clock'; item_id holds the clock's id).
    # SQLite cannot change a CHECK constraint in place: the table is rebuilt with its rows and ids.
    # And an index for reading one case's audit rows of one kind (phase changes, closings).
    """
    CREATE TABLE reminders_v7 (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        case_id     INTEGER NOT NULL REFERENCES cases (id),
        item_id     TEXT NOT NULL,            -- the item, or the clock for kind 'clock'
        kind        TEXT NOT NULL CHECK (kind IN ('before', 'due', 'overdue', 'custom', 'clock')),
        sequence    INTEGER NOT NULL,
        due         TEXT,
        planned_at  TEXT NOT NULL,
        fire_at     TEXT NOT NULL,
        status      TEXT NOT NULL DEFAULT 'planned' CHECK (status IN ('planned', 'sent', 'cancelled')),
        fired_at    TEXT,
        outbox_id   INTEGER,
        requested_by TEXT,
        UNIQUE (case_id, item_id, kind, sequence, due)
    );
    INSERT INTO reminders_v7 (id, case_id, item_id, kind, sequence, due, planned_at, fire_at, status, fired_at, outbox_id, requested_by)
        SELECT id, case_id, item_id, kind, sequence, due, planned_at, fire_at, status, fired_at, outbox_id, requested_by FROM reminders;
    DROP TABLE reminders;
    ALTER TABLE reminders_v7 RENAME TO reminders;
    CREATE INDEX reminders_next ON reminders (fire_at) WHERE status = 'planned';
    -- The timeline and the statistics read a case's phase changes and closings from the audit trail.
    CREATE INDEX audit_case_action ON audit (case_id, action);
    """,  # noqa: E501 — a released migration is never edited, not even its line breaks
    # 11: the coordinator's desk — a case's end (closed, purged after retention), people's direct
    # chats and worklist settings, one row per planned worklist (digest) and per retention run.
    """
    ALTER TABLE cases ADD COLUMN state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed'));
    ALTER TABLE cases ADD COLUMN closed_at TEXT;
    ALTER TABLE cases ADD COLUMN closed_by TEXT;
    ALTER TABLE cases ADD COLUMN closed_reason TEXT;
    ALTER TABLE cases ADD COLUMN purged_at TEXT;      -- retention ran: personal content removed, the bot left
    CREATE INDEX members_user ON members (user_id);  -- a person's cases (!cases, the worklist)
    CREATE INDEX audit_case_at ON audit (case_id, at);  -- a case's last activity
    -- One row per person the bot has a direct chat with, or a worklist setting for.
    CREATE TABLE people (
        user_id      TEXT PRIMARY KEY,
        direct_room  TEXT,                    -- the direct chat the worklist goes to
        direct_since TEXT,
        digest       TEXT                     -- "HH:MM", "off", or NULL for the configured digest_time
    );
    -- One row per planned worklist: at most one per person and local day.
    CREATE TABLE digests (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        user_id    TEXT NOT NULL,
        day        TEXT NOT NULL,             -- the local date it is the worklist of
        planned_at TEXT NOT NULL,             -- UTC
        fire_at    TEXT NOT NULL,             -- planned_at, or later after a failed attempt
        status     TEXT NOT NULL DEFAULT 'planned'
                   CHECK (status IN ('planned', 'sent', 'empty', 'dropped', 'cancelled')),
        fired_at   TEXT,
        outbox_id  INTEGER,
        UNIQUE (user_id, day)
    );
    CREATE INDEX digests_next ON digests (fire_at) WHERE status = 'planned';
    -- One row per case whose retention run is planned (a closed case, when retention_days is set).
    CREATE TABLE retention_runs (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        case_id    INTEGER NOT NULL UNIQUE REFERENCES cases (id),
        planned_at TEXT NOT NULL,
        fire_at    TEXT NOT NULL,
        status     TEXT NOT NULL DEFAULT 'planned' CHECK (status IN ('planned', 'done', 'cancelled')),
        fired_at   TEXT
    );
    CREATE INDEX retention_next ON retention_runs (fire_at) WHERE status = 'planned';
    -- The plan's and the minutes' history stay append-only, until the case's retention run removes them.
    DROP TRIGGER plan_changes_no_delete;
    DROP TRIGGER minutes_changes_no_delete;
    CREATE TRIGGER plan_changes_no_delete BEFORE DELETE ON plan_changes
        WHEN (SELECT purged_at FROM cases WHERE id = OLD.case_id) IS NULL
        BEGIN SELECT RAISE(ABORT, 'plan history is append-only'); END;
    CREATE TRIGGER minutes_changes_no_delete BEFORE DELETE ON minutes_changes
        WHEN (SELECT purged_at FROM cases WHERE id = OLD.case_id) IS NULL
        BEGIN SELECT RAISE(ABORT, 'minutes history is append-only'); END;
    """,
    # 12: the outbox row of each member's invite. A care room shows history from the invite on
    # (history_visibility 'invited'): a message queued after it is one the newcomer can read.
    # NULL for members from before (and the opener, who is in the room from its creation).
    """
    ALTER TABLE members ADD COLUMN invite_outbox INTEGER;
    """,
    # 13: consent requests — one message per request, so a reply to it answers that consent and
    # the message can be edited with the answers; who answers a child_or_guardians consent is a
    # case setting (off: the guardians).
    """
    ALTER TABLE cases ADD COLUMN child_answers INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE consent_requests (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        case_id    INTEGER NOT NULL REFERENCES cases (id),
        consent_id TEXT NOT NULL,
        outbox_id  INTEGER NOT NULL,       -- the request message (its event id once sent)
        asked_at   TEXT NOT NULL
    );
    CREATE INDEX consent_requests_case ON consent_requests (case_id, consent_id);
    CREATE INDEX consent_requests_outbox ON consent_requests (outbox_id);
    """,
    # issue 25: which of the processes sharing a PostgreSQL store acts (store/lease.py). One row,
    # name 'acting'; `token` grows by one at every change of holder and is checked by every write
    # transaction (the fencing token); `expires_ms` is on the database's clock (ms since 1970).
    # On SQLite (one process) the table stays empty.
    """
    CREATE TABLE lease (
        name        TEXT PRIMARY KEY,
        holder      TEXT NOT NULL,           -- host, process id and device of the process that acts
        device_id   TEXT,
        token       INTEGER NOT NULL,
        since       TEXT NOT NULL,           -- when this holder took the lease (UTC)
        reason      TEXT NOT NULL,           -- why: 'first', 'expired' (the holder stopped renewing), 'released'
        renewed_at  TEXT NOT NULL,
        expires_ms  INTEGER NOT NULL
    );
    """,
    # issue 22: members' cross-signing identities, pinned the first time the bot sees them (trust on
    # first use), and the devices it saw for them: which the pinned identity signed, since when, and
    # whether their owner was told that a session of theirs is not verified (once per device).
    """
    CREATE TABLE identities (
        user_id     TEXT PRIMARY KEY,
        master_key  TEXT,                 -- the pinned master key; NULL while the account has none
        pinned_at   TEXT,
        seen_key    TEXT,                 -- the master key the homeserver shows now, when not the pinned one
        seen_at     TEXT,                 -- when the bot first saw seen_key
        checked_at  TEXT NOT NULL,        -- the last /keys/query answer for this account
        told_at     TEXT                  -- when their care rooms were told the account has no cross-signing
    );
    CREATE TABLE identity_devices (
        user_id      TEXT NOT NULL,
        device_id    TEXT NOT NULL,
        ed25519      TEXT NOT NULL,
        curve25519   TEXT NOT NULL,
        signed_by    TEXT,                -- the master key whose self-signing key signed it; NULL: unsigned
        first_seen   TEXT NOT NULL,
        trusted_since TEXT,               -- since when it is signed by the pinned identity (NULL: not)
        told_at      TEXT,                -- when its owner was told it is not verified (a command from it)
        reaction_told_at TEXT,            -- when they were told their ✅ does not count while it is there
        PRIMARY KEY (user_id, device_id)
    );
    """,
    # issue 23: who must answer a consent, fixed when it is asked. A round begins at the first request
    # (its askees: the members of the answering lanes then) and anew when someone asked leaves those
    # lanes before the consent is given; whoever is put into them later is added to the round.
    """
    CREATE TABLE consent_rounds (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        case_id    INTEGER NOT NULL REFERENCES cases (id),
        consent_id TEXT NOT NULL,
        round      INTEGER NOT NULL,
        started_at TEXT NOT NULL,
        reason     TEXT NOT NULL,
        UNIQUE (case_id, consent_id, round)
    );
    CREATE TABLE consent_askees (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        case_id    INTEGER NOT NULL REFERENCES cases (id),
        consent_id TEXT NOT NULL,
        round      INTEGER NOT NULL,
        user_id    TEXT NOT NULL,
        added_at   TEXT NOT NULL,
        late       INTEGER NOT NULL DEFAULT 0,  -- put into an answering lane after the round began
        UNIQUE (case_id, consent_id, round, user_id)
    );
    """,
    # issue 23: the case sets `!stats` answers counted, per pathway (no figures): a new answer that would
    # set fewer than five cases apart from them is refused (care/stats.py, sets_apart).
    """
    CREATE TABLE stats_answers (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        pathway_id TEXT NOT NULL,
        case_ids   TEXT NOT NULL,          -- the case ids, ascending, comma-separated
        first_by   TEXT NOT NULL,
        first_at   TEXT NOT NULL,
        UNIQUE (pathway_id, case_ids)
    );
    """,
    # issue 23: the bot's safeguard messages, kept until the case's retention run so that a redacted one
    # is posted again (work/safeguards.py).
    """
    CREATE TABLE safeguards (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        case_id    INTEGER NOT NULL REFERENCES cases (id),
        outbox_id  INTEGER NOT NULL,
        kind       TEXT NOT NULL,
        markdown   TEXT NOT NULL,
        mentions   TEXT NOT NULL,          -- JSON list of user ids
        extra      TEXT NOT NULL,          -- JSON object: its homeward.* keys
        posted_at  TEXT NOT NULL
    );
    CREATE INDEX safeguards_outbox ON safeguards (outbox_id);
    CREATE INDEX safeguards_case ON safeguards (case_id);
    """,
    # issue 23: each case's audit chains anchored in its room (work/anchors.py): the rows last anchored.
    """
    CREATE TABLE audit_anchors (
        case_id        INTEGER PRIMARY KEY REFERENCES cases (id),
        last_audit_id  INTEGER NOT NULL,
        last_answer_id INTEGER NOT NULL,
        anchored_at    TEXT NOT NULL,
        outbox_id      INTEGER NOT NULL
    );
    """,
    # issue 26: the other messages of a consent request — its details and its question (a poll) —
    # so that a reply of "ja" to either, or a vote in the poll, answers that consent.
    """
    CREATE TABLE consent_messages (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        case_id    INTEGER NOT NULL REFERENCES cases (id),
        consent_id TEXT NOT NULL,
        kind       TEXT NOT NULL CHECK (kind IN ('details', 'poll')),
        outbox_id  INTEGER NOT NULL        -- the message (its event id once sent)
    );
    CREATE INDEX consent_messages_outbox ON consent_messages (outbox_id);
    """,
    # issue 26: a regular word to the family — each case's planned updates (one planned row at a time,
    # fired once, like a reminder) and how often (working days; a case without a row: every 5; 0: off).
    """
    CREATE TABLE family_updates (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        case_id    INTEGER NOT NULL REFERENCES cases (id),
        anchor     TEXT NOT NULL,             -- UTC: the period is counted from here
        planned_at TEXT NOT NULL,             -- UTC
        fire_at    TEXT NOT NULL,             -- planned_at, or later after a failed attempt
        status     TEXT NOT NULL DEFAULT 'planned' CHECK (status IN ('planned', 'sent', 'dropped', 'cancelled')),
        fired_at   TEXT,
        outbox_id  INTEGER
    );
    CREATE INDEX family_updates_next ON family_updates (fire_at) WHERE status = 'planned';
    CREATE INDEX family_updates_case ON family_updates (case_id, status);
    CREATE TABLE family_update_settings (
        case_id    INTEGER PRIMARY KEY REFERENCES cases (id),
        every_days INTEGER NOT NULL           -- working days between updates; 0: off
    );
    """,
    # issue 27: why children wait — the reason a lane gives for a late step (every answer kept, the
    # latest counts), which lane an overdue reminder asked about which item when (nobody twice a
    # day), and the version of the pathway file each case was opened with (the event log carries it).
    """
    CREATE TABLE delay_reasons (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        case_id   INTEGER NOT NULL REFERENCES cases (id),
        item_id   TEXT NOT NULL,
        lane_id   TEXT NOT NULL,
        reason_id TEXT NOT NULL,          -- the pathway's reason (care.pathway.DelayReason)
        code      TEXT NOT NULL,          -- its shared code when it was given
        user_id   TEXT NOT NULL,
        at        TEXT NOT NULL,
        on_behalf INTEGER NOT NULL DEFAULT 0,
        event_id  TEXT
    );
    CREATE INDEX delay_reasons_case ON delay_reasons (case_id, item_id, lane_id);
    CREATE TABLE delay_asks (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        case_id   INTEGER NOT NULL REFERENCES cases (id),
        item_id   TEXT NOT NULL,
        lane_id   TEXT NOT NULL,
        asked_at  TEXT NOT NULL,
        outbox_id INTEGER NOT NULL        -- the reminder that asked: a reply to it answers
    );
    CREATE INDEX delay_asks_case ON delay_asks (case_id);
    CREATE INDEX delay_asks_outbox ON delay_asks (outbox_id);
    CREATE TABLE case_pathway_versions (
        case_id INTEGER PRIMARY KEY REFERENCES cases (id),
        version TEXT NOT NULL
    );
    """,
    # issue 27: the installation's secret key of the event log's case pseudonyms (kv 'events_pseudonym_key').
    make_pseudonym_key,
]
