"""Specification of the pathway files and their loader (care/pathway.py).

The per-phase tests list what the source flowcharts contain, in their own words,
so a reviewer can check the data against the documents without reading YAML.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from homeward.care.pathway import (
    Item,
    Pathway,
    PathwayError,
    configured_pathways,
    default_pathways_dir,
    load_pathway,
    load_pathways,
)

PATHWAYS = default_pathways_dir()


@pytest.fixture(scope="module")
def sthf() -> Pathway:
    return load_pathway(PATHWAYS / "sthf.yaml")


@pytest.fixture(scope="module")
def orebro() -> Pathway:
    return load_pathway(PATHWAYS / "orebro.yaml")


def the(pathway: Pathway, phase_id: str, words: str, lane: str | None = None) -> Item:
    """The one item of a phase whose title or text contains ``words`` (owned/sent by ``lane``)."""
    found = [
        item
        for item in pathway.phase(phase_id).items
        if (words in item.title or words in item.text) and lane in (None, item.lane, item.sender)
    ]
    assert len(found) == 1, f"{pathway.id}/{phase_id}: expected one item with {words!r}, got {[i.id for i in found]}"
    return found[0]


def raw(name: str) -> dict[str, Any]:
    """A shipped pathway file as plain data, to break on purpose."""
    return yaml.safe_load((PATHWAYS / f"{name}.yaml").read_text(encoding="utf-8"))


def write(tmp_path: Path, name: str, data: dict[str, Any]) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def locate(data: dict[str, Any], item_id: str) -> tuple[int, int]:
    for p, phase in enumerate(data["phases"]):
        for i, item in enumerate(phase["items"]):
            if item["id"] == item_id:
                return p, i
    raise KeyError(item_id)


def problems_of(path: Path) -> list[str]:
    with pytest.raises(PathwayError) as caught:
        load_pathway(path)
    return caught.value.problems


# --- loading -----------------------------------------------------------------
def test_both_shipped_pathways_load_keyed_by_id() -> None:
    pathways = load_pathways(default_pathways_dir())
    assert set(pathways) == {"sthf", "orebro"}
    assert (pathways["sthf"].language, pathways["sthf"].country) == ("nb", "NO")
    assert (pathways["orebro"].language, pathways["orebro"].country) == ("sv", "SE")


def test_default_pathways_dir_is_the_repository_pathways_folder() -> None:
    assert default_pathways_dir() == Path(__file__).resolve().parent.parent / "pathways"


def test_a_pathways_dir_adds_new_pathways_and_overrides_shipped_ones_by_id(tmp_path: Path) -> None:
    sthf = yaml.safe_load((PATHWAYS / "sthf.yaml").read_text(encoding="utf-8"))
    sthf["title"] = "Overridden by the region"
    (tmp_path / "sthf.yaml").write_text(yaml.safe_dump(sthf, allow_unicode=True), encoding="utf-8")
    third = dict(sthf, id="third", title="A third pathway")
    (tmp_path / "third.yaml").write_text(yaml.safe_dump(third, allow_unicode=True), encoding="utf-8")
    pathways = configured_pathways(tmp_path)
    assert set(pathways) == {"sthf", "orebro", "third"}
    assert pathways["sthf"].title == "Overridden by the region"


def test_without_a_pathways_dir_the_shipped_pathways_are_used() -> None:
    assert set(configured_pathways(None)) == {"sthf", "orebro"}


def test_each_pathway_has_one_guardian_lane_and_one_child_lane(sthf: Pathway, orebro: Pathway) -> None:
    assert [lane.id for lane in sthf.lanes_with_role("guardian")] == ["foresatt"]
    assert [lane.id for lane in sthf.lanes_with_role("child")] == ["barn"]
    assert [lane.id for lane in orebro.lanes_with_role("guardian")] == ["vardnadshavare"]
    assert [lane.id for lane in orebro.lanes_with_role("child")] == ["barn"]


def test_flowchart_lanes_keep_their_original_names(sthf: Pathway, orebro: Pathway) -> None:
    assert {lane.id: lane.name for lane in sthf.lanes if lane.role in ("family", "care")} == {
        "familien": "Barnet og familien",
        "kommunen": "Kommunen",
        "sykehus": "STHF",
    }
    assert {lane.id: lane.name for lane in orebro.lanes if lane.role in ("family", "care")} == {
        "patient": "Patient/Närstående",
        "kommun": "Kommun",
        "oppenvard": "Öppenvård",
        "slutenvard": "Slutenvård",
    }


# --- Örebro, phase by phase --------------------------------------------------
def test_orebro_phases_are_the_four_of_the_flowchart(orebro: Pathway) -> None:
    assert [phase.title for phase in orebro.phases] == [
        "Identifiering, Bedömning",
        "Planering",
        "Utskrivning",
        "Uppföljning",
    ]


def test_orebro_identifiering_holds_admission_consultation_inskrivningsmeddelande_and_bilaga(orebro: Pathway) -> None:
    phase = "identifiering"
    admitted = the(orebro, phase, "Blir inskriven på sjukhus", lane="patient")
    assert admitted.sets_date == "admission"
    assert "Nyfött barn eller nyskadat barn" in admitted.text
    assert "Får bedömning och behandling" in admitted.text
    assert "Dialog och information ges kontinuerligt under hela vårdprocessen" in admitted.text

    call = the(orebro, phase, "Barnkliniken ringer vid behov", lane="slutenvard")
    assert call.mandatory is False
    assert "Kommunens kontaktperson får konsulterande telefonsamtal" in call.text

    notice = the(orebro, phase, "Inskrivningsmeddelande", lane="slutenvard")
    assert notice.kind == "notice"
    assert notice.text.startswith("Skickar Inskrivningsmeddelandet med prel. utskrivningsdatum")
    assert notice.recipients == ["kommun", "oppenvard"]
    assert "Kommunens biståndsenhet tar emot Inskrivningsmeddelandet" in notice.recipient_text["kommun"]
    assert "handläggande enhet som ska kvittera" in notice.recipient_text["kommun"]
    assert "kvitterar inskrivningsmeddelandet" in notice.recipient_text["oppenvard"]

    general = the(orebro, phase, "Generellt meddelande", lane="slutenvard")
    assert general.kind == "notice"
    assert general.recipients == ["kommun"]
    assert "Planeringsunderlaget" in general.text and "Bilagan" in general.text

    contact = the(orebro, phase, "Kommunens kontaktperson ansvarar", lane="kommun")
    assert "ringer alltid upp handläggaren" in contact.text

    assert "röda spår i Lifecare" in (orebro.phase(phase).note or "")


def test_orebro_planering_holds_sip_consent_utskrivningsklar_and_kallelse_sip(orebro: Pathway) -> None:
    phase = "planering"
    consent = the(orebro, phase, "Tillfrågas om samtycke till SIP", lane="patient")
    assert consent.asks_consent == "sip"
    assert "info broschyrer" in consent.text
    the(orebro, phase, "Lämna information och broschyr inför SIP", lane="slutenvard")
    ready = the(orebro, phase, "Bedöma utskrivningsklar", lane="slutenvard")
    assert "Säkerställa hemgångsklar" in ready.text

    klar = the(orebro, phase, "Utskrivningsklarmeddelande", lane="slutenvard")
    assert (klar.kind, klar.sender, klar.recipients) == ("notice", "slutenvard", ["kommun", "oppenvard"])
    assert "Hemgång ska ske på vardagar" in klar.text
    assert klar.recipient_text == {
        "kommun": "Kvittera Utskrivningsklarmeddelandet i Lifecare SP",
        "oppenvard": "Kvittera Utskrivningsklarmeddelandet i Lifecare SP",
    }

    kallelse = the(orebro, phase, "Kallelse SIP", lane="oppenvard")
    assert (kallelse.kind, kallelse.sender, kallelse.recipients) == ("notice", "oppenvard", ["kommun"])
    assert kallelse.meeting == "sip_meeting"
    assert "Mötet hålls på sjukhus" in kallelse.text
    assert kallelse.recipient_text["kommun"] == "Kvittera kallelse SIP i Lifecare SP"

    the(orebro, phase, "Förbereda och delta i SIP-möte", lane="kommun")
    patient = the(orebro, phase, "Delta i SIP-möte på sjukhus", lane="patient")
    assert "Delta och beskriva sina behov på SIP-mötet" in patient.text
    holder = the(orebro, phase, "Samordningsansvar för SIP-möte på sjukhus", lane="oppenvard")
    assert "dokumentera SIP i Lifecare SP" in holder.text
    assert orebro.phase(phase).note == "Rött spår"


def test_orebro_utskrivning_holds_discharge_talk_final_note_and_utskrivningsmeddelande(orebro: Pathway) -> None:
    phase = "utskrivning"
    agreed = the(orebro, phase, "Kontaktar och avtalar tidpunkt för utskrivning och hemresa", lane="slutenvard")
    assert agreed.sets_date == "discharge"
    the(orebro, phase, "Utskrivningssamtal", lane="slutenvard")
    the(orebro, phase, "Skriva Slutanteckning", lane="slutenvard")

    notice = the(orebro, phase, "Utskrivningsmeddelande", lane="slutenvard")
    assert (notice.kind, notice.recipients) == ("notice", ["kommun", "oppenvard"])
    assert notice.text == "Skicka Utskrivningsmedelande"  # the flowchart's spelling
    assert set(notice.recipient_text.values()) == {"Kvittera Utskrivningsmeddelande"}

    the(orebro, phase, "Planerar insatser inför hemgång utifrån SIP", lane="kommun")
    the(orebro, phase, "Planerar insatser inför hemgång utifrån SIP", lane="oppenvard")
    assert "Insatser i hemmet efter överenskommelse" in the(orebro, phase, "Insatser i hemmet").text
    npo = the(orebro, phase, "Ta del av slutanteckning och övrig information i NPÖ", lane="kommun")
    assert npo.needs_consent == "npo"
    the(orebro, phase, "Ta del av dokumentation", lane="oppenvard")

    written = the(orebro, phase, "Får skriftlig information", lane="patient")
    for words in ("Vårdsammanfattning", "Läkemedelslista", "SIP-planen i Lifecare SP", "recept/Apodos", "hjälpmedel"):
        assert words in written.text
    home = the(orebro, phase, "Blir utskriven en vardag", lane="patient")
    assert "Har fått information om uppföljning SIP" in home.text


def test_orebro_uppfoljning_holds_kallelse_uppfoljning_sip_and_follow_up(orebro: Pathway) -> None:
    phase = "uppfoljning"
    kallelse = the(orebro, phase, "Kalla till uppföljning SIP i Lifecare SP", lane="oppenvard")
    assert (kallelse.kind, kallelse.title, kallelse.recipients) == ("notice", "Kallelse uppföljning SIP", ["kommun"])
    assert kallelse.meeting == "sip_followup"
    assert kallelse.recipient_text["kommun"] == "Bevaka och Kvittera kallelse Uppföljning SIP i Lifecare SP"

    held = the(orebro, phase, "Delta i uppföljning av SIP och dokumentera uppföljningen", lane="oppenvard")
    assert held.meeting == "sip_followup"
    municipality = the(orebro, phase, "Planera för fortsatta insatser enligt SIP", lane="kommun")
    assert "Delta i uppföljning av SIP" in municipality.text
    patient = the(orebro, phase, "Blir kallad till Uppföljning SIP", lane="patient")
    assert "Får insatser enligt utskrivningsplanering och SIP" in patient.text


# --- STHF, step by step ------------------------------------------------------
def test_sthf_has_the_ten_steps_of_the_flow_as_phases(sthf: Pathway) -> None:
    assert [phase.title for phase in sthf.phases] == [
        "Planlegge utskrivning",
        "Starte saksbehandling, Etablere ressursteam",
        "Søknad om helse- og omsorgstjenester",
        "Planleggingsmøte 1 (anbefalt innen 14 dager)",
        "Utstyr og plan",
        "Planlegge videre utskrivelsesprosess",
        "Plan for opplæring",
        "Planleggingsmøte før utskrivelse",
        "Hjemreise",
        "Videre oppfølging",
    ]


def test_sthf_step1_hospital_plans_discharge_consent_date_and_plo(sthf: Pathway) -> None:
    phase = "planlegge-utskrivning"
    the(sthf, phase, "Etablere behandlingsteam", lane="sykehus")
    the(sthf, phase, "Kartlegge bistandsbehov", lane="sykehus")
    consent = the(sthf, phase, "Innhente samtykke til utsending av dokumentasjon", lane="sykehus")
    assert consent.asks_consent == "dokumentasjon"
    estimate = the(sthf, phase, "Estimere tentativ ut-dato", lane="sykehus")
    assert estimate.sets_date == "discharge"
    plo = the(sthf, phase, "Sende PLO", lane="sykehus")
    assert (plo.kind, plo.recipients, plo.needs_consent) == ("notice", ["kommunen"], "dokumentasjon")
    assert "Samarbeidsavtalens Retningslinje 3" in plo.text


def test_sthf_step2_municipality_starts_case_and_resource_team(sthf: Pathway) -> None:
    phase = "saksbehandling"
    the(sthf, phase, "Starte saksbehandling", lane="kommunen")
    team = the(sthf, phase, "Etablere ressursteam", lane="kommunen")
    for member in (
        "Fast saksbehandler",
        "Barnekoordinator",
        "Fastlege",
        "Koordinator",
        "Helsesykepleier",
        "Andre aktuelle",
    ):
        assert f"- {member}" in team.text


def test_sthf_step3_family_applies_for_services_as_a_notice_to_the_municipality(sthf: Pathway) -> None:
    application = the(sthf, "soknad", "Søknad om helse- og omsorgstjenester", lane="familien")
    assert (application.kind, application.recipients) == ("notice", ["kommunen"])
    for line in ("- Behov i hjemmet", "- Pårørendestøtte", "(Søknadsskjema og informasjon på kommunens hjemmeside)"):
        assert line in application.text


def test_sthf_step4_municipality_convenes_and_holds_planning_meeting_1(sthf: Pathway) -> None:
    phase = "planleggingsmote-1"
    invite = the(sthf, phase, "Innkalle til planleggingsmøte", lane="kommunen")
    assert (invite.kind, invite.meeting, invite.recipients) == ("notice", "meeting1", ["foresatt", "sykehus"])
    meeting = the(sthf, phase, "Planleggingsmøte 1 (anbefalt innen 14 dager)", lane="kommunen")
    assert meeting.meeting == "meeting1"


def test_sthf_step5_municipality_gets_equipment_and_plans(sthf: Pathway) -> None:
    item = the(sthf, "utstyr-og-plan", "Utstyr og plan", lane="kommunen")
    for line in ("- Skaffe medisin teknisk utstyr", "- Forbruksmateriell", "- Behandlingsplaner"):
        assert line in item.text


def test_sthf_step6_rest_of_discharge_planning_and_meetings_as_needed(sthf: Pathway) -> None:
    phase = "videre-utskrivelsesprosess"
    the(sthf, phase, "Planlegge videre utskrivelsesprosess")
    as_needed = the(sthf, phase, "Planleggingsmøter ved behov")
    assert as_needed.mandatory is False


def test_sthf_step7_municipality_tells_training_needs_and_hospital_plans_training(sthf: Pathway) -> None:
    phase = "opplaering"
    needs = the(sthf, phase, "Formidle opplæringsbehov til sykehus", lane="kommunen")
    assert (needs.kind, needs.recipients) == ("notice", ["sykehus"])
    plan = the(sthf, phase, "Plan for opplæring", lane="sykehus")
    for line in (
        "Starte planlegging for opplæring",
        "- Teoretisk",
        "- Praktisk",
        "- Hospitering/følgevakter",
        "- Digitalt/tilstede",
    ):
        assert line in plan.text


def test_sthf_step8_planning_meeting_before_discharge(sthf: Pathway) -> None:
    item = the(sthf, "mote-for-utskrivelse", "Planleggingsmøte før utskrivelse")
    assert item.meeting == "meeting_before_discharge"


def test_sthf_step9_child_goes_home_as_agreed(sthf: Pathway) -> None:
    item = the(sthf, "hjemreise", "Barnet reiser hjem etter avtale", lane="familien")
    assert "Samarbeidsavtalens Retningslinje 3" in item.text


def test_sthf_step10_follow_up_and_information_exchange(sthf: Pathway) -> None:
    phase = "videre-oppfolging"
    follow = the(sthf, phase, "Videre oppfølging", lane="sykehus")
    for line in (
        "- Innleggelser",
        "- Poliklinisk oppfølging/Hjemmesykehus ambulerende barneteam?",
        "- Barnepalliasjonsteam",
    ):
        assert line in follow.text
    assert any("palliativ-behandling-for-barn-og-unge" in link for link in follow.links)
    assert any("hjemmesykehus-for-barn-og-unge" in link for link in follow.links)

    notes = the(sthf, phase, "EDI polikliniske notater til kommune", lane="sykehus")
    assert (notes.kind, notes.recipients, notes.needs_consent) == ("notice", ["kommunen"], "dokumentasjon")
    assert "i henhold til avtale med kommunen definert i planleggingsmøte og samtykke" in notes.text
    needs = the(sthf, phase, "Formidle behov for faglig oppfølging", lane="kommunen")
    assert (needs.kind, needs.recipients) == ("notice", ["sykehus"])
    assert "EDI og dialogmeldinger" in needs.text
    the(sthf, phase, "Iverksette tjenester", lane="kommunen")
    receive = the(sthf, phase, "Mottak informasjon", lane="kommunen")
    assert "Tett dialog" in receive.text


# --- meetings ------------------------------------------------------------------
STHF_PARTICIPANTS = [
    "Foresatte",
    "Lege sykehuset",
    "Sykepleier sykehuset",
    "Saksbehandler kommunen",
    "Barnekoordinator",
    "Fysio- og Ergoterapeut",
    "Hjemmesykepleietjeneste",
    "Kreftkontakt",
    "Helsesykepleier",
    "Fastlege",
]


def test_sthf_planning_meeting_1_has_the_recommended_participants_and_topics_word_for_word(sthf: Pathway) -> None:
    meeting = sthf.meeting("meeting1")
    assert (meeting.title, meeting.date, meeting.convened_by) == ("Planleggingsmøte 1", "meeting1", "kommunen")
    assert meeting.participants == STHF_PARTICIPANTS
    assert meeting.topic_lines() == [
        "Sykehuset kommuniserer barnets helsetilstand/bistandsbehov",
        "«Hva er viktig for deg?»",
        "Kommunen formidler hittil status for saksbehandling",
        "Kommunen formidler pasientrettigheter",
        "Individuell plan",
        "Barnekoordinator",
        "Forløpskoordinator",
        "Ansvarsgruppe",
        "Fordeling av oppgaver videre",
        "Ny tentativ møtedato",
        "Sykehuset beskriver planlagt videre oppfølging",
    ]
    rights = meeting.topics[3]
    assert [sub.title for sub in rights.subtopics] == [
        "Individuell plan",
        "Barnekoordinator",
        "Forløpskoordinator",
        "Ansvarsgruppe",
    ]


def test_sthf_meeting_before_discharge_repeats_meeting_1_participants_and_says_so(sthf: Pathway) -> None:
    meeting = sthf.meeting("meeting_before_discharge")
    assert meeting.participants == STHF_PARTICIPANTS
    assert "Tilsvarende planleggingsmøte 1" in (meeting.note or "")


def test_sthf_meeting_before_discharge_has_the_special_agreements_agenda_word_for_word(sthf: Pathway) -> None:
    meeting = sthf.meeting("meeting_before_discharge")
    assert meeting.topic_lines() == [
        "Møte vedr individuelle særskilte avtaler før hjemreise",
        "Åpen retur",
        "Medisinskfaglig ansvarlig",
        "Oppfølging fra Barnepalliasjonsteam",
        "Behov for beredskapsplan",
        "Deltakere i ansvarsgruppemøter",
        "Følgepersonell ved fremtidig innleggelse",
        "Oppfølging Hjemmesykehus ambulerende barneteam",
        "Definere mottakere av informasjonsflyt",
        "Ved poliklinisk oppfølging",
        "Ved innleggelse",
        "Ved nye tjenestebehov",
        "Avklare digitale samhandlingsplattformer",
    ]
    information = meeting.topics[0].subtopics[7]
    assert [sub.title for sub in information.subtopics] == [
        "Ved poliklinisk oppfølging",
        "Ved innleggelse",
        "Ved nye tjenestebehov",
    ]


def test_orebro_sip_meetings_are_convened_by_oppenvard_without_invented_participants(orebro: Pathway) -> None:
    sip = orebro.meeting("sip_meeting")
    follow = orebro.meeting("sip_followup")
    assert (sip.title, sip.convened_by, sip.date, sip.phase) == (
        "SIP-möte på sjukhus",
        "oppenvard",
        "sip_meeting",
        "planering",
    )
    assert (follow.title, follow.convened_by, follow.date, follow.phase) == (
        "Uppföljning SIP",
        "oppenvard",
        "followup",
        "uppfoljning",
    )
    assert sip.participants == sip.topics == follow.participants == follow.topics == []


# --- rules ---------------------------------------------------------------------
def test_orebro_inskrivningsmeddelande_is_due_24_hours_after_admission_and_again_when_discharge_changes(
    orebro: Pathway,
) -> None:
    due = orebro.item("inskrivningsmeddelande").due
    assert due is not None
    assert (due.date, due.offset, due.unit, due.direction, due.renew_on) == (
        "admission",
        24,
        "hours",
        "after",
        ["discharge"],
    )
    assert "Lag (2017:612)" in due.source and "4 kap. 1 §" in due.source


def test_orebro_kallelse_sip_is_due_three_days_after_the_utskrivningsklarmeddelande(orebro: Pathway) -> None:
    due = orebro.item("kallelse-sip").due
    assert due is not None
    assert (due.item, due.offset, due.unit, due.date) == ("utskrivningsklarmeddelande", 3, "days", None)
    assert "Lag (2017:612)" in due.source and "4 kap. 4 §" in due.source


def test_orebro_sip_follow_up_is_due_on_its_followup_date(orebro: Pathway) -> None:
    due = orebro.item("uppfoljning-sip").due
    assert due is not None
    assert (due.date, due.offset, due.unit) == ("followup", 0, "days")


def test_orebro_discharge_must_be_on_a_working_day_citing_the_flowchart(orebro: Pathway) -> None:
    discharge = orebro.date("discharge")
    assert discharge.working_day_only is True
    assert "Hemgång ska ske på vardagar" in (discharge.source or "")


def test_sthf_planning_meeting_1_is_due_14_days_after_the_case_starts(sthf: Pathway) -> None:
    assert sthf.date("case_start").set_on_case_open is True
    due = sthf.item("planleggingsmote-1").due
    assert due is not None
    assert (due.date, due.offset, due.unit, due.direction) == ("case_start", 14, "days", "after")
    assert "anbefalt innen 14 dager" in due.source


def test_sthf_meeting_before_discharge_is_due_before_the_tentative_discharge_date(sthf: Pathway) -> None:
    due = sthf.item("planleggingsmote-for-utskrivelse").due
    assert due is not None
    assert (due.date, due.direction, due.unit) == ("discharge", "before", "days")


def test_sthf_plo_is_due_once_the_tentative_discharge_date_is_estimated(sthf: Pathway) -> None:
    due = sthf.item("plo").due
    assert due is not None
    assert (due.item, due.offset, due.unit) == ("tentativ-ut-dato", 0, "hours")
    assert "Samarbeidsavtalens Retningslinje 3" in due.source


def test_acknowledgements_default_to_the_end_of_the_next_working_day(sthf: Pathway, orebro: Pathway) -> None:
    for pathway in (sthf, orebro):
        ack = pathway.settings.default_ack_due
        assert (ack.offset, ack.unit, ack.at) == (1, "working_days", "16:00")
        assert "Homeward product default" in ack.source


# --- consents and plan -------------------------------------------------------
def test_orebro_sip_consent_is_covered_by_the_admission_consent_as_the_flowchart_says(orebro: Pathway) -> None:
    sip = orebro.consent("sip")
    assert sip.covered_by is not None and sip.covered_by.consent == "informationsoverforing"
    assert "Inget nytt samtycke registreras" in sip.covered_by.source
    assert "Inget nytt samtycke registreras" in (sip.quote or "")
    assert "utan att patienten varit inlagd" in (sip.quote or "")
    assert {"notice:kallelse-sip", "notice:kallelse-uppfoljning-sip"} <= set(sip.covers)


def test_orebro_has_consents_for_lifecare_information_transfer_npo_and_sip(orebro: Pathway) -> None:
    assert [c.id for c in orebro.consents] == ["informationsoverforing", "npo", "sip"]
    assert orebro.consent("npo").title == "Samtycke till sammanhållen journalföring (NPÖ)"


def test_sthf_consent_to_send_documentation_gates_plo_and_edi_notes(sthf: Pathway) -> None:
    consent = sthf.consent("dokumentasjon")
    assert consent.title == "Samtykke til utsending av dokumentasjon"
    assert consent.answered_by == "all_guardians"
    assert {"notice:plo", "notice:edi-notater", "export"} == set(consent.covers)
    assert sthf.consent("individuell-plan").title == "Samtykke til individuell plan"


def test_plan_vocabulary_is_in_each_pathways_language(sthf: Pathway, orebro: Pathway) -> None:
    assert (orebro.plan.name, orebro.plan.goal, orebro.plan.subgoal, orebro.plan.action, orebro.plan.followup) == (
        "SIP – samordnad individuell plan",
        "Huvudmål",
        "Delmål",
        "Insatser",
        "Uppföljningsdatum",
    )
    assert (sthf.plan.name, sthf.plan.goal, sthf.plan.action, sthf.plan.coordinator, sthf.plan.period) == (
        "Individuell plan",
        "Mål",
        "Tiltak",
        "Koordinator",
        "Planperiode",
    )


# --- helpers -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("typed", "lane"),
    [
        ("slutenvard", "slutenvard"),
        ("Slutenvård", "slutenvard"),
        ("slutenvård", "slutenvard"),
        ("SLUTENVÅRD", "slutenvard"),
        ("slutenvaard", "slutenvard"),
        ("Slutenva\u030ard", "slutenvard"),  # å typed as a + combining ring
        ("Öppenvård", "oppenvard"),
        ("oppenvard", "oppenvard"),
        ("fast vårdkontakt", "oppenvard"),
        ("Vårdnadshavare", "vardnadshavare"),
        ("vardnadshavare", "vardnadshavare"),
        ("Närstående", "patient"),
        ("narstaende", "patient"),
        ("  kommun ", "kommun"),
    ],
)
def test_find_lane_matches_id_name_or_alias_with_or_without_diacritics(orebro: Pathway, typed: str, lane: str) -> None:
    found = orebro.find_lane(typed)
    assert found is not None and found.id == lane


@pytest.mark.parametrize(
    ("typed", "lane"),
    [("Foresatte", "foresatt"), ("sykehuset", "sykehus"), ("STHF", "sykehus"), ("Barnet og familien", "familien")],
)
def test_find_lane_works_in_norwegian_too(sthf: Pathway, typed: str, lane: str) -> None:
    found = sthf.find_lane(typed)
    assert found is not None and found.id == lane


def test_find_lane_returns_none_for_an_unknown_word(orebro: Pathway) -> None:
    assert orebro.find_lane("tandläkare") is None


def test_items_come_in_source_order_with_their_phase(orebro: Pathway) -> None:
    pairs = orebro.items()
    assert pairs[0][0].id == "identifiering" and pairs[0][1].id == "inskrivning"
    assert pairs[-1][0].id == "uppfoljning"
    assert len(pairs) == sum(len(phase.items) for phase in orebro.phases)


def test_item_finds_by_id_and_raises_keyerror_otherwise(orebro: Pathway) -> None:
    assert orebro.item("kallelse-sip").title == "Kallelse SIP"
    assert orebro.date("sip_meeting").label == "SIP-möte på sjukhus"
    with pytest.raises(KeyError):
        orebro.item("no-such-item")


# --- errors --------------------------------------------------------------------
def test_wrong_value_names_file_path_allowed_values_and_what_was_given(tmp_path: Path) -> None:
    data = raw("orebro")
    p, i = locate(data, "kallelse-sip")
    data["phases"][p]["items"][i]["due"]["unit"] = "weeks"
    problems = problems_of(write(tmp_path, "orebro", data))
    assert problems == [
        f"orebro.yaml: phases[{p}].items[{i}].due.unit: must be one of hours, days, working_days (got 'weeks')"
    ]


def test_misspelt_field_is_an_error_with_a_suggestion(tmp_path: Path) -> None:
    data = raw("orebro")
    p, i = locate(data, "kallelse-sip")
    item = data["phases"][p]["items"][i]
    item["recipents"] = item.pop("recipients")
    problems = problems_of(write(tmp_path, "orebro", data))
    assert f"orebro.yaml: phases[{p}].items[{i}].recipents: unknown field (did you mean 'recipients'?)" in problems


def test_unknown_lane_reference_is_an_error(tmp_path: Path) -> None:
    data = raw("sthf")
    p, i = locate(data, "soknad")
    data["phases"][p]["items"][i]["recipients"] = ["kommune"]  # an alias, not the lane id
    problems = problems_of(write(tmp_path, "sthf", data))
    assert problems == [
        f"sthf.yaml: phases[{p}].items[{i}].recipients[0]: unknown lane 'kommune' "
        "(known: barn, familien, foresatt, kommunen, sykehus)"
    ]


def test_every_problem_is_reported_on_its_own_line(tmp_path: Path) -> None:
    data = raw("sthf")
    p, i = locate(data, "plo")
    data["phases"][p]["items"][i]["sender"] = "legen"
    data["meetings"][0]["convened_by"] = "ingen"
    with pytest.raises(PathwayError) as caught:
        load_pathway(write(tmp_path, "sthf", data))
    assert str(caught.value).splitlines() == [
        f"sthf.yaml: phases[{p}].items[{i}].sender: unknown lane 'legen' "
        "(known: barn, familien, foresatt, kommunen, sykehus)",
        "sthf.yaml: meetings[0].convened_by: unknown lane 'ingen' (known: barn, familien, foresatt, kommunen, sykehus)",
    ]


def test_a_task_must_not_have_a_sender_and_a_notice_needs_recipients(tmp_path: Path) -> None:
    data = raw("sthf")
    p, i = locate(data, "behandlingsteam")
    data["phases"][p]["items"][i]["sender"] = "sykehus"
    q, j = locate(data, "soknad")
    data["phases"][q]["items"][j]["recipients"] = []
    problems = problems_of(write(tmp_path, "sthf", data))
    assert f"sthf.yaml: phases[{p}].items[{i}].sender: only a notice has this (this item is a task)" in problems
    assert f"sthf.yaml: phases[{q}].items[{j}].recipients: a notice needs at least one recipient lane" in problems


def test_a_due_rule_needs_exactly_one_anchor(tmp_path: Path) -> None:
    data = raw("orebro")
    p, i = locate(data, "kallelse-sip")
    data["phases"][p]["items"][i]["due"]["date"] = "admission"
    problems = problems_of(write(tmp_path, "orebro", data))
    assert problems == [
        f"orebro.yaml: phases[{p}].items[{i}].due: "
        "give exactly one of 'date' (a named date) or 'item' (another item's completion)"
    ]


def test_due_rules_that_wait_on_each_other_in_a_circle_are_an_error(tmp_path: Path) -> None:
    data = raw("orebro")
    p, i = locate(data, "utskrivningsklarmeddelande")
    data["phases"][p]["items"][i]["due"] = {"item": "kallelse-sip", "offset": 1, "unit": "days", "source": "test"}
    problems = problems_of(write(tmp_path, "orebro", data))
    assert any("due rules form a circle" in line for line in problems)


def test_a_gated_notice_and_its_consent_must_agree(tmp_path: Path) -> None:
    data = raw("sthf")
    data["consents"][0]["covers"] = ["notice:edi-notater", "export"]  # plo left out
    p, i = locate(data, "plo")
    problems = problems_of(write(tmp_path, "sthf", data))
    assert problems == [
        f"sthf.yaml: phases[{p}].items[{i}].needs_consent: consent 'dokumentasjon' does not list 'notice:plo' in covers"
    ]


def test_yaml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("id: broken\ntitle: x\nlanes:\n  - id: a\n   name: b\n", encoding="utf-8")
    problems = problems_of(path)
    assert len(problems) == 1
    assert re.match(r"broken\.yaml: line 5, column \d+: YAML syntax error: ", problems[0])


def test_a_key_written_twice_is_an_error_naming_the_line(tmp_path: Path) -> None:
    text = (
        (PATHWAYS / "orebro.yaml")
        .read_text(encoding="utf-8")
        .replace("title: Kallelse SIP\n", "title: Kallelse SIP\n        title: Kallelse\n", 1)
    )
    path = tmp_path / "orebro.yaml"
    path.write_text(text, encoding="utf-8")
    line = text.splitlines().index("        title: Kallelse") + 1
    problems = problems_of(path)
    assert problems == [
        f"orebro.yaml: line {line}, column 9: YAML syntax error: duplicate key 'title' (while reading a mapping)"
    ]


def test_unquoted_NO_and_times_are_read_as_text_not_false_and_minutes(tmp_path: Path) -> None:
    text = readme_example().replace('country: "GB"', "country: NO").replace('at: "12:00"', "at: 12:00")
    text = text.replace("timezone: Europe/London", "timezone: Europe/Oslo")
    path = tmp_path / "example.yaml"
    path.write_text(text, encoding="utf-8")
    pathway = load_pathway(path)
    assert pathway.country == "NO"
    due = pathway.item("referral").due
    assert due is not None and due.at == "12:00"


def test_an_unknown_time_zone_is_an_error(tmp_path: Path) -> None:
    data = raw("sthf")
    data["timezone"] = "Europe/Skien"
    assert problems_of(write(tmp_path, "sthf", data)) == [
        "sthf.yaml: timezone: unknown IANA time zone 'Europe/Skien' (e.g. 'Europe/Oslo')"
    ]


def test_the_id_must_match_the_file_name(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, "telemark", raw("sthf")))
    assert problems == ["telemark.yaml: id: must match the file name 'telemark' (got 'sthf')"]


def test_load_pathways_reports_the_problems_of_every_bad_file(tmp_path: Path) -> None:
    sthf_data, orebro_data = raw("sthf"), raw("orebro")
    sthf_data["language"] = "no"
    orebro_data["country"] = "Sverige"
    write(tmp_path, "sthf", sthf_data)
    write(tmp_path, "orebro", orebro_data)
    with pytest.raises(PathwayError) as caught:
        load_pathways(tmp_path)
    assert caught.value.problems == [
        "orebro.yaml: country: must be a two-letter ISO country code in quotes, e.g. 'NO' or 'SE' (got 'Sverige')",
        "sthf.yaml: language: must be one of nb, sv, en (got 'no')",
    ]


# --- documentation -----------------------------------------------------------
def readme_example() -> str:
    readme = (PATHWAYS / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", readme, flags=re.DOTALL)
    assert len(blocks) == 1
    return blocks[0]


def test_the_example_pathway_in_the_readme_is_valid(tmp_path: Path) -> None:
    path = tmp_path / "example.yaml"
    path.write_text(readme_example(), encoding="utf-8")
    pathway = load_pathway(path)
    assert pathway.language == "en"
    assert pathway.meeting("planning_meeting").topic_lines() == [
        "What matters to you?",
        "Equipment",
        "Oxygen",
        "Feeding pump",
    ]


# --- statutory clocks -------------------------------------------------------------------------
def test_a_clock_must_start_on_an_item_of_the_pathway(tmp_path: Path) -> None:
    data = raw("orebro")
    data["clocks"][0]["start"]["item"] = "utskrivningsklar"
    problems = problems_of(write(tmp_path, "orebro", data))
    assert len(problems) == 1 and problems[0].startswith(
        "orebro.yaml: clocks[0].start.item: unknown item 'utskrivningsklar' (known: "
    )


def test_a_clock_on_a_date_names_a_date_of_the_pathway(tmp_path: Path) -> None:
    data = raw("sthf")
    data["clocks"][0]["stop"][0]["date"] = "offer_ready"
    problems = problems_of(write(tmp_path, "sthf", data))
    assert len(problems) == 1 and problems[0].startswith(
        "sthf.yaml: clocks[0].stop[0].date: unknown date 'offer_ready' (known: "
    )


def test_only_a_notice_is_sent(tmp_path: Path) -> None:
    data = raw("orebro")
    data["clocks"][0]["stop"][1]["when"] = "sent"  # hemgang is a task
    assert problems_of(write(tmp_path, "orebro", data)) == [
        "orebro.yaml: clocks[0].stop[1].when: 'hemgang' is a task: only a notice is sent (use 'done')"
    ]


def test_a_clock_point_is_an_item_with_when_or_a_date_not_both(tmp_path: Path) -> None:
    data = raw("orebro")
    data["clocks"][0]["start"]["date"] = "discharge"
    del data["clocks"][0]["stop"][0]["when"]
    assert problems_of(write(tmp_path, "orebro", data)) == [
        "orebro.yaml: clocks[0].start: give exactly one of 'item' (with 'when') or 'date'",
        "orebro.yaml: clocks[0].stop[0].when: required with 'item': sent or done",
    ]


def test_a_clock_counts_calendar_or_working_days(tmp_path: Path) -> None:
    data = raw("orebro")
    data["clocks"][0]["counting"] = "days"
    assert problems_of(write(tmp_path, "orebro", data)) == [
        "orebro.yaml: clocks[0].counting: must be one of calendar_days, working_days (got 'days')"
    ]


def test_a_misspelt_clock_field_is_an_error_with_a_suggestion(tmp_path: Path) -> None:
    data = raw("orebro")
    data["clocks"][0]["limits"] = data["clocks"][0].pop("limit")
    problems = problems_of(write(tmp_path, "orebro", data))
    assert "orebro.yaml: clocks[0].limits: unknown field (did you mean 'limit'?)" in problems
    assert "orebro.yaml: clocks[0].limit: required field is missing" in problems


def test_a_clock_needs_its_source(tmp_path: Path) -> None:
    data = raw("sthf")
    del data["clocks"][0]["source"]
    assert problems_of(write(tmp_path, "sthf", data)) == ["sthf.yaml: clocks[0].source: required field is missing"]


def test_a_clock_id_is_not_an_item_id_and_is_unique(tmp_path: Path) -> None:
    data = raw("orebro")
    data["clocks"].append({**data["clocks"][0], "id": "hemgang"})
    data["clocks"].append(dict(data["clocks"][0]))
    assert problems_of(write(tmp_path, "orebro", data)) == [
        "orebro.yaml: clocks[2].id: duplicate clock id 'betalningsansvar'",
        "orebro.yaml: clocks[1].id: 'hemgang' is also an item id; a clock needs its own id",
    ]


def test_a_clock_that_stops_as_it_starts_is_an_error(tmp_path: Path) -> None:
    data = raw("orebro")
    data["clocks"][0]["stop"].append(dict(data["clocks"][0]["start"]))
    assert problems_of(write(tmp_path, "orebro", data)) == [
        "orebro.yaml: clocks[0].stop[2]: is the same as the start: the clock would stop as it starts"
    ]


def test_a_clock_limit_is_a_whole_number_of_days_not_negative(tmp_path: Path) -> None:
    data = raw("orebro")
    data["clocks"][0]["limit"] = -1
    assert problems_of(write(tmp_path, "orebro", data)) == ["orebro.yaml: clocks[0].limit: must be 0 or more (got -1)"]


def test_a_named_date_is_found_by_its_id_or_a_word_of_the_pathways_language(orebro: Pathway, sthf: Pathway) -> None:
    def found(pathway: Pathway, text: str) -> str | None:
        named = pathway.find_date(text)
        return named.id if named is not None else None

    assert found(orebro, "inskrivning") == "admission"
    assert found(orebro, "Utskrivning") == "discharge"
    assert found(orebro, "discharge") == "discharge"
    assert found(sthf, "innleggelse") == "admission"
    assert orebro.find_date("nonsense") is None


def test_two_dates_cannot_share_a_word(orebro: Pathway) -> None:
    data = orebro.model_dump(mode="json", exclude_none=True)
    data["dates"][1]["aliases"] = ["inskrivning"]
    with pytest.raises(Exception, match="also finds date 'admission'"):
        Pathway.model_validate(data)
