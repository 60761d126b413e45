"""The numbers say no more than they promise: `!stats` only where nobody else reads it, the suppression of
small numbers across answers, and the desk's line of someone else's case without a coordinator."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from homeward.clock import ShiftedClock
from tests.integration.care import ok, open_case_in, refused
from tests.integration.conftest import direct_room

OSLO = ZoneInfo("Europe/Oslo")


def at(year: int, month: int, day: int, hour: int = 9) -> datetime:
    return datetime(year, month, day, hour, tzinfo=OSLO)


async def new_case(member, dm: str, pathway: str, label: str) -> str:
    """`!case new` without joining the room: the case is the coordinator's from its creation."""
    answer = await member.command(dm, f"!case new {pathway} {label}")
    ok(answer)
    return answer.content["homeward.room_id"]


async def test_stats_answers_only_in_an_encrypted_chat_of_the_sender_and_the_bot_alone(make_bot, make_member):
    bot = await make_bot()
    anna, olle = await make_member("anna"), await make_member("olle")
    dm = await direct_room(anna, bot)
    for n in range(5):
        await new_case(anna, dm, "orebro", f"Ekorre{n}")

    plain = await anna.create_room(invite=[bot.user_id], encrypted=False)
    await anna.wait_for_membership(plain, bot.user_id, "join")
    in_clear = await anna.command(plain, "!stats")
    group = await anna.create_room(invite=[bot.user_id, olle.user_id], direct=False)
    await anna.wait_for_membership(group, bot.user_id, "join")
    shared = await anna.command(group, "!stats")

    # Not one figure in clear text, nor before a third person.
    assert in_clear.content["homeward.reason"] == "error.private_chat_not_encrypted"
    assert shared.content["homeward.reason"] == "error.only_in_private_chat"
    for answer in (in_clear, shared):
        assert "homeward.stats" not in answer.content and "cases" not in answer.content["body"].split("`")[0]
    ok(await anna.command(dm, "!stats"))  # in her encrypted chat with the bot alone: answered


async def test_two_ranges_differing_by_one_case_never_give_that_cases_figures(make_bot, make_member):
    clock = ShiftedClock.starting_at(at(2026, 11, 2))
    bot = await make_bot(clock=clock)
    anna = await make_member("anna")
    dm = await direct_room(anna, bot)
    for n in range(5):  # five cases opened on 2 November
        await new_case(anna, dm, "orebro", f"Ekorre{n}")
    clock.jump_to(at(2026, 11, 3))
    room = await new_case(anna, dm, "orebro", "Hare")  # and one on 3 November, with figures of its own
    await anna.join(room)
    ok(await anna.command(room, "!send utskrivningsklarmeddelande"))

    first = await anna.command(dm, "!stats orebro 2026-11-01 2026-11-02")
    ok(first)
    assert first.content["homeward.stats"]["cases"] == 5

    # The differencing: the same range one day longer counts exactly one case more — refused.
    longer = await anna.command(dm, "!stats orebro 2026-11-01 2026-11-03")
    refused(longer, "5")
    assert longer.content["homeward.reason"] == "suppression.sets_apart"
    assert "homeward.stats" not in longer.content
    # So is every other way to the same difference: everything, or from the 3rd on (one case: nothing to show).
    refused(await anna.command(dm, "!stats orebro"))
    only_the_one = await anna.command(dm, "!stats orebro 2026-11-03 2026-11-03")
    ok(only_the_one)
    assert only_the_one.content["homeward.stats"]["cases"] == "< 5"
    assert all(
        value == "< 5"
        for row in only_the_one.content["homeward.stats"]["late_share"]
        for key, value in row.items()
        if key != "lane"
    )

    # The same range as before is answered again; five cases more is a range that may be answered.
    ok(await anna.command(dm, "!stats orebro 2026-11-01 2026-11-02"))
    clock.jump_to(at(2026, 11, 4))
    for n in range(4):
        await new_case(anna, dm, "orebro", f"Gran{n}")
    ten = await anna.command(dm, "!stats orebro")
    ok(ten)
    assert ten.content["homeward.stats"]["cases"] == 10


async def test_the_desk_shows_someone_elses_case_without_a_coordinator_by_label_pathway_and_phase_only(
    make_bot, make_member
):
    bot = await make_bot()
    anna, berit = await make_member("anna"), await make_member("berit")
    dm_a, dm_b = await direct_room(anna, bot), await direct_room(berit, bot)
    await open_case_in(anna, dm_a, "orebro", "Ekorre")  # anna coordinates an Örebro case
    hare, _ = await open_case_in(berit, dm_b, "orebro", "Hare")
    ok(await berit.command(hare, "!plan admission 2026-11-30 10:00"))
    await berit.client.room_leave(hare)  # Hare has no coordinator now

    async def hare_entry(command: str, key: str) -> dict:
        for _ in range(50):
            answer = await anna.command(dm_a, command)
            entries = [c for c in answer.content.get(key, []) if c["label"] == "Hare"]
            if entries:
                return entries[0]
        raise AssertionError(f"Hare never showed in {command}")

    for command, key in (("!cases", "homeward.cases"), ("!digest", "homeward.digest")):
        entry = await hare_entry(command, key)
        assert entry["no_coordinator"] is True
        assert set(entry) == {"room_id", "label", "pathway", "phase", "state", "no_coordinator"}, entry
