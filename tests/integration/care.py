"""Helpers for care-room scenarios: open a case, bring people in with their lanes."""

from __future__ import annotations

from tests.harness import Account, Member, Seen
from tests.integration.conftest import direct_room


async def open_case(coordinator: Member, bot: Account, pathway: str, label: str) -> tuple[str, Seen]:
    """`!case new` from a new direct chat; the coordinator joins the new room. (room id, answer)."""
    return await open_case_in(coordinator, await direct_room(coordinator, bot), pathway, label)


async def open_case_in(coordinator: Member, dm: str, pathway: str, label: str) -> tuple[str, Seen]:
    """`!case new` from the coordinator's direct chat `dm`; they join the new room. (room id, answer)."""
    answer = await coordinator.command(dm, f"!case new {pathway} {label}")
    assert answer.content["homeward.status"] == "ok", answer.content["body"]
    room = answer.content["homeward.room_id"]
    await coordinator.join(room)
    await coordinator.wait_for(lambda s: s.room_id == room and "homeward.checklist" in s.content)
    return room, answer


async def bring_in(coordinator: Member, room: str, member: Member, lane: str, *flags: str) -> Seen:
    """`!invite` a member into a lane; they accept the invite."""
    answer = await coordinator.command(room, " ".join(["!invite", member.user_id, lane, *flags]))
    assert answer.content["homeward.status"] == "ok", answer.content["body"]
    await coordinator.wait_for_membership(room, member.user_id, "invite")
    await member.join(room)
    return answer


def item(status: Seen, item_id: str) -> dict:
    return next(i for i in status.content["homeward.case"]["items"] if i["id"] == item_id)


def ok(answer: Seen) -> None:
    """The bot answered with status ok (the body is shown when it did not)."""
    assert answer.content["homeward.status"] == "ok", answer.content["body"]


def refused(answer: Seen, *words: str) -> None:
    """The bot refused, and its explanation contains each of `words`."""
    assert answer.content["homeward.status"] == "error", answer.content["body"]
    for word in words:
        assert word in answer.content["body"], answer.content["body"]


async def audit_trail(coordinator: Member, room: str) -> list[dict[str, str]]:
    """The case's audit trail as the coordinator downloads it (`!audit`, an encrypted CSV), read as a
    spreadsheet shows it: the quote that keeps a cell such as `@user:server` from being a formula is not shown."""
    from tests.integration.test_audit import audit_file, read_csv

    earlier = {s.event_id for s in coordinator.seen if s.room_id == room and s.content.get("msgtype") == "m.file"}
    ok(await coordinator.command(room, "!audit"))
    _, rows = await read_csv(coordinator, await audit_file(coordinator, room, earlier))
    return [{key: value.removeprefix("'") for key, value in row.items()} for row in rows]


def mentioned(seen: Seen) -> list[str]:
    return seen.content.get("m.mentions", {}).get("user_ids", [])
