"""Fifty people acknowledging at the same moment in one care room.

    .venv/bin/python bench/burst.py [--users 50] [--rounds 2]

Set-up: a local Synapse, `homeward run` as its own process, a coordinator who opens an
Örebro case with `!case new` and `!invite`s `--users` members (each a matrix-nio client with
its own encrypted device) into lanes of care and family, who join. Each round, the
coordinator plans an extra meeting and records one action per member in its minutes
(`!minutes extra-N action @member <due> <text>`): each action becomes a task of the case in
the member's lane, assigned to them, on the pinned checklist (from the second round on, the
case first moves to its next phase, so each round has a checklist of its own). Every member
says something first (a `!ping`), so their room keys are shared before the burst, as in a
room people use.

The burst: all members send `!ack <their task>` at once (asyncio.gather). Measured with
`time.perf_counter` in this process: from the first send until each member has its own
answer (decrypted) — the last one is the figure — and until the coordinator sees the
checklist edit that shows every task of the round done. All 50 clients run in this one
process on the same machine as the bot and Synapse, so those times include the clients'
own decryption; the homeserver's timestamps (`origin_server_ts` of the commands, answers and
edit, read back afterwards) give the same spans without the clients.

Checked: every member got exactly one answer, each `ok`; the bot's store holds one
acknowledgement and one `item.acknowledged` audit row per member and round; checklist
edits the bot gave up on are listed. Also printed: CPU seconds of the bot, Synapse and
this process during the burst, and when the bot handled the acks and sent its events (its log).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import signal
import sqlite3
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from common import cpu_seconds, header, outbox_drained, percentile, table, write_bot_config

from nio import RoomMessagesResponse  # noqa: E402

from homeward.devserver import LocalSynapse  # noqa: E402
from tests.harness import BotProcess, Member, Seen, reply_target  # noqa: E402

PASSWORD = "bench-password"
LANES = ("kommun", "oppenvard", "slutenvard", "patient")  # no guardians: they would be asked for consent
MEETING_DAY = date.today() + timedelta(days=7)
EDIT_TIMEOUT = 120.0


def seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f}"


def ok(answer: Seen) -> Seen:
    if answer.content.get("homeward.status") != "ok":
        raise RuntimeError(f"refused: {answer.content.get('homeward.reason')}: {answer.content.get('body', '')[:200]}")
    return answer


def checklist_done(seen: Seen, room: str, items: list[str]) -> bool:
    """A checklist edit in which every one of `items` is ticked."""
    if seen.room_id != room or (seen.content.get("m.relates_to") or {}).get("rel_type") != "m.replace":
        return False
    new = seen.content.get("m.new_content") or {}
    if "homeward.checklist" not in new:
        return False
    ticked = set(re.findall(r"☑ `([^`]+)`", new.get("body", "")))
    return all(item in ticked for item in items)


async def server_times(member: Member, room: str) -> dict[str, int]:
    """origin_server_ts of the room's recent events, by event id (read from the envelope, no decryption)."""
    found: dict[str, int] = {}
    start = member.client.next_batch  # a sync token is a pagination token too
    for _ in range(20):
        page = await member.client.room_messages(room, start=start, limit=500)
        if not isinstance(page, RoomMessagesResponse) or not page.chunk:
            break
        for event in page.chunk:
            found[event.event_id] = event.server_timestamp
        start = page.end
    return found


async def setup(base: Path, users: int) -> tuple[LocalSynapse, BotProcess, Member, list[Member], str, float]:
    t0 = time.perf_counter()
    server = LocalSynapse(base / "synapse")
    await server.start()
    bot_id = await server.register("homeward", PASSWORD)
    config = base / "homeward.toml"
    write_bot_config(config, homeserver=server.url, user_id=bot_id, password=PASSWORD, data_dir=base / "bot",
                     server_name=server.server_name)
    bot = BotProcess(config, base / "bot.log")
    await bot.start()
    coordinator_id = await server.register("coordinator", PASSWORD)
    coordinator = await Member.login(server.url, coordinator_id, PASSWORD, base / "clients" / "coordinator")
    direct = await coordinator.create_room(invite=[bot_id])
    await coordinator.wait_for_membership(direct, bot_id, "join", timeout=60)
    answer = ok(await coordinator.command(direct, "!case new orebro Burst"))
    room = answer.content["homeward.room_id"]
    await coordinator.join(room)
    await coordinator.wait_for(lambda s: s.room_id == room and "homeward.checklist" in s.content, timeout=60)
    members: list[Member] = []
    for n in range(users):
        user_id = await server.register(f"member-{n:02d}", PASSWORD)
        member = await Member.login(server.url, user_id, PASSWORD, base / "clients" / f"member-{n:02d}")
        ok(await coordinator.command(room, f"!invite {user_id} {LANES[n % len(LANES)]}"))
        await coordinator.wait_for_membership(room, user_id, "invite")
        await member.join(room)
        members.append(member)
    # Everyone speaks once before the burst: their room keys reach every device then, not during it.
    for member in members:
        ok(await member.command(room, "!ping", timeout=60))
    return server, bot, coordinator, members, room, time.perf_counter() - t0


