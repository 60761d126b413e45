"""One person floods a care room with commands; does everyone else's `!ping` still come back quickly?

    .venv/bin/python bench/flood.py [--commands 60] [--rounds 3] [--after 2.0] [--nurses 12]
                                    [--person-limit shipped|off|<rate>]

Set-up: a local Synapse and `homeward run` (its own process, the outbox sending rooms in
parallel, the brake on all of a person's commands as `--person-limit` says: `shipped` (the
default) leaves the setting out, so the shipped 30 a minute applies; `off` takes the brake
away, so that all 60 commands of a flood run and are answered, the most work a flood can give
the bot); a coordinator opens a Telemark case with `!case new` and brings in `--rounds`
guardians (each an encrypted nio client), one per round; a second room, made by the
coordinator with the same guardians but without the bot, takes the same floods. `--nurses`
nurses each have a direct chat with the bot: they are "everyone else".

Measured, in one run: the nurses `!ping` the bot in their own chats, one ping at a time (each
waits for its answer before the next nurse's), in turn, each nurse at most once every
`60 / 28` s, so that none of them reaches the brake herself (the brake is per person: the
pings of one nurse back to back would be braked like the flood); their round trips are recorded
1. quiet: 20 pings, nothing else going on;
2. each round, the round's guardian sends `--commands` `!team` back to back (each send waits
   for the homeserver's answer, as a client's queue does), first into the room without the bot,
   then — once everything has settled — into the care room; the nurses ping from the first send
   of the flood until `--after` seconds after its last send.
The figure: the nurses' p50 during the floods into the care room against their p50 during the
same floods into the room without the bot (target ≤ 1.5); both against the quiet p50. CPU seconds
of the bot and of Synapse during each kind of flood, from /proc. Every ping must be answered
with its pong (a nurse braked would void the run: the script stops).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import tempfile
import time
from pathlib import Path

from common import cpu_seconds, header, outbox_drained, percentile, table

from homeward.dev.synapse import LocalSynapse
from tests.harness import BotProcess, Member, reply_target

PASSWORD = "bench-password"


#: A nurse pings at most this often, under the shipped brake of 30 commands a minute per person.
NURSE_SPACING_S = 60 / 28


class Nurses:
    """Everyone else: nurses who ping the bot in their own direct chats, in turn, one ping in flight."""

    def __init__(self, chats: list[tuple[Member, str]]) -> None:
        self.chats = chats
        self.last = [0.0] * len(chats)
        self.turn = 0

    async def ping(self) -> float:
        """The next nurse's round trip in ms; waits first if every nurse pinged too recently."""
        index = self.turn % len(self.chats)
        self.turn += 1
        await asyncio.sleep(max(0.0, self.last[index] + NURSE_SPACING_S - time.monotonic()))
        self.last[index] = time.monotonic()
        nurse, dm = self.chats[index]
        start = time.perf_counter()
        event_id = await nurse.send(dm, "!ping")
        answer = await nurse.wait_for(lambda s: reply_target(s) == event_id, timeout=120)
        elapsed = (time.perf_counter() - start) * 1000
        if "pong" not in str(answer.content.get("body", "")).lower():
            raise SystemExit(f"a nurse's !ping was not answered with pong (braked?): {answer.content.get('body')!r}")
        return elapsed


async def flood_while_pinging(flooder: Member, room: str, count: int, after: float, nurses: Nurses) -> list[float]:
    done = asyncio.Event()
    samples: list[float] = []

    async def pinger() -> None:
        while not done.is_set():
            samples.append(await nurses.ping())

    async def flood() -> None:
        for _ in range(count):
            await flooder.send(room, "!team")
        await asyncio.sleep(after)
        done.set()

    await asyncio.gather(pinger(), flood())
    return samples


