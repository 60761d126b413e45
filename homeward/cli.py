"""The `homeward` command: run the bot, check a configuration or the audit record, say the bot's health,
move a store into PostgreSQL, run the local demo, reset the bot's identity, write the region's event log,
or turn a pathway into a FHIR PlanDefinition and back."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib.util
import logging
import signal
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from homeward import logs
from homeward.config import Config, ConfigError, load_config

if TYPE_CHECKING:
    from homeward.care.pathway import Pathway

log = logging.getLogger("homeward")


def setup_logging(level: str, debug_loggers: list[str] | None = None) -> None:
    """Homeward at `level`; every library at WARNING unless named in `debug_loggers` (homeward/logs.py)."""
    logs.setup(level, debug_loggers or [])


def _load(path: Path) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        print(f"homeward: the configuration cannot be used ({len(exc.problems)} problem(s)):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        raise SystemExit(2) from None


async def _run_until_stopped(config: Config, pathways: dict[str, Pathway] | None = None) -> int:
    from homeward.bot.app import HomewardBot
    from homeward.bot.session import LoginFailed
    from homeward.bot.store_key import StoreKeyError
    from homeward.store.db import StoreError

    bot = HomewardBot(config, pathways=pathways)  # read once: checked here, used by the bot
    _cancel_on_signals()
    try:
        await bot.run_forever()
    except asyncio.CancelledError:
        log.info("stopping on signal")
        return 0
    except (LoginFailed, StoreError, StoreKeyError) as exc:
        print(f"homeward: {exc}", file=sys.stderr)
        return 1
    return 1 if bot.failed else 0


def _cancel_on_signals() -> None:
    """Ctrl-C and SIGTERM cancel the main task, so every `finally` runs and state is saved."""
    main = asyncio.current_task()
    assert main is not None  # called from within the main task
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, main.cancel)


async def _demo(directory: Path, port: int) -> int:
    if importlib.util.find_spec("synapse") is None:
        print(
            "homeward dev: the local homeserver needs the dev extra: pip install 'homeward[dev]' (make run does)",
            file=sys.stderr,
        )
        return 2
    from homeward.dev.demo import run_demo

    _cancel_on_signals()
    try:
        return await run_demo(directory, port)
    except asyncio.CancelledError:
        return 0


def _check_pathways(config: Config) -> dict[str, Pathway]:
    """Every pathway file must load before the bot starts; say which field of which file is wrong. The pathways."""
    from homeward.care.pathway import PathwayError, configured_pathways

    try:
        return configured_pathways(config.pathways_dir)
    except PathwayError as exc:
        print(f"homeward: a pathway definition cannot be used ({len(exc.problems)} problem(s)):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        raise SystemExit(2) from None


def _import_nio_without_psycopg() -> None:
    """Import matrix-nio without letting peewee (nio's crypto store, on SQLite) import psycopg.

    peewee imports psycopg when it is installed, for a PostgreSQL database nio never uses: 0.2 s and
    23 MiB at every start. A PostgreSQL store still imports psycopg itself (store/postgres.py) when it
    opens: only peewee's optional reference is left empty."""
    if "peewee" in sys.modules or "psycopg" in sys.modules:
        return
    sys.modules["psycopg"] = None  # type: ignore[assignment]  # `import psycopg` raises ImportError meanwhile
    try:
        import nio  # noqa: F401
    finally:
        del sys.modules["psycopg"]


def _check_rate_limits(config: Config) -> None:
    """Every command named in `rate_limits` must exist (a typo would silently limit nothing)."""
    import homeward.commands.handlers  # noqa: F401  (registers every command)
    from homeward.commands.registry import registry

    problems = registry.unknown_rate_limits(config.rate_limits)
    if problems:
        print(f"homeward: the configuration cannot be used ({len(problems)} problem(s)):", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        raise SystemExit(2)


async def _verify_audit(config: Config) -> int:
    """Walk the audit trail's and the consent answers' hash chains, then compare them with the anchors the bot
    posted in the cases' rooms: 0 intact, 1 changed (each first differing row named), 2 unreadable."""
    from homeward.store import anchors
    from homeward.store.chain import first_breaks, verify
    from homeward.store.db import StoreError, open_read_only

    try:
        db = await open_read_only(config.store_location)
    except StoreError as exc:
        print(f"homeward verify-audit: {exc}", file=sys.stderr)
        return 2
    try:
        states = await verify(db)
        rooms = await anchors.case_rooms(db)
        checked, differs, warnings = await _compare_with_rooms(config, db, rooms)
    finally:
        await db.close()
    where = _where(config)
    breaks = first_breaks(states)
    counts = {
        table: sum(s.rows for (t, _), s in states.items() if t == table) for table in ("audit", "consent_answers")
    }
    chains = len({case for _, case in states})
    summary = f"{counts['audit']} audit rows, {counts['consent_answers']} consent answers in {chains} chain(s)"
    summary += f"; {checked}"
    for warning in warnings:
        print(f"  ! {warning}")
    if not breaks and not differs:
        print(f"{where}: intact ({summary})")
        return 0
    print(f"{where}: the record was changed outside Homeward ({summary}); first broken row of each case:")
    for broken in breaks:
        print(f"  - {broken.describe()}")
    for differ in differs:
        print(f"  - {differ.describe()}")
    return 1


def _where(config: Config) -> str:
    from homeward.store.db import redacted

    url = config.database_url
    return redacted(url) if url else str(config.store_path)


#: `homeward status` exits 1 when a message has waited, or a reminder has been due, longer than this.
STATUS_LATE_S = 300


async def _status(config: Config, as_json: bool) -> int:
    """Who acts and since when, the outbox backlog, the next and the overdue reminders; 0 healthy, 1 not, 2 no store."""
    import json
    from datetime import UTC, datetime, timedelta

    from homeward.store.db import StoreError, open_read_only
    from homeward.store.health import health

    try:
        db = await open_read_only(config.store_location)
    except StoreError as exc:
        print(f"homeward status: {exc}", file=sys.stderr)
        return 2
    now = datetime.now(UTC) + timedelta(seconds=config.time_shift_seconds)
    try:
        found = await health(db, now)
    finally:
        await db.close()
    problems: list[str] = []
    shared = config.database_url is not None
    if shared and (found.lease is None or found.lease.expired):
        problems.append("no process acts (the lease is free or expired)")
    waited = (now - found.oldest_waiting).total_seconds() if found.oldest_waiting else 0.0
    if waited > STATUS_LATE_S:
        problems.append(f"a message has waited {waited:.0f} s to be sent")
    late = (now - found.next_due).total_seconds() if found.next_due else 0.0
    if found.overdue and late > STATUS_LATE_S:
        problems.append(f"{found.overdue} scheduled reminder(s) or worklist(s) overdue, the oldest by {late:.0f} s")
    lease = found.lease
    report = {
        "store": _where(config),
        "engine": "postgresql" if shared else "sqlite",
        "acting": None
        if lease is None
        else {
            "holder": lease.holder,
            "device": lease.device_id,
            "since": lease.since,
            "reason": lease.reason,
            "lease_token": lease.token,
            "lease_seconds_left": round(lease.seconds_left, 1),
        },
        "outbox_waiting": found.outbox_waiting,
        "outbox_oldest_seconds": round(waited, 1) if found.oldest_waiting else None,
        "next_due": found.next_due.isoformat() if found.next_due else None,
        "overdue": found.overdue,
        "overdue_oldest_seconds": round(late, 1) if found.overdue else None,
        "healthy": not problems,
        "problems": problems,
    }
    if as_json:
        print(json.dumps(report, indent=2))
        return 0 if not problems else 1
    print(f"store:     {report['store']} ({report['engine']})")
    if not shared:
        print("acting:    this store's one process (SQLite)")
    elif lease is None:
        print("acting:    nobody has acted yet")
    else:
        state = "lease expired" if lease.expired else f"lease {lease.seconds_left:.1f} s left"
        print(f"acting:    {lease.holder} since {lease.since} ({lease.reason}; token {lease.token}; {state})")
    oldest = f", the oldest queued {waited:.0f} s ago" if found.oldest_waiting else ""
    print(f"outbox:    {found.outbox_waiting} waiting{oldest}")
    due = found.next_due.isoformat() if found.next_due else "nothing scheduled"
    overdue = f"; {found.overdue} overdue, the oldest by {late:.0f} s" if found.overdue else ""
    print(f"reminders: next {due}{overdue}")
    print("healthy" if not problems else "NOT HEALTHY: " + "; ".join(problems))
    return 0 if not problems else 1


async def _migrate_store(source: Path, url: str) -> int:
    from homeward.store.copy import migrate_store
    from homeward.store.db import StoreError, is_postgresql, redacted

    if not is_postgresql(url):
        print("homeward migrate-store: --to must be a PostgreSQL URL (postgresql://…)", file=sys.stderr)
        return 2
    path = source / "homeward.sqlite3" if source.is_dir() else source
    try:
        copied = await migrate_store(path, url)
    except StoreError as exc:
        print(f"homeward migrate-store: {exc}", file=sys.stderr)
        return 1
    total = sum(copied.rows.values())
    print(f"{path} → {redacted(url)}: {total} rows in {len(copied.rows)} tables")
    for table, count in sorted(copied.rows.items()):
        if count:
            print(f"  {table}: {count}")
    if copied.breaks or not copied.same_heads:
        print("the audit chains do NOT verify on the copy:", file=sys.stderr)
        for broken in copied.breaks:
            print(f"  - {broken.describe()}", file=sys.stderr)
        return 1
    print(f"the audit trail and the consent answers verify: {copied.chains} chain(s), the same heads as in the file")
    print('now set database = "<the URL>" (or HOMEWARD_DATABASE_URL) and start the bot with the same data_dir')
    return 0


async def _compare_with_rooms(config: Config, db, rooms: dict[str, int]) -> tuple[str, list, list[str]]:
    """The chains against the anchors found in the cases' rooms: (what was checked, the first differing row of
    each chain, warnings). A room the tool cannot read is said, not taken for a match."""
    from homeward.bot.anchors import AnchorsUnreadable, read_anchors
    from homeward.store import anchors

    if not rooms:
        return "no case rooms", [], []
    try:
        found = await read_anchors(config, sorted(rooms))
    except AnchorsUnreadable as exc:
        return "NOT compared with the anchors in the rooms", [], [f"the rooms could not be read: {exc}"]
    except Exception as exc:  # the homeserver away, a network error: the chains were still checked
        return "NOT compared with the anchors in the rooms", [], [f"the rooms could not be read ({exc!r})"]
    differs: list = []
    warnings: list[str] = []
    total = 0
    for room in found:
        if room.error:
            warnings.append(f"room {room.room_id} (case {rooms[room.room_id]}) could not be read: {room.error}")
            continue
        for event_id, by in room.redacted:
            if by == config.user_id:  # the bot never redacts its own messages: someone used its account
                differs_note = f"the bot's message {event_id} in room {room.room_id} was redacted by its own account"
                warnings.append(differs_note + " (not by Homeward): an anchor may have been removed")
        total += len(room.anchors)
        differs.extend(await anchors.compare(db, rooms[room.room_id], room.anchors))
    if any("by its own account" in w for w in warnings):
        differs.append(_RedactedAnchors())
    return f"compared with {total} anchor(s) in {len(found)} room(s)", differs, warnings


class _RedactedAnchors:
    """A redaction through the bot's own account: the rooms' anchors may not all be there to compare."""

    def describe(self) -> str:
        return "messages of the bot were redacted through its own account (see above): the anchors are incomplete"


async def _export_events(config: Config, since: date | None, until: date | None, fmt: str, out: Path | None) -> int:
    """Every case's event log (docs/EVENTS.md), read-only beside the running bot: the events of the local dates
    `since`..`until` (both included; the case's pathway's time zone)."""
    from zoneinfo import ZoneInfo

    from homeward.care.events import Event, case_events, in_period
    from homeward.care.pathway import configured_pathways
    from homeward.exports.events import FORMATS
    from homeward.store.db import StoreError, open_read_only
    from homeward.store.events import event_sources

    pathways = configured_pathways(config.pathways_dir)
    try:
        db = await open_read_only(config.store_path)
    except StoreError as exc:
        print(f"homeward export-events: {exc}", file=sys.stderr)
        return 2
    try:
        sources = await event_sources(db, pathways)
    finally:
        await db.close()
    now = datetime.now(UTC)
    events: list[Event] = []
    for source in sources:
        pathway = pathways.get(source.pathway_id)
        zone = ZoneInfo(pathway.timezone if pathway else config.timezone)
        events.extend(e for e in case_events(source, pathway, now) if in_period(e, zone, since, until))
    _, _, write = FORMATS[fmt]
    data = write(events)
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        out.write_bytes(data)
        print(f"{out}: {len(events)} events of {len(sources)} cases", file=sys.stderr)
    return 0


def _pathway_export(config: Config | None, pathway_id: str, out: Path | None) -> int:
    """A pathway (bundled, or of `pathways_dir`) as a FHIR R4 PlanDefinition, JSON."""
    import json

    from homeward.care.pathway import configured_pathways
    from homeward.exports.plandefinition import to_plan_definition

    pathways = configured_pathways(config.pathways_dir if config else None)
    if pathway_id not in pathways:
        print(f"homeward: no pathway {pathway_id!r} (known: {', '.join(sorted(pathways))})", file=sys.stderr)
        return 2
    text = json.dumps(to_plan_definition(pathways[pathway_id]), ensure_ascii=False, indent=2) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        print(f"{out}: PlanDefinition of {pathway_id}", file=sys.stderr)
    return 0


def _pathway_import(source: Path, out: Path | None) -> int:
    """A FHIR PlanDefinition (JSON) as a pathway file to review; checked as the bot checks a pathway file."""
    import json

    from pydantic import ValidationError

    from homeward.exports.plandefinition import PlanDefinitionError, from_plan_definition, pathway_yaml

    try:
        resource = json.loads(source.read_text(encoding="utf-8"))
        pathway = from_plan_definition(resource)
    except (OSError, ValueError) as exc:  # unreadable, not JSON, not a pathway, or a pathway that does not hold
        lines = (
            [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
            if isinstance(exc, ValidationError)
            else [str(exc)]
        )
        kind = "not a Homeward PlanDefinition" if isinstance(exc, PlanDefinitionError) else "cannot be used"
        print(f"homeward: {source} {kind}:", file=sys.stderr)
        for line in lines:
            print(f"  - {line}", file=sys.stderr)
        return 2
    text = pathway_yaml(pathway, f"{resource.get('url')}|{resource.get('version')}")
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        print(f"{out}: pathway {pathway.id}, to review before use", file=sys.stderr)
    return 0


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


RESET_WARNING = """\
This replaces the bot's cross-signing identity (its master key) with a new one.
Every member whose Element had seen the old identity will see a notice that the bot's
identity was reset, and anyone who had verified the bot must verify it again.
Do this only when the saved keys ({path}) are lost or leaked.
"""


def _ask_password(user_id: str) -> str:
    """From the terminal without echo; from standard input when there is no terminal (scripts, tests)."""
    if sys.stdin.isatty():
        return getpass.getpass(f"password of {user_id}: ")
    return sys.stdin.readline().rstrip("\r\n")


async def _reset_identity(config: Config, password: str) -> int:
    from nio import AsyncClient, AsyncClientConfig

    from homeward.bot import identity
    from homeward.bot.session import load_credentials
    from homeward.bot.store_key import known_key

    key = known_key(config.crypto_dir, config.store_key.get_secret_value() if config.store_key else None)
    saved = load_credentials(config.credentials_path, key)
    if saved is None or (saved.user_id, saved.homeserver) != (config.user_id, config.homeserver):
        print(
            f"homeward: no saved device for {config.user_id} in {config.data_dir}: start the bot once "
            "(homeward run), then reset its identity",
            file=sys.stderr,
        )
        return 1
    # Only HTTP calls with the bot's saved device and token: no encryption store is opened.
    client = AsyncClient(config.homeserver, config.user_id, config=AsyncClientConfig(encryption_enabled=False))
    client.restore_login(saved.user_id, saved.device_id, saved.access_token)
    try:
        outcome = await identity.reset(client, config.data_dir, password, key)
    except identity.IdentityError as exc:
        print(f"homeward: the identity was not reset: {exc}", file=sys.stderr)
        return 1
    finally:
        await client.close()
    print(
        f"new identity for {config.user_id}: master key {outcome.master}, device {saved.device_id} signed.\n"
        f"Its keys are in {identity.seeds_path(config.data_dir)}: back that file up with the rest of {config.data_dir}."
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="homeward", description="Care-team coordination bot for Matrix.")
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("run", help="run the bot")
    run.add_argument("--config", type=Path, required=True, help="path to the TOML configuration")
    check = sub.add_parser("check-config", help="validate a configuration and exit")
    check.add_argument("--config", type=Path, required=True)
    verify = sub.add_parser(
        "verify-audit",
        help="check that the audit trail and the consent answers were not changed; exit 1 naming the first broken row",
    )
    verify.add_argument("--config", type=Path, required=True)
    status = sub.add_parser(
        "status", help="which process acts and since when, the outbox backlog, the reminders due; exit 1 if unhealthy"
    )
    status.add_argument("--config", type=Path, required=True)
    status.add_argument("--json", action="store_true", help="the same as JSON, for a monitoring check")
    move = sub.add_parser("migrate-store", help="copy a SQLite store (a data_dir or its file) into an empty PostgreSQL")
    move.add_argument("--from", dest="source", type=Path, required=True, help="the data_dir, or its homeward.sqlite3")
    move.add_argument("--to", dest="target", default=None, help="the PostgreSQL URL (default: $HOMEWARD_DATABASE_URL)")
    dev = sub.add_parser("dev", help="start a local Synapse, demo accounts and the bot (what `make run` does)")
    dev.add_argument(
        "--dir", type=Path, default=Path(".dev"), help="where the local homeserver and bot keep their state"
    )
    dev.add_argument("--port", type=int, default=8008)
    reset = sub.add_parser("reset-identity", help="replace the bot's cross-signing identity (asks for its password)")
    reset.add_argument("--config", type=Path, required=True)
    events = sub.add_parser(
        "export-events",
        help="write every case's event log (docs/EVENTS.md: no names, user ids or free text); read-only",
    )
    events.add_argument("--config", type=Path, required=True)
    events.add_argument("--from", dest="since", type=_day, help="the first local date, YYYY-MM-DD")
    events.add_argument("--to", dest="until", type=_day, help="the last local date, YYYY-MM-DD (included)")
    events.add_argument("--format", choices=("csv", "ndjson"), default="csv")
    events.add_argument("--out", type=Path, help="the file to write (default: standard output)")
    pathway = sub.add_parser("pathway", help="a pathway as a FHIR R4 PlanDefinition, and back")
    pathway_sub = pathway.add_subparsers(dest="pathway_action", required=True)
    export = pathway_sub.add_parser("export", help="write a pathway as a FHIR R4 PlanDefinition (JSON)")
    export.add_argument("pathway_id")
    export.add_argument("--fhir", action="store_true", required=True, help="as FHIR R4 PlanDefinition JSON")
    export.add_argument("--config", type=Path, help="a configuration whose pathways_dir adds pathways")
    export.add_argument("--out", type=Path, help="the file to write (default: standard output)")
    imported = pathway_sub.add_parser("import", help="turn a FHIR PlanDefinition into a pathway file to review")
    imported.add_argument("source", type=Path, help="the PlanDefinition, JSON")
    imported.add_argument("--out", type=Path, help="the pathway file to write (default: standard output)")
    args = parser.parse_args(argv)

    if args.action == "check-config":
        config = _load(args.config)
        _check_pathways(config)
        _check_rate_limits(config)
        print(f"{args.config}: OK (bot {config.user_id} on {config.homeserver}, data in {config.data_dir})")
        return 0
    if args.action == "run":
        config = _load(args.config)
        _import_nio_without_psycopg()
        pathways = _check_pathways(config)
        _check_rate_limits(config)
        setup_logging(config.log_level, config.debug_loggers)
        return asyncio.run(_run_until_stopped(config, pathways))
    if args.action == "verify-audit":
        config = _load(args.config)
        return asyncio.run(_verify_audit(config))
    if args.action == "status":
        config = _load(args.config)
        return asyncio.run(_status(config, args.json))
    if args.action == "migrate-store":
        import os

        target = args.target or os.environ.get("HOMEWARD_DATABASE_URL")
        if not target:
            print("homeward migrate-store: --to URL (or HOMEWARD_DATABASE_URL) is required", file=sys.stderr)
            return 2
        setup_logging("WARNING")
        return asyncio.run(_migrate_store(args.source, target))
    if args.action == "reset-identity":
        from homeward.bot.identity import seeds_path

        config = _load(args.config)
        setup_logging("WARNING")
        print(RESET_WARNING.format(path=seeds_path(config.data_dir)), file=sys.stderr)
        password = _ask_password(config.user_id)
        if not password:
            print("homeward: no password given; nothing changed", file=sys.stderr)
            return 1
        return asyncio.run(_reset_identity(config, password))
    if args.action == "export-events":
        config = _load(args.config)
        if args.since and args.until and args.since > args.until:
            print(f"homeward: --from {args.since} is after --to {args.until}", file=sys.stderr)
            return 2
        return asyncio.run(_export_events(config, args.since, args.until, args.format, args.out))
    if args.action == "pathway" and args.pathway_action == "export":
        return _pathway_export(_load(args.config) if args.config else None, args.pathway_id, args.out)
    if args.action == "pathway" and args.pathway_action == "import":
        return _pathway_import(args.source, args.out)
    if args.action == "dev":
        setup_logging("INFO")
        return asyncio.run(_demo(args.dir.resolve(), args.port))
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