async def plan_tasks(coordinator: Member, members: list[Member], room: str, round_no: int) -> list[str]:
    """One meeting per round, one action per member: tasks `extra-<round>-a<n>` in the member's lane.

    From the second round on, the case first moves to the next phase (forced), so each round's
    checklist holds that phase's own items and the round's tasks, not the earlier rounds' too.
    """
    if round_no > 1:
        ok(await coordinator.command(room, f"!phase next force benchmark round {round_no}"))
    answer = ok(await coordinator.command(room, f"!meeting new extra {MEETING_DAY.isoformat()} 10:00"))
    key = answer.content["homeward.meeting"]
    items = []
    for n, member in enumerate(members, 1):
        ok(await coordinator.command(room, f"!minutes {key} action {member.user_id} {MEETING_DAY.isoformat()} "
                                           f"Ring familjen om hjälpmedel ({n})"))
        items.append(f"{key}-a{n}")
    return items


LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


def bot_log_spans(log: Path, wall0: float) -> dict[str, tuple[int, float, float]]:
    """From the bot's log: how many acks it handled and events it sent after `wall0`, first and last (s after it)."""
    spans: dict[str, list[float]] = {"acks handled": [], "events sent": []}
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        match = LOG_LINE.match(line)
        if not match:
            continue
        at = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp() - wall0
        if at < 0:
            continue
        if "command=ack outcome=" in line:
            spans["acks handled"].append(at)
        elif "event done" in line:
            spans["events sent"].append(at)
    return {name: (len(times), min(times, default=0), max(times, default=0)) for name, times in spans.items()}


async def burst(coordinator: Member, members: list[Member], room: str, items: list[str], pids: dict[str, int],
                log: Path) -> dict[str, Any]:
    arrived: list[float] = []
    accepted: list[float] = []

    async def ack(member: Member, item: str) -> tuple[str, Seen]:
        event_id = await member.send(room, f"!ack {item}")
        accepted.append(time.perf_counter() - t0)
        answer = await member.wait_for(lambda s: reply_target(s) == event_id, timeout=120)
        arrived.append(time.perf_counter() - t0)
        return event_id, answer

    async def edit() -> tuple[float | None, Seen | None]:
        try:
            seen = await coordinator.wait_for(lambda s: checklist_done(s, room, items), timeout=EDIT_TIMEOUT)
        except AssertionError:
            return None, None  # never came: the bot's log and store say why (see checklist_failures)
        return time.perf_counter() - t0, seen

    cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
    wall0 = time.time()
    t0 = time.perf_counter()
    watcher = asyncio.create_task(edit())
    answers = await asyncio.gather(*(ack(member, item) for member, item in zip(members, items)))
    edit_at, edit_seen = await watcher
    cpu = {name: cpu_seconds(pid) - cpu0[name] for name, pid in pids.items()}
    await asyncio.sleep(3)  # anything sent twice would arrive by now
    sent_ids = [event_id for event_id, _ in answers]
    counts = [len(member.replies_to(event_id)) for member, event_id in zip(members, sent_ids)]
    statuses = [answer.content.get("homeward.status") for _, answer in answers]
    stamps = await server_times(coordinator, room)
    first_cmd = min(stamps[e] for e in sent_ids)
    answer_ts = [stamps[answer.event_id] for _, answer in answers]
    per_command = [stamps[answer.event_id] - stamps[e] for (e, answer) in answers]
    return {
        "last_sent_s": max(accepted), "server_commands_spread_s": (max(stamps[e] for e in sent_ids) - first_cmd) / 1000,
        "last_answer_s": max(arrived), "first_answer_s": min(arrived), "median_answer_s": percentile(arrived, 50),
        "edit_s": edit_at,
        "server_last_answer_s": (max(answer_ts) - first_cmd) / 1000,
        "server_edit_s": (stamps[edit_seen.event_id] - first_cmd) / 1000 if edit_seen else None,
        "server_per_command_ms": per_command,
        "cpu_s": cpu, "bot_log": bot_log_spans(log, wall0), "answers_per_member": counts, "ok": statuses.count("ok"), "statuses": statuses,
    }


async def profile(bot: BotProcess, out: Path) -> asyncio.subprocess.Process:
    """py-spy attached to the running bot (raw collapsed stacks), for `--py-spy`."""
    assert bot.process
    spy = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(bot.process.pid), "--rate", "200",
        "--format", "raw", "--output", str(out), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    await asyncio.sleep(1.0)  # attached
    return spy


def checklist_failures(store: Path) -> list[tuple[int, int, str]]:
    """Checklist edits the bot gave up on: (outbox id, content bytes as queued, error); the content itself is cleared."""
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=10) as db:
        return db.execute(
            "SELECT id, content_size, last_error FROM outbox WHERE supersede_key LIKE 'checklist:%' "
            "AND sent_at IS NOT NULL AND event_id IS NULL ORDER BY id"
        ).fetchall()


