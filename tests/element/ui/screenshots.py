"""`make screenshots`: a demo case walked through the real Element Web, pictures in docs/screens/.

Not a test (it is not part of `make test`): it shows what people see. A fresh local Synapse
(homeward.dev.synapse), the demo accounts of `make run` (homeward.dev.demo) and the bot in this
process, on a clock that starts on Monday 30 November 2026, 10:00 in Örebro and jumps a day
when the walk asks for it (a reminder falls due). Element Web (`ELEMENT_WEB_DIR`, default
../shared/element-web/webapp) is served on loopback and driven in the system's headless
Chromium by walk.mjs, through the Playwright library next to it (`npm ci` in this folder; the
Makefile does it). When the walk asks for them (`@@cases`), the coordinator opens two more
cases from a second device of theirs (a matrix-nio client, logged out again afterwards), so
that the desk pictures at the end show more than one case.

    .venv/bin/python tests/element/ui/screenshots.py [--out docs/screens] [--keep]

The PNGs are made palette-based (256 colours, Pillow) so that they stay small in the repository.
After a walk that went through, any other PNG in the output folder is removed: what lies there
is what this walk made. A failed walk leaves each person's window as FAILED-<person>.png in a
scratch folder it names, never in docs/.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
DEFAULT_ELEMENT = REPO.parent / "shared" / "element-web" / "webapp"
OREBRO = ZoneInfo("Europe/Stockholm")
START = datetime(2026, 11, 30, 10, 0, tzinfo=OREBRO)  # a Monday; the child was admitted at 09:00
# The Inskrivningsmeddelande is due 24 h after admission: the walk's clock jumps to just before; a
# working day later its first overdue reminder asks the nurse why it is late.
CLOCK = {
    "inskrivningsmeddelande-due": datetime(2026, 12, 1, 8, 59, 57, tzinfo=OREBRO),
    "inskrivningsmeddelande-overdue": datetime(2026, 12, 2, 8, 59, 57, tzinfo=OREBRO),
    # The family's word, every working day in this walk (`!settings update 1`): Wednesday at 16:00.
    "family-update": datetime(2026, 12, 2, 16, 0, 3, tzinfo=OREBRO),
}
#: The printed plan's first page, drawn by pdftoppm from the PDF `!export plan pdf` makes.
PLAN_PAGE = "18-printed-plan-first-page"
LABEL = "Sjöstjärna"
DISPLAY_NAMES = {
    "coordinator": "Anna Koordinator",
    "nurse": "Sara Sjuksköterska",
    "caseofficer": "Karin Kommun",
    "guardian": "Maria Vårdnadshavare",
}
#: The coordinator's other cases (`@@cases`): a label and when the child was admitted. The
#: Inskrivningsmeddelande is due 24 h after admission: overdue for the first when the walk's
#: last day (2 December) comes, due that day for the second.
MORE_CASES = [
    ("Ekorre", "2026-11-26 09:00"),
    ("Hare", "2026-12-01 14:00"),
]
#: The coordinator's earlier cases (`@@history`), written into the bot's store once the desk
#: pictures are taken: the demo cases of bench/pictures.py, so that `!stats` has numbers to show.
HISTORY_CASES = 60
WALK_TIMEOUT_S = 600

log = logging.getLogger("screenshots")


def missing_prerequisites(element_dir: Path, chromium: str | None) -> list[str]:
    problems = []
    if not (element_dir / "index.html").is_file():
        problems.append(f"Element Web not found in {element_dir} (set ELEMENT_WEB_DIR to a build of Element Web)")
    if not chromium:
        problems.append("Chromium not found (apt-get install -y chromium, or set CHROMIUM=/path/to/chromium)")
    if shutil.which("node") is None:
        problems.append("node not found (Node 20+)")
    if not (HERE / "node_modules" / "playwright-core").is_dir():
        problems.append(
            f"{HERE}/node_modules is missing: run `npm ci --prefix {HERE.relative_to(REPO)}` (make screenshots does)"
        )
    return problems


def find_chromium() -> str | None:
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def serve(directory: Path) -> tuple[ThreadingHTTPServer, str]:
    """Element Web on a free loopback port, in a thread, without request logs."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


