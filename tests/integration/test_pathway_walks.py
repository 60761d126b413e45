"""Both pathways walked from `!case new` to the last phase by a team in their lanes."""

from __future__ import annotations

from tests.integration.care import bring_in, item, ok, open_case, refused


async def test_orebro_walk_with_refusals_reactions_and_a_restart(make_bot, make_member):
    bot = await make_bot()
    anna, karin, olle, greta = [await make_member(n) for n in ("anna", "karin", "olle", "greta")]
    room, _ = await open_case(anna, bot, "orebro", "Sjostjerne")
    ok(await anna.command(room, f"!role {anna.user_id} slutenvård coordinator"))
    await bring_in(anna, room, karin, "kommun")
    await bring_in(anna, room, olle, "oppenvard")
    await bring_in(anna, room, greta, "vardnadshavare")  # a guardian: acts for the family lane, answers consent

    team = await anna.command(room, "!team")
    assert {m["user"]: m["lane"] for m in team.content["homeward.team"]} == {
        anna.user_id: "slutenvard",
        karin.user_id: "kommun",
        olle.user_id: "oppenvard",
        greta.user_id: "vardnadshavare",
    }

    # Dates: only coordinators plan; discharge only on a working day; bad input is explained.
    # The room speaks the pathway's language: Swedish.
    refused(await karin.command(room, "!plan discharge 2026-12-14"), "samordnare", "`!plan`")
    refused(await anna.command(room, "!plan discharge 2026-13-01"), "2026-13-01")
    refused(await anna.command(room, "!plan hemgang 2026-12-14"), "discharge", "admission")
    refused(await anna.command(room, "!plan discharge 2026-12-26"), "2026-12-28")
    # The family's task: a guardian ticks it (before the admission date, which would complete it: see below).
    refused(await olle.command(room, "!ack inskrivning"), "Patient/Närstående")
    refused(await anna.command(room, "!ack no-such-item"), "!status")
    ok(await greta.command(room, "!ack inskrivning"))
    ok(await anna.command(room, "!plan admission 2026-12-01 09:00"))
    dates = await anna.command(room, "!plan discharge 2026-12-14")
    assert dates.content["homeward.dates"]["discharge"] == "2026-12-14"
    assert dates.content["homeward.dates"]["admission"].startswith("2026-12-01T09:00:00+01:00")

    # Notices: only the sending lane sends; each receiving lane acknowledges.
    refused(await karin.command(room, "!ack inskrivningsmeddelande"), "!send inskrivningsmeddelande")
    refused(await karin.command(room, "!send inskrivningsmeddelande"), "Slutenvård")
    ok(await anna.command(room, "!send inskrivningsmeddelande"))
    notice = await olle.wait_for(
        lambda s: s.room_id == room and s.content.get("homeward.notice") == "inskrivningsmeddelande"
    )
    assert olle.user_id in notice.content["m.mentions"]["user_ids"]
    ok(await karin.command(room, "!ack inskrivningsmeddelande"))
    refused(await karin.command(room, "!ack inskrivningsmeddelande"), "inskrivningsmeddelande")
    await olle.send_event(
        room, "m.reaction", {"m.relates_to": {"rel_type": "m.annotation", "event_id": notice.event_id, "key": "✅"}}
    )
    by_reaction = await olle.wait_for(
        lambda s: s.content.get("homeward.command") == "ack" and s.content.get("homeward.lane") == "oppenvard"
    )
    assert by_reaction.content["homeward.state"] == "done"

    # Mandatory items hold the phase.
    refused(await anna.command(room, "!phase next"), "generellt-meddelande", "kontaktperson-kommun")
    refused(await karin.command(room, "!phase next"), "samordnare")
    refused(await anna.command(room, "!send generellt-meddelande"), "informationsoverforing")  # consent first
    ok(await greta.command(room, "!consent yes informationsoverforing"))
    ok(await anna.command(room, "!send generellt-meddelande"))
    ok(await karin.command(room, "!ack generellt-meddelande"))

    # The bot goes down and comes back: nothing recorded is lost, new commands are answered.
    await bot.stop()
    while_down = await karin.send(room, "!ack kontaktperson-kommun Ringt handläggaren")
    await bot.start()
    answer = await karin.wait_for(
        lambda s: s.content.get("m.relates_to", {}).get("m.in_reply_to", {}).get("event_id") == while_down
    )
    ok(answer)

    status = await anna.command(room, "!status")
    case = status.content["homeward.case"]
    assert case["pathway"] == "orebro" and case["phase"] == "identifiering"
    notice_state = item(status, "inskrivningsmeddelande")
    assert notice_state["state"] == "done"
    assert {(a["user"], a["lane"]) for a in notice_state["acks"]} == {
        (karin.user_id, "kommun"),
        (olle.user_id, "oppenvard"),
    }
    assert item(status, "kontaktperson-kommun")["state"] == "done"
    assert item(status, "inskrivningsmeddelande")["due"] is not None

    # The checklist was edited in place to show the acknowledgements.
    edit = await anna.wait_for(
        lambda s: (
            s.room_id == room
            and s.content.get("m.relates_to", {}).get("rel_type") == "m.replace"
            and "☑ `kontaktperson-kommun`" in s.content.get("m.new_content", {}).get("body", "")
        )
    )
    assert edit.content["m.new_content"]["m.mentions"] == {}

    moved = await anna.command(room, "!phase next")
    ok(moved)
    assert moved.content["homeward.phase"] == "planering"
    await anna.wait_for(lambda s: s.room_id == room and s.content.get("homeward.checklist") == "planering")
    refused(await anna.command(room, "!phase next"), "force")
    ok(await anna.command(room, "!phase next force SIP-mötet hölls per telefon"))
    ok(await anna.command(room, "!phase next force Utskriven"))
    final = await anna.command(room, "!status")
    assert final.content["homeward.case"]["phase"] == "uppfoljning"
    refused(await anna.command(room, "!phase next"), "Uppföljning")


