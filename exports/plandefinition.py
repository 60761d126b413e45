"""A pathway as a FHIR R4 ``PlanDefinition``, and a PlanDefinition back into a pathway.

What the PlanDefinition says in FHIR's own terms, for any FHIR tool to read (CPG-on-FHIR
describes pathways this way):

- the pathway: ``url`` (canonical, `plan_definition_canonical`), ``identifier`` (its id),
  ``version``, ``title``, ``type`` workflow-definition, ``language``, ``jurisdiction`` (the
  country), ``description`` (the source document);
- one ``action`` per phase (``id`` ``phase-<id>``, ``title``, ``description`` its note), in
  order: each phase ``relatedAction`` ``after-end`` of the one before;
- inside it one ``action`` per item (``id`` ``item-<id>``): ``title``, ``description`` (the
  source's words), ``code`` task or notice, ``requiredBehavior`` must (mandatory) or could;
  ``participant`` per lane taking part — the lane that does a task, or a notice's sender
  and its receivers — with the lane as ``role`` and its part (owner, sender, recipient) in
  an extension; the timing of its due rule (``timingDuration``, or ``relatedAction``
  ``after-end`` with ``offsetDuration`` when it is due after another item), in UCUM hours or
  days (working days have no UCUM unit: those are in the extension only); the legal source
  of each rule as ``documentation`` of type ``citation``, and the source's links as
  ``documentation`` of type ``documentation``.

What FHIR has no element for — the named dates, the lanes' words, meetings, consents,
statutory clocks, delay reasons, the words of the coordinated plan, a rule's exact anchor
and unit — is carried in extensions (``urn:homeward:fhir:*``), each model of
`care.pathway` as a complex extension of its fields. Reading back takes the native
elements where they carry the value and the extensions for the rest, so a pathway exported
and imported compares equal in everything Homeward uses (`tests/test_plandefinition.py`).
"""

from __future__ import annotations

import types
from datetime import date
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel

from homeward.care.pathway import (
    CarePlanTerms,
    Clock,
    Consent,
    DelayReason,
    Item,
    Lane,
    Meeting,
    NamedDate,
    Pathway,
    Settings,
    pathway_version,
)

CANONICAL_BASE = "urn:homeward:pathway:"
EXTENSION = "urn:homeward:fhir:"
PATHWAY_SYSTEM = "urn:homeward:pathway"
KIND_SYSTEM = "urn:homeward:item-kind"
TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/plan-definition-type"
UCUM = "http://unitsofmeasure.org"
COUNTRY_SYSTEM = "urn:iso:std:iso:3166"
#: A lane's role as FHIR's action participant type.
PARTICIPANT_TYPE = {
    "family": "related-person",
    "guardian": "related-person",
    "child": "patient",
    "care": "practitioner",
}
#: The pathway's own parts that FHIR has no element for, carried as extensions, in the file's order.
PATHWAY_PARTS: tuple[tuple[str, type[BaseModel] | None], ...] = (
    ("timezone", None),
    ("notes", None),
    ("lanes", Lane),
    ("dates", NamedDate),
    ("meetings", Meeting),
    ("consents", Consent),
    ("clocks", Clock),
    ("delay_reasons", DelayReason),
    ("plan", CarePlanTerms),
    ("settings", Settings),
)
#: The fields of an item in its extension; the others are native elements of its action.
ITEM_PARTS = (
    "recipient_text",
    "needs_consent",
    "asks_consent",
    "sets_date",
    "due",
    "ack_due",
    "carries",
    "meeting",
    "note",
)


class PlanDefinitionError(ValueError):
    """The PlanDefinition cannot be read as a pathway; the message says where."""


def plan_definition_canonical(pathway: Pathway) -> str:
    """The canonical reference of the pathway's PlanDefinition with its version: `url|version`."""
    return f"{CANONICAL_BASE}{pathway.id}|{pathway_version(pathway)}"


