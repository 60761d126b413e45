"""Fifty people acknowledging at the same moment in one care room, against the floor.

    .venv/bin/python bench/burst.py [--users 50] [--rounds 2] [--no-read-receipts]
                                    [--py-spy FILE] [--py-spy-synapse FILE] [--dir DIR]

What is measured: how long the last of `--users` people who send a command at the same
moment waits for their answer, from Homeward and, in the same run, from the floor — a bare
matrix-nio echo bot (bench/floor.py: decrypt, reply "pong", encrypt, nothing else). The
figure is Homeward's last answer as a ratio to the floor's (target 1.2), and the same for
the median answer. Also the ratio of the CPU seconds Synapse spent on each burst: the
homeserver does most of the work, and its CPU time measures work rather than waiting, so
other load on a shared machine moves it less than the times (though it does move it).

Set-up: a local Synapse; `homeward run` and the echo bot, each as its own process; a
coordinator who opens an Örebro case with `!case new` and `!invite`s `--users` members (each
a matrix-nio client with its own encrypted device) into lanes of care and family, who join.
The echo bot's room is made from the care room's own createRoom request
(`homeward.matrix.rooms.case_room_request`), with the coordinator as its guest, and the bot
invites the same members, who join: both rooms hold the bot, the coordinator and the same
`--users` members' devices. Every member says something first in both rooms (a `!ping`),
so their room keys are shared before the bursts, as in rooms people use.

Each round: the coordinator plans an extra meeting in the care room and records one action
per member in its minutes (`!minutes extra-N action @member <due> <text>`): each action becomes
a task of the case in the member's lane, assigned to them, on the pinned checklist (from the
second round on, the case first moves to its next phase, so each round has a checklist of
its own). Once Homeward's outbox is empty and every member's client knows every device of
both rooms, two bursts follow one another, each started only when everything before it has
settled and every client has marked that burst's room read up to its last event (read receipt
and marker, as Element does for the room on the screen; `--no-read-receipts` leaves it out):
1. the floor: all members send `!ping` to the echo bot at once (asyncio.gather);
2. Homeward: all members send `!ack <their task>` at once.
Measured with `time.perf_counter` in this process: from a burst's first send until each
member has its own answer (decrypted): the last and the median; for Homeward also until
the coordinator sees the checklist edit that shows every task of the round done. All 51
clients run in this one process on the same machine as both bots and Synapse, so those
times include the clients' own decryption (the same for both bursts); the homeserver's
timestamps (`origin_server_ts` of the commands, answers and edit, read back afterwards)
give the same spans without the clients.

Why the comparison is fair: same Synapse, same machine, same run, same members and devices,
rooms from the same createRoom request, both bots in processes of their own and syncing with
the same filter, keys shared and devices known before either burst, the two bursts never
overlapping (the bot not in a room is idle during its burst), nothing unread in either room
when a burst starts. Without the read receipts the rooms would not be alike: these clients
never read, so Synapse counts each one's unread notifications from the room's first event
on every sync, and the care room has more than twice the echo room's history. What remains
different is what the bots do: the floor's answer is one short notice sent from nio's sync
callback; Homeward applies the acknowledgement (one SQLite transaction), answers it and
edits the pinned checklist (about 30 kB with 50 tasks), in a care room that has history
(the checklist, the minutes): that is the work being priced.

Checked: every member got exactly one answer from each bot, Homeward's each `ok`; the bot's
store holds one acknowledgement and one `item.acknowledged` audit row per member and round;
checklist edits the bot gave up on are listed. Also printed: CPU seconds of the bots, Synapse
and this process during each burst, and when Homeward handled the acks and sent its events
(its log).
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
from floor import PASSWORD, EchoProcess
from nio import RoomMessagesResponse

from homeward.dev.synapse import LocalSynapse
from tests.harness import BotProcess, Member, Seen, reply_target

LANES = ("kommun", "oppenvard", "slutenvard", "patient")  # no guardians: they would be asked for consent
MEETING_DAY = date.today() + timedelta(days=7)
EDIT_TIMEOUT = 120.0
ANSWER_TIMEOUT = 120.0


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


class Setup:
    """Everything both bursts run on: one Synapse, the two bots, the clients, the two rooms."""

    def __init__(
        self,
        server: LocalSynapse,
        bot: BotProcess,
        echo: EchoProcess,
        coordinator: Member,
        members: list[Member],
        room: str,
        echo_room: str,
        seconds: float,
    ) -> None:
        self.server, self.bot, self.echo, self.coordinator, self.members = server, bot, echo, coordinator, members
        self.room, self.echo_room, self.seconds = room, echo_room, seconds


async def setup(base: Path, users: int) -> Setup:
    t0 = time.perf_counter()
    server = LocalSynapse(base / "synapse")
    await server.start()
    bot_id = await server.register("homeward", PASSWORD)
    config = base / "homeward.toml"
    write_bot_config(
        config,
        homeserver=server.url,
        user_id=bot_id,
        password=PASSWORD,
        data_dir=base / "bot",
        server_name=server.server_name,
    )
    bot = BotProcess(config, base / "bot.log")
    await bot.start()
    coordinator_id = await server.register("coordinator", PASSWORD)
    member_ids = [await server.register(f"member-{n:02d}", PASSWORD) for n in range(users)]
    # The floor's room: the care room's createRoom request with the coordinator as its guest;
    # then the echo bot invites the members, as Homeward does on `!invite`.
    echo = EchoProcess(
        server,
        await server.register("echo", PASSWORD),
        base / "echo",
        coordinator_id,
        member_ids,
        log_path=base / "echo.log",
    )
    echo_room = await echo.start(timeout=120)
    coordinator = await Member.login(server.url, coordinator_id, PASSWORD, base / "clients" / "coordinator")
    await coordinator.join(echo_room)
    direct = await coordinator.create_room(invite=[bot_id])
    await coordinator.wait_for_membership(direct, bot_id, "join", timeout=60)
    answer = ok(await coordinator.command(direct, "!case new orebro Burst"))
    room = answer.content["homeward.room_id"]
    await coordinator.join(room)
    await coordinator.wait_for(lambda s: s.room_id == room and "homeward.checklist" in s.content, timeout=60)
    members: list[Member] = []
    for n, user_id in enumerate(member_ids):
        member = await Member.login(server.url, user_id, PASSWORD, base / "clients" / f"member-{n:02d}")
        ok(await coordinator.command(room, f"!invite {user_id} {LANES[n % len(LANES)]}"))
        await coordinator.wait_for_membership(room, user_id, "invite")
        await member.join(room)
        await member.join(echo_room)
        members.append(member)
    # Everyone speaks once in each room before the bursts: their room keys reach every device then, not during them.
    for member in members:
        ok(await member.command(room, "!ping", timeout=60))
        await member.command(echo_room, "!ping", timeout=60)
    return Setup(server, bot, echo, coordinator, members, room, echo_room, time.perf_counter() - t0)


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
        ok(
            await coordinator.command(
                room,
                f"!minutes {key} action {member.user_id} {MEETING_DAY.isoformat()} Ring familjen om hjälpmedel ({n})",
            )
        )
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


class Sent:
    """One burst from the clients' side: each member's command and answer, when (s after the first send)."""

    def __init__(self) -> None:
        self.t0 = 0.0  # perf_counter at the first send
        self.wall0 = 0.0  # time.time() then (for the bot's log)
        self.accepted: list[float] = []  # the homeserver took the command
        self.arrived: list[float] = []  # the member's client has the answer, decrypted
        self.answers: list[tuple[str, Seen | None]] = []  # (command's event id, answer or None), in member order


async def at_once(members: list[Member], room: str, bodies: list[str], sent: Sent) -> None:
    """Every member sends its body at the same moment and waits for the answer to it."""

    async def one(member: Member, body: str) -> tuple[str, Seen | None]:
        event_id = await member.send(room, body)
        sent.accepted.append(time.perf_counter() - sent.t0)
        try:
            answer = await member.wait_for(lambda s: reply_target(s) == event_id, timeout=ANSWER_TIMEOUT)
        except AssertionError:
            return event_id, None  # no answer (or none this client could read): reported, and the run is WRONG
        sent.arrived.append(time.perf_counter() - sent.t0)
        return event_id, answer

    # Know every device of the room before the clock starts (Member.send asks again, then at once).
    await asyncio.gather(*(member.know_devices(room) for member in members))
    sent.t0, sent.wall0 = time.perf_counter(), time.time()
    sent.answers = await asyncio.gather(*(one(member, body) for member, body in zip(members, bodies, strict=True)))


async def settled(coordinator: Member, members: list[Member], room: str, sent: Sent) -> dict[str, Any]:
    """After a burst: answers per member (anything sent twice would have arrived by now) and the homeserver's times."""
    await asyncio.sleep(3)
    sent_ids = [event_id for event_id, _ in sent.answers]
    answered = [(e, answer) for e, answer in sent.answers if answer is not None]
    arrived = sent.arrived or [float("nan")]
    stamps = await server_times(coordinator, room)
    first_cmd = min(stamps[e] for e in sent_ids)
    answer_ts = [stamps[answer.event_id] for _, answer in answered] or [first_cmd]
    unanswered = [
        (
            member.user_id,
            sum(s.room_id == room and s.type == "undecryptable" and s.sender != member.user_id for s in member.seen),
        )
        for member, (_, answer) in zip(members, sent.answers, strict=True)
        if answer is None
    ]
    return {
        "unanswered": unanswered,  # (member, events in the room its client still cannot read)
        "last_sent_s": max(sent.accepted),
        "first_answer_s": min(arrived),
        "median_answer_s": percentile(arrived, 50),
        "last_answer_s": max(arrived),
        "server_commands_spread_s": (max(stamps[e] for e in sent_ids) - first_cmd) / 1000,
        "server_median_answer_s": (percentile(answer_ts, 50) - first_cmd) / 1000,
        "server_last_answer_s": (max(answer_ts) - first_cmd) / 1000,
        "server_per_command_ms": [stamps[answer.event_id] - stamps[e] for e, answer in answered] or [float("nan")],
        "answers_per_member": [len(member.replies_to(e)) for member, e in zip(members, sent_ids, strict=True)],
        "statuses": [answer.content.get("homeward.status") for _, answer in answered],
        "bodies": [answer.content.get("body") for _, answer in answered],
        "first_cmd_ts": first_cmd,
        "stamps": stamps,
    }


