"""The desk's commands run on a store, without a homeserver: `!cases` reads every case in one
query, a closed case refuses what would change it (from each command's declaration),
`!handover`, the worklist fired exactly once, and the retention run.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import homeward.commands.handlers  # noqa: F401  (registers every command)
from homeward.care.consent import Answer
from homeward.commands.context import IncomingCommand
from homeward.commands.dispatch import handle_command
from homeward.commands.registry import ANY_STATE, CASE_ROOM, OPEN_CASE, registry
from homeward.store import cases, chain, consents, outbox, room_state
from homeward.store.db import Store
from homeward.store.state import remember_room
from homeward.work import retention as retention_module
from homeward.work.departures import member_left
from homeward.work.integrity import check_chains
from homeward.work.retention import run_retention
from homeward.work.room_state import bring_rooms_in_step
from homeward.work.worklists import fire_digest
from tests.clock import FakeClock
from tests.stores import open_store, seed_case
from tests.unit import shipped_pathways, unit_services

#: Every test here runs on SQLite and on PostgreSQL (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("each_engine")

START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # Tuesday, 09:00 in Oslo
ANNA, BERIT, MOR = "@anna:desk", "@berit:desk", "@mor:desk"
CASE, DM = "!case:desk", "!dm:desk"
PATHWAYS = shipped_pathways()


class Bench:
    """A store with one Telemark case (Anna coordinates it from the sykehus lane; Berit is in the
    kommunen lane), Anna's direct chat, and a way to run commands and read what was queued."""

    def __init__(self, store: Store, clock: FakeClock, **config: Any) -> None:
        self.store, self.clock, self.n = store, clock, 0
        self.services = unit_services(clock, pathways=PATHWAYS, user_id="@bot:desk", language="en", **config)

    async def run(
        self, room: str, body: str, sender: str = ANNA, private: bool = True, encrypted: bool = True
    ) -> dict[str, Any]:
        """Run a command (end-to-end encrypted, in an encrypted room, unless told otherwise); its answer's content."""
        self.n += 1
        event_id = f"$e{self.n}"
        incoming = IncomingCommand(
            room, event_id, sender, body, 0, private=private, encrypted=encrypted, room_encrypted=encrypted
        )
        await handle_command(incoming, self.store, self.services)
        return next(
            r
            for r in await self.queued()
            if (r.get("m.relates_to") or {}).get("m.in_reply_to", {}).get("event_id") == event_id
        )

    async def queued(self, room: str | None = None) -> list[dict[str, Any]]:
        async with self.store.read() as db, db.execute("SELECT room_id, kind, content FROM outbox ORDER BY id") as cur:
            rows = await cur.fetchall()
        return [{**json.loads(r["content"]), "_kind": r["kind"]} for r in rows if room is None or r["room_id"] == room]

    async def scalar(self, sql: str, *args: Any) -> Any:
        async with self.store.read() as db, db.execute(sql, args) as cur:
            row = await cur.fetchone()
        return row[0] if row else None


@pytest.fixture
async def bench(tmp_path: Path):
    store = await open_store(tmp_path / "homeward.sqlite3")
    async with store.transaction() as db:
        case_id = await seed_case(
            db, case_room=CASE, direct_room=DM, coordinator=ANNA, label="Sjostjerne", language="en", now=START
        )
        await cases.put_member(db, case_id, BERIT, "kommunen", False, ANNA, START)
        checklist = await outbox.enqueue(db, CASE, "m.room.message", {"body": "checklist"}, START)
        await cases.put_checklist(db, case_id, "planlegge-utskrivning", checklist)
    yield Bench(store, FakeClock(START), retention_days=30)
    await store.close()


# -- !cases ---------------------------------------------------------------------------------------


async def test_cases_reads_every_case_in_one_query_whatever_their_number(bench: Bench):
    statements: list[str] = []
    await bench.store._db.set_trace_callback(statements.append)

    async def reads_of_cases() -> int:
        statements.clear()
        answer = await bench.run(DM, "!cases")
        assert answer["homeward.status"] == "ok", answer["body"]
        return sum(1 for s in statements if "FROM cases c" in s)

    one = await reads_of_cases()
    async with bench.store.transaction() as db:
        for n in range(30):
            await remember_room(db, f"!more{n}:desk", "case", "en", START)
            case_id = await cases.open_case(
                db,
                pathway_id="orebro" if n % 2 else "sthf",
                label=f"Case{n}",
                phase_id="identifiering" if n % 2 else "planlegge-utskrivning",
                opened_by=ANNA,
                opened_in=DM,
                create_outbox=100 + n,
                now=START,
            )
            await cases.bind_room(db, 100 + n, f"!more{n}:desk")
            await cases.put_member(db, case_id, ANNA, None, True, ANNA, START)
    thirty_one = await reads_of_cases()

    assert one == thirty_one == 1