# --- models as complex extensions -----------------------------------------------------------------
def _encode(url: str, value: Any) -> list[dict[str, Any]]:
    """`value` as extensions named `url`: one per element of a list, a complex one per model or mapping."""
    if value is None:
        return []
    if isinstance(value, list):
        return [e for element in value for e in _encode(url, element)]
    if isinstance(value, BaseModel):
        inner = [e for name in type(value).model_fields for e in _encode(name, getattr(value, name))]
        return [{"url": url, "extension": inner}] if inner else []
    if isinstance(value, dict):
        inner = [{"url": str(key), "valueString": str(text)} for key, text in value.items()]
        return [{"url": url, "extension": inner}] if inner else []
    if isinstance(value, bool):
        return [{"url": url, "valueBoolean": value}]
    if isinstance(value, int):
        return [{"url": url, "valueInteger": value}]
    if isinstance(value, float):
        return [{"url": url, "valueDecimal": value}]
    if isinstance(value, date):
        return [{"url": url, "valueDate": value.isoformat()}]
    return [{"url": url, "valueString": str(value)}]


def _unwrap(annotation: Any) -> Any:
    """The type inside Annotated[…] and Optional[…]."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            options = [a for a in get_args(annotation) if a is not type(None)]
            annotation = options[0]
        else:
            return annotation


def _primitive(extension: dict[str, Any], where: str) -> Any:
    for key in ("valueString", "valueBoolean", "valueInteger", "valueDecimal", "valueDate", "valueCode"):
        if key in extension:
            return extension[key]
    raise PlanDefinitionError(f"{where}: extension {extension.get('url')!r} has no value")


def _decode(model: type[BaseModel], extension: dict[str, Any], where: str) -> dict[str, Any]:
    """The fields of `model` from a complex extension (values as the model validates them)."""
    data: dict[str, Any] = {}
    for sub in extension.get("extension", []):
        name = sub.get("url")
        if name not in model.model_fields:
            raise PlanDefinitionError(f"{where}: {model.__name__} has no field {name!r}")
        annotation = _unwrap(model.model_fields[name].annotation)
        if get_origin(annotation) is list:
            data.setdefault(name, []).append(_value(_unwrap(get_args(annotation)[0]), sub, f"{where}.{name}"))
        else:
            data[name] = _value(annotation, sub, f"{where}.{name}")
    return data


def _value(annotation: Any, extension: dict[str, Any], where: str) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _decode(annotation, extension, where)
    if get_origin(annotation) is dict:
        return {e["url"]: _primitive(e, where) for e in extension.get("extension", [])}
    if get_origin(annotation) is Literal or annotation in (str, int, float, bool, date):
        return _primitive(extension, where)
    raise PlanDefinitionError(f"{where}: cannot read a {annotation!r}")


def _ext(url: str) -> str:
    return EXTENSION + url


def _find(extensions: list[dict[str, Any]], url: str) -> list[dict[str, Any]]:
    return [e for e in extensions if e.get("url") == url]


# --- export ---------------------------------------------------------------------------------------
def _duration(offset: int, unit: str) -> dict[str, Any] | None:
    """A due rule's offset as a UCUM Duration; None for working days (UCUM has none)."""
    if unit == "hours":
        return {"value": offset, "unit": "h", "system": UCUM, "code": "h"}
    if unit == "days":
        return {"value": offset, "unit": "d", "system": UCUM, "code": "d"}
    return None


def _role(pathway: Pathway, lane_id: str) -> dict[str, Any]:
    lane = pathway.lane(lane_id)
    return {"coding": [{"system": f"urn:homeward:lane:{pathway.id}", "code": lane.id, "display": lane.name}]}


def _participant(pathway: Pathway, lane_id: str, part: str) -> dict[str, Any]:
    return {
        "extension": [{"url": _ext("participation"), "valueCode": part}],
        "type": PARTICIPANT_TYPE[pathway.lane(lane_id).role],
        "role": _role(pathway, lane_id),
    }


