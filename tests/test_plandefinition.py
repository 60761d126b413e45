"""Pathways as FHIR R4 PlanDefinition (exports/plandefinition.py): export, validate, import, compare.

fhir.resources has no plain R4 package any more; R4B (4.3) is R4 with a few resources
added, and PlanDefinition, CarePlan and Task are the same there.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.plandefinition import PlanDefinition

from homeward.care.pathway import Pathway, default_pathways_dir, load_pathway, load_pathways, pathway_version
from homeward.exports.fhir import to_fhir_bundle
from homeward.exports.plandefinition import (
    PlanDefinitionError,
    from_plan_definition,
    pathway_yaml,
    plan_definition_canonical,
    to_plan_definition,
)
from tests.test_exports import norwegian_plan

PATHWAYS = load_pathways(default_pathways_dir())


@pytest.mark.parametrize("pathway_id", sorted(PATHWAYS))
def test_a_bundled_pathway_round_trips_through_a_validated_plan_definition(pathway_id: str, tmp_path: Path) -> None:
    pathway = PATHWAYS[pathway_id]
    exported = json.loads(json.dumps(to_plan_definition(pathway), ensure_ascii=False))
    checked = PlanDefinition.model_validate(exported)  # the shape and the required elements of R4(B)
    as_fhir_writes_it = json.loads(checked.model_dump_json(exclude_none=True))
    back = from_plan_definition(as_fhir_writes_it)
    assert back == pathway  # everything Homeward uses: lanes, dates, items, rules, clocks, reasons…
    (tmp_path / f"{pathway_id}.yaml").write_text(pathway_yaml(back, "test"), encoding="utf-8")
    assert load_pathway(tmp_path / f"{pathway_id}.yaml") == pathway  # and as a pathway file to review


def test_the_plan_definition_says_the_pathway_in_fhirs_own_terms() -> None:
    pathway = PATHWAYS["orebro"]
    resource = to_plan_definition(pathway)
    assert (resource["url"], resource["version"]) == ("urn:homeward:pathway:orebro", pathway_version(pathway))
    assert resource["type"]["coding"][0]["code"] == "workflow-definition"
    assert resource["jurisdiction"][0]["coding"][0]["code"] == "SE"
    phases = resource["action"]
    assert [p["id"] for p in phases] == [f"phase-{p.id}" for p in pathway.phases]
    assert phases[1]["relatedAction"] == [{"actionId": "phase-identifiering", "relationship": "after-end"}]
    items = {a["id"]: a for p in phases for a in p["action"]}
    notice = items["item-inskrivningsmeddelande"]
    assert notice["requiredBehavior"] == "must" and notice["code"][0]["coding"][0]["code"] == "notice"
    assert [(p["type"], p["role"]["coding"][0]["code"]) for p in notice["participant"]] == [
        ("practitioner", "slutenvard"),
        ("practitioner", "kommun"),
        ("practitioner", "oppenvard"),
    ]
    assert notice["timingDuration"] == {"value": 24, "unit": "h", "system": "http://unitsofmeasure.org", "code": "h"}
    assert notice["documentation"][0]["type"] == "citation" and "2017:612" in notice["documentation"][0]["display"]
    summons = items["item-kallelse-sip"]  # due three days after the utskrivningsklarmeddelande was sent
    assert summons["relatedAction"][0]["actionId"] == "item-utskrivningsklarmeddelande"
    assert summons["relatedAction"][0]["offsetDuration"]["value"] == 3


def test_the_case_export_names_the_plan_definition_it_instantiates() -> None:
    doc = norwegian_plan()
    canonical = plan_definition_canonical(PATHWAYS["sthf"])
    bundle = to_fhir_bundle(doc.__class__(**{**doc.__dict__, "pathway_canonical": canonical}))
    Bundle.model_validate(bundle)
    plan = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "CarePlan")
    assert plan["instantiatesCanonical"] == ["urn:homeward:pathway:sthf|1"]


def test_a_resource_that_is_not_a_homeward_plan_definition_is_refused_with_where() -> None:
    with pytest.raises(PlanDefinitionError, match="not a PlanDefinition"):
        from_plan_definition({"resourceType": "CarePlan"})
    resource = to_plan_definition(PATHWAYS["sthf"])
    resource["action"][0]["action"][0]["participant"][0]["role"] = {"text": "someone"}
    with pytest.raises(PlanDefinitionError, match=r"action\[0\]\.action\[0\]: a participant without a Homeward lane"):
        from_plan_definition(resource)


def test_an_imported_pathway_is_checked_like_a_file(tmp_path: Path) -> None:
    resource = to_plan_definition(PATHWAYS["sthf"])
    resource["action"][0]["action"][4]["relatedAction"][0]["actionId"] = "item-nowhere"
    for extension in resource["action"][0]["action"][4]["extension"][0]["extension"]:
        if extension["url"] == "due":
            for part in extension["extension"]:
                if part["url"] == "item":
                    part["valueString"] = "nowhere"
    with pytest.raises(ValueError, match="unknown item 'nowhere'"):
        from_plan_definition(resource)


def test_a_pathway_without_a_version_is_named_by_a_digest_of_its_content() -> None:
    bare: Pathway = PATHWAYS["sthf"].model_copy(update={"version": None})
    assert pathway_version(bare).startswith("sha256:")
    assert from_plan_definition(to_plan_definition(bare)).version is None