async def test_cases_is_refused_where_someone_else_could_read_it(bench: Bench):
    answer = await bench.run(DM, "!cases", private=False)

    assert answer["homeward.status"] == "error" and answer["homeward.reason"] == "error.only_in_private_chat"
    assert "Sjostjerne" not in answer["body"]


async def test_cases_is_refused_in_a_private_chat_that_is_not_encrypted(bench: Bench):
    answer = await bench.run("!plain:desk", "!cases", encrypted=False)

    assert answer["homeward.status"] == "error" and answer["homeward.reason"] == "error.private_chat_not_encrypted"
    assert "Sjostjerne" not in answer["body"]


async def test_a_private_chat_that_is_not_encrypted_never_becomes_the_worklists_chat(bench: Bench):
    await bench.run("!plain:desk", "!ping", encrypted=False)

    assert await bench.scalar("SELECT direct_room FROM people WHERE user_id = ?", ANNA) is None


async def test_a_command_in_a_private_chat_makes_it_the_persons_direct_chat_and_plans_their_worklist(bench: Bench):
    await bench.run("!other:desk", "!ping", private=False)
    assert await bench.scalar("SELECT direct_room FROM people WHERE user_id = ?", ANNA) is None

    await bench.run("!other:desk", "!ping")

    assert await bench.scalar("SELECT direct_room FROM people WHERE user_id = ?", ANNA) == "!other:desk"
    assert await bench.scalar("SELECT day FROM digests WHERE user_id = ? AND status = 'planned'", ANNA) == "2026-12-02"


async def test_a_worklist_time_is_per_person_and_off_plans_none(bench: Bench):
    await bench.run(DM, "!ping")
    later = await bench.run(DM, "!settings digest 08:15")
    planned = await bench.scalar("SELECT planned_at FROM digests WHERE user_id = ? AND status = 'planned'", ANNA)
    off = await bench.run(DM, "!settings digest off")
    refused = await bench.run(DM, "!settings digest 22:00")

    assert later["homeward.status"] == "ok" and "08:15" in later["body"]
    assert datetime.fromisoformat(planned) == datetime(2026, 12, 2, 7, 15, tzinfo=UTC)  # 08:15 in Oslo
    assert off["homeward.status"] == "ok"
    assert await bench.scalar("SELECT COUNT(*) FROM digests WHERE user_id = ? AND status = 'planned'", ANNA) == 0
    assert refused["homeward.status"] == "error" and "20:00" in refused["body"]


# -- a closed case -----------------------------------------------------------------------------------

CARE_COMMANDS = [c for c in registry.all() if c.where == CASE_ROOM or c.name in ("help", "ping")]


def typed(command) -> str:
    """The command as someone would start typing it.

    Lead arguments and an implicit sub-command's first words are filled in.
    """
    words = list(command.path[:-1] if command.untyped else command.path)
    lead = ["meeting1"] * len(command.parent.lead) if command.parent is not None else []
    extra = ["discharge", "2026-12-14"] if command.untyped else []
    return "!" + " ".join([words[0], *lead, *words[1:], *extra])


@pytest.mark.parametrize("command", [c for c in CARE_COMMANDS if c.state == OPEN_CASE], ids=lambda c: c.name)
async def test_a_closed_case_refuses_each_command_that_would_change_it_naming_case_reopen(bench: Bench, command):
    async with bench.store.transaction() as db:
        await cases.put_member(db, 1, MOR, "foresatt", False, ANNA, START)  # for what only guardians may run
    assert (await bench.run(CASE, "!case close force moved away"))["homeward.status"] == "ok"

    family_only = command.rule.roles is not None and "care" not in command.rule.roles  # a guardian runs it, Anna cannot
    answer = await bench.run(CASE, typed(command), sender=MOR if family_only else ANNA)

    assert answer["homeward.reason"] == "error.case_closed", answer["body"]
    assert "!case reopen" in answer["body"]