async def more_cases(homeserver: str, bot_id: str, coordinator: dict, work: Path, recovery_key: str) -> None:
    """The coordinator opens MORE_CASES from a second device of theirs and sets each admission date.

    Their Element is already logged in, so it can read everything said in those rooms. The device is
    verified with the coordinator's recovery key, as Element's "Verify with Security Key" does (the bot
    acts only on devices their owner's identity signed). The device's own chat with the bot is left
    and the device logged out afterwards: Element shows the case rooms, nothing else of it."""
    sys.path.insert(0, str(REPO))
    from tests.harness import Member, verify_with_recovery_key

    member = await Member.login(
        homeserver, coordinator["id"], coordinator["password"], work / "second-device", verified=False
    )
    try:
        await verify_with_recovery_key(member.client, recovery_key)
        dm = await member.create_room(invite=[bot_id])
        await member.wait_for_membership(dm, bot_id, "join")
        for _ in range(100):  # the member's own client has seen the join, so it shares the room key with the bot
            room = member.client.rooms.get(dm)
            if room is not None and bot_id in room.users and bot_id not in room.invited_users:
                break
            await asyncio.sleep(0.05)
        for label, admitted in MORE_CASES:
            opened = await member.command(dm, f"!case new orebro {label}")
            if opened.content.get("homeward.status") != "ok":
                raise RuntimeError(f"!case new {label}: {opened.content.get('body')}")
            room_id = opened.content["homeward.room_id"]
            await member.join(room_id)
            await member.wait_for(functools.partial(_checklist_in, room_id))
            answer = await member.command(room_id, f"!plan admission {admitted}")
            if answer.content.get("homeward.status") != "ok":
                raise RuntimeError(f"!plan admission in {label}: {answer.content.get('body')}")
        await member.client.room_leave(dm)
        await member.client.room_forget(dm)
        await member.client.logout()
    finally:
        await member.close()


def _checklist_in(room_id: str, seen: Any) -> bool:
    return bool(seen.room_id == room_id and "homeward.checklist" in seen.content)


async def printed_plan(bot, png: Path, work: Path) -> Path:
    """The walk's plan as `!export plan pdf` prints it (names as the room gives them), its first page as a PNG.

    Built beside the walk from the running bot's store and client, as the export handler builds it
    (a file the bot sent is not kept: its bytes are cleared once the homeserver has them)."""
    from homeward.exports.build import careplan_document, named_in_plan
    from homeward.exports.render import render_pdf
    from homeward.messages.careplan import change_note
    from homeward.store import cases, changelogs, consents

    async with bot.store.read() as db, db.execute("SELECT id, room_id FROM cases WHERE label = ?", (LABEL,)) as cur:
        case_id, room_id = await cur.fetchone()
    async with bot.store.read() as db:
        loaded = await cases.load_case(db, case_id, bot.services.pathways)
        plan = await changelogs.load_careplan(db, case_id)
        answers = await consents.answers(db, case_id)
        minutes = await changelogs.all_minutes(db, case_id)
    view, now = loaded.view, bot.clock.now()
    speaker = _Speaker(bot.catalog, view.pathway.language, now)
    users = named_in_plan(view, plan, answers, loaded.case.opened_by)
    names = {u: n for u in users if (n := bot.services.display_name(room_id, u))}
    document = careplan_document(
        view,
        plan,
        answers,
        minutes,
        now,
        loaded.case.opened_by,
        names=names,
        change_note=change_note(speaker, plan.changes[-1] if plan.changes else None, view.pathway),
    )
    pdf = work / "plan.pdf"
    pdf.write_bytes(render_pdf(document))
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        raise RuntimeError("pdftoppm not found (apt-get install poppler-utils): the printed plan is not drawn")
    subprocess.run(
        [pdftoppm, "-png", "-r", "100", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(png.with_suffix(""))],
        check=True,
    )
    print(f"  the printed plan's first page: {png.name}", flush=True)
    return png


