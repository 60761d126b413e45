"""Exports of the coordinated plan and the minutes: HTML, PDF, Markdown, FHIR R4, iCalendar."""

from __future__ import annotations

import dataclasses
import http.server
import io
import threading
import tomllib
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from markdown_it import MarkdownIt
from pypdf import PdfReader

from homeward.exports import (
    Action,
    CarePlanDocument,
    ConsentAnswer,
    ConsentLine,
    Goal,
    ItemLine,
    MeetingLine,
    MinutesAction,
    MinutesDocument,
    Participant,
    SubGoal,
    TopicAnswer,
)
from homeward.exports.fhir import to_fhir_bundle
from homeward.exports.ics import event_uid, to_ics
from homeward.exports.render import (
    css_string,
    md_escape,
    print_pdf,
    render_html,
    render_markdown,
    render_pdf,
)
from homeward.exports.wording import WORDS_FILE

if TYPE_CHECKING:
    from fhir.resources.R4B.bundle import Bundle

# WeasyPrint falls back to fontTools where the machine has no HarfBuzz-Subset library.
pytestmark = pytest.mark.filterwarnings("ignore:HarfBuzz-Subset:DeprecationWarning")

STOCKHOLM = ZoneInfo("Europe/Stockholm")
OSLO = ZoneInfo("Europe/Oslo")


# --- sample documents -----------------------------------------------------------------
def swedish_plan() -> CarePlanDocument:
    """Region Örebro län's pathway, as the bot would snapshot a case in January."""

    def at(d: int, h: int, m: int = 0) -> datetime:
        return datetime(2026, 1, d, h, m, tzinfo=STOCKHOLM)

    return CarePlanDocument(
        case_label="orebro-7",
        pathway_id="orebro",
        pathway_title="Utskrivningsprocess för barn och unga från Barn- och ungdomskliniken",
        language="sv",
        timezone="Europe/Stockholm",
        country="SE",
        plan_name="SIP – samordnad individuell plan",
        terms={
            "goal": "Huvudmål",
            "subgoal": "Delmål",
            "action": "Insatser",
            "responsible": "Ansvarig",
            "followup": "Uppföljningsdatum",
            "coordinator": "Samordningsansvarig",
        },
        version=4,
        changed_at=at(21, 14, 35),
        changed_by="@sjukskoterska:region.se",
        generated_at=at(22, 8, 15),
        goals=(
            Goal(
                ref="1",
                text="Barnet ska kunna äta och dricka själv och må bra hemma",
                subgoals=(
                    SubGoal("1.1", "Föräldrarna sköter sondmatningen säkert före utskrivningen"),
                    SubGoal("1.2", "Vikten följer kurvan under de första fyra veckorna hemma"),
                ),
                actions=(
                    Action(
                        "1a",
                        "Slutenvård",
                        "Utbildning i sondmatning för båda vårdnadshavarna",
                        date(2026, 1, 23),
                        date(2026, 2, 6),
                    ),
                    Action(
                        "1b", "Öppenvård", "Dietist följer upp vikt och nutrition", date(2026, 2, 9), date(2026, 3, 2)
                    ),
                    Action("1c", "Öppenvård", "Återbesök på barnmottagningen", date(2026, 2, 16), date(2026, 2, 16)),
                ),
            ),
            Goal(
                ref="2",
                text="Familjen får avlösning så att syskonen kan gå i förskolan",
                subgoals=(SubGoal("2.1", "Ärendet om avlösarservice är beslutat före utskrivningen"),),
                actions=(
                    Action(
                        "2a",
                        "Kommun",
                        "Handläggning av ansökan om avlösning enligt LSS",
                        date(2026, 1, 26),
                        date(2026, 2, 13),
                    ),
                ),
            ),
        ),
        responsible="Öppenvård",
        followup=date(2026, 3, 2),
        participants=(
            Participant("@samordnare:region.se", "Öppenvård", coordinator=True),
            Participant("@sjukskoterska:region.se", "Slutenvård"),
            Participant("@handlaggare:kommun.se", "Kommun"),
            Participant("@vardnadshavare1:example.org", "Vårdnadshavare"),
        ),
        consents=(
            ConsentLine(
                "informationsoverforing",
                "Samtycke till informationsöverföringen i Lifecare SP",
                "given",
                (ConsentAnswer("@vardnadshavare1:example.org", "given", at(12, 9, 5)),),
            ),
            ConsentLine(
                "npo",
                "Samtycke till sammanhållen journalföring (NPÖ)",
                "refused",
                (ConsentAnswer("@vardnadshavare1:example.org", "no", at(12, 9, 7)),),
            ),
            ConsentLine("sip", "Samtycke till SIP", "pending"),
        ),
        items=(
            ItemLine(
                "inskrivning",
                "Identifiering, Bedömning",
                "task",
                "Blir inskriven på sjukhus",
                "Slutenvård",
                "done",
                at(12, 16),
            ),
            ItemLine(
                "inskrivningsmeddelande",
                "Identifiering, Bedömning",
                "notice",
                "Inskrivningsmeddelande",
                "Slutenvård",
                "done",
                at(13, 16),
            ),
            ItemLine(
                "samtycke-sip",
                "Identifiering, Bedömning",
                "task",
                "Tillfrågas om samtycke till SIP",
                "Vårdnadshavare",
                "overdue",
                at(19, 16),
            ),
            ItemLine("kallelse-sip", "Planering", "task", "Kallelse till SIP-möte", "Öppenvård", "open", at(23, 16)),
        ),
        meetings=(
            MeetingLine(
                "sip_meeting",
                "SIP-möte på sjukhus",
                at(27, 10),
                90,
                participants=("Patient/Närstående", "Kommun", "Öppenvård"),
                topics=("Barnets behov efter utskrivningen", "Vem gör vad, och när?"),
            ),
            MeetingLine("sip_followup", "Uppföljning SIP", None),
        ),
    )


