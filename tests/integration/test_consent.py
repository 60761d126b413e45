"""Guardian consent as the care team sees it: asked, given by both guardians, gating, withdrawn."""

from __future__ import annotations

import json

from homeward.text import matrix_to
from tests.integration.care import bring_in, open_case
from tests.integration.test_audit import audit_file, read_csv


def status_of(answer) -> str:
    return answer.content["homeward.status"]


# SQLite only: consents on a PostgreSQL store are tests/test_store_postgresql.py's and, through the desk's
# commands, tests/test_desk_commands.py's (each engine); HOMEWARD_TEST_ENGINES=sqlite,postgresql runs this on both.
async def test_consent_is_asked_given_by_both_guardians_gates_notices_and_stops_on_withdrawal(make_bot, make_member):
    bot = await make_bot()
    ingrid, kari, mor, far = [await make_member(n) for n in ("ingrid", "kari", "mor", "far")]
    room, _ = await open_case(ingrid, bot, "sthf", "Maane")
    await ingrid.command(room, f"!role {ingrid.user_id} sykehus coordinator")
    await bring_in(ingrid, room, kari, "kommunen")
    await bring_in(ingrid, room, mor, "foresatt")
    await bring_in(ingrid, room, far, "foresatt")

    # Asked in the room, mentioning the guardians, in plain words (Norwegian room).
    request = await far.wait_for(
        lambda s: (
            s.room_id == room
            and s.content.get("homeward.consent_request") == "dokumentasjon"
            and far.user_id in s.content.get("m.mentions", {}).get("user_ids", [])
        )
    )
    # The details before it (naming nobody) carry the command; Element shows the guardians as pills in the
    # request, and the command as code exactly as it is typed.
    details = next(s for s in far.seen if s.room_id == room and s.content.get("homeward.consent_details"))
    assert "!consent yes dokumentasjon" in details.content["body"]
    shown = request.content["formatted_body"]
    assert f'<a href="{matrix_to(mor.user_id)}">' in shown and f'<a href="{matrix_to(far.user_id)}">' in shown
    assert "<code>!consent yes dokumentasjon</code>" in details.content["formatted_body"] and "\\" not in shown

    # Without consent the PLO message may not go out.
    refused = await ingrid.command(room, "!send plo")
    assert status_of(refused) == "error" and "dokumentasjon" in refused.content["body"]
    assert "<code>!consent yes dokumentasjon</code>" in refused.content["formatted_body"]

    # One guardian is not enough: both decide together.
    assert status_of(await mor.command(room, "!consent yes dokumentasjon")) == "ok"
    assert status_of(await ingrid.command(room, "!send plo")) == "error"
    given = await far.command(room, "!consent yes dokumentasjon")
    assert given.content["homeward.consent"] == {"id": "dokumentasjon", "state": "given"}
    assert status_of(await ingrid.command(room, "!send plo")) == "ok"

    listing = await kari.command(room, "!consents")
    dokumentasjon = next(c for c in listing.content["homeward.consents"] if c["id"] == "dokumentasjon")
    assert dokumentasjon["state"] == "given"
    assert [(a["user"], a["answer"]) for a in dokumentasjon["answers"]] == [(mor.user_id, "yes"), (far.user_id, "yes")]

    # Withdrawn: the next action it covers is refused at once.
    assert status_of(await mor.command(room, "!consent revoke dokumentasjon")) == "ok"
    stopped = await ingrid.command(room, "!send edi-notater")
    assert status_of(stopped) == "error" and "dokumentasjon" in stopped.content["body"]

    # Guardians answer consent and act for the family, but do not plan.
    assert status_of(await mor.command(room, "!plan discharge 2027-01-15")) == "error"
    assert status_of(await mor.command(room, "!send soknad")) == "ok"
    assert status_of(await kari.command(room, "!consent yes dokumentasjon")) == "error"  # not a guardian
    assert status_of(await ingrid.command(room, "!consent yes dokumentasjon")) == "error"  # nor a coordinator

    # The audit trail lists every step, in order.
    assert status_of(await ingrid.command(room, "!audit")) == "ok"
    _, rows = await read_csv(ingrid, await audit_file(ingrid, room, set()))
    steps = [  # each actor as the spreadsheet-safe cell holds it, '@mor:…, without its quote
        (
            r["action"],
            r["actor"].removeprefix("'"),
            json.loads(r["details"]).get("consent") or json.loads(r["details"]).get("item"),
            json.loads(r["details"]).get("answer"),
        )
        for r in rows
        if r["action"] in ("consent.asked", "consent.answered", "notice.sent")
    ]
    answered = [(actor, what, answer) for action, actor, what, answer in steps if action != "consent.asked"]
    assert answered == [
        (mor.user_id, "dokumentasjon", "yes"),
        (far.user_id, "dokumentasjon", "yes"),
        (ingrid.user_id, "plo", None),
        (mor.user_id, "dokumentasjon", "revoke"),
        (mor.user_id, "soknad", None),
    ]
    assert steps[0][0] == "consent.asked" and steps[0][2] == "dokumentasjon"