class _Speaker:
    """A care room's words at one moment, for `messages.careplan.change_note`."""

    def __init__(self, catalog, language: str, now: datetime) -> None:
        self.catalog, self.language, self.now = catalog, language, now

    def t(self, key: str, /, **values: object) -> str:
        return self.catalog.t(self.language, key, **values)


async def history(bot: object, coordinator_id: str) -> None:
    """The coordinator's earlier cases, closed in the months before (bench/pictures.py's demo cases), written
    into the running bot's store as the bot writes them: what `!stats` counts. Their rooms are never made."""
    sys.path.insert(0, str(REPO / "bench"))
    from pictures import demo_facts, write_cases  # bench/pictures.py

    from homeward.care.pathway import default_pathways_dir, load_pathways

    pathway = load_pathways(default_pathways_dir())["orebro"]
    store = bot.store  # type: ignore[attr-defined]
    async with store.transaction() as db:
        await write_cases(db, pathway, demo_facts(pathway, HISTORY_CASES), coordinator_id, prefix="history")


def shrink(png: Path) -> None:
    """256 colours, optimised: a UI screenshot loses nothing visible and most of its bytes."""
    from PIL import Image

    with Image.open(png) as image:
        small = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(png, optimize=True)


async def walk(out: Path, element_dir: Path, chromium: str, work: Path) -> dict:
    from homeward.bot.app import HomewardBot
    from homeward.clock import ShiftedClock
    from homeward.config import Config
    from homeward.dev.demo import BOT_LOCALPART, DEMO_ACCOUNTS
    from homeward.dev.synapse import LocalSynapse, free_port

    synapse = LocalSynapse(work / "synapse", port=free_port())
    await synapse.start()
    web, element_url = serve(element_dir)
    bot = None
    try:
        passwords = {name: secrets.token_urlsafe(12) for name in [BOT_LOCALPART, *DEMO_ACCOUNTS]}
        bot_id = await synapse.register(BOT_LOCALPART, passwords[BOT_LOCALPART], displayname="Homeward")
        users = {}
        for name in DEMO_ACCOUNTS:
            user_id = await synapse.register(name, passwords[name], displayname=DISPLAY_NAMES[name])
            users[name] = {"user": name, "password": passwords[name], "id": user_id}
        clock = ShiftedClock.starting_at(START)
        config = Config.model_validate(
            {
                "homeserver": synapse.url,
                "user_id": bot_id,
                "password": passwords[BOT_LOCALPART],
                "data_dir": work / "bot",
                "allowed_inviters": [f"*:{synapse.server_name}"],
                "timezone": "Europe/Stockholm",
                "case_openers": [users["coordinator"]["id"]],  # the coordinator opens the case, as in make run's demo
                "language": "sv",
            }
        )
        bot = HomewardBot(config, clock)
        await bot.start()
        await asyncio.wait_for(bot.ready.wait(), 60)

        out.mkdir(parents=True, exist_ok=True)
        settings = {
            "elementUrl": element_url,
            "homeserver": synapse.url,
            "serverName": synapse.server_name,
            "bot": bot_id,
            "users": users,
            "out": str(out),
            "failures": str(work),
            "label": LABEL,
            "caseRoomName": LABEL,  # the room list's name starts with the label
        }
        process = await asyncio.create_subprocess_exec(
            shutil.which("node") or "node",
            str(HERE / "walk.mjs"),
            cwd=HERE,
            env={**os.environ, "SCREENS": json.dumps(settings), "CHROMIUM": chromium},
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert process.stdout and process.stdin
        last = ""
        deadline = time.monotonic() + WALK_TIMEOUT_S
        while True:
            raw = await asyncio.wait_for(process.stdout.readline(), max(deadline - time.monotonic(), 1))
            if not raw:
                break
            line = raw.decode(errors="replace").rstrip()
            if line.startswith("@@clock "):
                name = line.split(" ", 1)[1]
                clock.jump_to(CLOCK[name])
                bot.clock_jumped()
                print(f"  clock: {name} → {CLOCK[name]:%a %d %b %H:%M:%S}", flush=True)
                process.stdin.write(b"ok\n")
                await process.stdin.drain()
                continue
            if line == "@@history":
                try:
                    await history(bot, users["coordinator"]["id"])
                    print(f"  the coordinator's earlier cases: {HISTORY_CASES}", flush=True)
                    process.stdin.write(b"ok\n")
                except Exception as error:  # the walk fails with the reason
                    process.stdin.write(f"{type(error).__name__}: {error}\n".encode())
                await process.stdin.drain()
                continue
            if line.startswith("@@cases "):
                try:
                    await more_cases(synapse.url, bot_id, users["coordinator"], work, line.split(" ", 1)[1])
                    print(f"  the coordinator's other cases: {', '.join(label for label, _ in MORE_CASES)}", flush=True)
                    process.stdin.write(b"ok\n")
                except Exception as error:  # the walk fails with the reason
                    process.stdin.write(f"{type(error).__name__}: {error}\n".encode())
                await process.stdin.drain()
                continue
            if line.startswith("{"):
                last = line
            else:
                print("  " + line, flush=True)
        await process.wait()
        summary: dict[str, Any] = json.loads(last) if last else {"ok": False, "error": "the walk printed no summary"}
        summary["exit"] = process.returncode
        if summary.get("ok"):
            page = await printed_plan(bot, out / f"{PLAN_PAGE}.png", work)
            summary["screenshots"] = [*summary.get("screenshots", []), str(page)]
        return summary
    finally:
        if bot is not None:
            await bot.stop()
        web.shutdown()
        await synapse.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screens")
    parser.add_argument("--keep", action="store_true", help="keep the homeserver and bot state (printed)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    element_dir = Path(os.environ.get("ELEMENT_WEB_DIR", DEFAULT_ELEMENT)).resolve()
    chromium = find_chromium()
    problems = missing_prerequisites(element_dir, chromium)
    if problems:
        for problem in problems:
            print(f"make screenshots: {problem}", file=sys.stderr)
        return 2
    assert chromium is not None
    work = Path(tempfile.mkdtemp(prefix="homeward-screens-"))
    started = time.monotonic()
    try:
        summary = asyncio.run(walk(args.out.resolve(), element_dir, chromium, work))
    finally:
        failed = sorted(work.glob("FAILED-*.png"))
        if args.keep or failed:
            print(f"state kept in {work}" + "".join(f"\n  {png}" for png in failed))
        else:
            shutil.rmtree(work, ignore_errors=True)
    files = [Path(f) for f in summary.get("screenshots", [])]
    for png in files:
        shrink(png)
    if summary.get("ok"):  # what lies in the folder is what this walk made
        for stale in sorted(set(args.out.resolve().glob("*.png")) - {f.resolve() for f in files}):
            stale.unlink()
            print(
                f"  removed {stale.relative_to(REPO) if stale.is_relative_to(REPO) else stale} (not made by this walk)"
            )
    total = sum(f.stat().st_size for f in files)
    print(json.dumps({k: v for k, v in summary.items() if k not in ("screenshots", "timings")}, ensure_ascii=False))
    for png in files:
        print(f"  {png.relative_to(REPO) if png.is_relative_to(REPO) else png}  {png.stat().st_size // 1024} KiB")
    print(f"{len(files)} screenshots, {total / 1024:.0f} KiB in all, in {time.monotonic() - started:.0f} s")
    return 0 if summary.get("ok") else 1


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
