"""From a decrypted message to exactly one recorded answer.

Each command runs inside one store transaction that also marks its event as handled and
queues the answer in the outbox: after a crash, either all of it happened or none did,
and a command is never applied twice. The handler runs inside a savepoint, so a refusal
or a bug undoes the handler's changes but still records the (error) answer.

In a care room the transaction is one unit of work (`CareRoom`): the room, its case, the
view and the sender's membership are read once, the gate (`commands.policy.check`)
decides from the command's own declaration, and after a change the case is settled once
(view, reminders, checklist). The answer is what the person who typed the command waits
for: it goes after anything else the command queued (a notice, a new room, which the
answer may name) and before the checklist edit, whose place in the timeline does not
matter. A command that wrote nothing but audit rows does not reschedule its case.

In a care room only a command that came end-to-end encrypted runs: one that arrives in
clear text (anyone holding a member's access token but none of their device keys can send
one) is answered once — encrypted, like every message into a care room — and audited,
and nothing else happens. A ✅ / 👍 reaction runs `ack` for the reacting person's
own lane only, and a "ja" replied to a consent request runs `consent yes`: each as an
`Invocation` (the registry's command and its argument values), through the same gate,
rate, savepoint, audit and answer as a typed command, with no text parsed back.
Rate-limited commands (`rate=` on the declaration) are counted here, per person, when
they succeed. Every command also counts toward one limit on all of a person's commands
(`homeward.ratelimit.RateLimiter.person`), checked before the room is even read: over it,
the first command is answered with when to try again and nothing runs, the next ones are
marked handled and left unanswered until then; an acknowledgement or a consent answer
(typed, a ✅, a "ja" replied) always runs.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from datetime import timedelta
from typing import Any

from homeward.care.case import ack_is_redundant, acts_for
from homeward.care.consent import latest_answers, reply_answer, who_answers
from homeward.care.delays import reason_words
from homeward.care.refusal import Refusal
from homeward.care.votes import Selection, vote_answer
from homeward.commands.context import Context, IncomingCommand, Reply
from homeward.commands.parser import CommandLine, ParseError, parse, strip_reply_fallback
from homeward.commands.policy import check
from homeward.commands.registry import Command, CommandError, Invocation, registry
from homeward.matrix.content import fit_content
from homeward.ratelimit import ALL_COMMANDS, PERSON_RATE, Rate
from homeward.store import consents, delays, outbox, polls
from homeward.store.cases import (
    NO_LANE,
    LoadedCase,
    audit,
    invited_after,
    last_case_language,
    load_room,
    notice_for_event,
    sent_row,
)
from homeward.store.changes import recording
from homeward.store.db import Store
from homeward.store.state import RoomInfo, mark_handled
from homeward.text import Markdown, code, mention, mentions
from homeward.work.care_room import CareRoom
from homeward.work.services import Services
from homeward.work.trust import SHARE_WITH, Verdict, note_refusal
from homeward.work.worklists import record_direct_chat

log = logging.getLogger(__name__)


async def handle_command(event: IncomingCommand, store: Store, services: Services) -> bool:
    """Handle a message that may be a command; True when an answer was queued."""
    line: CommandLine | None = None
    problem: ParseError | None = None
    try:
        line = parse(event.body, tuple(name for name, _ in event.pills))
    except ParseError as exc:
        problem = exc
    if problem is not None:
        name = problem.name
    elif line is not None:
        name = line.name
    else:
        return await handle_reply(event, store, services) if event.in_reply_to else False
    brake = services.limiter.person(event.sender, services.clock.now(), always=_always_runs(line))
    if not brake.run and not brake.tell:
        return await _unanswered(event, store, services, name)
    async with store.transaction() as db:
        info, loaded = await load_room(db, event.room_id, services.pathways)
        if info is not None and info.kind == "case" and not event.encrypted:
            outcome = await _refuse_unencrypted(db, event, name, info, loaded, services)
        elif event.untrusted is not None:
            outcome = await _refuse_untrusted(db, event, name, info, loaded, services)
        elif not brake.run:
            assert brake.wait is not None
            outcome = await _answer_over_limit(db, event, name, brake.wait, info, services)
        elif problem is not None:
            outcome = await _answer_parse_error(db, event, problem, info, services)
        else:
            assert line is not None
            outcome = await _answer(db, event, line, info, loaded, services)
    return _after(event, outcome, services)


async def handle_reaction(
    room_id: str,
    event_id: str,
    sender: str,
    reacts_to: str,
    store: Store,
    services: Services,
    untrusted: str | None = None,
    untrusted_device: str | None = None,
) -> bool:
    """A ✅ / 👍 on the bot's message of a notice runs `ack <notice>` by the reacting person, for their own lane only.

    Answered in reply to the notice (or, when a member invited since cannot read the notice, with no
    reply relation). Reactions are unencrypted and easy to give by
    accident, so the command is marked as a reaction: `care.case.decide_ack` then never
    acknowledges on behalf of another lane (a coordinator types `!ack <item> <lane>` for that).

    `untrusted`: why the reacting account is not trusted to have sent it (homeward.bot.devices:
    a clear reaction names no device, so it counts only while every device of the account is
    trusted); then it acknowledges nothing, and the person is told once per device in the way
    (`untrusted_device`), audited.
    """
    async with store.transaction() as db:
        info, loaded = await load_room(db, room_id, services.pathways)
        if info is None or loaded is None or not loaded.case.reactions:
            return False
        notice = await notice_for_event(db, reacts_to)
        if notice is None or notice[0] != loaded.case.id:
            return False  # a reaction to anything else is just a reaction
        if ack_is_redundant(loaded.view, loaded.view.item(notice[1]), sender):
            # Already acknowledged: a second ✅ (by this person or a colleague of their lane) is just a reaction.
            await mark_handled(db, event_id, room_id, services.clock.now())
            log.info("room=%s event=%s redundant acknowledgement reaction ignored", room_id, event_id)
            return False
        # Answered in reply to the notice, unless someone on the team came after it and cannot read it.
        row = await sent_row(db, notice[0], notice[1])
        quotable = row is not None and not await invited_after(db, notice[0], row)
        event = IncomingCommand(
            room_id=room_id,
            event_id=event_id,
            sender=sender,
            body="",
            timestamp_ms=0,
            reply_to=reacts_to if quotable else event_id,
            reaction=True,
            quotable=quotable,
        )
        if untrusted is not None:
            refused = replace(event, untrusted=untrusted, device_id=untrusted_device)
            outcome = await _refuse_untrusted(db, refused, "ack", info, loaded, services, item=notice[1])
            return _after(event, outcome, services)
        invocation = registry.invocation("ack", {"item-id": notice[1]})
        services.limiter.person(sender, services.clock.now(), always=True)  # counted; an acknowledgement always runs
        outcome = await _answer(db, event, invocation, info, loaded, services)
    return _after(event, outcome, services)


async def handle_reply(event: IncomingCommand, store: Store, services: Services) -> bool:
    """A reply that is no command: to a consent request, "ja" / "nej" / "yes" / "no" is the family's answer;
    to an overdue reminder that asked why, one of the pathway's reason words is the lane's answer (`_delay_reply`).

    It runs the command `consent yes|no` with the request's consent as its argument, by the
    person replying — the same gate, ledger, audit row and confirmation as when typed —
    marked `by_reply`, so a reply to a request its sender already answered changes nothing
    (`handlers.consent`).
    Anything else replied to a request by someone it asks is answered with how to reply;
    a reply to any other message is just chat.
    """
    async with store.transaction() as db:
        info, loaded = await load_room(db, event.room_id, services.pathways)
        if info is None or info.kind != "case" or loaded is None or event.in_reply_to is None:
            return False
        request = await consents.request_for_event(db, loaded.case.id, event.in_reply_to)
        # The request's details and its poll ask the same: a reply to either answers too.
        consent_id = (
            request.consent_id if request else await polls.consent_for_event(db, loaded.case.id, event.in_reply_to)
        )
        if consent_id is None:
            # Not a consent request: perhaps an overdue reminder that asked the lane why.
            asked = await delays.ask_for_event(db, loaded.case.id, event.in_reply_to)
            if asked is None:
                return False
            services.limiter.person(event.sender, services.clock.now(), always=True)  # counted; a one-word answer
            if event.untrusted is not None:
                outcome = await _refuse_untrusted(db, event, "reason", info, loaded, services)
            else:
                outcome = await _delay_reply(db, event, asked, info, loaded, services)
        else:
            words = services.catalog.words
            word = reply_answer(strip_reply_fallback(event.body), yes=words("yes"), no=words("no"))
            if word is not None or event.encrypted:  # counted; a consent answer (or how to give one) always runs
                services.limiter.person(event.sender, services.clock.now(), always=True)
            if word is None:
                if not event.encrypted or event.untrusted is not None:
                    return False
                outcome = await _explain_reply(db, event, consent_id, info, loaded, services)
            else:
                invocation = registry.invocation(f"consent {word}", {"consent-id": consent_id})
                answer = replace(event, by_reply=True)
                if not event.encrypted:
                    outcome = await _refuse_unencrypted(
                        db, answer, invocation.command.typed_name, info, loaded, services
                    )
                elif event.untrusted is not None:
                    outcome = await _refuse_untrusted(db, answer, invocation.command.typed_name, info, loaded, services)
                else:
                    outcome = await _answer(db, answer, invocation, info, loaded, services)
    return _after(event, outcome, services)


async def handle_vote(
    event: IncomingCommand, poll: str, selection: Selection, store: Store, services: Services
) -> bool:
    """A vote in a consent request's poll: `consent yes|no|revoke` by the voter, like a typed answer.

    `event` is the vote (its sender, id, whether it came encrypted), `poll` the poll's event id and
    `selection` the answer chosen. A vote counts only from a person the consent asks: anyone else's
    is ignored — nothing recorded and nothing said (an audit row notes it), for the poll is on
    everyone's screen and a tap by a nurse is no answer. A vote changed from yes to no is a
    withdrawal (`care.votes`). Otherwise it runs the command through the same gate, ledger, audit
    row and confirmation (in reply to the poll) as a typed one; an unencrypted vote is refused as
    an unencrypted command is. A vote from a device the bot does not trust (`event.untrusted`, decided
    where every event is routed, bot.app) acts on nothing and is answered as a command from it is.
    """
    async with store.transaction() as db:
        info, loaded = await load_room(db, event.room_id, services.pathways)
        if info is None or info.kind != "case" or loaded is None:
            return False
        consent_id = await polls.consent_for_event(db, loaded.case.id, poll, "poll")
        if consent_id is None:
            return False  # a poll of someone else: not ours to count
        try:
            consent = loaded.view.pathway.consent(consent_id)
        except KeyError:
            return False  # a consent the pathway no longer has
        vote = replace(event, reply_to=poll, by_poll=True)
        if event.untrusted is not None:  # a device the bot does not trust: the vote acts on nothing
            outcome: Outcome = await _refuse_untrusted(db, vote, "consent vote", info, loaded, services)
        elif event.sender not in who_answers(loaded.view, consent):
            now = services.clock.now()
            if not await mark_handled(db, event.event_id, event.room_id, now):
                return False
            room = CareRoom(db, services, info, loaded, event.sender, event.event_id, now)
            await room.audit("consent.vote_ignored", consent=consent.id)
            outcome = ("consent vote", "ignored: not asked", False)
        else:
            latest = latest_answers(await consents.answers(db, loaded.case.id), consent.id).get(event.sender)
            word = vote_answer(selection, latest)
            invocation = registry.invocation(f"consent {word}", {"consent-id": consent.id})
            if not event.encrypted:
                outcome = await _refuse_unencrypted(db, vote, invocation.command.typed_name, info, loaded, services)
            else:
                outcome = await _answer(db, vote, invocation, info, loaded, services)
    return _after(event, outcome, services)


async def _explain_reply(
    db: Any,
    event: IncomingCommand,
    consent_id: str,
    info: RoomInfo,
    loaded: LoadedCase,
    services: Services,
) -> Outcome:
    """Something other than yes or no replied to a request, by one it asks: say how to answer (nothing is recorded)."""
    view = loaded.view
    try:
        consent = view.pathway.consent(consent_id)
    except KeyError:
        return None  # a consent the pathway no longer has
    if event.sender not in who_answers(view, consent):
        return None  # the team talking about the request: chat
    now = services.clock.now()
    if not await mark_handled(db, event.event_id, event.room_id, now):
        return None
    text = services.catalog.t(
        info.language, "consent.reply_help", id=consent.id, coordinators=mentions(view.coordinators())
    )
    reply = Reply(text, ok=False, extra={"reason": "consent.reply_help", "consent": {"id": consent.id}})
    await outbox.enqueue(
        db, event.room_id, "m.room.message", reply.content("consent", event.event_id, event.thread_root), now
    )
    return "consent reply", "explained", False


async def _delay_reply(
    db: Any,
    event: IncomingCommand,
    asked: tuple[str, list[str]],
    info: RoomInfo,
    loaded: LoadedCase,
    services: Services,
) -> Outcome:
    """A reply to an overdue reminder that asked why: one of the pathway's words runs `reason <item> <word>` by
    the person replying (marked `by_reply`); anything else, from a lane asked or a coordinator, is answered with
    the words to use (nothing recorded); from anyone else it is chat."""
    item_id, lanes = asked
    view = loaded.view
    words = strip_reply_fallback(event.body).split()
    chosen = view.pathway.find_reason(words[0].strip(".,;:!?«»\"'“”")) if len(words) == 1 else None
    member = view.members.get(event.sender)
    if chosen is None:
        concerned = member is not None and (member.coordinator or any(acts_for(view, member, lane) for lane in lanes))
        if not concerned or not event.encrypted:
            return None
        now = services.clock.now()
        if not await mark_handled(db, event.event_id, event.room_id, now):
            return None
        text = services.catalog.t(info.language, "delay.reply_help", id=item_id, reasons=reason_words(view))
        reply = Reply(text, ok=False, extra={"reason": "delay.reply_help", "item": item_id})
        await outbox.enqueue(
            db, event.room_id, "m.room.message", reply.content("reason", event.event_id, event.thread_root), now
        )
        return "reason reply", "explained", False
    invocation = registry.invocation("reason", {"item-id": item_id, "reason": chosen.id})
    answer = replace(event, by_reply=True)
    if not event.encrypted:
        return await _refuse_unencrypted(db, answer, invocation.command.typed_name, info, loaded, services)
    return await _answer(db, answer, invocation, info, loaded, services)


#: What handling a command came to: None when it was handled before; else (command name, outcome, changed).
Outcome = tuple[str, str, bool] | None


async def _answer(
    db: Any,
    event: IncomingCommand,
    request: CommandLine | Invocation,
    info: RoomInfo | None,
    loaded: LoadedCase | None,
    services: Services,
) -> Outcome:
    """Inside the event's transaction: mark it handled, run the command, queue its answer, then the edits."""
    now = services.clock.now()
    if not await mark_handled(db, event.event_id, event.room_id, now):
        log.info("room=%s event=%s already handled", event.room_id, event.event_id)
        return None
    if event.private and event.encrypted and event.room_encrypted and (info is None or info.kind != "case"):
        # Where their worklist goes: a chat of theirs alone, and encrypted (it names their cases).
        await record_direct_chat(db, services, event.sender, event.room_id, now)
    room = CareRoom(db, services, info, loaded, event.sender, event.event_id, now) if info and loaded else None
    language = await _language(db, info, event.sender, services)
    ctx = Context(
        event=event,
        command=Command((request.name,)) if isinstance(request, CommandLine) else request.command,
        language=language,
        db=db,
        services=services,
        now=now,
        room=room,
        room_kind=info.kind if info else "other",
        prefix=request.prefix if isinstance(request, CommandLine) else "!",
    )
    command, reply, changed = await _run(ctx, request)
    name = command.typed_name if command else ctx.command.name  # an unknown command: the name as typed
    if not event.quotable:  # a reaction to a notice not everyone can read: say whose reaction it was instead
        reply.quotes = False
        reply.markdown = f"{mention(event.sender)}: {reply.markdown}"
    content = reply.content(name, event.reply_to or event.event_id, event.thread_root)
    # A big case's `!status` would pass the homeserver's event limit and be refused for good.
    content = fit_content(content, services.catalog.t(language, "error.shortened"))
    await outbox.enqueue(db, event.room_id, "m.room.message", content, now)
    if room is not None:
        await room.flush_later()
    return name, "ok" if reply.ok else "error", changed