def _item_action(pathway: Pathway, item: Item) -> dict[str, Any]:
    action: dict[str, Any] = {
        "id": f"item-{item.id}",
        "title": item.title,
        "description": item.text,
        "code": [{"coding": [{"system": KIND_SYSTEM, "code": item.kind}]}],
        "requiredBehavior": "must" if item.mandatory else "could",
    }
    parts = [e for name in ITEM_PARTS for e in _encode(name, getattr(item, name))]
    if parts:
        action["extension"] = [{"url": _ext("item"), "extension": parts}]
    if item.kind == "task":
        action["participant"] = [_participant(pathway, item.lane or "", "owner")]
    else:
        action["participant"] = [
            _participant(pathway, item.sender or "", "sender"),
            *(_participant(pathway, lane, "recipient") for lane in item.recipients),
        ]
    documentation: list[dict[str, Any]] = []
    if item.due is not None:
        rule = item.due
        duration = _duration(rule.offset, rule.unit)
        if rule.item is not None:
            related: dict[str, Any] = {"actionId": f"item-{rule.item}", "relationship": "after-end"}
            if duration is not None:
                related["offsetDuration"] = duration
            action["relatedAction"] = [related]
        elif duration is not None:
            action["timingDuration"] = duration
        documentation.append({"type": "citation", "label": "due", "display": rule.source})
    if item.ack_due is not None:
        documentation.append({"type": "citation", "label": "ack_due", "display": item.ack_due.source})
    documentation.extend({"type": "documentation", "url": link} for link in item.links)
    if documentation:
        action["documentation"] = documentation
    return action


def to_plan_definition(pathway: Pathway) -> dict[str, Any]:
    """The pathway as an R4 PlanDefinition (plain JSON-ready data)."""
    url, version = plan_definition_canonical(pathway).split("|", 1)
    extensions = [e for name, _ in PATHWAY_PARTS for e in _encode(_ext(name), getattr(pathway, name))]
    if pathway.version is not None:
        extensions.append({"url": _ext("version"), "valueString": pathway.version})
    phases: list[dict[str, Any]] = []
    for n, phase in enumerate(pathway.phases):
        action: dict[str, Any] = {"id": f"phase-{phase.id}", "title": phase.title}
        if phase.note:
            action["description"] = phase.note
        if n:
            action["relatedAction"] = [{"actionId": f"phase-{pathway.phases[n - 1].id}", "relationship": "after-end"}]
        action["action"] = [_item_action(pathway, item) for item in phase.items]
        phases.append(action)
    return {
        "resourceType": "PlanDefinition",
        "id": f"homeward-{pathway.id.replace('_', '-')}"[:64],
        "language": pathway.language,
        "extension": extensions,
        "url": url,
        "identifier": [{"system": PATHWAY_SYSTEM, "value": pathway.id}],
        "version": version,
        "name": "".join(part.capitalize() for part in pathway.id.split("_")),
        "title": pathway.title,
        "type": {"coding": [{"system": TYPE_SYSTEM, "code": "workflow-definition", "display": "Workflow Definition"}]},
        "status": "active",
        "description": pathway.source,
        "jurisdiction": [{"coding": [{"system": COUNTRY_SYSTEM, "code": pathway.country}]}],
        "relatedArtifact": [{"type": "citation", "display": pathway.source}],
        "action": phases,
    }


# --- import ---------------------------------------------------------------------------------------
def _lane_of(participant: dict[str, Any], where: str) -> tuple[str, str]:
    """(lane id, part) of an action's participant."""
    codings = (participant.get("role") or {}).get("coding") or []
    lane = next((c.get("code") for c in codings if str(c.get("system", "")).startswith("urn:homeward:lane:")), None)
    part = next(
        (e.get("valueCode") for e in participant.get("extension", []) if e.get("url") == _ext("participation")),
        None,
    )
    if lane is None or part is None:
        raise PlanDefinitionError(f"{where}: a participant without a Homeward lane and part")
    return lane, part


