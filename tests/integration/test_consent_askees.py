"""Who must answer a consent is fixed when it is asked: moving or removing someone who was asked never
completes it, and a person put into the family's answering lanes does not answer for the others.

The live findings of issue 23: mor said "ja", far had not answered, the coordinator ran
`!role @far familien` — and the consent turned *given*, `!send plo` went out, nobody was
told. The same with a colleague put into the guardian lane, and with the first move a
care-lane member may make while the case has no coordinator.
"""

from __future__ import annotations

import json

from tests.harness import Member, Seen, reply_target
from tests.integration.care import audit_trail, bring_in, mentioned, ok, open_case, refused


def state_of(listing: Seen, consent_id: str) -> str:
    return next(c for c in listing.content["homeward.consents"] if c["id"] == consent_id)["state"]


def asked_again(room: str, user: str):
    return lambda s: s.room_id == room and (s.content.get("homeward.consent_asked_again") or {}).get("user") == user


async def latest_request(member: Member, room: str, consent: str, after: str) -> Seen:
    """A request of `consent` mentioning `member`, posted after the event `after`."""
    before = {s.event_id for s in member.seen[: [x.event_id for x in member.seen].index(after) + 1]}
    return await member.wait_for(
        lambda s: (
            s.room_id == room
            and s.content.get("homeward.consent_request") == consent
            and member.user_id in mentioned(s)
            and s.event_id not in before
        )
    )


async def test_moving_a_guardian_who_had_not_answered_does_not_give_the_consent_it_is_asked_again(
    make_bot, make_member
):
    bot = await make_bot()
    ingrid, kari, mor, far = [await make_member(n) for n in ("ingrid", "kari", "mor", "far")]
    room, _ = await open_case(ingrid, bot, "sthf", "Maane")
    ok(await ingrid.command(room, f"!role {ingrid.user_id} sykehus coordinator"))
    await bring_in(ingrid, room, kari, "kommunen")
    await bring_in(ingrid, room, mor, "foresatt")
    await bring_in(ingrid, room, far, "foresatt")
    ok(await mor.command(room, "!consent yes dokumentasjon"))
    ok(await ingrid.command(room, "!plan discharge 2030-06-03"))

    # far, asked and silent, is moved out of the guardian lane: that does not make mor's "ja" the family's.
    moved = await ingrid.command(room, f"!role {far.user_id} familien")
    ok(moved)
    told = await mor.wait_for(asked_again(room, far.user_id))
    assert told.content["msgtype"] == "m.text"  # an alert: it notifies the people it names
    assert set(mentioned(told)) == {mor.user_id, far.user_id}  # the guardians, and the one moved
    assert told.content["homeward.consent_asked_again"]["consents"] == ["dokumentasjon"]
    assert told.content["homeward.consent_asked_again"]["asked"] == [mor.user_id]
    assert state_of(await ingrid.command(room, "!consents"), "dokumentasjon") == "pending"
    refused(await ingrid.command(room, "!send plo"), "dokumentasjon")

    # mor is asked again, and answers anew: a reply to the new request is recorded, not "already answered".
    request = await latest_request(mor, room, "dokumentasjon", told.event_id)
    answer_id = await mor.send(room, "ja", {"m.relates_to": {"m.in_reply_to": {"event_id": request.event_id}}})
    answer = await mor.wait_for(lambda s: reply_target(s) == answer_id and s.sender == bot.user_id)
    ok(answer)
    assert answer.content["homeward.consent"] == {"id": "dokumentasjon", "state": "given"}
    ok(await ingrid.command(room, "!send plo"))

    rows = [json.loads(r["details"]) for r in await audit_trail(ingrid, room) if r["action"] == "consent.asked_again"]
    assert [(r["consent"], r["user"], r["previous_lane"], r["lane"], r["round"]) for r in rows] == [
        ("dokumentasjon", far.user_id, "foresatt", "familien", 2)
    ]


