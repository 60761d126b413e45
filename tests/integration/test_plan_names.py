"""The printed plan names people and organisations, not Matrix ids: exports downloaded from the room.

Every member has a display name, as every client shows it. The plan (Markdown, HTML, FHIR) and
`!plan show` name each person by that name with their lane as organisation, and their id in small
print for the record; a consent covered by another reads as covered, with the rule; the plan
period and the follow-up date are two rows; the signature block says who signs; the version says
what changed.
"""

from __future__ import annotations

import json
from pathlib import Path

from homeward.dev.synapse import LocalSynapse
from tests.conftest import TEST_PASSWORD
from tests.harness import Member
from tests.integration.care import bring_in, ok, open_case
from tests.integration.test_exports_room import _export


async def _named(synapse: LocalSynapse, tmp_path: Path, prefix: str, name: str) -> Member:
    import uuid

    user_id = await synapse.register(f"{prefix}-{uuid.uuid4().hex[:6]}", TEST_PASSWORD, displayname=name)
    return await Member.login(synapse.url, user_id, TEST_PASSWORD, tmp_path / f"client-{prefix}")


async def test_the_plan_names_people_by_name_with_their_lane_and_id_in_small_print(
    make_bot, synapse: LocalSynapse, tmp_path: Path
):
    bot = await make_bot()
    anna = await _named(synapse, tmp_path, "anna", "Anna Koordinator")
    sara = await _named(synapse, tmp_path, "sara", "Sara Sjuksköterska")
    maria = await _named(synapse, tmp_path, "maria", "Maria Vårdnadshavare")
    try:
        room, _ = await open_case(anna, bot, "orebro", "Sjostjarna")
        ok(await anna.command(room, f"!role {anna.user_id} oppenvard coordinator"))
        await bring_in(anna, room, sara, "slutenvard")
        await bring_in(anna, room, maria, "vardnadshavare")
        ok(await maria.command(room, "!consent yes informationsoverforing"))  # it covers the SIP consent
        ok(await anna.command(room, "!plan goal Trygg hemgång med utrustning på plats"))
        ok(await anna.command(room, f"!plan action 1 {sara.user_id} Utbildning i sondmatning 2026-12-01 2026-12-10"))
        changed = await anna.command(room, "!plan followup 2027-02-01")
        ok(changed)
        assert "version 3 (Uppföljningsdatum: 2027-02-01)" in changed.content["body"]  # what changed, not "—"

        _, md = await _export(sara, room, "!export plan md")
        text = md.decode("utf-8")
        assert f"Anna Koordinator, Öppenvård ({anna.user_id})" in text  # who changed it, and the coordinator
        assert f"Sara Sjuksköterska, Slutenvård ({sara.user_id})" in text  # the action's owner
        assert f"Maria Vårdnadshavare, Vårdnadshavare ({maria.user_id})" in text  # who gave the consent
        sip = next(line for line in text.splitlines() if line.startswith("- **Samtycke till SIP:**"))
        assert "Givet" in sip and "Täcks av" in sip and "Inga svar än" not in sip
        assert "- **Planperiod:** 2026-12-01 – 2026-12-10" in text
        assert "- **Uppföljningsdatum:** 2027-02-01" in text
        assert "- **Version:** 3 — Uppföljningsdatum: 2027-02-01" in text
        signatures = text.split("## Underskrifter", 1)[1]
        assert "**Maria Vårdnadshavare, Vårdnadshavare" in signatures and "**Anna Koordinator" in signatures
        assert "**—**" not in signatures

        _, html = await _export(sara, room, "!export plan html")
        page = html.decode("utf-8")
        assert '<span class="person">Anna Koordinator</span>, <span class="org">Öppenvård</span>' in page
        assert f'<span class="uid">{anna.user_id}</span>' in page  # the id in small print, for the record

        _, fhir = await _export(sara, room, "!export plan fhir")
        bundle = json.loads(fhir)
        resources = [entry["resource"] for entry in bundle["entry"]]
        plan = next(r for r in resources if r["resourceType"] == "CarePlan")
        assert plan["contributor"][0]["display"] == "Anna Koordinator (Öppenvård)"
        assert plan["contributor"][0]["identifier"]["value"] == "matrix:u/" + anna.user_id[1:]
        performer = plan["activity"][0]["detail"]["performer"][0]
        assert performer["display"] == "Sara Sjuksköterska (Slutenvård)"
        consent = next(r for r in resources if r["resourceType"] == "Consent" and r.get("performer"))
        assert consent["performer"][0]["display"] == "Maria Vårdnadshavare (Vårdnadshavare)"
        team = next(r for r in resources if r["resourceType"] == "CareTeam")
        assert {p["member"]["display"] for p in team["participant"]} >= {"Sara Sjuksköterska (Slutenvård)"}

        shown = await maria.command(room, "!plan show")
        assert f'<a href="https://matrix.to/#/{sara.user_id}">' in shown.content["formatted_body"]  # a pill
        assert "(Slutenvård)" in shown.content["body"]
    finally:
        for person in (anna, sara, maria):
            await person.close()