async def read_up_to_date(clients: list[Member], room: str) -> None:
    """Every client marks the room read up to the last event it has seen (read receipt and marker).

    As Element does for the room on the screen, which it is for someone sending a command
    there. Without it Synapse counts each client's unread notifications in the room, on every
    sync, from the room's first event on: the care room, with far more history, would pay more.
    """

    async def one(client: Member) -> None:
        last = next((s.event_id for s in reversed(client.seen) if s.room_id == room), None)
        if last:
            await client.client.room_read_markers(room, fully_read_event=last, read_event=last)

    await asyncio.gather(*(one(client) for client in clients))
    await asyncio.sleep(2)  # the receipts reach everyone's sync before the burst


async def floor_burst(coordinator: Member, members: list[Member], room: str, pids: dict[str, int]) -> dict[str, Any]:
    """Every member `!ping`s the echo bot at once."""
    sent = Sent()
    cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
    await at_once(members, room, ["!ping"] * len(members), sent)
    cpu = {name: cpu_seconds(pid) - cpu0[name] for name, pid in pids.items()}
    result = await settled(coordinator, members, room, sent)
    del result["stamps"]
    result["cpu_s"] = cpu
    result["pongs"] = result["bodies"].count("pong")
    return result


async def homeward_burst(
    coordinator: Member, members: list[Member], room: str, items: list[str], pids: dict[str, int], log: Path
) -> dict[str, Any]:
    """Every member `!ack`s their own task at once; also: when the checklist shows them all done."""
    sent = Sent()

    async def edit() -> tuple[float | None, Seen | None]:
        try:
            seen = await coordinator.wait_for(lambda s: checklist_done(s, room, items), timeout=EDIT_TIMEOUT)
        except AssertionError:
            return None, None  # never came: the bot's log and store say why (see checklist_failures)
        return time.perf_counter() - sent.t0, seen

    cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
    watcher = asyncio.create_task(edit())  # no edit can show the acks before they are sent
    await at_once(members, room, [f"!ack {item}" for item in items], sent)
    edit_at, edit_seen = await watcher
    cpu = {name: cpu_seconds(pid) - cpu0[name] for name, pid in pids.items()}
    result = await settled(coordinator, members, room, sent)
    stamps, first_cmd = result.pop("stamps"), result["first_cmd_ts"]
    result.update(
        {
            "edit_s": edit_at,
            "server_edit_s": (stamps[edit_seen.event_id] - first_cmd) / 1000 if edit_seen else None,
            "cpu_s": cpu,
            "bot_log": bot_log_spans(log, sent.wall0),
            "ok": result["statuses"].count("ok"),
        }
    )
    return result


