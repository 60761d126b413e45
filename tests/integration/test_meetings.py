"""A meeting from `!meeting new` to `!minutes close`, as the team sees it."""

from __future__ import annotations

from homeward.text import matrix_to
from tests.integration.care import bring_in, ok, open_case, refused


async def test_planning_meeting_1_from_invitation_to_closed_minutes(make_bot, make_member):
    bot = await make_bot()
    ingrid, kari = await make_member("ingrid"), await make_member("kari")
    room, _ = await open_case(ingrid, bot, "sthf", "Maane")
    ok(await ingrid.command(room, f"!role {ingrid.user_id} sykehus coordinator"))
    await bring_in(ingrid, room, kari, "kommunen")

    planned = await ingrid.command(room, "!meeting new meeting1 2026-12-03 10:00 90m")
    ok(planned)
    invitation = await kari.wait_for(lambda s: s.room_id == room and "homeward.meeting" in s.content)
    # What the meeting is comes just before the invitation, naming nobody.
    details = await kari.wait_for(lambda s: s.room_id == room and "homeward.meeting_details" in s.content)
    body = details.content["body"]
    for words in (
        "Planleggingsmøte 1",
        "Foresatte",
        "Lege sykehuset",
        "Hva er viktig for deg?",
        "Ny tentativ møtedato",
    ):
        assert words in body, words
    assert kari.user_id in invitation.content["m.mentions"]["user_ids"]
    assert f'<a href="{matrix_to(kari.user_id)}">' in invitation.content["formatted_body"]  # a pill, not Markdown text
    assert "<code>!minutes meeting1 note|decision|action|topic …</code>" in details.content["formatted_body"]
    dates = await ingrid.command(room, "!plan")
    assert dates.content["homeward.dates"]["meeting1"].startswith("2026-12-03T10:00:00+01:00")

    ok(await kari.command(room, f"!minutes meeting1 present {ingrid.user_id} {kari.user_id}"))
    ok(await kari.command(room, "!minutes meeting1 note Foreldrene ønsker hjemreise før jul"))
    ok(await ingrid.command(room, "!minutes meeting1 decision Kommunen skaffer utstyr"))
    ok(await ingrid.command(room, "!minutes meeting1 topic 2 Trygghet og forutsigbarhet"))
    ok(await ingrid.command(room, "!minutes meeting1 action kommunen 2026-12-20 Bestille seng og sug"))
    status = await kari.command(room, "!status")
    task = next(i for i in status.content["homeward.case"]["items"] if i["id"] == "meeting1-a1")
    assert task["lane"] == "kommunen" and task["state"] == "open" and task["due"].startswith("2026-12-20T15:00")
    reminders = await kari.command(room, "!reminders")
    assert any(r["item"] == "meeting1-a1" for r in reminders.content["homeward.reminders"])
    ok(await kari.command(room, "!ack meeting1-a1 Bestilt"))
    refused(await ingrid.command(room, "!minutes meeting1 topic 99 Finnes ikke"), "99")
    refused(await ingrid.command(room, "!minutes meeting2 note x"), "meeting2")
    refused(await ingrid.command(room, "!minutes meeting1 vote ja"), "note")
    closed = await ingrid.command(room, "!minutes meeting1 close")
    ok(closed)
    refused(await kari.command(room, "!minutes meeting1 note For sent"), "reopen")
    refused(await ingrid.command(room, "!minutes meeting1 reopen"), "")
    ok(await ingrid.command(room, "!minutes meeting1 reopen Feil i vedtaket"))
    ok(await kari.command(room, "!minutes meeting1 note Rettet"))
    refused(await kari.command(room, "!meeting new meeting_before_discharge 2027-01-10 10:00"), "koordinator")


async def test_the_invitation_carries_an_icalendar_file_in_the_pathways_time_zone(make_bot, make_member):
    import icalendar

    from tests.integration.test_audit import read_file

    bot = await make_bot()
    ingrid = await make_member("ingrid")
    room, _ = await open_case(ingrid, bot, "orebro", "Sjostjerne")
    ok(await ingrid.command(room, f"!role {ingrid.user_id} oppenvard coordinator"))

    ok(await ingrid.command(room, "!meeting new sip_meeting 2026-12-03 10:00"))
    attachment = await ingrid.wait_for(
        lambda s: s.room_id == room and s.content.get("homeward.calendar") == "sip_meeting"
    )
    calendar = icalendar.Calendar.from_ical(await read_file(ingrid, attachment))

    assert str(calendar["METHOD"]) == "REQUEST"
    event = next(c for c in calendar.walk("VEVENT") if "SIP" in str(c["SUMMARY"]))
    start = event.decoded("DTSTART")
    assert str(start.tzinfo) == "Europe/Stockholm" and (start.hour, start.minute) == (10, 0)