async def _refuse_unencrypted(
    db: Any,
    event: IncomingCommand,
    name: str,
    info: RoomInfo,
    loaded: LoadedCase | None,
    services: Services,
) -> Outcome:
    """A command sent unencrypted into a care room: not run; answered once (encrypted, like every
    message into a care room) and audited, so the team sees that someone tried."""
    now = services.clock.now()
    if not await mark_handled(db, event.event_id, event.room_id, now):
        return None
    if loaded is not None:
        room = CareRoom(db, services, info, loaded, event.sender, event.event_id, now)
        await room.audit("command.unencrypted_refused", command=name)
    text = services.catalog.t(info.language, "error.unencrypted", user=mention(event.sender))
    reply = Reply("⚠️ " + text, ok=False, extra={"reason": "error.unencrypted"})
    await outbox.enqueue(
        db, event.room_id, "m.room.message", reply.content(name, event.event_id, event.thread_root), now
    )
    return name, "refused-unencrypted", False


#: What runs even over the person limit (`homeward.ratelimit.RateLimiter.person`): the team relies on these records.
ALWAYS_RUN = frozenset({"ack", "consent yes", "consent no"})


def _always_runs(line: CommandLine | None) -> bool:
    """Whether the typed line is an acknowledgement or a consent answer."""
    if line is None:
        return False
    command, _ = resolve(line)
    return command is not None and command.name in ALWAYS_RUN