async def test_a_colleague_put_into_the_guardian_lane_is_announced_and_does_not_answer_for_the_family(
    make_bot, make_member
):
    bot = await make_bot()
    ingrid, kari, mor, far = [await make_member(n) for n in ("ingrid", "kari", "mor", "far")]
    room, _ = await open_case(ingrid, bot, "sthf", "Maane")
    ok(await ingrid.command(room, f"!role {ingrid.user_id} sykehus coordinator"))
    await bring_in(ingrid, room, kari, "sykehus")
    await bring_in(ingrid, room, mor, "foresatt")
    await bring_in(ingrid, room, far, "foresatt")

    # A colleague put into the guardian lane: the guardians already there are told, mentioned.
    ok(await ingrid.command(room, f"!role {kari.user_id} foresatt"))
    announced = await mor.wait_for(
        lambda s: s.room_id == room and (s.content.get("homeward.askee_added") or {}).get("user") == kari.user_id
    )
    assert announced.content["msgtype"] == "m.text"
    assert set(mentioned(announced)) == {mor.user_id, far.user_id}
    assert announced.content["homeward.askee_added"]["consents"] == ["dokumentasjon"]

    # Their "ja" and mor's do not stand in for far's; nor does moving far out afterwards.
    ok(await kari.command(room, "!consent yes dokumentasjon"))
    ok(await mor.command(room, "!consent yes dokumentasjon"))
    assert state_of(await ingrid.command(room, "!consents"), "dokumentasjon") == "pending"
    ok(await ingrid.command(room, f"!role {far.user_id} familien"))
    told = await mor.wait_for(asked_again(room, far.user_id))
    assert set(told.content["homeward.consent_asked_again"]["asked"]) == {mor.user_id, kari.user_id}
    assert state_of(await ingrid.command(room, "!consents"), "dokumentasjon") == "pending"
    refused(await ingrid.command(room, "!send plo"), "dokumentasjon")
    added = [r for r in await audit_trail(ingrid, room) if r["action"] == "consent.askee_added"]
    assert kari.user_id in [json.loads(r["details"])["user"] for r in added]

    # mor answers the new request; kari, asked and silent, then leaves the room: a removal does not make
    # mor's "ja" the family's either — she is asked again, and told.
    request = await latest_request(mor, room, "dokumentasjon", told.event_id)
    answer_id = await mor.send(room, "ja", {"m.relates_to": {"m.in_reply_to": {"event_id": request.event_id}}})
    answer = await mor.wait_for(lambda s: reply_target(s) == answer_id and s.sender == bot.user_id)
    assert answer.content["homeward.consent"] == {"id": "dokumentasjon", "state": "pending"}
    await kari.client.room_leave(room)
    gone = await mor.wait_for(asked_again(room, kari.user_id))
    assert gone.content["homeward.consent_asked_again"]["to"] is None
    assert gone.content["homeward.consent_asked_again"]["asked"] == [mor.user_id] and mor.user_id in mentioned(gone)
    assert state_of(await ingrid.command(room, "!consents"), "dokumentasjon") == "pending"
    refused(await ingrid.command(room, "!send plo"), "dokumentasjon")


async def test_without_a_coordinator_a_care_lane_cannot_complete_a_consent_by_moving_a_guardian(make_bot, make_member):
    bot = await make_bot()
    ingrid, kari, mor, far = [await make_member(n) for n in ("ingrid", "kari", "mor", "far")]
    room, _ = await open_case(ingrid, bot, "sthf", "Maane")
    ok(await ingrid.command(room, f"!role {ingrid.user_id} sykehus coordinator"))
    await bring_in(ingrid, room, kari, "sykehus")
    await bring_in(ingrid, room, mor, "foresatt")
    await bring_in(ingrid, room, far, "foresatt")
    ok(await mor.command(room, "!consent yes dokumentasjon"))
    await ingrid.client.room_leave(room)  # the case has no coordinator now
    await kari.wait_for(lambda s: s.room_id == room and s.content.get("homeward.needs_coordinator") is True)

    # The one move a care lane may make now — naming a coordinator — takes far out of the guardian lane.
    ok(await kari.command(room, f"!role {far.user_id} sykehus coordinator"))
    told = await mor.wait_for(asked_again(room, far.user_id))
    assert set(mentioned(told)) == {mor.user_id, far.user_id}
    assert state_of(await kari.command(room, "!consents"), "dokumentasjon") == "pending"
    refused(await kari.command(room, "!send plo"), "dokumentasjon")


async def test_an_edit_of_ja_into_nei_is_answered_the_recorded_answer_stands_and_how_to_withdraw(make_bot, make_member):
    bot = await make_bot()
    ingrid, mor = [await make_member(n) for n in ("ingrid", "mor")]
    room, _ = await open_case(ingrid, bot, "sthf", "Maane")
    ok(await ingrid.command(room, f"!role {ingrid.user_id} sykehus coordinator"))
    await bring_in(ingrid, room, mor, "foresatt")
    request = await mor.wait_for(
        lambda s: s.room_id == room and s.content.get("homeward.consent_request") == "dokumentasjon"
    )
    answer_id = await mor.send(room, "ja", {"m.relates_to": {"m.in_reply_to": {"event_id": request.event_id}}})
    ok(await mor.wait_for(lambda s: reply_target(s) == answer_id and s.sender == bot.user_id))

    # Element's edit of that reply: "nei (edited)" on every screen, while the ledger keeps "yes".
    await mor.send_event(
        room,
        "m.room.message",
        {
            "msgtype": "m.text",
            "body": "* nei",
            "m.new_content": {"msgtype": "m.text", "body": "nei"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": answer_id},
        },
    )
    told = await mor.wait_for(lambda s: s.room_id == room and "homeward.edit_ignored" in s.content)
    assert told.content["msgtype"] == "m.text" and mentioned(told) == [mor.user_id]  # it notifies her
    assert reply_target(told) == answer_id  # in reply to the message she edited
    assert told.content["homeward.edit_ignored"] == {"consent": "dokumentasjon", "answer": "yes", "state": "given"}
    assert "!consent revoke dokumentasjon" in told.content["body"] and "**ja**" in told.content[
        "formatted_body"
    ].replace("<strong>", "**").replace("</strong>", "**")
    listing = await ingrid.command(room, "!consents")
    assert state_of(listing, "dokumentasjon") == "given"
    rows = [json.loads(r["details"]) for r in await audit_trail(ingrid, room) if r["action"] == "consent.edit_ignored"]
    assert rows == [{"consent": "dokumentasjon", "answer": "yes", "edited": answer_id}]

    # Withdrawing takes the command, as the answer said.
    ok(await mor.command(room, "!consent revoke dokumentasjon"))
    assert state_of(await ingrid.command(room, "!consents"), "dokumentasjon") == "withdrawn"