async def test_sthf_walk_in_norwegian_with_lanes_and_assignment(make_bot, make_member):
    bot = await make_bot()
    ingrid, kari, per = [await make_member(n) for n in ("ingrid", "kari", "per")]
    room, _ = await open_case(ingrid, bot, "sthf", "Maane")
    ok(await ingrid.command(room, f"!role {ingrid.user_id} sykehus coordinator"))
    await bring_in(ingrid, room, kari, "kommunen")
    await bring_in(ingrid, room, per, "foresatt")  # the only guardian: acts for the family, answers consent

    plan = await ingrid.command(room, "!plan")
    assert plan.content["homeward.dates"]["case_start"] is not None  # set when the case was opened
    assert plan.content["homeward.dates"]["discharge"] is None
    dated = await ingrid.command(room, "!plan discharge 2027-01-15")
    ok(dated)
    assert dated.content["homeward.completed"] == ["tentativ-ut-dato"]  # estimating the date: done by setting it
    for task in ("behandlingsteam", "kartlegge-bistandsbehov", "samtykke-dokumentasjon"):
        ok(await ingrid.command(room, f"!ack {task}"))
    refused(await per.command(room, "!send plo"), "STHF")
    refused(await ingrid.command(room, "!send plo"), "dokumentasjon")
    ok(await per.command(room, "!consent yes dokumentasjon"))
    ok(await ingrid.command(room, "!send plo"))
    ok(await kari.command(room, "!ack plo Mottatt"))
    ok(await ingrid.command(room, "!phase next"))

    refused(await per.command(room, "!ack ressursteam"), "Kommunen")
    refused(await ingrid.command(room, f"!assign ressursteam {per.user_id}"), "Kommunen")
    ok(await ingrid.command(room, f"!assign ressursteam {kari.user_id}"))
    ok(await kari.command(room, "!ack starte-saksbehandling"))
    ok(await kari.command(room, "!ack ressursteam"))
    ok(await ingrid.command(room, "!phase next"))
    ok(await per.command(room, "!send soknad"))
    ok(await kari.command(room, "!ack soknad"))
    ok(await ingrid.command(room, "!phase next"))

    status = await kari.command(room, "!status")
    assert status.content["homeward.case"]["phase"] == "planleggingsmote-1"
    meeting = item(status, "planleggingsmote-1")
    assert meeting["due"] is not None  # 14 days after the case started
    assert "Planleggingsmøte 1" in status.content["body"]
    for _ in range(6):
        ok(await ingrid.command(room, "!phase next force Testforløp"))
    final = await ingrid.command(room, "!status")
    assert final.content["homeward.case"]["phase"] == "videre-oppfolging"