async def _unanswered(event: IncomingCommand, store: Store, services: Services, name: str) -> bool:
    """A command over the person limit after they were told: handled (never run later), not answered."""
    async with store.transaction() as db:
        await mark_handled(db, event.event_id, event.room_id, services.clock.now())
    log.info("room=%s event=%s command=%s outcome=over-person-limit-unanswered", event.room_id, event.event_id, name)
    return False


async def _answer_over_limit(
    db: Any, event: IncomingCommand, name: str, wait: timedelta, info: RoomInfo | None, services: Services
) -> Outcome:
    """The first command over the person limit: not run; answered with when they may again."""
    now = services.clock.now()
    if not await mark_handled(db, event.event_id, event.room_id, now):
        return None
    language = await _language(db, info, event.sender, services)
    rate = services.limiter.rate_for(ALL_COMMANDS, PERSON_RATE)
    assert rate is not None
    catalog = services.catalog
    text = catalog.t(
        language,
        "brake.too_many",
        count=rate.count,
        period=_span_in(catalog, language, rate.period),
        wait=_span_in(catalog, language, wait),
    )
    retry_ms = max(0, int(wait.total_seconds() * 1000))
    reply = Reply("⚠️ " + text, ok=False, extra={"reason": "brake.too_many", "retry_after_ms": retry_ms})
    await outbox.enqueue(
        db, event.room_id, "m.room.message", reply.content(name, event.event_id, event.thread_root), now
    )
    return name, "over-person-limit", False


