"""`!audit`: the case's audit trail as an encrypted CSV attachment in the care room."""

from __future__ import annotations

import csv
import io
import json

import aiohttp
import pytest
from nio import MemoryDownloadResponse
from nio.crypto.attachments import decrypt_attachment

from tests.harness import Member, Seen
from tests.integration.care import bring_in, ok, open_case, refused

BOM = b"\xef\xbb\xbf"


async def audit_file(member: Member, room: str, earlier: set[str]) -> Seen:
    """The next m.file event in the room, one not in `earlier`."""
    return await member.wait_for(
        lambda s: s.room_id == room and s.content.get("msgtype") == "m.file" and s.event_id not in earlier
    )


async def read_file(member: Member, event: Seen) -> bytes:
    """Download an attachment and decrypt it with the keys from the (end-to-end encrypted) event."""
    file = event.content["file"]
    response = await member.client.download(file["url"])
    assert isinstance(response, MemoryDownloadResponse), response
    plain = decrypt_attachment(response.body, file["key"]["k"], file["hashes"]["sha256"], file["iv"])
    assert plain != response.body  # the media repository holds only ciphertext
    return plain


async def read_csv(member: Member, event: Seen) -> tuple[bytes, list[dict[str, str]]]:
    """The file's bytes and its audit rows (without the closing rows that carry the chain heads)."""
    plain = await read_file(member, event)
    return plain, [r for r in csv_rows(plain) if not r["action"].startswith("chain.")]


def csv_rows(plain: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(plain.decode("utf-8-sig"))))


def cell(user_id: str) -> str:
    """A Matrix id as the CSV holds it: a leading @ is a formula to a spreadsheet, so it gets a quote before it."""
    return "'" + user_id


async def media_info(synapse, new_user, mxc: str) -> dict:
    """What the homeserver's media repository keeps about an upload (Synapse's admin API)."""
    admin, password = await new_user(prefix="admin", admin=True)
    token = await synapse.login_token(admin, password)
    server, media_id = mxc.removeprefix("mxc://").split("/", 1)
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{synapse.url}/_synapse/admin/v1/media/{server}/{media_id}", headers={"Authorization": f"Bearer {token}"}
        ) as response,
    ):
        assert response.status == 200, await response.text()
        return (await response.json())["media_info"]