@pytest.mark.parametrize("command", [c for c in CARE_COMMANDS if c.state == ANY_STATE], ids=lambda c: c.name)
async def test_a_closed_case_can_still_be_read_exported_and_audited(bench: Bench, command):
    async with bench.store.transaction() as db:
        await cases.put_member(db, 1, MOR, "foresatt", False, ANNA, START)
    assert (await bench.run(CASE, "!case close force moved away"))["homeward.status"] == "ok"

    family_only = command.rule.roles is not None and "care" not in command.rule.roles  # a guardian runs it, Anna cannot
    answer = await bench.run(CASE, typed(command), sender=MOR if family_only else ANNA)

    assert answer.get("homeward.reason") != "error.case_closed", answer["body"]


def test_reading_exporting_auditing_and_withdrawing_consent_are_declared_to_work_on_a_closed_case():
    readers = {c.name for c in CARE_COMMANDS if c.state == ANY_STATE}
    assert {
        "status",
        "plan show",
        "plan",
        "export plan",
        "export case",
        "export minutes",
        "export events",
        "audit",
        "team",
        "consents",
        "reminders",
        "consent revoke",
        "timeline",
        "help",
        "ping",
        "trust",  # a guardian whose identity changed may still need to withdraw a consent there
    } == readers
    case = registry.find("case")
    assert case is not None and case.subcommands["reopen"].state == "closed"


async def test_closing_needs_a_reason_and_force_while_mandatory_items_are_open(bench: Bench):
    bare = await bench.run(CASE, "!case close force")
    blocked = await bench.run(CASE, "!case close discharged home")
    by_member = await bench.run(CASE, "!case close force moved", sender=BERIT)
    reopen_open = await bench.run(CASE, "!case reopen why")

    assert bare["homeward.reason"] == "case.close_needs_reason"
    assert blocked["homeward.reason"] == "case.close_blocked" and "`behandlingsteam`" in blocked["body"]
    assert by_member["homeward.reason"] == "permission.coordinators_only"
    assert reopen_open["homeward.reason"] == "error.case_not_closed"


async def test_closing_edits_the_checklist_into_a_closed_summary_and_reopening_edits_it_back(bench: Bench):
    await bench.run(CASE, "!case close force the family moved")
    closed = [r for r in await bench.queued(CASE) if "m.new_content" in r][-1]["m.new_content"]["body"]
    await bench.run(CASE, "!case reopen they came back")
    reopened = [r for r in await bench.queued(CASE) if "m.new_content" in r][-1]["m.new_content"]["body"]
    status = await bench.run(CASE, "!status")
    audit = [a for (a,) in await _rows(bench, "SELECT action FROM audit WHERE case_id = 1 ORDER BY id")]

    assert "Case closed" in closed and "the family moved" in closed and "!export case pdf" in closed
    assert "Case closed" not in reopened and "`behandlingsteam`" in reopened
    assert status["homeward.case"]["state"] == "open" and status["homeward.case"]["closed_at"] is None
    assert audit[-4:] == ["case.closed", "case.reviewed", "case.reopened", "status.read"]  # the review at the closing


async def test_closing_plans_the_retention_run_and_reopening_cancels_it(bench: Bench):
    await bench.run(CASE, "!case close force moved")
    planned = await bench.scalar("SELECT fire_at FROM retention_runs WHERE case_id = 1 AND status = 'planned'")
    await bench.run(CASE, "!case reopen came back")

    assert datetime.fromisoformat(planned) == START + timedelta(days=30)
    assert await bench.scalar("SELECT status FROM retention_runs WHERE case_id = 1") == "cancelled"


# -- handing over ---------------------------------------------------------------------------------


async def test_a_handover_makes_the_member_coordinator_keeps_the_sender_in_their_lane_and_tells_the_team(bench: Bench):
    answer = await bench.run(CASE, "!handover @berit:desk I am on leave from Monday")
    team = await bench.run(CASE, "!team")
    queued = await bench.queued(CASE)
    told = next(r for r in queued if "🔁" in r.get("body", ""))
    power = [r for r in queued if r["_kind"] == "state" and "users" in r.get("content", {})][-1]["content"]["users"]
    details = json.loads(await bench.scalar("SELECT details FROM audit WHERE action = 'case.handed_over'"))

    assert answer["homeward.status"] == "ok" and "**STHF**" in answer["body"]  # Anna stays in her lane
    assert {m["user"]: (m["lane"], m["coordinator"]) for m in team["homeward.team"]} == {
        ANNA: ("sykehus", False),
        BERIT: ("kommunen", True),
    }
    assert told["msgtype"] == "m.text" and told["m.mentions"]["user_ids"] == [BERIT]  # the new coordinator is notified
    assert "I am on leave from Monday" in told["body"] and "!cases" in told["body"]  # Berit has no direct chat yet
    assert power == {"@bot:desk": 100, BERIT: 50}
    assert details["to"] == BERIT and details["note"] == "I am on leave from Monday"


