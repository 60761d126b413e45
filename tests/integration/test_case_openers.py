"""Who may open a case: only the people `case_openers` names, only from an encrypted room, and not too often."""

from __future__ import annotations

from tests.integration.care import ok, refused
from tests.integration.conftest import direct_room


async def test_only_case_openers_open_cases_from_encrypted_rooms_and_not_too_often(make_bot, make_member):
    nurse, stranger = await make_member("nurse"), await make_member("stranger")
    bot = await make_bot(case_openers=[nurse.user_id], rate_limits={"case new": "2/1h", "remind": "1/1h"})

    # Someone the configuration does not name: refused, told why, and not offered the command.
    theirs = await direct_room(stranger, bot)
    answer = await stranger.command(theirs, "!case new sthf Probe")
    refused(answer, "case_openers")
    assert answer.content["homeward.reason"] == "permission.not_case_opener"
    assert "!case new" not in (await stranger.command(theirs, "!help")).content["body"]

    # A case opener in an unencrypted room: refused (the answer would name the label in clear).
    plain = await nurse.create_room(invite=[bot.user_id], encrypted=False)
    await nurse.wait_for_membership(plain, bot.user_id, "join")
    answer = await nurse.command(plain, "!case new sthf Probe")
    refused(answer, "encrypted")
    assert answer.content["homeward.reason"] == "error.needs_encryption" and "Probe" not in answer.content["body"]

    # In an encrypted chat: opened; the third within the hour is refused with when to try again.
    dm = await direct_room(nurse, bot)
    first = await nurse.command(dm, "!case new sthf Probe-1")
    ok(first)
    ok(await nurse.command(dm, "!case new sthf Probe-2"))
    third = await nurse.command(dm, "!case new sthf Probe-3")
    # The direct chat now speaks the language of the opener's last care room (sthf: Norwegian).
    refused(third, "`!case new` 2 ganger i løpet av 1 t", "igjen om 1 t")
    assert third.content["homeward.reason"] == "error.rate_limited"

    # `!remind` is limited per person too (here to one an hour).
    room = first.content["homeward.room_id"]
    await nurse.join(room)
    await nurse.wait_for(lambda s: s.room_id == room and "homeward.checklist" in s.content)
    ok(await nurse.command(room, "!remind behandlingsteam in 2h"))
    refused(await nurse.command(room, "!remind behandlingsteam in 3h"), "!remind")