@pytest.mark.engines("sqlite", "postgresql")  # the store on both engines (tests/integration/conftest.py)
async def test_a_coordinator_gets_the_audit_trail_as_an_encrypted_csv_file(make_bot, make_member, synapse, new_user):
    bot = await make_bot()
    anna, karin = await make_member("anna"), await make_member("karin")
    room, _ = await open_case(anna, bot, "orebro", "Sjostjerne")
    await bring_in(anna, room, karin, "kommun")
    ok(await anna.command(room, "!plan discharge 2027-01-15"))
    ok(await anna.command(room, "!send inskrivningsmeddelande"))
    ok(await karin.command(room, "!ack inskrivningsmeddelande Mottaget, tack"))

    answer = await anna.command(room, "!audit")

    ok(answer)
    filename = answer.content["homeward.filename"]
    assert filename.startswith("audit-Sjostjerne-") and filename.endswith(".csv")
    event = await audit_file(karin, room, set())
    assert event.encrypted and event.sender == bot.user_id
    assert event.type == "m.room.message"
    assert "url" not in event.content  # in an encrypted room the mxc URI is only inside `file`
    assert event.content["body"] == event.content["filename"] == filename
    assert event.content["info"]["mimetype"] == "text/csv"
    assert event.content["file"]["url"].startswith("mxc://")
    plain, rows = await read_csv(karin, event)
    assert plain.startswith(BOM)
    assert event.content["info"]["size"] == len(plain)
    stored = await media_info(synapse, new_user, event.content["file"]["url"])
    assert stored.get("upload_name") is None  # the name is only in the encrypted event
    assert stored["media_type"] == "application/octet-stream"  # and so is the type
    assert len(rows) == answer.content["homeward.rows"] == event.content["homeward.audit"]["rows"]
    assert list(rows[0]) == [
        "id",
        "at_utc",
        "at_local",
        "actor",
        "actor_lane",
        "action",
        "room_id",
        "event_id",
        "details",
        "hash",
    ]
    wanted = ["case.opened", "member.added", "date.planned", "notice.sent", "item.acknowledged"]
    assert [(r["action"], r["actor"]) for r in rows if r["action"] in wanted] == [
        ("case.opened", cell(anna.user_id)),
        ("member.added", cell(anna.user_id)),
        ("date.planned", cell(anna.user_id)),
        ("notice.sent", cell(anna.user_id)),
        ("item.acknowledged", cell(karin.user_id)),
    ]
    # The file closes with the heads of the case's chains: the audit head is the last row's hash.
    heads = {
        r["action"]: (r["hash"], json.loads(r["details"])) for r in csv_rows(plain) if r["action"].startswith("chain.")
    }
    assert heads["chain.audit.head"] == (rows[-1]["hash"], {"rows": len(rows), "intact": True})
    assert heads["chain.consent_answers.head"][1]["intact"] is True
    assert event.content["homeward.audit"]["chain_heads"]["audit"] == rows[-1]["hash"]
    acked = next(r for r in rows if r["action"] == "item.acknowledged")
    assert acked["actor_lane"] == "kommun" and acked["room_id"] == room
    assert '"note": "Mottaget, tack"' in acked["details"]
    assert [int(r["id"]) for r in rows] == sorted(int(r["id"]) for r in rows)
    assert acked["at_utc"].endswith("Z") and acked["at_local"][-6:] in ("+01:00", "+02:00")
    assert "audit.exported" not in [r["action"] for r in rows]  # the file lists what was there when asked

    # A period with nothing in it is an empty file (header only), and is audited too.
    empty = await anna.command(room, "!audit 2000-01-01 2000-01-02")
    ok(empty)
    assert empty.content["homeward.rows"] == 0
    empty_event = await audit_file(karin, room, {event.event_id})
    assert (await read_csv(karin, empty_event))[1] == []

    again = await anna.command(room, "!audit")
    ok(again)
    later = await audit_file(karin, room, {event.event_id, empty_event.event_id})
    _, rows = await read_csv(karin, later)
    exports = [r for r in rows if r["action"] == "audit.exported"]
    assert [(r["actor"], json.loads(r["details"])) for r in exports] == [
        (cell(anna.user_id), {"from": None, "to": None, "rows": answer.content["homeward.rows"]}),
        (cell(anna.user_id), {"from": "2000-01-01", "to": "2000-01-02", "rows": 0}),
    ]


async def test_audit_is_refused_to_non_coordinators_and_for_bad_dates(make_bot, make_member):
    bot = await make_bot()
    anna, karin = await make_member("anna"), await make_member("karin")
    room, _ = await open_case(anna, bot, "orebro", "Sjostjerne")
    await bring_in(anna, room, karin, "kommun")

    refused(await karin.command(room, "!audit"), "samordnare", "`!audit`")  # the room speaks Swedish
    refused(
        await anna.command(room, "!audit 2026-13-01"), "2026-13-01", "!audit [ÅÅÅÅ-MM-DD] [ÅÅÅÅ-MM-DD]"
    )  # the usage in the room's language
    refused(
        await anna.command(room, "!audit 1.12.2026"), "1.12.2026", "!audit [ÅÅÅÅ-MM-DD] [ÅÅÅÅ-MM-DD]"
    )  # the usage in the room's language
    refused(
        await anna.command(room, "!audit 2026-12-31 2026-12-01"),
        "2026-12-31",
        "2026-12-01",
        "!audit [ÅÅÅÅ-MM-DD] [ÅÅÅÅ-MM-DD]",
    )  # the usage in the room's language
    refused(await anna.command(room, "!audit 2026-12-01 2026-12-31 more"), "more")

    # Nothing was uploaded, and nothing was recorded as exported.
    ok(await anna.command(room, "!audit"))
    event = await audit_file(anna, room, set())
    _, rows = await read_csv(anna, event)
    assert "audit.exported" not in [r["action"] for r in rows]
    assert [s for s in anna.seen if s.room_id == room and s.content.get("msgtype") == "m.file"] == [event]