def norwegian_plan() -> CarePlanDocument:
    """Sykehuset Telemark's pathway."""

    def at(d: int, h: int, m: int = 0) -> datetime:
        return datetime(2026, 2, d, h, m, tzinfo=OSLO)

    return CarePlanDocument(
        case_label="tele-12",
        pathway_id="sthf",
        pathway_title="Pasientflyt - Nyetablering av kommunale en-til-en helsetjenester for barn (0-18 år)",
        language="nb",
        timezone="Europe/Oslo",
        country="NO",
        plan_name="Individuell plan",
        terms={
            "goal": "Mål",
            "subgoal": "Delmål",
            "action": "Tiltak",
            "responsible": "Ansvarlig",
            "followup": "Oppfølgingsdato",
            "coordinator": "Koordinator",
            "period": "Planperiode",
        },
        version=2,
        changed_at=at(3, 13, 2),
        changed_by="@koordinator:kommune.no",
        generated_at=at(4, 9),
        goals=(
            Goal(
                "1",
                "Barnet får sove hjemme med trygg overvåkning om natten",
                (
                    SubGoal("1.1", "Foreldrene kjenner igjen tegn på forverring og vet hvem de ringer"),
                    SubGoal("1.2", "Øvelse på særlige situasjoner: Åpen retur til barneavdelingen"),
                ),
                (
                    Action(
                        "1a",
                        "STHF",
                        "Opplæring i bruk av pustestøtte og metningsmåler",
                        date(2026, 2, 9),
                        date(2026, 2, 20),
                    ),
                    Action(
                        "1b",
                        "Kommunen",
                        "Nattevakt fra hjemmesykepleien de første ukene",
                        date(2026, 2, 23),
                        date(2026, 4, 30),
                    ),
                ),
            ),
            Goal(
                "2",
                "Søsken og foreldre får hverdagen til å gå rundt",
                (),
                (Action("2a", "Kommunen", "Avlastning to helger i måneden"),),
            ),
        ),
        responsible="Kommunen",
        followup=date(2026, 4, 14),
        participants=(
            Participant("@koordinator:kommune.no", "Kommunen", coordinator=True),
            Participant("@sykepleier:sthf.no", "STHF"),
            Participant("@forelder:example.org", "Foresatte"),
        ),
        consents=(
            ConsentLine(
                "dokumentasjon",
                "Samtykke til utsending av dokumentasjon",
                "given",
                (ConsentAnswer("@forelder:example.org", "yes", at(2, 10)),),
            ),
            ConsentLine(
                "individuell-plan",
                "Samtykke til individuell plan",
                "withdrawn",
                (
                    ConsentAnswer("@forelder:example.org", "yes", at(2, 10)),
                    ConsentAnswer("@forelder:example.org", "revoke", at(3, 12)),
                ),
            ),
        ),
        items=(
            ItemLine(
                "behandlingsteam",
                "Planlegge utskrivning",
                "task",
                "Etablere behandlingsteam",
                "STHF",
                "done",
                at(2, 16),
            ),
            ItemLine("plo", "Planlegge utskrivning", "notice", "Sende PLO", "STHF", "open", at(5, 16)),
            ItemLine(
                "soknad",
                "Søknad om helse- og omsorgstjenester",
                "notice",
                "Søknad om helse- og omsorgstjenester",
                "Foresatte",
                "overdue",
                at(3, 16),
            ),
        ),
        meetings=(
            MeetingLine(
                "meeting1",
                "Planleggingsmøte 1",
                at(10, 13),
                60,
                participants=("Foresatte", "Lege sykehuset", "Saksbehandler kommunen", "Barnekoordinator"),
                topics=(
                    "Sykehuset kommuniserer barnets helsetilstand/bistandsbehov",
                    "«Hva er viktig for deg?»",
                    "Individuell plan",
                ),
            ),
        ),
    )


