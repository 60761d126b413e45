"""The permission table walked against the real bot: every command × every lane × coordinator or
not, with the expected allow or refuse written out independently.

Guardians and the young person are never coordinators (care/team.py refuses it; see
test_consent_persons.py), and nobody is in a care room without a place on the team: only the
bot invites, and it removes anyone who got in otherwise (test_membership.py)."""

from __future__ import annotations

from homeward.commands.registry import registry
from tests.harness import replying_to
from tests.integration.care import bring_in, open_case

LANES = ["familien", "foresatt", "barn", "kommunen", "sykehus"]
GUARDIAN_LANES = {"foresatt", "barn"}

# Who may run what, written out here rather than read from care/permissions.py.
EVERY_MEMBER = {
    "help",
    "ping",
    "pathways",
    "team",
    "status",
    "plan",
    "ack",
    "send",
    "reminders",
    "consents",
    "remind",
    "snooze",
    "plan show",
    "timeline",
    "reason",  # issue 27: a lane says why it is late (a family lane can be late too); refusals after the gate
}
# The care team's own work: the care lanes and coordinators, not the family (who never see them in !help).
CARE_TEAM = {
    "export plan",
    "export case",
    "export minutes",
    "minutes present",
    "minutes note",
    "minutes decision",
    "minutes action",
    "minutes topic",
    "minutes close",
    "minutes reopen",
    "trust",  # a coordinator restores trust; a care lane gets past the gate (told: coordinators first)
}
CARE_LANES = {"kommunen", "sykehus"}
COORDINATORS = {
    "meeting new",
    "plan goal",
    "plan subgoal",
    "plan action",
    "plan responsible",
    "plan followup",
    "plan remove",
    "plan set",
    "invite",
    "role",
    "assign",
    "phase next",
    "settings reactions",
    "settings quiet",
    "settings update",
    "audit",
    "consent ask",
    "case close",
    "case reopen",
    "handover",
    "settings consent",
    "export events",  # issue 27: the case's event log, for the coordinators
}
GUARDIANS = {"consent yes", "consent no", "consent revoke"}
NOWHERE_HERE = {"case new", "stats", "stats review", "cases", "digest", "settings digest"}  # only outside care rooms

SAMPLES = {
    "help": "!help",
    "ping": "!ping",
    "pathways": "!pathways",
    "team": "!team",
    "status": "!status",
    "plan": "!plan",
    "plan set": "!plan discharge 2027-01-15",
    "ack": "!ack behandlingsteam",
    "send": "!send soknad",
    "reminders": "!reminders",
    "consents": "!consents",
    "remind": "!remind behandlingsteam in 2h",
    "snooze": "!snooze behandlingsteam 2h",
    "invite": "!invite @nobody-perm:localhost kommunen",
    "role": "!role {me} {lane} {flag}",
    "assign": "!assign behandlingsteam {me}",
    "phase next": "!phase next",
    "settings reactions": "!settings reactions on",
    "settings quiet": "!settings quiet 20:00-08:00",
    "settings update": "!settings update 5",
    "settings consent": "!settings consent guardians",
    "audit": "!audit",
    "consent ask": "!consent ask",
    "consent yes": "!consent yes dokumentasjon",
    "consent no": "!consent no individuell-plan",
    "consent revoke": "!consent revoke individuell-plan",
    "case new": "!case new sthf Probe",
    # None of these may change the case for the next ones: closing is held by its open items,
    # reopening refused (it is open), and a handover to oneself refused, after the gate.
    "case close": "!case close discharged home",
    "case reopen": "!case reopen probe",
    "handover": "!handover {me}",
    "cases": "!cases",
    "digest": "!digest",
    "settings digest": "!settings digest 08:00",
    "plan show": "!plan show",
    "plan goal": "!plan goal Trygg hjemkomst",
    "plan subgoal": "!plan subgoal 1 Utstyr på plass",
    "plan action": "!plan action 1 kommunen Skaffe utstyr",
    "plan responsible": "!plan responsible kommunen",
    "plan followup": "!plan followup 2027-02-01",
    "plan remove": "!plan remove g1 test",
    "export plan": "!export plan md",
    "export case": "!export case md",
    "export minutes": "!export minutes meeting1 md",
    "meeting new": "!meeting new meeting1 2027-01-05 10:00",
    "minutes present": "!minutes meeting1 present {me}",
    "minutes note": "!minutes meeting1 note Probe",
    "minutes decision": "!minutes meeting1 decision Probe",
    "minutes action": "!minutes meeting1 action kommunen 2027-01-10 Probe",
    "minutes topic": "!minutes meeting1 topic 1 Probe",
    "minutes close": "!minutes meeting1 close",
    "minutes reopen": "!minutes meeting1 reopen Probe",
    "timeline": "!timeline",
    "stats": "!stats",
    "stats review": "!stats review",
    "reason": "!reason behandlingsteam",  # the pathway's words, and what the late lanes said
    "export events": "!export events csv",
    # Nobody's identity changed here: after the gate, refused as about oneself (nothing changes).
    "trust": "!trust {me}",
}
SCOPE_OR_PERMISSION = ("permission.", "error.not_in_case_room", "error.only_in_case_room")


def expected(command: str, lane: str | None, coordinator: bool) -> bool:
    if lane is None and not coordinator:
        return False  # not on the team: nothing
    if command in NOWHERE_HERE:
        return False
    if command in GUARDIANS:
        return lane in GUARDIAN_LANES
    if command in COORDINATORS:
        return coordinator
    if command in CARE_TEAM:
        return coordinator or lane in CARE_LANES
    return command in EVERY_MEMBER


def passed_the_gate(answer) -> bool:
    reason = answer.content.get("homeward.reason") or ""
    return not reason.startswith(SCOPE_OR_PERMISSION)


async def test_every_command_for_every_lane_coordinator_or_not(make_bot, make_member):
    names = {c.name for c in registry.all()}
    assert names <= set(SAMPLES), f"add a sample and an expectation for {names - set(SAMPLES)}"
    bot = await make_bot()
    owner = await make_member("owner")
    room, _ = await open_case(owner, bot, "sthf", "Perm")
    people = []
    for lane in LANES:
        for coordinator in (False, True) if lane not in GUARDIAN_LANES else (False,):
            member = await make_member(f"{lane[:4]}{'c' if coordinator else ''}")
            await bring_in(owner, room, member, lane, *(["coordinator"] if coordinator else []))
            people.append((member, lane, coordinator))
    await owner.command(room, "!ping")

    # One person at a time walks the commands while the others do not sync: each sync of each of the
    # nine clients in the room costs Synapse and nio CPU, and only the walker needs to see the answers.
    for member, _, _ in people:
        await member.pause()
    await owner.pause()

    # Each walker sends all their commands at once and then reads the answers: the bot handles a room's
    # commands in the order they came (bot/sync.py), so each is judged exactly as if it had waited for
    # the previous answer, without a round trip per command.
    mismatches = []
    for member, lane, coordinator in people:
        member.resume()
        sent = []
        for name in sorted(names):
            flag = "coordinator" if coordinator else ""  # !role keeps their own rights as they are
            text = SAMPLES[name].format(me=member.user_id, lane=lane or "kommunen", flag=flag).strip()
            sent.append((name, await member.send(room, text)))
        for name, event_id in sent:
            answer = await member.wait_for(replying_to(event_id), timeout=60)
            if passed_the_gate(answer) != expected(name, lane, coordinator):
                mismatches.append(
                    (name, lane, coordinator, answer.content.get("homeward.reason"), answer.content["body"][:80])
                )
        await member.pause()
    assert mismatches == []