#: How the owner of a device the bot does not trust is told, by why it is not (`work.trust.Verdict`).
UNTRUSTED_KEYS = {
    Verdict.UNSIGNED: "trust.refused_unsigned",
    Verdict.UNKNOWN: "trust.refused_unsigned",
    Verdict.IDENTITY_CHANGED: "trust.refused_identity_changed",
    Verdict.NO_IDENTITY: "trust.refused_no_identity",
}


async def _refuse_untrusted(
    db: Any,
    event: IncomingCommand,
    name: str,
    info: RoomInfo | None,
    loaded: LoadedCase | None,
    services: Services,
    item: str | None = None,
) -> Outcome:
    """A command, consent reply or reaction from a device the bot does not trust: nothing acts.

    Audited every time; answered once per device, in words its owner understands (how to verify
    the session, or that a coordinator must restore trust). The answer is shared with that device
    for that one message (`work.trust.SHARE_WITH`), so the person at it can read how to fix it;
    for a reaction (which names no device) it is not.
    """
    now = services.clock.now()
    if not await mark_handled(db, event.event_id, event.room_id, now):
        return None
    reason = Verdict(event.untrusted or Verdict.UNKNOWN)
    details: dict[str, Any] = {"command": name, "device": event.device_id, "reason": reason.value}
    if info is not None and loaded is not None:
        room = CareRoom(db, services, info, loaded, event.sender, event.event_id, now)
        await room.audit("command.untrusted_device_refused", **details)
    else:
        await audit(
            db,
            room_id=event.room_id,
            actor=event.sender,
            action="command.untrusted_device_refused",
            now=now,
            actor_lane=NO_LANE,
            event_id=event.event_id,
            **details,
        )
    if not await note_refusal(db, event.sender, event.device_id, now, reaction=event.reaction):
        return name, "refused-untrusted-device", False  # told before, for this device
    language = await _language(db, info, event.sender, services)
    key = "trust.refused_reaction" if event.reaction and reason is Verdict.UNSIGNED else UNTRUSTED_KEYS[reason]
    text = services.catalog.t(
        language,
        key,
        user=mention(event.sender),
        id=event.sender,
        device=code(event.device_id or "?"),
        item=item or "",
    )
    reply = Reply("⚠️ " + text, ok=False, extra={"reason": key, "device": event.device_id})
    content = reply.content(name, event.reply_to or event.event_id, event.thread_root)
    if not event.reaction and event.device_id:
        content[SHARE_WITH] = {"user_id": event.sender, "device_id": event.device_id}
    await outbox.enqueue(db, event.room_id, "m.room.message", content, now)
    return name, "refused-untrusted-device", False


