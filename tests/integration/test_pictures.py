"""`!timeline` and `!stats` through the real Synapse: encrypted images that decode as the PNGs they announce."""

from __future__ import annotations

import io

from nio import MemoryDownloadResponse
from nio.crypto import decrypt_attachment
from PIL import Image

from tests.harness import Member, Seen
from tests.integration.care import ok, open_case
from tests.integration.conftest import direct_room


async def _decrypted(member: Member, file: dict) -> bytes:
    """Download an encrypted attachment (the media repository holds ciphertext only) and decrypt it."""
    response = await member.client.download(file["url"])
    assert isinstance(response, MemoryDownloadResponse), response
    plain = decrypt_attachment(response.body, file["key"]["k"], file["hashes"]["sha256"], file["iv"])
    assert plain != response.body
    return plain


async def _picture(member: Member, room: str, sha256: str) -> tuple[Seen, Image.Image, Image.Image]:
    """The m.image with this hash: the picture and its thumbnail, decrypted.

    Both are checked against what the event announces.
    """
    event = await member.wait_for(
        lambda s: s.room_id == room and s.content.get("homeward.picture", {}).get("sha256") == sha256
    )
    content = event.content
    assert event.encrypted and content["msgtype"] == "m.image" and "url" not in content
    info = content["info"]
    data = await _decrypted(member, content["file"])
    small = await _decrypted(member, info["thumbnail_file"])
    assert len(data) == info["size"] and len(small) == info["thumbnail_info"]["size"]
    image, thumbnail = Image.open(io.BytesIO(data)), Image.open(io.BytesIO(small))
    assert image.format == thumbnail.format == "PNG" and info["mimetype"] == "image/png"
    assert image.size == (info["w"], info["h"])
    assert thumbnail.size == (info["thumbnail_info"]["w"], info["thumbnail_info"]["h"])
    return event, image, thumbnail


async def test_timeline_and_stats_are_encrypted_images_that_decode_as_announced(make_bot, make_member):
    bot = await make_bot()
    anna = await make_member("anna")
    room, _ = await open_case(anna, bot, "orebro", "Sjostjerne")
    ok(await anna.command(room, "!plan admission 2026-11-30 10:00"))
    ok(await anna.command(room, "!plan discharge 2026-12-14"))
    ok(await anna.command(room, "!send utskrivningsklarmeddelande"))

    answer = await anna.command(room, "!timeline")
    ok(answer)
    shown = answer.content["homeward.timeline"]
    assert shown["clocks"][0]["id"] == "betalningsansvar" and {d["id"] for d in shown["dates"]} == {
        "admission",
        "discharge",
    }
    _, image, _ = await _picture(anna, room, shown["image"]["sha256"])
    assert image.size == (shown["image"]["w"], shown["image"]["h"])

    dm = await direct_room(anna, bot)
    stats = await anna.command(dm, "!stats")
    ok(stats)
    assert stats.content["homeward.stats"]["cases"] == "< 5"  # one case: no figure is shown as a number
    await _picture(anna, dm, stats.content["homeward.stats"]["image"]["sha256"])
    table = await anna.wait_for(lambda s: s.room_id == dm and "homeward.stats_csv" in s.content)
    assert table.encrypted and table.content["msgtype"] == "m.file"
    text = (await _decrypted(anna, table.content["file"])).decode("utf-8-sig")
    assert text.splitlines()[0].startswith('"figure","id","name"') and "Sjostjerne" not in text