def _item(action: dict[str, Any], where: str) -> dict[str, Any]:
    ident = str(action.get("id", ""))
    if not ident.startswith("item-"):
        raise PlanDefinitionError(f"{where}: an item's action id starts with 'item-' (got {ident!r})")
    kinds = [
        c.get("code")
        for code in action.get("code", [])
        for c in code.get("coding", [])
        if c.get("system") == KIND_SYSTEM
    ]
    data: dict[str, Any] = {
        "id": ident.removeprefix("item-"),
        "kind": kinds[0] if kinds else None,
        "title": action.get("title"),
        "text": action.get("description"),
        "mandatory": action.get("requiredBehavior") == "must",
    }
    for extension in _find(action.get("extension", []), _ext("item")):
        data.update(_decode(Item, extension, where))
    lanes = [_lane_of(p, where) for p in action.get("participant", [])]
    for lane, part in lanes:
        if part == "owner":
            data["lane"] = lane
        elif part == "sender":
            data["sender"] = lane
        elif part == "recipient":
            data.setdefault("recipients", []).append(lane)
    links = [d["url"] for d in action.get("documentation", []) if d.get("type") == "documentation" and d.get("url")]
    if links:
        data["links"] = links
    return data


def from_plan_definition(resource: dict[str, Any]) -> Pathway:
    """The pathway a PlanDefinition (as `to_plan_definition` writes it) describes; PlanDefinitionError if it
    is not one, `pydantic.ValidationError` (via `Pathway`) if the pathway it describes does not hold together."""
    if resource.get("resourceType") != "PlanDefinition":
        raise PlanDefinitionError(f"not a PlanDefinition (resourceType {resource.get('resourceType')!r})")
    ids = [i.get("value") for i in resource.get("identifier", []) if i.get("system") == PATHWAY_SYSTEM]
    if not ids:
        raise PlanDefinitionError(f"identifier: no pathway id (system {PATHWAY_SYSTEM})")
    countries = [
        c.get("code")
        for j in resource.get("jurisdiction", [])
        for c in j.get("coding", [])
        if c.get("system") == COUNTRY_SYSTEM
    ]
    data: dict[str, Any] = {
        "id": ids[0],
        "title": resource.get("title"),
        "language": resource.get("language"),
        "country": countries[0] if countries else None,
        "source": resource.get("description"),
    }
    extensions = resource.get("extension", [])
    for name, model in PATHWAY_PARTS:
        found = _find(extensions, _ext(name))
        annotation = _unwrap(Pathway.model_fields[name].annotation)
        many = get_origin(annotation) is list
        values = [_decode(model, e, name) if model is not None else _primitive(e, name) for e in found]
        if many:
            if values:
                data[name] = values
        elif values:
            data[name] = values[0]
    declared = _find(extensions, _ext("version"))
    if declared:
        data["version"] = _primitive(declared[0], "version")
    phases = []
    for p, action in enumerate(resource.get("action", [])):
        ident = str(action.get("id", ""))
        if not ident.startswith("phase-"):
            raise PlanDefinitionError(f"action[{p}]: a phase's action id starts with 'phase-' (got {ident!r})")
        phase: dict[str, Any] = {
            "id": ident.removeprefix("phase-"),
            "title": action.get("title"),
            "items": [_item(a, f"action[{p}].action[{i}]") for i, a in enumerate(action.get("action", []))],
        }
        if action.get("description"):
            phase["note"] = action["description"]
        phases.append(phase)
    data["phases"] = phases
    return Pathway.model_validate(data)


def pathway_yaml(pathway: Pathway, origin: str) -> str:
    """The pathway as a pathway file to review, headed by where it came from."""
    body = yaml.safe_dump(
        pathway.model_dump(mode="json", exclude_defaults=True),
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=False,
    )
    head = (
        f"# Homeward pathway {pathway.id}, imported from a FHIR PlanDefinition ({origin}).\n"
        "# Review it before use: check every text against the source document and every rule\n"
        "# against its source (pathways/README.md), and add the comments a reviewer needs.\n"
    )
    return head + body


__all__ = [
    "CANONICAL_BASE",
    "PlanDefinitionError",
    "from_plan_definition",
    "pathway_yaml",
    "plan_definition_canonical",
    "to_plan_definition",
]
