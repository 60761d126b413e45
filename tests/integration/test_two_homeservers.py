"""A care team across organisations: the hospital's and the municipality's homeservers, federated.

Two Synapses on loopback federate with each other (dev/synapse.py, `federation_port`:
TLS with a throw-away certificate that is not verified, loopback allowed for outbound
federation, no notary key server, fast retries — each setting explained there). They are
named `hospital.homeward.test:<port>` and `kommun.homeward.test:<port>`: a server name with
a port needs no .well-known or SRV lookup, and the two must differ in their *host*, since
room server ACLs compare hosts without ports (`allowed_servers` does the same). `.test` is
the top-level domain reserved for testing; `HOSTS_LINE` maps both to 127.0.0.1 in
/etc/hosts (the tests run as root here and in CI), added once and left in place. The bot
lives on the hospital's server; the municipal case officer and a guardian live on the
municipality's. One Örebro case is set up once for the module (federated joins are slow);
the tests then run in file order on it, each about one behaviour, the outage last.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from homeward.clock import ShiftedClock
from homeward.config import Config
from homeward.dev.synapse import LocalSynapse, free_port
from tests.conftest import synapse_folder
from tests.harness import BotRunner, Member, Seen, reply_target, replying_to
from tests.integration.care import ok
from tests.integration.ledger import Ledger

STOCKHOLM = ZoneInfo("Europe/Stockholm")
PASSWORD = "federation-password"
# Three times Synapse's longest wait before it retries a peer in these tests (destination_max_retry_interval,
# homeward.dev.synapse): the hospital's server retries the municipality's several times while it is away.
OUTAGE_S = 15
FEDERATED_TIMEOUT = 60.0  # a first join over federation fetches keys and state: give it time


@dataclass
class Region:
    """The hospital's homeserver (the bot's) and a municipality's, federating."""

    hospital: LocalSynapse
    kommun: LocalSynapse
    base: Path

    async def member(self, server: LocalSynapse, name: str) -> Member:
        user_id = await server.register(f"{name}-{uuid.uuid4().hex[:6]}", PASSWORD)
        return await Member.login(server.url, user_id, PASSWORD, self.base / f"client-{user_id[1:].split(':')[0]}")


@dataclass
class Case:
    region: Region
    bot: BotRunner
    clock: ShiftedClock
    room: str
    anna: Member  # coordinator, slutenvård, on the hospital's server
    karin: Member  # municipal case officer, kommun lane, on the municipality's server
    greta: Member  # guardian, on the municipality's server


HOSPITAL, KOMMUN = "hospital.homeward.test", "kommun.homeward.test"
HOSTS_LINE = f"127.0.0.1 {HOSPITAL} {KOMMUN}  # Homeward's federation tests (tests/integration/test_two_homeservers.py)"


def _names_resolve_to_loopback() -> None:
    """Both test server names resolve to 127.0.0.1, through /etc/hosts."""
    hosts = Path("/etc/hosts")
    if HOSTS_LINE not in hosts.read_text(encoding="utf-8"):
        if not os.access(hosts, os.W_OK):
            pytest.fail(f"the federation tests need this line in /etc/hosts (run as root, or add it): {HOSTS_LINE}")
        with hosts.open("a", encoding="utf-8") as file:
            file.write("\n" + HOSTS_LINE + "\n")
    for name in (HOSPITAL, KOMMUN):
        assert socket.gethostbyname(name) == "127.0.0.1", name


def _server(base: Path, host: str) -> LocalSynapse:
    port = free_port()
    return LocalSynapse(base / host.split(".")[0], server_name=f"{host}:{port}", federation_port=port)


@pytest.fixture(scope="module")
async def region(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Region]:
    _names_resolve_to_loopback()
    base = tmp_path_factory.mktemp("region")
    async with synapse_folder(base) as servers:  # the servers' files in memory, their logs in base afterwards
        hospital, kommun = _server(servers, HOSPITAL), _server(servers, KOMMUN)
        try:
            await asyncio.gather(hospital.start(), kommun.start())
            yield Region(hospital, kommun, base)
        finally:
            await asyncio.gather(hospital.stop(), kommun.stop())