def swedish_minutes(closed: bool = True) -> MinutesDocument:

    def at(h: int, m: int = 0) -> datetime:
        return datetime(2026, 1, 27, h, m, tzinfo=STOCKHOLM)

    return MinutesDocument(
        case_label="orebro-7",
        pathway_title="Utskrivningsprocess för barn och unga från Barn- och ungdomskliniken",
        language="sv",
        timezone="Europe/Stockholm",
        title="SIP-möte på sjukhus",
        start=at(10),
        duration_minutes=90,
        present=("@samordnare:region.se — Öppenvård", "@vardnadshavare1:example.org — Vårdnadshavare"),
        notes=("Familjen önskar att få träffa kommunens sjuksköterska före hemgång.",),
        decisions=("Utskrivning planeras till vecka 6.", "Öppenvården är samordningsansvarig."),
        actions=(
            MinutesAction("Kommun", date(2026, 2, 3), "Boka hembesök"),
            MinutesAction("Slutenvård", None, "Skicka läkemedelslista"),
        ),
        topic_answers=(
            TopicAnswer(1, "Barnets behov efter utskrivningen", "Sondmatning, nattlig övervakning."),
            TopicAnswer(2, "Vem gör vad, och när?", "Se åtgärder."),
        ),
        closed=closed,
        version=2,
        changed_at=at(12, 5),
        changed_by="@samordnare:region.se",
        generated_at=at(12, 10),
    )


def big_plan(goals: int = 20, items: int = 100) -> CarePlanDocument:
    plan = swedish_plan()
    start = date(2026, 1, 26)
    many_goals = [
        Goal(
            f"{g}",
            f"Huvudmål nummer {g} för barnets vård och omsorg, med å ä ö",
            tuple(SubGoal(f"{g}.{s}", f"Delmål {g}.{s}: övning gör mästare") for s in range(1, 4)),
            tuple(
                Action(f"{g}{c}", "Kommun", f"Insats {g}{c} i hemmet", start, start + timedelta(days=14)) for c in "abc"
            ),
        )
        for g in range(1, goals + 1)
    ]
    states = ("open", "done", "overdue")
    many_items = [
        ItemLine(
            f"punkt-{i}",
            f"Fas {i // 25 + 1}",
            "task" if i % 2 else "notice",
            f"Uppgift {i} med ärende",
            "Slutenvård",
            states[i % 3],
            datetime(2026, 1, 26, 16, tzinfo=STOCKHOLM) + timedelta(days=i),
        )
        for i in range(items)
    ]
    return dataclasses.replace(plan, goals=tuple(many_goals), items=tuple(many_items))


def pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def squash(text: str) -> str:
    """PDF text with line breaks as spaces (table cells wrap)."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def swedish_pdf() -> bytes:
    return render_pdf(swedish_plan())


@pytest.fixture(scope="module")
def norwegian_pdf() -> bytes:
    return render_pdf(norwegian_plan())


# --- wording ------------------------------------------------------------------------------
def test_every_language_has_every_word() -> None:
    table = tomllib.loads(WORDS_FILE.read_text(encoding="utf-8"))

    def keys(node: dict, prefix: str = "") -> set[str]:
        found: set[str] = set()
        for key, value in node.items():
            found |= keys(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key}
        return found

    assert keys(table["nb"]) == keys(table["sv"]) == keys(table["en"])


# --- the input ------------------------------------------------------------------------------
def test_document_is_frozen_and_checks_its_values() -> None:
    plan = swedish_plan()
    # Lists and plain tuples go in (typed otherwise, hence the ignores): tuples of records come out.
    goal = Goal("1", "Mål", [SubGoal("1.1", "Delmål")], [Action("1a", "Kommun", "Insats")])  # type: ignore[arg-type]
    listed = dataclasses.replace(plan, goals=[goal])  # type: ignore[arg-type]
    assert isinstance(listed.goals, tuple) and isinstance(listed.goals[0].actions, tuple)
    answered = ConsentLine("npo", "NPÖ", "refused", [("@v:x", "no", plan.changed_at)])  # type: ignore[arg-type]
    assert answered.answers[0].answer == "no"  # a plain tuple became a ConsentAnswer
    minutes = dataclasses.replace(
        swedish_minutes(),
        actions=[("Slutenvård", None, "Skicka läkemedelslista")],  # type: ignore[arg-type]
        topic_answers=[(2, "Vem gör vad, och när?", "Se åtgärder.")],  # type: ignore[arg-type]
    )
    assert minutes.actions[0].owner == "Slutenvård" and minutes.topic_answers[0].topic == "Vem gör vad, och när?"
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.version = 5  # type: ignore[misc]
    with pytest.raises(ValueError, match="language"):
        dataclasses.replace(plan, language="de")  # type: ignore[arg-type]  # the check at run time is the test
    with pytest.raises(ValueError, match="timezone-aware"):
        dataclasses.replace(plan, changed_at=datetime(2026, 1, 1, 10))
    with pytest.raises(ValueError, match="time zone"):
        dataclasses.replace(plan, timezone="Europe/Atlantis")
    with pytest.raises(ValueError, match="appears twice"):
        dataclasses.replace(plan, goals=(plan.goals[0], plan.goals[0]))
    with pytest.raises(ValueError, match="state"):
        ItemLine("x", "Fas", "task", "X", "Kommun", "late")
    with pytest.raises(ValueError, match="terms"):
        dataclasses.replace(plan, terms={"goal": "Huvudmål"})


# --- PDF ------------------------------------------------------------------------------------
def test_swedish_pdf_has_the_plan(swedish_pdf: bytes) -> None:
    assert swedish_pdf.startswith(b"%PDF")
    text = pdf_text(swedish_pdf)
    flat = squash(text)
    for needle in (
        "SIP – samordnad individuell plan",
        "orebro-7",
        "Utskrivningsprocess för barn och unga",
        "Huvudmål 1",
        "Barnet ska kunna äta och dricka själv och må bra hemma",
        "Familjen får avlösning så att syskonen kan gå i förskolan",
        "Delmål",
        "Föräldrarna sköter sondmatningen säkert före utskrivningen",
        "Insatser",
        "Dietist följer upp vikt och nutrition",
        "Uppföljningsdatum",
        "2026-03-02",
        "Samordningsansvarig",
        "@samordnare:region.se",
        "Samtycke till sammanhållen journalföring (NPÖ)",
        "Nekat",
        "Väntar på svar",
        "SIP-möte på sjukhus",
        "2026-01-27 kl. 10:00–11:30",
        "Försenad",
        "Underskrift",
        "Namnförtydligande",
        "Ort och datum",
        "Version",
        "2026-01-21 kl. 14:35 av @sjukskoterska:region.se",
    ):
        assert needle in flat, needle
    for letter in "åäöÅÄÖ":
        assert letter in text, letter
    pages = len(PdfReader(io.BytesIO(swedish_pdf)).pages)
    assert f"Sida 1 av {pages}" in flat
    assert f"Sida {pages} av {pages}" in flat


def test_norwegian_pdf_has_the_plan(norwegian_pdf: bytes) -> None:
    assert norwegian_pdf.startswith(b"%PDF")
    text = pdf_text(norwegian_pdf)
    flat = squash(text)
    for needle in (
        "Individuell plan",
        "tele-12",
        "Mål 1",
        "Barnet får sove hjemme med trygg overvåkning om natten",
        "Tiltak",
        "Oppfølgingsdato",
        "14.04.2026",
        "Planperiode",
        "09.02.2026 – 30.04.2026",
        "Koordinator",
        "Trukket tilbake",
        "Gitt av @forelder:example.org",
        "Anbefalte deltakere",
        "Sted og dato",
        "03.02.2026 kl. 13:02 av @koordinator:kommune.no",
    ):
        assert needle in flat, needle
    for letter in "øåæØÅ":
        assert letter in text, letter
    pages = len(PdfReader(io.BytesIO(norwegian_pdf)).pages)
    assert f"Side 1 av {pages}" in flat


def test_english_and_minutes_pdfs() -> None:
    english = dataclasses.replace(norwegian_plan(), language="en")
    flat = squash(pdf_text(render_pdf(english)))
    assert "Page 1 of" in flat and "Signature" in flat and "Place and date" in flat
    minutes = render_pdf(swedish_minutes())
    assert minutes.startswith(b"%PDF")
    flat = squash(pdf_text(minutes))
    for needle in ("Minnesanteckningar", "SIP-möte på sjukhus", "orebro-7", "Närvarande", "Beslut",
                   "Utskrivning planeras till vecka 6.", "Boka hembesök", "2026-02-03", "Justeras",
                   "Antecknat av", "Sida 1 av", "Slutgiltig", "Sondmatning, nattlig övervakning."):  # fmt: skip
        assert needle in flat, needle
    assert "UTKAST" not in flat
    assert "UTKAST" in squash(pdf_text(render_pdf(swedish_minutes(closed=False))))


# --- HTML -----------------------------------------------------------------------------------
def test_html_escapes_user_text() -> None:
    evil = '<script>alert("x")</script>'
    plan = swedish_plan()
    goal = dataclasses.replace(plan.goals[0], text=f"Äta själv {evil}")
    plan = dataclasses.replace(
        plan, goals=(goal, *plan.goals[1:]), case_label='orebro-7"><b>', changed_by="<img src=x onerror=alert(1)>"
    )
    html = render_html(plan)
    assert "<script>" not in html and "<img" not in html and '"><b>' not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "Äta själv" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    # …and the PDF prints it as text.
    assert evil in squash(pdf_text(render_pdf(plan)))
    minutes = dataclasses.replace(swedish_minutes(), notes=(evil,), title=evil)
    assert "<script>" not in render_html(minutes)


@pytest.fixture
def counting_server():
    """An HTTP server on loopback that counts the requests it gets: (base URL, the paths requested)."""
    hits: list[str] = []

    class Count(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Count)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def test_a_pdf_export_loads_no_url_whatever_the_markup_asks_for(counting_server, tmp_path) -> None:
    base, hits = counting_server
    local = tmp_path / "secret.css"
    local.write_text("body { color: red }")
    html = (
        f'<html><head><link rel="stylesheet" href="{base}/link.css"><link rel="stylesheet" href="file://{local}">'
        f'<style>@import url({base}/import.css); body {{ background: url("{base}/background.png") }}'
        f"@font-face {{ font-family: x; src: url({base}/font.woff) }}</style></head>"
        f'<body><img src="{base}/pixel.png"><object data="{base}/object"></object>Plan</body></html>'
    )
    from weasyprint import HTML

    HTML(string=html).write_pdf()
    assert len(hits) >= 4  # the same markup with WeasyPrint's own fetcher: this test sees fetches
    hits.clear()

    pdf = print_pdf(html)

    assert pdf.startswith(b"%PDF") and hits == []


def test_a_document_whose_text_names_a_url_fetches_nothing(counting_server) -> None:
    base, hits = counting_server
    plan = swedish_plan()
    attempt = f'<img src="{base}/goal.png"> </style><style>body{{background:url({base}/css)}}</style>'
    goal = dataclasses.replace(plan.goals[0], text=f"Äta själv {attempt}")
    plan = dataclasses.replace(plan, goals=(goal, *plan.goals[1:]), case_label=f"url({base}/label)")
    assert f"{base}/goal.png" in squash(pdf_text(render_pdf(plan)))  # printed as text
    assert hits == []


def test_html_is_a_document_to_print() -> None:
    html = render_html(swedish_plan())
    assert html.startswith("<!DOCTYPE html>") and '<html lang="sv">' in html
    assert "counter(page)" in html and "counter(pages)" in html and "size: A4" in html
    assert "Huvudmål" in html and "Uppföljningsdatum" in html and "orebro-7" in html
    nb = render_html(norwegian_plan())
    assert '<html lang="nb">' in nb and "Side" in nb


def test_css_strings_cannot_break_out() -> None:
    value = css_string('a"; } </style><script>x</script> ø')
    assert '"' not in value[1:-1] and "<" not in value and "}" not in value
    assert "ø" in value


# --- Markdown -------------------------------------------------------------------------------
def test_markdown_has_the_same_content() -> None:
    md = render_markdown(swedish_plan())
    assert md.startswith("# SIP – samordnad individuell plan\n")
    for needle in (
        "- **Barn (ärende):** orebro-7",
        "### Huvudmål 1: Barnet ska kunna äta och dricka själv och må bra hemma",
        "**Delmål**",
        "Föräldrarna sköter sondmatningen säkert före utskrivningen",
        "| | Insatser | Ansvarig | Från | Till |",
        "| 1a | Utbildning i sondmatning för båda vårdnadshavarna | Slutenvård | 2026-01-23 | 2026-02-06 |",
        "### Uppföljningsdatum",
        "**2026-03-02**",
        "**Samordningsansvarig:** @samordnare:region.se (Öppenvård)",
        "Samtycke till sammanhållen journalföring (NPÖ):** Nekat",
        "## Möten",
        "2026-01-27 kl. 10:00–11:30",
        "## Underskrifter",
        "Namnförtydligande: ",
    ):
        assert needle in md, needle
    assert "\n\n\n" not in md


def test_markdown_escapes_user_text() -> None:
    plan = swedish_plan()
    goal = dataclasses.replace(plan.goals[0], text="<script>x</script> | *fet* [länk](http://x)\nny rad")
    md = render_markdown(dataclasses.replace(plan, goals=(goal,)))
    assert "<script>" not in md
    assert "\\<script\\>x\\</script\\> \\| \\*fet\\* \\[länk\\](http://x) ny rad" in md
    assert md_escape("- punkt") == "\\- punkt" and md_escape("1. punkt") == "1\\. punkt"
    assert md_escape("1.1") == "1.1" and md_escape("---") == "\\---"
    # Even a renderer that lets raw HTML through shows the text, not markup.
    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(md)
    assert "<script>" not in rendered and "&lt;script&gt;" in rendered


def test_minutes_markdown() -> None:
    md = render_markdown(swedish_minutes())
    assert md.startswith("# Minnesanteckningar: SIP-möte på sjukhus\n")
    for needle in ("## Närvarande", "1. Utskrivning planeras till vecka 6.", "| Boka hembesök | Kommun | 2026-02-03 |",
                   "**Justeras**", "**Status:** Slutgiltig"):  # fmt: skip
        assert needle in md, needle
    assert "UTKAST" in render_markdown(swedish_minutes(closed=False))


# --- FHIR -----------------------------------------------------------------------------------
R4_CODES = {
    "CarePlan.status": {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown"},
    "CarePlan.intent": {"proposal", "plan", "order", "option"},
    "CarePlan.activity.detail.status": {"not-started", "scheduled", "in-progress", "on-hold", "completed", "cancelled",
                                        "stopped", "unknown", "entered-in-error"},
    "Goal.lifecycleStatus": {"proposed", "planned", "accepted", "active", "on-hold", "completed", "cancelled",
                             "entered-in-error", "rejected"},
    "CareTeam.status": {"proposed", "active", "suspended", "inactive", "entered-in-error"},
    "Consent.status": {"draft", "proposed", "active", "rejected", "inactive", "entered-in-error"},
    "Task.status": {"draft", "requested", "received", "accepted", "rejected", "ready", "cancelled", "in-progress",
                    "on-hold", "failed", "completed", "entered-in-error"},
    "Task.intent": {"unknown", "proposal", "plan", "order", "original-order", "reflex-order", "filler-order",
                    "instance-order", "option"},
}  # fmt: skip


def _validate(bundle: dict) -> Bundle:
    from fhir.resources.R4B.bundle import Bundle

    return Bundle.model_validate(bundle)


def _kinds(bundle: dict) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for entry in bundle["entry"]:
        found.setdefault(entry["resource"]["resourceType"], []).append(entry["resource"])
    return found


@pytest.mark.parametrize("make", [swedish_plan, norwegian_plan])
def test_fhir_bundle_validates(make: Callable[[], CarePlanDocument]) -> None:
    doc = make()
    bundle = to_fhir_bundle(doc)
    parsed = _validate(bundle)
    assert parsed.type == "collection"
    kinds = _kinds(bundle)
    goals = sum(1 + len(g.subgoals) for g in doc.goals)
    assert len(kinds["CarePlan"]) == 1
    assert len(kinds["Goal"]) == goals
    assert len(kinds["CareTeam"]) == 1
    assert len(kinds["Consent"]) == len(doc.consents)
    assert len(kinds["Task"]) == len(doc.items)
    assert set(kinds) == {"CarePlan", "Goal", "CareTeam", "Consent", "Task"}
    # fhir.resources checks the shape and the required elements, not the codes: check those here.
    plan = kinds["CarePlan"][0]
    assert plan["status"] in R4_CODES["CarePlan.status"] and plan["intent"] in R4_CODES["CarePlan.intent"]
    assert {a["detail"]["status"] for a in plan["activity"]} <= R4_CODES["CarePlan.activity.detail.status"]
    assert {g["lifecycleStatus"] for g in kinds["Goal"]} <= R4_CODES["Goal.lifecycleStatus"]
    assert kinds["CareTeam"][0]["status"] in R4_CODES["CareTeam.status"]
    assert {c["status"] for c in kinds["Consent"]} <= R4_CODES["Consent.status"]
    assert {t["status"] for t in kinds["Task"]} <= R4_CODES["Task.status"]
    assert {t["intent"] for t in kinds["Task"]} <= R4_CODES["Task.intent"]

    urls = [entry["fullUrl"] for entry in bundle["entry"]]
    assert all(url.startswith("urn:uuid:") for url in urls) and len(set(urls)) == len(urls)
    # Every reference points into the bundle.
    refs: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("reference"), str):
                refs.append(node["reference"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(bundle)
    assert refs and set(refs) <= set(urls)


def test_fhir_bundle_content() -> None:
    doc = swedish_plan()
    bundle = to_fhir_bundle(doc)
    kinds = _kinds(bundle)
    plan = kinds["CarePlan"][0]
    assert plan["status"] == "active" and plan["intent"] == "plan"
    assert plan["title"] == "SIP – samordnad individuell plan"
    assert plan["period"] == {"start": "2026-01-23", "end": "2026-03-02"}
    assert plan["subject"] == {"display": "orebro-7", "type": "Patient"}
    assert plan["author"]["display"] == "Öppenvård"
    assert len(plan["goal"]) == len(kinds["Goal"])
    actions = [a for a in plan["activity"] if a["detail"].get("kind") != "Appointment"]
    assert len(actions) == sum(len(g.actions) for g in doc.goals)
    assert actions[0]["detail"]["description"] == "Utbildning i sondmatning för båda vårdnadshavarna"
    assert actions[0]["detail"]["performer"] == [{"display": "Slutenvård"}]
    followup = [a for a in plan["activity"] if a["detail"].get("kind") == "Appointment"]
    assert followup[0]["detail"]["scheduledPeriod"]["start"] == "2026-03-02"

    goals = kinds["Goal"]
    assert all(g["lifecycleStatus"] == "active" for g in goals)
    assert goals[0]["description"]["text"] == "Barnet ska kunna äta och dricka själv och må bra hemma"
    relationships = goals[0]["extension"]
    assert [r["extension"][1]["valueReference"]["reference"] for r in relationships] == [
        f"urn:uuid:{goals[1]['id']}",
        f"urn:uuid:{goals[2]['id']}",
    ]

    team = kinds["CareTeam"][0]
    roles = {p["member"]["display"]: [r["text"] for r in p["role"]] for p in team["participant"]}
    assert roles["@samordnare:region.se"] == ["Öppenvård", "Samordningsansvarig"]
    assert roles["@handlaggare:kommun.se"] == ["Kommun"]

    assert [c["status"] for c in kinds["Consent"]] == ["active", "rejected", "proposed"]
    assert kinds["Consent"][2].get("performer") is None
    withdrawn = _kinds(to_fhir_bundle(norwegian_plan()))["Consent"][1]
    assert withdrawn["status"] == "inactive"

    tasks = {t["identifier"][0]["value"]: t for t in kinds["Task"]}
    assert tasks["inskrivning"]["status"] == "completed"
    assert tasks["kallelse-sip"]["status"] == "requested" and "businessStatus" not in tasks["kallelse-sip"]
    assert tasks["samtycke-sip"]["status"] == "requested"
    assert tasks["samtycke-sip"]["businessStatus"] == {"text": "overdue"}
    assert all(t["intent"] == "order" for t in kinds["Task"])

    # No identity: the patient is the case label, nothing else.
    patients = [
        r for kind in kinds.values() for res in kind for k, r in res.items() if k in ("subject", "patient", "for")
    ]
    assert patients and all(p == {"display": "orebro-7", "type": "Patient"} for p in patients)
    assert "Patient" not in kinds

    # Same case, same ids.
    assert [e["fullUrl"] for e in to_fhir_bundle(swedish_plan())["entry"]] == [e["fullUrl"] for e in bundle["entry"]]


def test_the_reasons_lanes_gave_for_a_late_item_are_in_every_case_export() -> None:
    plan = swedish_plan()
    reasons = (
        ("Vårdnadshavare", "Väntar på familjens beslut", "family"),
        ("Kommun", "Väntar på personal i kommunen", "staff"),
    )
    items = tuple(dataclasses.replace(i, reasons=reasons) if i.id == "samtycke-sip" else i for i in plan.items)
    doc = dataclasses.replace(plan, items=items)

    md = render_markdown(doc)
    html = render_html(doc)
    bundle = to_fhir_bundle(doc)
    _validate(bundle)

    row = next(line for line in md.splitlines() if line.startswith("| samtycke-sip "))
    assert "Vårdnadshavare: Väntar på familjens beslut" in row and "Kommun: Väntar på personal i kommunen" in row
    assert "Vårdnadshavare: Väntar på familjens beslut" in html and "Kommun: Väntar på personal i kommunen" in html
    tasks = {t["identifier"][0]["value"]: t for t in _kinds(bundle)["Task"]}
    reason = tasks["samtycke-sip"]["statusReason"]
    assert [c["code"] for c in reason["coding"]] == ["family", "staff"]
    assert reason["text"] == "Vårdnadshavare: Väntar på familjens beslut; Kommun: Väntar på personal i kommunen"
    assert all("statusReason" not in t for key, t in tasks.items() if key != "samtycke-sip")


# --- iCalendar ------------------------------------------------------------------------------
def test_ics_meeting_in_the_pathway_time_zone() -> None:
    doc = swedish_plan()
    data = to_ics(doc)
    assert data.startswith(b"BEGIN:VCALENDAR")
    calendar = Calendar.from_ical(data)
    assert str(calendar["METHOD"]) == "REQUEST"
    assert "Homeward" in str(calendar["PRODID"])
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Stockholm"]

    events = calendar.walk("VEVENT")
    assert len(events) == 2  # the scheduled meeting and the follow-up; the unscheduled meeting is left out
    meeting = next(e for e in events if "SIP-möte" in str(e["SUMMARY"]))
    start = meeting.decoded("DTSTART")
    assert meeting["DTSTART"].params["TZID"] == "Europe/Stockholm"
    assert (start.hour, start.minute) == (10, 0)
    assert start.astimezone(UTC) == datetime(2026, 1, 27, 9, 0, tzinfo=UTC)
    assert meeting.decoded("DTEND") - start == timedelta(minutes=90)
    assert str(meeting["SUMMARY"]) == "SIP-möte på sjukhus – orebro-7"
    description = str(meeting["DESCRIPTION"])
    assert "Patient/Närstående" in description and "Vem gör vad, och när?" in description
    assert str(meeting["UID"]) == event_uid(doc, "meeting/sip_meeting")
    assert int(meeting.decoded("SEQUENCE")) == doc.version
    assert b"DTSTART;TZID=Europe/Stockholm:20260127T100000" in data

    followup = next(e for e in events if "Uppföljningsdatum" in str(e["SUMMARY"]))
    assert followup.decoded("DTSTART") == date(2026, 3, 2)
    assert followup.decoded("DTEND") == date(2026, 3, 3)

    # Stable UIDs: a re-export (even of a later version) updates the same entries.
    again = Calendar.from_ical(to_ics(dataclasses.replace(doc, version=5)))
    assert sorted(str(e["UID"]) for e in again.walk("VEVENT")) == sorted(str(e["UID"]) for e in events)
    other_case = Calendar.from_ical(to_ics(dataclasses.replace(doc, case_label="orebro-8")))
    assert not {str(e["UID"]) for e in other_case.walk("VEVENT")} & {str(e["UID"]) for e in events}


def test_ics_summer_and_no_meetings() -> None:
    doc = norwegian_plan()
    summer = dataclasses.replace(doc.meetings[0], start=datetime(2026, 6, 10, 10, tzinfo=OSLO))
    calendar = Calendar.from_ical(to_ics(dataclasses.replace(doc, meetings=(summer,))))
    meeting = next(e for e in calendar.walk("VEVENT") if "Planleggingsmøte" in str(e["SUMMARY"]))
    assert meeting.decoded("DTSTART").astimezone(UTC).hour == 8  # CEST
    assert "Barnekoordinator" in str(meeting["DESCRIPTION"])
    empty = Calendar.from_ical(to_ics(dataclasses.replace(doc, meetings=(), followup=None)))
    assert empty.walk("VEVENT") == [] and empty.walk("VTIMEZONE") == []


# --- size -----------------------------------------------------------------------------------
def test_twenty_goals_and_a_hundred_items_render() -> None:
    doc = big_plan()
    pdf = render_pdf(doc)
    assert pdf.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(pdf))
    pages = len(reader.pages)
    assert pages > 3
    flat = squash(pdf_text(pdf))
    assert "Huvudmål 20" in flat and "punkt-99" in flat and f"Sida {pages} av {pages}" in flat
    assert "punkt-99" in render_markdown(doc)
    bundle = to_fhir_bundle(doc)
    _validate(bundle)
    assert len(_kinds(bundle)["Task"]) == 100 and len(_kinds(bundle)["Goal"]) == 80
