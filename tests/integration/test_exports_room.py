"""Exports downloaded from the room and checked: PDF text, FHIR validity, iCalendar time zone."""

from __future__ import annotations

import hashlib
import io
import json

import icalendar
from fhir.resources.R4B.bundle import Bundle
from pypdf import PdfReader

from tests.integration.care import bring_in, ok, open_case, refused
from tests.integration.test_audit import read_file


async def _export(member, room: str, command: str):
    answer = await member.command(room, command)
    ok(answer)
    info = answer.content["homeward.export"]
    event = await member.wait_for(
        lambda s: s.room_id == room and s.content.get("homeward.export", {}).get("sha256") == info["sha256"]
    )
    data = await read_file(member, event)
    assert hashlib.sha256(data).hexdigest() == info["sha256"]
    return info, data


async def test_plan_and_minutes_exports_need_consent_and_read_back(make_bot, make_member):
    bot = await make_bot(export_pdf_limit=2)
    ingrid, kari, mor = [await make_member(n) for n in ("ingrid", "kari", "mor")]
    room, _ = await open_case(ingrid, bot, "sthf", "Maane")
    ok(await ingrid.command(room, f"!role {ingrid.user_id} sykehus coordinator"))
    await bring_in(ingrid, room, kari, "kommunen")
    await bring_in(ingrid, room, mor, "foresatt")
    ok(await mor.command(room, "!consent yes individuell-plan"))
    ok(await ingrid.command(room, "!plan goal Trygg hjemkomst med utstyr på plass"))
    ok(await ingrid.command(room, "!plan action 1 kommunen Skaffe medisinteknisk utstyr 2026-12-01 2026-12-20"))
    ok(await ingrid.command(room, "!plan goal Foreldrene er trygge på behandlingen"))
    ok(await ingrid.command(room, "!plan action 2 sykehus Opplæring og følgevakter"))
    ok(await ingrid.command(room, "!plan followup 2027-02-01"))
    ok(await ingrid.command(room, "!meeting new meeting1 2026-12-03 10:00"))
    ok(await ingrid.command(room, "!minutes meeting1 decision Kommunen skaffer utstyr"))
    ok(await ingrid.command(room, "!minutes meeting1 close"))

    refused(await kari.command(room, "!export plan pdf"), "dokumentasjon")  # exports need the documentation consent
    ok(await mor.command(room, "!consent yes dokumentasjon"))

    info, pdf = await _export(kari, room, "!export plan pdf")
    assert pdf.startswith(b"%PDF") and info["format"] == "pdf" and info["version"] == 5
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    for words in ("Trygg hjemkomst med utstyr på plass", "Foreldrene er trygge på behandlingen", "Maane"):
        assert words in text, words
    assert "01.02.2027" in text or "2027-02-01" in text

    _, fhir = await _export(kari, room, "!export plan fhir")
    bundle = Bundle.model_validate(json.loads(fhir))
    kinds = []
    for entry in bundle.entry or []:
        assert entry.resource is not None
        kinds.append(entry.resource.__resource_type__)
    assert kinds.count("CarePlan") == 1 and kinds.count("Goal") >= 2 and "CareTeam" in kinds and "Consent" in kinds

    _, ics = await _export(kari, room, "!export case ics")
    start = next(
        c.decoded("DTSTART")
        for c in icalendar.Calendar.from_ical(ics).walk("VEVENT")
        if c.decoded("DTSTART").__class__.__name__ == "datetime"
    )
    assert str(start.tzinfo) == "Europe/Oslo" and start.hour == 10

    _, minutes_pdf = await _export(kari, room, "!export minutes meeting1 pdf")
    assert "Kommunen skaffer utstyr" in "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(minutes_pdf)).pages)
    # A third PDF within the window is refused with when to try again; other formats go on.
    limited = await kari.command(room, "!export case pdf")
    refused(limited, "PDF-eksport (2 per 10 min)", "`html`")
    assert limited.content["homeward.reason"] == "export.too_many_pdf"
    _, md = await _export(kari, room, "!export plan md")
    assert "Trygg hjemkomst" in md.decode("utf-8")

    refused(await kari.command(room, "!export plan docx"), "pdf")
    ok(await mor.command(room, "!consent revoke dokumentasjon"))
    refused(await kari.command(room, "!export plan pdf"), "dokumentasjon")
