"""From a decrypted message to exactly one recorded answer.

Each command runs inside one store transaction that also marks its event as handled and
queues the answer in the outbox: after a crash, either all of it happened or none did,
and a command is never applied twice. The handler runs inside a savepoint, so a refusal
or a bug undoes the handler's changes but still records the (error) answer.

The answer is what the person who typed the command waits for. Its outbox row is queued
before the handler runs, holding its place ahead of the edits the command makes (the
checklist edit of `!ack`: an edit's place in the timeline does not matter); when the
command queues anything else (a notice, a room), the answer goes after it, as before.
A command that wrote nothing does not re-plan its case's reminders.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from homeward.commands.context import Context, IncomingCommand, Reply, reply_relation
from homeward.commands.parser import CommandLine, ParseError, parse
from homeward.care.refusal import Refusal
from homeward.commands.registry import Command, CommandError
from homeward.render import fit_content, notice_content
from homeward.services import Services
from homeward.store import outbox
from homeward.store.cases import case_for_room
from homeward.store.db import Store
from homeward.store.reminders import replan
from homeward.store.state import mark_handled, room_info
from homeward.text import Markdown, code

log = logging.getLogger(__name__)


def reply_content(command: str, reply: Reply, in_reply_to: str, thread_root: str | None = None) -> dict[str, Any]:
    """The event content of an answer: an m.notice reply (in the command's thread) with the homeward.* keys."""
    return {
        **notice_content(reply.markdown),
        "m.relates_to": reply_relation(in_reply_to, thread_root),
        "homeward.command": command,
        "homeward.status": "ok" if reply.ok else "error",
        **{f"homeward.{key}": value for key, value in reply.extra.items()},
    }


async def handle_command(event: IncomingCommand, store: Store, services: Services) -> bool:
    """Handle a message that may be a command; True when an answer was queued."""
    try:
        line = parse(event.body)
    except ParseError as exc:
        return await _answer_parse_error(event, exc, store, services)
    if line is None:
        return False
    now = services.clock.now()
    async with store.transaction() as db:
        if not await mark_handled(db, event.event_id, event.room_id, now):
            log.info("room=%s event=%s already handled", event.room_id, event.event_id)
            return False
        info = await room_info(db, event.room_id)
        language = info[1] if info else services.config.language
        answer_row = await outbox.enqueue(db, event.room_id, "m.room.message", {}, now)  # its place; filled in below
        command, reply, changed = await _run(event, line, language, db, services, now)
        name = command.name if command else line.name
        answer_to = event.reply_to or event.event_id
        content = reply_content(name, reply, answer_to, event.thread_root)
        # A big case's `!status` would pass the homeserver's event limit and be refused for good.
        content = fit_content(content, services.catalog.t(language, "error.shortened"))
        await _place_answer(db, answer_row, event.room_id, content, now)
    log.info("room=%s event=%s command=%s outcome=%s", event.room_id, event.event_id, name, "ok" if reply.ok else "error")
    services.wake_outbox()
    if changed:
        services.wake_reminders()
    return True


async def _place_answer(db: Any, answer_row: int, room_id: str, content: dict[str, Any], now: Any) -> None:
    """The answer in the row queued for it, ahead of the command's edits; after anything else it queued."""
    queued = await outbox.queued_after(db, answer_row)  # the store lock is held: only this command's rows
    text = json.dumps(content)
    ahead = all(outbox.is_edit(row) and f'"{outbox.ref(row.id)}"' not in text for row in queued)
    if ahead:
        await outbox.set_content(db, answer_row, content)
    else:
        await outbox.drop(db, answer_row)
        await outbox.enqueue(db, room_id, "m.room.message", content, now)


async def _answer_parse_error(event: IncomingCommand, exc: ParseError, store: Store, services: Services) -> bool:
    now = services.clock.now()
    async with store.transaction() as db:
        if not await mark_handled(db, event.event_id, event.room_id, now):
            return False
        info = await room_info(db, event.room_id)
        language = info[1] if info else services.config.language
        text = services.catalog.t(language, exc.key, **exc.values)
        reply = Reply("⚠️ " + text, ok=False, extra={"reason": exc.key})
        await outbox.enqueue(db, event.room_id, "m.room.message", reply_content(exc.name, reply, event.event_id, event.thread_root), now)
    log.info("room=%s event=%s command=%s outcome=parse-error", event.room_id, event.event_id, exc.name)
    services.wake_outbox()
    return True


def resolve(line: CommandLine, services: Services) -> tuple[Command | None, int]:
    """The command named by the line, descending into sub-commands; and how many tokens it used."""
    node = services.registry.find(line.name)
    used = 0
    while node is not None and used < len(line.tokens):
        child = node.subcommands.get(line.tokens[used].text.lower())
        if child is None:
            break
        node = child
        used += 1
    return node, used


async def _run(
    event: IncomingCommand, line: CommandLine, language: str, db: Any, services: Services, now: Any
) -> tuple[Command | None, Reply, bool]:
    """The command, its reply, and whether it changed anything (then its case's reminders were re-planned)."""
    command, used = resolve(line, services)
    ctx = Context(event=event, line=line, command=command or Command((line.name,)), language=language, db=db, services=services, now=now)
    if command is None:
        return None, _error(ctx, CommandError("error.unknown_command", name=line.name, prefix=line.prefix)), False
    await db.execute("SAVEPOINT command")
    changed = False
    try:
        if command.handler is None:
            raise CommandError("error.choose_subcommand", usage=False, name=command.name, choices=Markdown(_subcommand_list(command, line.prefix)))
        await services.policy.authorize(ctx)
        ctx.args = _bind(ctx, command, line, used)
        changes = db.total_changes
        reply = await command.handler(ctx)
        changed = db.total_changes != changes
        case = await case_for_room(db, event.room_id) if changed else None
        if case is not None:
            # Any change of a case may change its deadlines: re-plan its reminders in the same transaction.
            # A command that wrote nothing (!ping, !help) leaves them as the last change planned them.
            await replan(db, case.id, services.pathways[case.pathway_id], now)
    except Refusal as refusal:
        await db.execute("ROLLBACK TO command")
        changed = False
        reply = _error(ctx, refusal)
    except Exception:
        await db.execute("ROLLBACK TO command")
        changed = False
        log.exception("room=%s event=%s command=%s outcome=internal-error", event.room_id, event.event_id, command.name)
        reply = Reply("⚠️ " + ctx.t("error.internal"), ok=False, extra={"reason": "error.internal"})
    await db.execute("RELEASE command")
    return command, reply, changed


def _subcommand_list(command: Command, prefix: str) -> str:
    return ", ".join(code(f"{prefix}{command.name} {name}") for name in sorted(command.subcommands))


def _bind(ctx: Context, command: Command, line: CommandLine, start: int) -> dict[str, Any]:
    """Match tokens to the declared arguments, converting each; refuse what does not fit."""
    values: dict[str, Any] = {}
    index = start
    for arg in command.args:
        if arg.rest:
            text = line.rest(index)
            index = len(line.tokens)
            if not text:
                if not arg.optional:
                    raise CommandError("error.missing_argument", usage=True, arg=arg.usage())
                values[arg.name] = None
                continue
            values[arg.name] = arg.convert(text, ctx) if arg.convert else text
            continue
        if arg.repeat:
            items = [t.text for t in line.tokens[index:]]
            index = len(line.tokens)
            if not items and not arg.optional:
                raise CommandError("error.missing_argument", usage=True, arg=arg.usage())
            values[arg.name] = [arg.convert(i, ctx) if arg.convert else i for i in items]
            continue
        if index >= len(line.tokens):
            if not arg.optional:
                raise CommandError("error.missing_argument", usage=True, arg=arg.usage())
            values[arg.name] = None
            continue
        token = line.tokens[index].text
        values[arg.name] = arg.convert(token, ctx) if arg.convert else token
        index += 1
    if index < len(line.tokens):
        raise CommandError("error.too_many_arguments", usage=True, extra=line.tokens[index].text[:40])
    return values


def _error(ctx: Context, refusal: Refusal) -> Reply:
    text = "⚠️ " + ctx.t(refusal.key, **refusal.values)
    if getattr(refusal, "usage", False):
        text += "\n\n" + ctx.t("error.usage", usage=code(ctx.command.usage(ctx.line.prefix)))
    return Reply(text, ok=False, extra={"reason": refusal.key})  # which refusal, for integrations and tests