def acks_in_store(store: Path, items: list[str]) -> tuple[int, int]:
    marks = ",".join("?" * len(items))
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=10) as db:
        acks = db.execute(f"SELECT COUNT(*) FROM acks WHERE item_id IN ({marks})", items).fetchone()[0]
        audit = db.execute(
            f"SELECT COUNT(*) FROM audit WHERE action = 'item.acknowledged' AND json_extract(details, '$.item') IN ({marks})",
            items,
        ).fetchone()[0]
    return acks, audit


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.ERROR)  # nio warns of every message whose room key comes a moment later
    with tempfile.TemporaryDirectory(prefix="homeward-burst-") as tmp:
        base = args.dir or Path(tmp)  # --dir keeps the bot's log and store for a look afterwards
        server, bot, coordinator, members, room, setup_s = await setup(base, args.users)
        results = []
        try:
            for round_no in range(1, args.rounds + 1):
                items = await plan_tasks(coordinator, members, room, round_no)
                await outbox_drained(base / "bot" / "homeward.sqlite3")
                await asyncio.sleep(2)  # let the members' clients catch up with the checklist edits
                spy = await profile(bot, args.py_spy.with_suffix(f".round{round_no}.raw")) if args.py_spy else None
                assert bot.process and server.pid
                pids = {"bot": bot.process.pid, "Synapse": server.pid, "the 51 clients (this process)": os.getpid()}
                result = await burst(coordinator, members, room, items, pids, base / "bot.log")
                if spy:
                    spy.send_signal(signal.SIGINT)  # py-spy writes its file and exits
                    await spy.wait()
                result["store"] = acks_in_store(base / "bot" / "homeward.sqlite3", items)
                result["edits_given_up"] = checklist_failures(base / "bot" / "homeward.sqlite3")
                result["tasks"] = len(items)
                results.append(result)
        finally:
            for member in [coordinator, *members]:
                await member.close()
            await bot.stop()
            await server.stop()

    header("Homeward: a burst of acknowledgements in one care room (bench/burst.py)",
           f"{args.rounds} round(s) of {args.users} simultaneous `!ack`s; one care room, one local Synapse, "
           "the bot as its own process, all clients in this process")
    print(f"set-up ({args.users} encrypted members invited, joined, each one `!ping`): {setup_s:.0f} s")
    print()
    rows = []
    for n, r in enumerate(results, 1):
        rows.append((
            f"round {n} (phase {n}: its own items + {r['tasks']} tasks)",
            f"{r['last_sent_s']:.2f}", f"{r['first_answer_s']:.2f}", f"{r['median_answer_s']:.2f}",
            f"{r['last_answer_s']:.2f}", seconds(r["edit_s"]),
        ))
    print("In this process (perf_counter from the first send; includes the 50 clients' own work):")
    table(rows, ("burst", "all commands sent s", "first answer s", "median answer s", "last answer s", "checklist edit s"))
    print()
    rows = []
    for n, r in enumerate(results, 1):
        rows.append((
            f"round {n}", f"{r['server_commands_spread_s']:.2f}", f"{r['server_last_answer_s']:.2f}", seconds(r["server_edit_s"]),
            f"{percentile(r['server_per_command_ms'], 50):.0f}", f"{max(r['server_per_command_ms']):.0f}",
        ))
    print("At the homeserver (origin_server_ts, from the first command to arrive):")
    table(rows, ("burst", "last command arrives s", "last answer s", "checklist edit s",
                 "command → its answer p50 ms", "max ms"))
    print()
    for n, r in enumerate(results, 1):
        spent = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in r["cpu_s"].items())
        print(f"round {n}: CPU used from the first send to the checklist edit (or its time-out): {spent}")
        for name, (count, first, last) in r["bot_log"].items():
            print(f"  bot's log: {count} {name} from {first:.2f} s to {last:.2f} s after the first send")
    print()
    for n, r in enumerate(results, 1):
        once = sum(1 for c in r["answers_per_member"] if c == 1)
        acks, audit = r["store"]
        verdict = "correct" if once == args.users and r["ok"] == args.users and acks == audit == args.users else "WRONG"
        if r["edit_s"] is None:
            verdict += f"; the checklist edit showing every ack never arrived (waited {EDIT_TIMEOUT:.0f} s)"
        given_up = r["edits_given_up"]
        if given_up:
            verdict += (f"; {len(given_up)} checklist edit(s) given up so far, the first of {given_up[0][1]:,} bytes of "
                        f"content: {given_up[0][2].split(':')[0]}")
        print(f"round {n}: {once}/{args.users} members got exactly one answer, {r['ok']} ok; store: {acks} acks, "
              f"{audit} item.acknowledged audit rows -> {verdict}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--py-spy", type=Path, metavar="FILE", help="profile the bot during each burst (FILE.roundN.raw; `.venv/bin/pip install py-spy` first)")
    parser.add_argument("--dir", type=Path, help="keep Synapse, the bot's data and log here (default: a temporary folder)")
    asyncio.run(main(parser.parse_args()))