@pytest.fixture(scope="module")
async def case(region: Region) -> AsyncIterator[Case]:
    """An Örebro case opened on the hospital's server with two members from the municipality's."""
    clock = ShiftedClock.starting_at(datetime(2026, 12, 1, 9, 0, tzinfo=STOCKHOLM))  # a Tuesday
    bot_id = await region.hospital.register(f"homeward-{uuid.uuid4().hex[:6]}", PASSWORD)
    config = Config.model_validate(
        {
            "homeserver": region.hospital.url,
            "user_id": bot_id,
            "password": PASSWORD,
            "data_dir": region.base / "bot",
            "language": "sv",
            "timezone": "Europe/Stockholm",
            "allowed_inviters": [f"*:{region.hospital.server_name}"],
            "allowed_servers": [HOSPITAL, KOMMUN],
            "case_openers": [f"*:{region.hospital.server_name}"],
        }
    )
    bot = BotRunner(config, clock)
    await bot.start()
    anna = await region.member(region.hospital, "anna")
    karin = await region.member(region.kommun, "karin")
    greta = await region.member(region.kommun, "greta")
    try:
        dm = await anna.create_room(invite=[bot.user_id])
        await anna.wait_for_membership(dm, bot.user_id, "join")
        await anna.know_devices(dm)
        opened = await anna.command(dm, "!case new orebro Sjostjerne")
        ok(opened)
        room = opened.content["homeward.room_id"]
        await anna.join(room)
        await anna.wait_for(lambda s: s.room_id == room and "homeward.checklist" in s.content)
        ok(await anna.command(room, f"!role {anna.user_id} slutenvard coordinator"))
        for person, lane in ((karin, "kommun"), (greta, "vardnadshavare")):
            ok(await anna.command(room, f"!invite {person.user_id} {lane}"))
            await _join_over_federation(person, room)
        ok(await anna.command(room, "!plan admission 2026-12-01 08:00"))
        yield Case(region, bot, clock, room, anna, karin, greta)
    finally:
        await bot.stop()
        for person in (anna, karin, greta):
            await person.close()


async def _join_over_federation(member: Member, room: str) -> None:
    """Accept the invite once it has crossed to the member's server, then join through the hospital's."""
    deadline = time.monotonic() + FEDERATED_TIMEOUT
    while room not in member.client.invited_rooms and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert room in member.client.invited_rooms, f"the invite of {member.user_id} never crossed over"
    await member.join(room)


def _in_room(case: Case, predicate: Callable[[Seen], bool]) -> Callable[[Seen], bool]:
    return lambda s: s.room_id == case.room and predicate(s)


async def test_members_on_the_municipalitys_server_read_the_checklist(case: Case) -> None:
    for person in (case.karin, case.greta):
        checklist = await person.wait_for(
            _in_room(case, lambda s: "homeward.checklist" in s.content), timeout=FEDERATED_TIMEOUT
        )
        assert checklist.encrypted and checklist.sender == case.bot.user_id
        assert "inskrivningsmeddelande" in checklist.content["body"]


async def test_a_municipal_acknowledgement_is_recorded_for_its_lane_and_the_edit_reaches_its_members(
    case: Case,
) -> None:
    ok(await case.anna.command(case.room, "!send inskrivningsmeddelande"))
    await case.karin.wait_for(
        _in_room(case, lambda s: s.content.get("homeward.notice") == "inskrivningsmeddelande"),
        timeout=FEDERATED_TIMEOUT,
    )
    answer = await case.karin.command(case.room, "!ack inskrivningsmeddelande", timeout=FEDERATED_TIMEOUT)
    ok(answer)
    assert answer.encrypted and answer.content["homeward.lane"] == "kommun"
    edit = await case.karin.wait_for(
        _in_room(
            case,
            lambda s: (
                (s.content.get("m.relates_to") or {}).get("rel_type") == "m.replace"
                and case.karin.user_id in s.content.get("m.new_content", {}).get("formatted_body", "")
            ),
        ),
        timeout=FEDERATED_TIMEOUT,
    )
    assert edit.encrypted


async def test_a_guardians_consent_from_the_municipalitys_server_is_recorded(case: Case) -> None:
    answer = await case.greta.command(case.room, "!consent yes informationsoverforing", timeout=FEDERATED_TIMEOUT)
    ok(answer)
    consents = await case.anna.command(case.room, "!consents")
    state = {c["id"]: c["state"] for c in consents.content["homeward.consents"]}
    assert state["informationsoverforing"] == "given"
    who = [
        a["user"]
        for c in consents.content["homeward.consents"]
        if c["id"] == "informationsoverforing"
        for a in c["answers"]
    ]
    assert who == [case.greta.user_id]


async def test_a_reminder_reaches_a_member_on_the_municipalitys_server(case: Case) -> None:
    ok(await case.karin.command(case.room, "!remind kontaktperson-kommun 2026-12-01 10:00", timeout=FEDERATED_TIMEOUT))
    case.clock.jump_to(datetime(2026, 12, 1, 9, 59, 57, tzinfo=STOCKHOLM))
    case.bot.running.clock_jumped()
    reminder = await case.karin.wait_for(
        _in_room(case, lambda s: (s.content.get("homeward.reminder") or {}).get("item") == "kontaktperson-kommun"),
        timeout=FEDERATED_TIMEOUT,
    )
    assert reminder.encrypted and case.karin.user_id in reminder.content["m.mentions"]["user_ids"]