async def profile(pid: int, out: Path) -> asyncio.subprocess.Process:
    """py-spy attached to a running process (raw collapsed stacks), for `--py-spy` and `--py-spy-synapse`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    spy = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("py-spy")),
        "record",
        "--pid",
        str(pid),
        "--rate",
        "200",
        "--format",
        "raw",
        "--output",
        str(out),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await asyncio.sleep(1.0)  # attached
    return spy


async def stop_profiling(spies: list[asyncio.subprocess.Process]) -> None:
    for spy in spies:
        spy.send_signal(signal.SIGINT)  # py-spy writes its file and exits
        await spy.wait()
    spies.clear()


def checklist_failures(store: Path) -> list[tuple[int, int, str]]:
    """Checklist edits the bot gave up on: (outbox id, content bytes as queued, error).

    The content itself is cleared.
    """
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
            "SELECT COUNT(*) FROM audit WHERE action = 'item.acknowledged'"
            f" AND json_extract(details, '$.item') IN ({marks})",
            items,
        ).fetchone()[0]
    return acks, audit


def log_counts(log: Path, patterns: dict[str, str]) -> dict[str, int]:
    """How many lines of a bot's log match each pattern (a regular expression)."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines() if log.exists() else []
    return {name: sum(bool(re.search(pattern, line)) for line in lines) for name, pattern in patterns.items()}