async def test_a_handover_to_oneself_or_to_someone_off_the_team_is_refused(bench: Bench):
    to_self = await bench.run(CASE, "!handover @anna:desk")
    stranger = await bench.run(CASE, "!handover @nobody:desk")

    assert to_self["homeward.reason"] == "handover.self"
    assert stranger["homeward.reason"] == "team.not_member"


async def test_a_handover_to_a_guardian_is_refused_since_nobody_answers_consent_and_coordinates(bench: Bench):
    async with bench.store.transaction() as db:
        await cases.put_member(db, 1, MOR, "foresatt", False, ANNA, START)

    answer = await bench.run(CASE, "!handover @mor:desk")
    team = await bench.run(CASE, "!team")

    assert answer["homeward.reason"] == "team.consent_lane_not_coordinator"
    assert {m["user"]: m["coordinator"] for m in team["homeward.team"]} == {ANNA: True, BERIT: False, MOR: False}


# -- the last coordinator leaves a closed case --------------------------------------------------------


async def test_when_the_last_coordinator_leaves_a_closed_case_the_care_lanes_are_told_to_reopen_it_and_may(
    bench: Bench,
):
    async with bench.store.transaction() as db:
        await cases.put_member(db, 1, MOR, "foresatt", False, ANNA, START)
    assert (await bench.run(CASE, "!case close force moved"))["homeward.status"] == "ok"

    assert await member_left(CASE, "$anna-left", ANNA, ANNA, "leave", "join", bench.store, bench.services)
    asked = next(r for r in await bench.queued(CASE) if r.get("homeward.needs_coordinator"))
    refused = await bench.run(CASE, "!case reopen we need to continue", sender=MOR)
    reopened = await bench.run(CASE, "!case reopen we need to continue", sender=BERIT)
    named = await bench.run(CASE, "!role @berit:desk kommunen coordinator", sender=BERIT)

    assert "!case reopen" in asked["body"] and asked["m.mentions"]["user_ids"] == [BERIT]
    assert refused["homeward.reason"] == "permission.coordinators_only"  # a guardian's lane is no care lane
    assert reopened["homeward.status"] == "ok", reopened["body"]
    assert named["homeward.status"] == "ok", named["body"]


# -- the worklist, fired ---------------------------------------------------------------------------


async def _guardian_waiting(bench: Bench) -> None:
    """Mor joins the guardian lane: her consents are pending, so the worklist has something to say."""
    async with bench.store.transaction() as db:
        await cases.put_member(db, 1, MOR, "foresatt", False, ANNA, START)


async def test_a_worklist_is_queued_once_and_the_next_one_planned(bench: Bench):
    await _guardian_waiting(bench)
    await bench.run(DM, "!ping")  # Anna's direct chat: her worklist is planned for Wednesday 07:30
    digest_id = await bench.scalar("SELECT id FROM digests WHERE user_id = ? AND status = 'planned'", ANNA)
    bench.clock.set(datetime(2026, 12, 2, 6, 30, 1, tzinfo=UTC))

    first = await fire_digest(bench.store, bench.services, digest_id)
    again = await fire_digest(bench.store, bench.services, digest_id)
    sent = [r for r in await bench.queued(DM) if "homeward.digest_run" in r]

    assert (first, again) == (True, False)
    assert len(sent) == 1 and sent[0]["homeward.private_to"] == ANNA
    assert [c["label"] for c in sent[0]["homeward.digest"]] == ["Sjostjerne"]
    # The case speaks Norwegian, and names the consents by their titles.
    assert (
        "Samtykke til utsending av dokumentasjon, Samtykke til individuell plan — spør igjen: !consent ask"
        in (sent[0]["body"])
    )
    assert await bench.scalar("SELECT day FROM digests WHERE user_id = ? AND status = 'planned'", ANNA) == "2026-12-03"
    assert await bench.scalar("SELECT COUNT(*) FROM audit WHERE action = 'digest.sent'") == 1