def _after(event: IncomingCommand, outcome: Outcome, services: Services) -> bool:
    """Once committed: log what happened (never the text), wake the sender, and the scheduler after a change."""
    if outcome is None:
        return False
    name, result, changed = outcome
    log.info("room=%s event=%s command=%s outcome=%s", event.room_id, event.event_id, name, result)
    services.wake_outbox()
    if changed:
        services.wake_reminders()
    return True


async def _answer_parse_error(
    db: Any, event: IncomingCommand, exc: ParseError, info: RoomInfo | None, services: Services
) -> Outcome:
    now = services.clock.now()
    if not await mark_handled(db, event.event_id, event.room_id, now):
        return None
    language = await _language(db, info, event.sender, services)
    text = services.catalog.t(language, exc.key, **exc.values)
    reply = Reply("⚠️ " + text, ok=False, extra={"reason": exc.key})
    await outbox.enqueue(
        db, event.room_id, "m.room.message", reply.content(exc.name, event.event_id, event.thread_root), now
    )
    return exc.name, "parse-error", False


async def _language(db: Any, info: RoomInfo | None, sender: str, services: Services) -> str:
    """The language to answer in: a care room's own; in a direct chat, that of the sender's last care room
    (or the configured one, for someone in no case yet)."""
    if info is not None and info.kind == "case":
        return info.language
    if info is not None and info.kind == "direct":
        return await last_case_language(db, sender) or info.language
    return info.language if info else services.config.language


