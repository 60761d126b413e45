"""Who Element notifies for each message of the bot, by Element's own evaluation.

In an encrypted room the homeserver sees only `m.room.encrypted`; the client decides on the
decrypted event. tests/element/push.mjs runs matrix-js-sdk's PushProcessor (what Element
runs) over each user's push rules as this Synapse gives them to a new user, on the events
as the members decrypted them. Matrix's default rules: `.m.rule.suppress_notices` (an
`m.notice` never notifies) comes before `.m.rule.is_user_mention` (highlight and sound for a
user named in `m.mentions`); any other message falls to `.m.rule.message` (notify: the
room's unread count, no highlight, no sound).
"""

from __future__ import annotations

import asyncio
import json
import shutil
from datetime import datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from homeward.clock import ShiftedClock
from tests.harness import Member, Seen, reply_target
from tests.integration.care import bring_in, ok, open_case
from tests.integration.test_element import ELEMENT_DIR, NEEDS_NODE, require_node_modules

pytestmark = NEEDS_NODE  # Element's push evaluation runs in Node

STOCKHOLM = ZoneInfo("Europe/Stockholm")
HIGHLIGHT = {"notify": True, "highlight": True, "sound": "default"}  # a red badge, a sound, a buzz on the phone
UNREAD = {"notify": True, "highlight": False, "sound": None}  # the room's ordinary unread count
QUIET = {"notify": False, "highlight": False, "sound": None}


async def _get(member: Member, path: str) -> object:
    response = await member.client.send("GET", path, None, {"Authorization": f"Bearer {member.client.access_token}"})
    assert response.status == 200, path
    return await response.json()


async def element_verdicts(room: str, events: dict[str, Seen], members: list[Member]) -> dict[str, dict[str, dict]]:
    """{message name: {user id: {notify, highlight, sound}}} as Element decides for each member."""
    require_node_modules()
    state = await _get(members[0], f"/_matrix/client/v3/rooms/{quote(room)}/state")
    payload = {
        "room_id": room,
        "state": state,
        "users": {m.user_id: await _get(m, "/_matrix/client/v3/pushrules/") for m in members},
        "events": {
            name: {
                "type": s.type,
                "content": s.content,
                "sender": s.sender,
                "event_id": s.event_id,
                "origin_server_ts": 0,
            }
            for name, s in events.items()
        },
    }
    process = await asyncio.create_subprocess_exec(
        shutil.which("node") or "node",
        str(ELEMENT_DIR / "push.mjs"),
        cwd=ELEMENT_DIR,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(json.dumps(payload).encode()), 30)
    assert process.returncode == 0, err.decode()[-2000:]
    verdicts = json.loads(out)
    return {
        name: {user: {k: v[k] for k in ("notify", "highlight", "sound")} for user, v in by_user.items()}
        for name, by_user in verdicts.items()
    }


async def test_messages_that_must_reach_people_notify_exactly_them_and_answers_and_checklist_edits_nobody(
    make_bot, make_member
):
    clock = ShiftedClock.starting_at(datetime(2026, 12, 1, 9, 0, tzinfo=STOCKHOLM))
    bot = await make_bot(clock=clock)
    anna, sven, karin, mor = [await make_member(n) for n in ("anna", "sven", "karin", "mor")]
    room, _ = await open_case(anna, bot, "orebro", "Sjostjerne")
    await bring_in(anna, room, sven, "slutenvard")
    await bring_in(anna, room, karin, "kommun")
    await bring_in(anna, room, mor, "vardnadshavare")
    consent_request = await mor.wait_for(lambda s: s.room_id == room and "homeward.consent_request" in s.content)
    ok(await anna.command(room, "!plan admission 2026-11-30 10:00"))  # Inskrivningsmeddelande due 1 Dec 10:00

    clock.jump_to(datetime(2026, 12, 1, 9, 59, 59, tzinfo=STOCKHOLM))
    bot.bot.clock_jumped()
    reminder = await sven.wait_for(lambda s: (s.content.get("homeward.reminder") or {}).get("kind") == "due")
    before_send = len(karin.seen)
    send_command = await sven.send(room, "!send inskrivningsmeddelande")
    send_answer = await sven.wait_for(lambda s: reply_target(s) == send_command)
    notice = await karin.wait_for(lambda s: s.content.get("homeward.notice") == "inskrivningsmeddelande")
    edit = await karin.wait_for(
        lambda s: (
            s.room_id == room
            and "homeward.checklist" in s.content.get("m.new_content", {})
            and karin.seen.index(s) >= before_send
        )
    )
    ok(await anna.command(room, "!meeting new sip_meeting 2026-12-03 10:00"))
    invitation = await karin.wait_for(lambda s: s.room_id == room and "homeward.meeting" in s.content)
    status = await karin.command(room, "!status")

    verdict = await element_verdicts(
        room,
        {
            "reminder": reminder,
            "notice": notice,
            "consent_request": consent_request,
            "invitation": invitation,
            "send_answer": send_answer,
            "status_answer": status,
            "checklist_edit": edit,
        },
        [anna, sven, karin, mor],
    )

    # The reminder to send the notice: the sending lane (Slutenvård), nobody else.
    assert verdict["reminder"][sven.user_id] == HIGHLIGHT
    assert [verdict["reminder"][m.user_id] for m in (anna, karin, mor)] == [UNREAD] * 3
    # The notice: its receiving lane (Kommun).
    assert verdict["notice"][karin.user_id] == HIGHLIGHT
    assert [verdict["notice"][m.user_id] for m in (anna, sven, mor)] == [UNREAD] * 3
    # The consent request: the guardian who answers.
    assert verdict["consent_request"][mor.user_id] == HIGHLIGHT
    assert [verdict["consent_request"][m.user_id] for m in (anna, sven, karin)] == [UNREAD] * 3
    # The meeting invitation: every member of the team.
    assert all(verdict["invitation"][m.user_id] == HIGHLIGHT for m in (anna, sven, karin, mor))
    # Answers to commands and the checklist edited in place: quiet for everyone, the asker too.
    for quiet in ("send_answer", "status_answer", "checklist_edit"):
        assert all(verdict[quiet][m.user_id] == QUIET for m in (anna, sven, karin, mor)), (quiet, verdict[quiet])