def unanswered(missing: list[tuple[str, int]]) -> str:
    if not missing:
        return ""
    return f"; no answer within {ANSWER_TIMEOUT:.0f} s for " + ", ".join(
        f"{user} ({unreadable} unreadable events in the room)" for user, unreadable in missing
    )


def ratio(homeward: float | None, floor: float) -> str:
    return "—" if homeward is None or not floor else f"{homeward / floor:.2f}"


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.ERROR)  # nio warns of every message whose room key comes a moment later
    with tempfile.TemporaryDirectory(prefix="homeward-burst-") as tmp:
        base = args.dir or Path(tmp)  # --dir keeps the bot's log and store for a look afterwards
        loadavg = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else []
        run = await setup(base, args.users)
        store = base / "bot" / "homeward.sqlite3"
        results = []
        try:
            for round_no in range(1, args.rounds + 1):
                items = await plan_tasks(run.coordinator, run.members, run.room, round_no)
                await outbox_drained(store)
                await asyncio.sleep(2)  # let the members' clients catch up with the checklist edits
                assert run.bot.process and run.server.pid
                pids = {
                    "Homeward": run.bot.process.pid,
                    "echo bot": run.echo.pid,
                    "Synapse": run.server.pid,
                    f"the {args.users + 1} clients (this process)": os.getpid(),
                }
                spies = (
                    [await profile(run.server.pid, args.py_spy_synapse.with_suffix(f".round{round_no}.floor.raw"))]
                    if args.py_spy_synapse
                    else []
                )
                if not args.no_read_receipts:
                    await read_up_to_date([run.coordinator, *run.members], run.echo_room)
                floor = await floor_burst(run.coordinator, run.members, run.echo_room, pids)
                await stop_profiling(spies)
                await outbox_drained(store)  # Homeward was idle (not in the echo room): a no-op, to be sure
                if args.py_spy:
                    spies.append(await profile(run.bot.process.pid, args.py_spy.with_suffix(f".round{round_no}.raw")))
                if args.py_spy_synapse:
                    spies.append(
                        await profile(run.server.pid, args.py_spy_synapse.with_suffix(f".round{round_no}.homeward.raw"))
                    )
                if not args.no_read_receipts:
                    await read_up_to_date([run.coordinator, *run.members], run.room)
                result = await homeward_burst(run.coordinator, run.members, run.room, items, pids, base / "bot.log")
                await stop_profiling(spies)
                result["store"] = acks_in_store(store, items)
                result["edits_given_up"] = checklist_failures(store)
                result["tasks"] = len(items)
                result["floor"] = floor
                results.append(result)
        finally:
            for member in [run.coordinator, *run.members]:
                await member.close()
            await run.echo.stop()
            await run.bot.stop()
            await run.server.stop()
        hiccups = log_counts(
            base / "echo.log",
            {
                "no room key yet": "has no room key yet",
                "decrypted later": "decrypted when",
                "sends repeated": "sent again",
                "sync loop restarts": "sync loop restarted",
                "timeline gaps": "timeline gap",
            },
        )
        hiccups_bot = log_counts(
            base / "bot.log",
            {
                "no room key yet": "could not be decrypted yet",
                "decrypted later": "decrypted on retry",
                "timeline gaps filled": r"backfilled [1-9]\d* event",
            },
        )

    header(
        "Homeward: a burst of acknowledgements in one care room, against the floor (bench/burst.py)",
        f"{args.rounds} round(s), each {args.users} simultaneous `!ping`s to a bare nio echo bot (the floor), then "
        f"{args.users} simultaneous `!ack`s to Homeward; rooms alike, one local Synapse, each bot its own process, "
        "all clients in this process",
    )
    if loadavg:
        print(f"load average before the run: {' '.join(loadavg)}")
    print(
        "read receipts: "
        + (
            "none (--no-read-receipts)"
            if args.no_read_receipts
            else "every client marks the burst's room read up to its last event before the burst"
        )
    )
    print(
        f"set-up ({args.users} encrypted members invited to both rooms, joined, each one `!ping` in each): "
        f"{run.seconds:.0f} s"
    )
    print()
    rows: list[tuple[str, ...]] = []
    for n, r in enumerate(results, 1):
        f = r["floor"]
        rows.append(
            (
                f"round {n}",
                f"{f['median_answer_s']:.2f}",
                f"{f['last_answer_s']:.2f}",
                f"{r['median_answer_s']:.2f}",
                f"{r['last_answer_s']:.2f}",
                ratio(r["median_answer_s"], f["median_answer_s"]),
                ratio(r["last_answer_s"], f["last_answer_s"]),
                ratio(r["server_last_answer_s"], f["server_last_answer_s"]),
                ratio(r["cpu_s"]["Synapse"], f["cpu_s"]["Synapse"]),
            )
        )
    print(
        "Homeward against the floor (s from each burst's first send, in this process; target: last-answer ratio ≤ 1.2):"
    )
    table(
        rows,
        (
            "round",
            "floor median s",
            "floor last s",
            "Homeward median s",
            "Homeward last s",
            "ratio median",
            "ratio last",
            "ratio last at the homeserver",
            "ratio of Synapse CPU",
        ),
    )
    print()
    rows = []
    for n, r in enumerate(results, 1):
        f = r["floor"]
        rows.append(
            (
                f"round {n} floor (`!ping` the echo bot)",
                f"{f['last_sent_s']:.2f}",
                f"{f['first_answer_s']:.2f}",
                f"{f['median_answer_s']:.2f}",
                f"{f['last_answer_s']:.2f}",
                "—",
            )
        )
        rows.append(
            (
                f"round {n} Homeward (`!ack`; phase {n}: its own items + {r['tasks']} tasks)",
                f"{r['last_sent_s']:.2f}",
                f"{r['first_answer_s']:.2f}",
                f"{r['median_answer_s']:.2f}",
                f"{r['last_answer_s']:.2f}",
                seconds(r["edit_s"]),
            )
        )
    print("In this process (perf_counter from the first send; includes the clients' own work):")
    table(
        rows, ("burst", "all commands sent s", "first answer s", "median answer s", "last answer s", "checklist edit s")
    )
    print()
    rows = []
    for n, r in enumerate(results, 1):
        for name, b, edit in (
            (f"round {n} floor", r["floor"], "—"),
            (f"round {n} Homeward", r, seconds(r["server_edit_s"])),
        ):
            rows.append(
                (
                    name,
                    f"{b['server_commands_spread_s']:.2f}",
                    f"{b['server_median_answer_s']:.2f}",
                    f"{b['server_last_answer_s']:.2f}",
                    edit,
                    f"{percentile(b['server_per_command_ms'], 50):.0f}",
                    f"{max(b['server_per_command_ms']):.0f}",
                )
            )
    print("At the homeserver (origin_server_ts, from the first command to arrive):")
    table(
        rows,
        (
            "burst",
            "last command arrives s",
            "median answer s",
            "last answer s",
            "checklist edit s",
            "command → its answer p50 ms",
            "max ms",
        ),
    )
    print()
    for n, r in enumerate(results, 1):
        for name, b in (("floor", r["floor"]), ("Homeward", r)):
            spent = ", ".join(f"{who} {used:.1f} s" for who, used in b["cpu_s"].items())
            until = "its last answer" if name == "floor" else "the checklist edit (or its time-out)"
            print(f"round {n} {name}: CPU used from the first send to {until}: {spent}")
        for name, (count, first, last) in r["bot_log"].items():
            print(f"  Homeward's log: {count} {name} from {first:.2f} s to {last:.2f} s after the first send")
    print(
        "whole run: echo bot's log: "
        + ", ".join(f"{count} {what}" for what, count in hiccups.items())
        + "; Homeward's log: "
        + ", ".join(f"{count} {what}" for what, count in hiccups_bot.items())
    )
    print()
    for n, r in enumerate(results, 1):
        f = r["floor"]
        once = sum(1 for c in f["answers_per_member"] if c == 1)
        verdict = "correct" if once == args.users and f["pongs"] == args.users and not f["unanswered"] else "WRONG"
        verdict += unanswered(f["unanswered"])
        print(f"round {n} floor: {once}/{args.users} members got exactly one answer, {f['pongs']} `pong` -> {verdict}")
        once = sum(1 for c in r["answers_per_member"] if c == 1)
        acks, audit = r["store"]
        verdict = (
            "correct"
            if once == args.users and r["ok"] == args.users and acks == audit == args.users and not r["unanswered"]
            else "WRONG"
        )
        verdict += unanswered(r["unanswered"])
        if r["edit_s"] is None:
            verdict += f"; the checklist edit showing every ack never arrived (waited {EDIT_TIMEOUT:.0f} s)"
        given_up = r["edits_given_up"]
        if given_up:
            verdict += (
                f"; {len(given_up)} checklist edit(s) given up so far, the first of {given_up[0][1]:,} bytes of "
                f"content: {given_up[0][2].split(':')[0]}"
            )
        print(
            f"round {n} Homeward: {once}/{args.users} members got exactly one answer, {r['ok']} ok; "
            f"store: {acks} acks, {audit} item.acknowledged audit rows -> {verdict}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description="Members send a command at the same moment: the last and median answer from Homeward (`!ack`) "
        "against a bare nio echo bot's (`!ping`, the floor), in the same run on one local Synapse."
    )
    parser.add_argument("--users", type=int, default=50, help="members who send at once (default 50)")
    parser.add_argument(
        "--rounds", type=int, default=2, help="rounds, each a floor burst then a Homeward burst (default 2)"
    )
    parser.add_argument(
        "--py-spy",
        type=Path,
        metavar="FILE",
        help="profile Homeward during each of its bursts (FILE.roundN.raw; `.venv/bin/pip install py-spy` first)",
    )
    parser.add_argument(
        "--py-spy-synapse",
        type=Path,
        metavar="FILE",
        help="profile Synapse during each burst (FILE.roundN.floor.raw, FILE.roundN.homeward.raw)",
    )
    parser.add_argument(
        "--no-read-receipts",
        action="store_true",
        help="the clients never mark a room read (as this script did before the floor came in): "
        "Synapse then counts each client's unread notifications from the room's first event, every sync",
    )
    parser.add_argument(
        "--dir", type=Path, help="keep Synapse, the bots' data and Homeward's log here (default: a temporary folder)"
    )
    asyncio.run(main(parser.parse_args()))