async def test_a_worklist_with_nothing_to_say_is_not_sent(bench: Bench):
    await bench.run(DM, "!ping")
    digest_id = await bench.scalar("SELECT id FROM digests WHERE user_id = ? AND status = 'planned'", ANNA)
    bench.clock.set(datetime(2026, 12, 2, 6, 30, 1, tzinfo=UTC))

    assert await fire_digest(bench.store, bench.services, digest_id) is False
    assert await bench.scalar("SELECT status FROM digests WHERE id = ?", digest_id) == "empty"
    assert not [r for r in await bench.queued(DM) if "homeward.digest_run" in r]


# -- retention ---------------------------------------------------------------------------------------


async def _closed_with_content(bench: Bench) -> int:
    """A case with a plan goal, an acknowledgement with a note, a date and consents given, then closed."""
    async with bench.store.transaction() as db:
        await cases.put_member(db, 1, MOR, "foresatt", False, ANNA, START)
        for consent in ("dokumentasjon", "individuell-plan"):
            await consents.add_answer(db, 1, Answer(consent, MOR, "yes", START), "$yes")
    for body in (
        "!plan goal Home before Christmas",
        "!ack behandlingsteam called the mother",
        "!plan admission 2026-12-14",  # a date that completes no task (discharge would: tentativ-ut-dato)
        "!case close force moved to another region",
    ):
        answer = await bench.run(CASE, body)
        assert answer["homeward.status"] == "ok", answer["body"]
    return int(await bench.scalar("SELECT id FROM retention_runs WHERE case_id = 1"))


async def test_a_retention_run_exports_once_more_removes_the_personal_content_keeps_the_audit_and_leaves(bench: Bench):
    run_id = await _closed_with_content(bench)
    audit_before = await bench.scalar("SELECT COUNT(*) FROM audit")
    bench.clock.set(START + timedelta(days=30, hours=1))
    before = len(await bench.queued(CASE))

    done = await run_retention(bench.store, bench.services, run_id)
    again = await run_retention(bench.store, bench.services, run_id)
    last = (await bench.queued(CASE))[before:]

    assert (done, again) == (True, False)
    assert [r["_kind"] for r in last] == ["event", "file", "leave"]  # the notice, the last export, then the bot leaves
    assert last[1]["homeward.export"]["what"] == "case" and last[1]["filename"].endswith("-final.pdf")
    for table in ("plan_changes", "acks", "items", "case_dates", "members", "checklists", "reminders"):
        assert await bench.scalar(f"SELECT COUNT(*) FROM {table} WHERE case_id = 1") == 0, table
    assert (
        await bench.scalar("SELECT COUNT(*) FROM consent_answers WHERE case_id = 1") == 2
    )  # the evidence of consent stays
    assert await bench.scalar("SELECT label FROM cases WHERE id = 1") == "Sjostjerne"
    assert await bench.scalar("SELECT closed_reason FROM cases WHERE id = 1") is None
    assert (
        await bench.scalar("SELECT COUNT(*) FROM audit") == audit_before + 1
    )  # nothing rewritten, the removal recorded
    removed = json.loads(await bench.scalar("SELECT details FROM audit WHERE action = 'case.purged'"))["removed"]
    assert removed["plan_changes"] == 1 and removed["acks"] == 1 and removed["members"] == 3
    assert (await bench.run(DM, "!cases all"))["homeward.cases"] == []


async def test_the_last_export_of_a_retention_run_names_people_as_the_room_does(bench: Bench, monkeypatch):
    """The final PDF is the record the region keeps: it names people by their display name in the room
    (read from the bot's client when it is made, as `!export` does), not by their Matrix id."""
    run_id = await _closed_with_content(bench)
    bench.clock.set(START + timedelta(days=30, hours=1))
    room_names = {ANNA: "Anna Koordinator", MOR: "Mor Vårdnadshavare"}
    bench.services.display_name = lambda room_id, user_id: room_names.get(user_id) if room_id == CASE else None
    made: list[Any] = []

    def keep(*args: Any, **kwargs: Any) -> Any:
        made.append(real(*args, **kwargs))
        return made[-1]

    real = retention_module.careplan_document
    monkeypatch.setattr(retention_module, "careplan_document", keep)

    assert await run_retention(bench.store, bench.services, run_id) is True

    (document,) = made
    named = {person.user_id: person.name for person in document.people if person.name}
    assert named == room_names  # everyone the room names, by that name; nobody else
    assert document.change_note  # the version says what changed