def resolve(line: CommandLine) -> tuple[Command | None, set[int]]:
    """The command named by the line, and the positions of the tokens that were its words.

    Sub-command words are looked for after the parent's lead arguments (`!minutes
    <meeting-id> note …`); a word that names no sub-command leaves the parent's implicit
    one, if it has one (`!plan admission 2026-12-01` is `plan set`).
    """
    node = registry.find(line.name)
    words: set[int] = set()
    at = 0
    while node is not None:
        at += len(node.lead)
        word = line.tokens[at].text.lower() if at < len(line.tokens) else None
        child = node.subcommands.get(word) if word is not None else None
        if child is not None and not child.untyped:
            node = child
            words.add(at)
            at += 1
        elif node.implicit is not None and (node.handler is None or at < len(line.tokens)):
            return node.implicit, words
        else:
            break
    return node, words


async def _run(ctx: Context, request: CommandLine | Invocation) -> tuple[Command | None, Reply, bool]:
    """The command, its reply, and whether it changed anything (then its case was settled in the same transaction).

    A typed line is resolved to its command and its tokens bound to the arguments; an invocation
    (a reaction, a reply) names both. Either way the same gate, rate, savepoint and audit apply.
    """
    if isinstance(request, CommandLine):
        command, words = resolve(request)
        if command is None:
            return (
                None,
                _error(ctx, CommandError("error.unknown_command", name=request.name, prefix=request.prefix)),
                False,
            )
    else:
        command, words = request.command, set()
    ctx.command = command
    db, room = ctx.db, ctx.room
    await db.execute("SAVEPOINT command")
    changed = False
    try:
        if command.handler is None:
            choices = Markdown(_subcommand_list(command, ctx.prefix))
            raise CommandError("error.choose_subcommand", usage=False, name=command.name, choices=choices)
        check(command, ctx)
        ctx.args = _bind(ctx, command, request, words) if isinstance(request, CommandLine) else dict(request.args)
        rate = ctx.services.limiter.rate_for(command.name, command.rate)
        if rate is not None:
            _check_rate(ctx, command, rate)
        with recording() as changes:
            reply = await command.handler(ctx)
        # Reading is audited too: a command whose only writes were audit rows and messages changed nothing
        # (the store functions that write say which kind of write theirs is: `store.changes`).
        changed = changes.case
        if changed and room is not None:
            await room.settle()
        if rate is not None and reply.ok:
            ctx.services.limiter.record(ctx.sender, command.name, rate, ctx.now)
    except Exception as failure:
        await db.execute("ROLLBACK TO command")
        changed = False
        if room is not None:
            room.discard_later()
        if isinstance(failure, Refusal):
            reply = _error(ctx, failure)
        else:
            log.exception(
                "room=%s event=%s command=%s outcome=internal-error", ctx.room_id, ctx.event.event_id, command.name
            )
            reply = Reply("⚠️ " + ctx.t("error.internal"), ok=False, extra={"reason": "error.internal"})
    await db.execute("RELEASE command")
    return command, reply, changed


