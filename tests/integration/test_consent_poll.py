"""Consent in one tap: beside each request a poll with Ja / Nej, voted as Element votes.

A vote counts only from the person asked: it runs `consent yes|no` through the same gate,
ledger and audit row as a typed answer, and the bot confirms it. Anyone else's vote is
ignored. A vote changed from yes to no is a withdrawal, and the confirmation says so.
After an answer the confirmation comes first, then the next request.
"""

from __future__ import annotations

import json

from tests.harness import Member, Seen, reply_target
from tests.integration.care import audit_trail, bring_in, mentioned, ok, open_case

POLL_START = "org.matrix.msc3381.poll.start"


async def poll_of(member: Member, room: str, consent: str) -> Seen:
    return await member.wait_for(
        lambda s: s.room_id == room and s.type == POLL_START and s.content.get("homeward.consent_poll") == consent
    )


async def vote(member: Member, room: str, poll: str, answer: str) -> str:
    """Vote as Element Web 1.11 does: the unstable response type, the answer id, a reference to the poll."""
    return await member.send_event(
        room,
        "org.matrix.msc3381.poll.response",
        {
            "m.relates_to": {"rel_type": "m.reference", "event_id": poll},
            "org.matrix.msc3381.poll.response": {"answers": [answer]},
        },
    )


def answers_after(member: Member, room: str, poll: str, after: int) -> list[Seen]:
    """The bot's answers to votes on `poll` (they reply to the poll) seen after position `after`."""
    return [s for s in member.seen[after:] if s.room_id == room and reply_target(s) == poll]


async def test_a_guardian_answers_in_one_tap_and_only_the_person_asked_counts(module_bot, make_member):
    bot = module_bot  # one bot for the module (default settings, its clock untouched); each test its own case
    anna, sara, maria = [await make_member(n) for n in ("anna", "sara", "maria")]
    room, _ = await open_case(anna, bot, "orebro", "Sjostjarna")
    ok(await anna.command(room, f"!role {anna.user_id} oppenvard coordinator"))
    await bring_in(anna, room, sara, "slutenvard")
    await bring_in(anna, room, maria, "vardnadshavare")

    # The request in three messages, in order: details (naming nobody), the request (naming Maria), the poll.
    request = await maria.wait_for(
        lambda s: s.room_id == room and s.content.get("homeward.consent_request") == "informationsoverforing"
    )
    poll = await poll_of(maria, room, "informationsoverforing")
    details = next(s for s in maria.seen if s.content.get("homeward.consent_details") == "informationsoverforing")
    order = [s.event_id for s in maria.seen if s.room_id == room]
    assert order.index(details.event_id) < order.index(request.event_id) < order.index(poll.event_id)
    assert mentioned(request) == [maria.user_id] and details.content["m.mentions"] == {}
    assert poll.encrypted and poll.content["org.matrix.msc3381.poll.start"]["kind"].endswith("undisclosed")
    assert [a["org.matrix.msc1767.text"] for a in poll.content["org.matrix.msc3381.poll.start"]["answers"]] == [
        "Ja",
        "Nej",
    ]

    # A nurse's tap is no answer: nothing recorded, nothing said.
    seen = len(sara.seen)
    await vote(sara, room, poll.event_id, "yes")
    listing = await anna.command(room, "!consents")
    asked = next(c for c in listing.content["homeward.consents"] if c["id"] == "informationsoverforing")
    assert asked["state"] == "pending" and asked["answers"] == []
    assert answers_after(sara, room, poll.event_id, seen) == []

    # Maria taps Ja: recorded as her answer, confirmed in reply to the poll, then the next request comes.
    seen = len(maria.seen)
    await vote(maria, room, poll.event_id, "yes")
    confirmed = await maria.wait_for(lambda s: s.room_id == room and reply_target(s) == poll.event_id)
    assert confirmed.content["homeward.command"] == "consent yes"
    assert confirmed.content["homeward.consent"] == {"id": "informationsoverforing", "state": "given"}
    assert "du har svarat **ja**" in confirmed.content["body"]
    assert confirmed.content["homeward.next_consent"] == "npo"
    following = await maria.wait_for(lambda s: s.room_id == room and s.content.get("homeward.consent_details") == "npo")
    after = [s.event_id for s in maria.seen[seen:] if s.room_id == room]
    assert after.index(confirmed.event_id) < after.index(following.event_id), "the confirmation comes first"
    await maria.wait_for(  # the request shows her answer
        lambda s: (
            (s.content.get("m.relates_to") or {}).get("event_id") == request.event_id
            and "Samtycket är givet" in s.content.get("m.new_content", {}).get("body", "")
        )
    )

    # The same tap again changes nothing.
    seen = len(maria.seen)
    await vote(maria, room, poll.event_id, "yes")
    again = await maria.wait_for(
        lambda s: s.room_id == room and reply_target(s) == poll.event_id and s not in maria.seen[:seen]
    )
    assert again.content["homeward.consent"]["unchanged"] is True

    # She changes her vote to Nej: that withdraws the consent, and the bot says so.
    seen = len(maria.seen)
    await vote(maria, room, poll.event_id, "no")
    withdrawn = await maria.wait_for(
        lambda s: s.room_id == room and reply_target(s) == poll.event_id and s not in maria.seen[:seen]
    )
    assert withdrawn.content["homeward.command"] == "consent revoke"
    assert withdrawn.content["homeward.consent"] == {"id": "informationsoverforing", "state": "withdrawn"}
    assert "återkallar samtycket" in withdrawn.content["body"] and "återkallat" in withdrawn.content["body"]

    listing = await anna.command(room, "!consents")
    asked = next(c for c in listing.content["homeward.consents"] if c["id"] == "informationsoverforing")
    assert [(a["user"], a["answer"]) for a in asked["answers"]] == [(maria.user_id, "yes"), (maria.user_id, "revoke")]
    rows = await audit_trail(anna, room)
    assert [json.loads(r["details"]).get("answer") for r in rows if r["action"] == "consent.answered"] == [
        "yes",
        "revoke",
    ]
    assert [r["actor"] for r in rows if r["action"] == "consent.vote_ignored"] == [sara.user_id]


async def test_a_reply_of_ja_to_the_details_or_the_poll_answers_too(module_bot, make_member):
    bot = module_bot
    anna, maria = [await make_member(n) for n in ("anna", "maria")]
    room, _ = await open_case(anna, bot, "orebro", "Ekorre")
    ok(await anna.command(room, f"!role {anna.user_id} oppenvard coordinator"))
    await bring_in(anna, room, maria, "vardnadshavare")
    details = await maria.wait_for(
        lambda s: s.room_id == room and s.content.get("homeward.consent_details") == "informationsoverforing"
    )
    answer_id = await maria.send(room, "ja", {"m.relates_to": {"m.in_reply_to": {"event_id": details.event_id}}})
    answered = await maria.wait_for(lambda s: reply_target(s) == answer_id)
    assert answered.content["homeward.consent"] == {"id": "informationsoverforing", "state": "given"}
    poll = await poll_of(maria, room, "npo")
    answer_id = await maria.send(room, "nej", {"m.relates_to": {"m.in_reply_to": {"event_id": poll.event_id}}})
    answered = await maria.wait_for(lambda s: reply_target(s) == answer_id)
    assert answered.content["homeward.consent"] == {"id": "npo", "state": "refused"}