async def test_a_user_of_a_server_the_region_does_not_trust_cannot_be_invited_and_the_acl_keeps_it_out(
    case: Case,
) -> None:
    stranger = "@someone:elsewhere.homeward.test"  # a server outside allowed_servers (it need not exist)
    answer = await case.anna.command(case.room, f"!invite {stranger} kommun")
    assert answer.content["homeward.status"] == "error"
    acl = await case.anna.client.room_get_state_event(case.room, "m.room.server_acl")
    allowed = set(acl.content["allow"])
    assert allowed == {HOSPITAL, KOMMUN, case.region.hospital.server_name}  # see matrix/rooms.py server_acl
    assert acl.content["allow_ip_literals"] is False


async def test_the_federated_round_trip_against_the_same_command_on_one_server(case: Case) -> None:
    """Timing, printed with -s: a municipality member's `!status` against the coordinator's."""
    figures: dict[str, list[float]] = {"hospital member (one server)": [], "municipality member (federated)": []}
    for _ in range(8):
        for label, person in (
            ("hospital member (one server)", case.anna),
            ("municipality member (federated)", case.karin),
        ):
            start = time.perf_counter()
            event_id = await person.send(case.room, "!status")
            await person.wait_for(replying_to(event_id), timeout=FEDERATED_TIMEOUT)
            figures[label].append((time.perf_counter() - start) * 1000)
            await asyncio.sleep(0.2)
    medians = {label: statistics.median(values) for label, values in figures.items()}
    print(
        "!status round trip, p50 of 8:",
        {k: f"{v:.0f} ms" for k, v in medians.items()},
        f"ratio {medians['municipality member (federated)'] / medians['hospital member (one server)']:.2f}",
    )
    assert all(values for values in figures.values())


async def test_a_new_login_on_the_municipalitys_server_reads_the_bots_next_messages(case: Case) -> None:
    again = await Member.login(
        case.region.kommun.url, case.karin.user_id, PASSWORD, case.region.base / f"karin-new-{uuid.uuid4().hex[:4]}"
    )
    try:
        await asyncio.sleep(1)  # the new device's keys reach the hospital's server through a device-list update
        answer = await case.anna.command(case.room, "!team")
        seen = await again.wait_for(lambda s: s.event_id == answer.event_id, timeout=FEDERATED_TIMEOUT)
        assert seen.encrypted and seen.type == "m.room.message" and seen.content.get("homeward.command") == "team"
    finally:
        await again.close()


async def test_the_municipalitys_server_down_for_fifteen_seconds_loses_and_doubles_nothing(case: Case) -> None:
    """The hospital side keeps working while the municipality's server is away; afterwards everything the bot
    sent reaches the municipality's members exactly once (Synapse retries federation; the bot resends nothing)."""
    ok(await case.karin.command(case.room, "!remind kontaktperson-kommun 2026-12-01 11:00", timeout=FEDERATED_TIMEOUT))
    ledger = Ledger(case.room)
    await case.region.kommun.stop()
    try:
        for text in ("!plan goal Trygg hemgång", "!status", "!ping", "!plan goal Hjälpmedel på plats", "!consents"):
            await ledger.send(case.anna, text)
            await asyncio.sleep(0.5)
        case.clock.jump_to(datetime(2026, 12, 1, 10, 59, 58, tzinfo=STOCKHOLM))  # the reminder comes due meanwhile
        case.bot.running.clock_jumped()
        await ledger.wait_until_answered(timeout=FEDERATED_TIMEOUT)
        await case.anna.wait_for(
            _in_room(
                case,
                lambda s: (
                    (s.content.get("homeward.reminder") or {}).get("planned_at", "").startswith("2026-12-01T10:00")
                ),
            ),
            timeout=FEDERATED_TIMEOUT,
        )
        await asyncio.sleep(OUTAGE_S - 5)
    finally:
        await case.region.kommun.start()
    await ledger.send(case.anna, "!ping")  # new traffic wakes the hospital's federation sender for the peer
    await ledger.wait_until_answered(timeout=FEDERATED_TIMEOUT)
    for sent in ledger.sent:
        await case.karin.wait_for(replying_to(sent.event_id), timeout=FEDERATED_TIMEOUT * 2)
    await case.karin.wait_for(
        _in_room(
            case,
            lambda s: (s.content.get("homeward.reminder") or {}).get("planned_at", "").startswith("2026-12-01T10:00"),
        ),
        timeout=FEDERATED_TIMEOUT,
    )
    await asyncio.sleep(3)  # a doubled answer or reminder would have arrived by now
    sent_ids = {x.event_id for x in ledger.sent}
    assert len([s for s in case.karin.seen if s.room_id == case.room and reply_target(s) in sent_ids]) == len(
        ledger.sent
    )
    await case.bot.stop()
    counts = ledger.verify(case.bot.config.store_path, watcher=case.karin)
    print(f"municipality down {OUTAGE_S} s: {counts}")