async def main(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.ERROR)
    base = Path(tempfile.mkdtemp(prefix="homeward-flood-"))
    server = LocalSynapse(base / "synapse")
    await server.start()
    members: list[Member] = []
    bot: BotProcess | None = None
    try:
        bot_id = await server.register("homeward", PASSWORD)
        config = base / "homeward.toml"
        config.write_text(
            f'homeserver = "{server.url}"\nuser_id = "{bot_id}"\npassword = "{PASSWORD}"\n'
            f'data_dir = "{base / "bot"}"\nallowed_inviters = ["*:localhost"]\ncase_openers = ["*:localhost"]\n'
            + (
                f'rate_limits = {{ "case new" = "off", "*" = "{args.person_limit}" }}\n'
                if args.person_limit != "shipped"
                else 'rate_limits = { "case new" = "off" }\n'
            )
            + 'language = "en"\n'
            'log_level = "INFO"\n',
            encoding="utf-8",
        )
        bot = BotProcess(config, base / "bot.log")
        await bot.start()

        async def member(name: str) -> Member:
            user = await server.register(name, PASSWORD)
            m = await Member.login(server.url, user, PASSWORD, base / name)
            members.append(m)
            return m

        anna = await member("anna")
        nurse_list = [await member(f"nurse{n}") for n in range(args.nurses)]
        guardians = [await member(f"guardian{n}") for n in range(args.rounds)]

        async def direct(m: Member) -> str:
            room = await m.create_room(invite=[bot_id])
            await m.wait_for_membership(room, bot_id, "join")
            while bot_id not in getattr(m.client.rooms.get(room), "users", {}):
                await asyncio.sleep(0.05)
            return room

        anna_dm = await direct(anna)
        nurses = Nurses([(n, await direct(n)) for n in nurse_list])
        answer = await anna.command(anna_dm, "!case new sthf Flood", timeout=120)
        care = answer.content["homeward.room_id"]
        await anna.join(care)
        await anna.wait_for(lambda s: s.room_id == care and "homeward.checklist" in s.content)
        await anna.command(care, f"!role {anna.user_id} sykehus coordinator")
        plain = await anna.create_room(invite=[g.user_id for g in guardians], direct=False)
        for g in guardians:
            await anna.command(care, f"!invite {g.user_id} foresatt")
            await anna.wait_for_membership(care, g.user_id, "invite")
            await g.join(care)
            await g.join(plain)
        for g in guardians:  # keys shared in both rooms before any flood
            await g.command(care, "!ping", timeout=60)
            await g.send(plain, "hello")
        await outbox_drained(base / "bot" / "homeward.sqlite3")
        for _ in range(len(nurse_list)):  # each nurse's first ping shares her chat's room key
            await nurses.ping()
        quiet = [await nurses.ping() for _ in range(20)]

        assert bot.process
        bot_pid, hs_pid = bot.process.pid, server.pid
        during: dict[str, list[float]] = {"without the bot": [], "care room (bot)": []}
        cpu: dict[str, list[float]] = {name: [0.0, 0.0] for name in during}
        for g in guardians:
            for name, room in (("without the bot", plain), ("care room (bot)", care)):
                await outbox_drained(base / "bot" / "homeward.sqlite3")
                await asyncio.sleep(1.0)
                b0, h0 = cpu_seconds(bot_pid), cpu_seconds(hs_pid or 0)
                during[name] += await flood_while_pinging(g, room, args.commands, args.after, nurses)
                cpu[name][0] += cpu_seconds(bot_pid) - b0
                cpu[name][1] += cpu_seconds(hs_pid or 0) - h0
        await outbox_drained(base / "bot" / "homeward.sqlite3")
        answered = [len([s for s in g.seen if s.room_id == care and s.sender == bot_id]) for g in guardians]
    finally:
        for m in members:
            await m.close()
        if bot:
            await bot.stop()
        await server.stop()

    header(
        "One person's flood against everyone else's !ping (bench/flood.py)",
        f"{args.rounds} round(s) of {args.commands} `!team` back to back; {args.nurses} nurses pinging in turn; "
        f"person limit {args.person_limit}; "
        f"load average at the end {os.getloadavg()[0]:.1f}",
    )
    q50 = percentile(quiet, 50)
    rows = [("quiet", str(len(quiet)), f"{q50:.0f}", f"{percentile(quiet, 95):.0f}", "1.00", "—", "—", "—")]
    base50 = percentile(during["without the bot"], 50)
    for name, samples in during.items():
        p50 = percentile(samples, 50)
        rows.append(
            (
                f"flood into the room {name}",
                str(len(samples)),
                f"{p50:.0f}",
                f"{percentile(samples, 95):.0f}",
                f"{p50 / q50:.2f}",
                f"{p50 / base50:.2f}",
                f"{cpu[name][0]:.1f}",
                f"{cpu[name][1]:.1f}",
            )
        )
    table(
        rows,
        (
            "the nurses' !ping",
            "samples",
            "p50 ms",
            "p95 ms",
            "p50 / quiet",
            "p50 / flood without bot",
            "bot CPU s",
            "Synapse CPU s",
        ),
    )
    print(f"\nanswers each guardian got in the care room (their !ping first, then the flood): {answered}")
    ratio = percentile(during["care room (bot)"], 50) / base50
    print(f"target: p50 during the flood ≤ 1.5× the same flood without the bot: {ratio:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--commands", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--after", type=float, default=2.0, help="seconds of pinging after the flood's last send")
    parser.add_argument("--nurses", type=int, default=12, help="people pinging the bot in turn, each in her own chat")
    parser.add_argument(
        "--person-limit",
        default="shipped",
        help='rate_limits."*" for the bot ("shipped": the setting left out, the default applies; "off": no brake)',
    )
    asyncio.run(main(parser.parse_args()))