async def test_a_retention_run_keeps_the_audit_chain_whole_with_the_removal_as_its_last_link(bench: Bench):
    run_id = await _closed_with_content(bench)
    bench.clock.set(START + timedelta(days=30, hours=1))

    assert await run_retention(bench.store, bench.services, run_id) is True

    async with bench.store.read() as db:
        states = await chain.verify_case(db, 1)
        breaks = chain.first_breaks(await chain.verify(db))
    purged = await bench.scalar("SELECT hash FROM audit WHERE case_id = 1 AND action = 'case.purged'")
    assert breaks == [] and states["audit"].broken is None and states["consent_answers"].broken is None
    assert states["audit"].head == purged  # the removal is one more link: verify-audit still says intact
    assert states["consent_answers"].rows == 2


async def test_a_removed_case_keeps_no_record_of_its_room_state_or_removals_and_is_left_alone_at_start_up(bench: Bench):
    async with bench.store.transaction() as db:
        await room_state.record(db, 1, "m.room.power_levels", {"users": {ANNA: 50}})
        await cases.start_removal(db, 1, "@stranger:desk", START)
    run_id = await _closed_with_content(bench)
    bench.clock.set(START + timedelta(days=30, hours=1))
    assert await run_retention(bench.store, bench.services, run_id) is True
    queued = len(await bench.queued(CASE))

    updated = await bring_rooms_in_step(bench.store, bench.services)  # what start-up does for every care room
    async with bench.store.read() as db:
        teams = await cases.teams_by_room(db)

    assert await bench.scalar("SELECT COUNT(*) FROM room_state WHERE case_id = 1") == 0
    assert await bench.scalar("SELECT COUNT(*) FROM removals WHERE case_id = 1") == 0
    assert updated == 0 and CASE not in teams  # the bot has left: no state, no removal of "strangers" queued there
    assert len(await bench.queued(CASE)) == queued


async def test_a_broken_chain_of_a_removed_case_is_logged_but_nothing_is_sent_into_the_room_the_bot_left(bench: Bench):
    run_id = await _closed_with_content(bench)
    bench.clock.set(START + timedelta(days=30, hours=1))
    assert await run_retention(bench.store, bench.services, run_id) is True
    queued = len(await bench.queued(CASE))
    async with bench.store.transaction() as db:  # someone with the file rewrites a row behind the application's back
        await db.execute("DROP TRIGGER audit_no_update")
        await db.execute("UPDATE audit SET details = '{}' WHERE case_id = 1 AND action = 'case.closed'")

    breaks = await check_chains(bench.store, bench.services)

    assert [(b.table, b.case_id) for b in breaks] == [("audit", 1)]
    assert len(await bench.queued(CASE)) == queued


async def test_the_plan_history_still_cannot_be_deleted_while_the_case_is_kept(bench: Bench):
    await _closed_with_content(bench)
    with pytest.raises(Exception, match="append-only"):
        async with bench.store.transaction() as db:
            await db.execute("DELETE FROM plan_changes WHERE case_id = 1")


async def test_no_last_export_without_the_consent_that_covers_exports(bench: Bench):
    assert (await bench.run(CASE, "!case close force moved"))["homeward.status"] == "ok"
    run_id = int(await bench.scalar("SELECT id FROM retention_runs WHERE case_id = 1"))
    bench.clock.set(START + timedelta(days=30, hours=1))
    before = len(await bench.queued(CASE))

    assert await run_retention(bench.store, bench.services, run_id) is True
    last = (await bench.queued(CASE))[before:]

    assert [r["_kind"] for r in last] == ["event", "leave"]
    assert "`dokumentasjon`" in last[0]["body"]


async def test_a_reopened_case_is_not_removed(bench: Bench):
    assert (await bench.run(CASE, "!case close force moved"))["homeward.status"] == "ok"
    run_id = int(await bench.scalar("SELECT id FROM retention_runs WHERE case_id = 1"))
    async with bench.store.transaction() as db:
        await cases.reopen(db, 1)  # reopened behind the run's back: the run looks at the case itself
    bench.clock.set(START + timedelta(days=30, hours=1))

    assert await run_retention(bench.store, bench.services, run_id) is False
    assert await bench.scalar("SELECT COUNT(*) FROM members WHERE case_id = 1") == 2


async def _rows(bench: Bench, sql: str) -> list[tuple]:
    async with bench.store.read() as db, db.execute(sql) as cur:
        return [tuple(r) for r in await cur.fetchall()]