def _check_rate(ctx: Context, command: Command, rate: Rate) -> None:
    """Refuse, saying for how long, when the sender has run this command as often as its rate allows."""
    wait = ctx.services.limiter.wait(ctx.sender, command.name, rate, ctx.now)
    if wait is not None:
        raise CommandError(
            "error.rate_limited",
            name=command.typed_name,
            count=rate.count,
            period=_span(ctx, rate.period),
            wait=_span(ctx, wait),
        )


def _span(ctx: Context, span: timedelta) -> str:
    """A duration as people read it: whole minutes (rounded up), or whole hours from two hours on."""
    return _span_in(ctx.services.catalog, ctx.language, span)


def _span_in(catalog: Any, language: str, span: timedelta) -> str:
    minutes = max(1, math.ceil(span.total_seconds() / 60))
    if minutes >= 120 or (minutes >= 60 and minutes % 60 == 0):
        return catalog.t(language, "time.hours", n=math.ceil(minutes / 60))
    return catalog.t(language, "time.minutes", n=minutes)


def _subcommand_list(command: Command, prefix: str) -> str:
    return ", ".join(code(f"{prefix}{command.name} {name}") for name in sorted(command.subcommands))


def _bind(ctx: Context, command: Command, line: CommandLine, words: set[int]) -> dict[str, Any]:
    """Match the tokens that are not command words to the declared arguments (the parent's lead ones first)."""
    values: dict[str, Any] = {}
    lead = command.parent.lead if command.parent is not None else []
    free = [i for i in range(len(line.tokens)) if i not in words]
    for arg, position in zip(lead, free, strict=False):  # fewer free tokens than lead arguments: refused below
        token = line.tokens[position].text
        values[arg.name] = arg.convert(token, ctx) if arg.convert else token
    if len(free) < len(lead):
        raise CommandError("error.missing_argument", usage=True, arg=lead[len(free)].usage(ctx.word))
    free = free[len(lead) :]
    index = free[0] if free else len(line.tokens)
    for arg in command.args:
        if arg.rest:
            text = line.rest(index)
            index = len(line.tokens)
            if not text:
                if not arg.optional:
                    raise CommandError("error.missing_argument", usage=True, arg=arg.usage(ctx.word))
                values[arg.name] = None
                continue
            values[arg.name] = arg.convert(text, ctx) if arg.convert else text
            continue
        if arg.repeat:
            items = [t.text for t in line.tokens[index:]]
            index = len(line.tokens)
            if not items and not arg.optional:
                raise CommandError("error.missing_argument", usage=True, arg=arg.usage(ctx.word))
            values[arg.name] = [arg.convert(i, ctx) if arg.convert else i for i in items]
            continue
        if index >= len(line.tokens):
            if not arg.optional:
                raise CommandError("error.missing_argument", usage=True, arg=arg.usage(ctx.word))
            values[arg.name] = None
            continue
        token = line.tokens[index].text
        values[arg.name] = arg.convert(token, ctx) if arg.convert else token
        index += 1
    if index < len(line.tokens):
        raise CommandError("error.too_many_arguments", usage=True, extra=line.tokens[index].text[:40])
    return values


def _error(ctx: Context, refusal: Refusal) -> Reply:
    try:
        text = "⚠️ " + ctx.t(refusal.key, **refusal.values)
    except (KeyError, IndexError, ValueError):
        # A refusal the catalogs cannot say must not stop the bot (this runs outside the handler's guard).
        log.exception("room=%s event=%s refusal=%s cannot be worded", ctx.room_id, ctx.event.event_id, refusal.key)
        return Reply("⚠️ " + ctx.t("error.internal"), ok=False, extra={"reason": refusal.key})
    if getattr(refusal, "usage", False):
        text += "\n\n" + ctx.t("error.usage", usage=code(ctx.command.usage(ctx.prefix, ctx.word)))
    return Reply(text, ok=False, extra={"reason": refusal.key})  # which refusal, for integrations and tests
