"""Consent belongs to the person who gave or refused it: no lane change, and nobody's departure, overturns it."""

from __future__ import annotations

import json

from tests.integration.care import audit_trail, bring_in, mentioned, ok, open_case, refused


def state_of(listing, consent_id: str) -> str:
    return next(c for c in listing.content["homeward.consents"] if c["id"] == consent_id)["state"]


async def test_a_refusal_counts_for_its_giver_whatever_lane_they_are_moved_to_and_after_they_are_removed(
    make_bot, make_member
):
    bot = await make_bot()
    ingrid, mor, far = await make_member("ingrid"), await make_member("mor"), await make_member("far")
    room, _ = await open_case(ingrid, bot, "sthf", "Maane")
    ok(await ingrid.command(room, f"!role {ingrid.user_id} sykehus coordinator"))
    await bring_in(ingrid, room, mor, "foresatt")
    await bring_in(ingrid, room, far, "foresatt")
    ok(await mor.command(room, "!consent yes dokumentasjon"))
    ok(await far.command(room, "!consent no dokumentasjon"))

    # Moving the refusing guardian out of the guardian lane does not turn the consent into "given".
    ok(await ingrid.command(room, f"!role {far.user_id} familien"))
    moved = await mor.wait_for(
        lambda s: s.room_id == room and (s.content.get("homeward.answerer_moved") or {}).get("to") == "familien"
    )
    assert mor.user_id in mentioned(moved) and far.user_id in mentioned(
        moved
    )  # the guardians are told, and the one moved
    assert moved.content["msgtype"] == "m.text"  # an m.text: an m.notice would notify nobody (render.alert_content)
    assert moved.content["homeward.answerer_moved"]["consents"] == ["dokumentasjon"]
    assert state_of(await ingrid.command(room, "!consents"), "dokumentasjon") == "refused"
    refused(await ingrid.command(room, "!send plo"), "dokumentasjon")

    # Nor does removing them from the room.
    removed = await ingrid.client.room_kick(room, far.user_id)
    assert not hasattr(removed, "status_code"), removed
    left = await mor.wait_for(
        lambda s: (
            s.room_id == room
            and (s.content.get("homeward.answerer_moved") or {}).get("user") == far.user_id
            and s.content["homeward.answerer_moved"]["to"] is None
        )
    )
    assert mentioned(left) == [mor.user_id]
    assert left.content["msgtype"] == "m.text"  # an m.text: an m.notice would notify nobody (render.alert_content)
    assert state_of(await ingrid.command(room, "!consents"), "dokumentasjon") == "refused"
    refused(await ingrid.command(room, "!send plo"), "dokumentasjon")

    # Both moves are in the audit trail.
    moves = [
        json.loads(r["details"]) for r in await audit_trail(ingrid, room) if r["action"] == "consent.answerer_moved"
    ]
    assert [(m["user"], m["previous_lane"], m["lane"]) for m in moves] == [
        (far.user_id, "foresatt", "familien"),
        (far.user_id, "familien", None),
    ]


async def test_coordinators_never_take_the_familys_part_and_a_new_guardian_is_asked_for_consent(make_bot, make_member):
    bot = await make_bot()
    ingrid, kari, mor = await make_member("ingrid"), await make_member("kari"), await make_member("mor")
    room, _ = await open_case(ingrid, bot, "sthf", "Maane")

    # A coordinator cannot answer the family's consent by putting themselves into a guardian or family lane.
    refused(await ingrid.command(room, f"!role {ingrid.user_id} foresatt coordinator"), "**Foresatte**")
    refused(await ingrid.command(room, f"!role {ingrid.user_id} familien coordinator"), "**Barnet og familien**")
    # And nobody is guardian and coordinator at once.
    answer = await ingrid.command(room, f"!invite {kari.user_id} foresatt coordinator")
    assert answer.content["homeward.reason"] == "team.consent_lane_not_coordinator"

    # Someone moved into the guardian lane with `!role` is asked, as `!invite` into it would.
    await bring_in(ingrid, room, mor, "familien")
    ok(await ingrid.command(room, f"!role {mor.user_id} foresatt"))
    request = await mor.wait_for(
        lambda s: s.room_id == room and s.content.get("homeward.consent_request") == "dokumentasjon"
    )
    assert mor.user_id in mentioned(request)
    ok(await mor.command(room, "!consent yes dokumentasjon"))
