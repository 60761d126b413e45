"""The coordinated plan built in the room: consent first, goals and actions, versions."""

from __future__ import annotations

from tests.integration.care import bring_in, ok, open_case, refused


async def test_an_individuell_plan_with_two_goals_and_actions_needs_consent_and_is_versioned(make_bot, make_member):
    bot = await make_bot()
    ingrid, kari, per = [await make_member(n) for n in ("ingrid", "kari", "per")]
    room, _ = await open_case(ingrid, bot, "sthf", "Maane")
    ok(await ingrid.command(room, f"!role {ingrid.user_id} sykehus coordinator"))
    await bring_in(ingrid, room, kari, "kommunen")
    await bring_in(ingrid, room, per, "foresatt")

    refused(await ingrid.command(room, "!plan goal Trygg hjemkomst"), "individuell-plan")
    ok(await per.command(room, "!consent yes individuell-plan"))
    first = await ingrid.command(room, "!plan goal Trygg hjemkomst med utstyr og opplært personell")
    ok(first)
    assert first.content["homeward.plan_version"] == 1
    ok(await ingrid.command(room, "!plan subgoal 1 Utstyr levert før hjemreise"))
    ok(await ingrid.command(room, "!plan action 1 kommunen Skaffe medisinteknisk utstyr 2026-12-01 2026-12-20"))
    ok(await ingrid.command(room, "!plan goal Barnet deltar i barnehage"))
    ok(await ingrid.command(room, f"!plan action 2 {kari.user_id} Søke barnehageplass"))
    ok(await ingrid.command(room, "!plan responsible kommunen"))
    ok(await ingrid.command(room, "!plan followup 2027-02-01"))
    refused(await kari.command(room, "!plan goal Noe annet"), "koordinator")
    refused(await ingrid.command(room, "!plan action 7 kommunen Noe"), "7")
    refused(await ingrid.command(room, "!plan action 1 kommunen Noe 2026-12-20 2026-12-01"), "2026-12-01")

    shown = await kari.command(room, "!plan show")

    assert shown.content["homeward.plan_version"] == 7
    body = shown.content["body"]
    for words in (
        "Trygg hjemkomst",
        "Utstyr levert før hjemreise",
        "Skaffe medisinteknisk utstyr",
        "Søke barnehageplass",
        "2027-02-01",
    ):
        assert words in body
    ok(await ingrid.command(room, "!plan remove g2 Flyttet til egen plan"))
    after = await kari.command(room, "!plan show")
    assert "barnehage" not in after.content["body"] and after.content["homeward.plan_version"] == 8
