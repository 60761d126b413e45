"""The coordinated plan as a FHIR R4 ``Bundle`` of type ``collection``.

What is in it:

- one ``CarePlan`` (status ``active``, intent ``plan``): title, period, the lane
  responsible as ``author``, the care team, every goal, one ``activity`` per action
  (description, who does it, from–to, which goal it serves) and one for the follow-up
  date (kind ``Appointment``);
- one ``Goal`` per goal and per sub-goal (lifecycleStatus ``active``); a sub-goal is
  linked from its goal with the core extension ``goal-relationship`` of type
  ``milestone``;
- one ``CareTeam``: every participant, with the lane as role text (and the pathway's
  word for coordinator as a second role where it applies);
- one ``Consent`` per recorded consent (scope ``patient-privacy``, category LOINC
  59284-0, policyRule OPTIN; status from the state: given→active, refused→rejected,
  withdrawn→inactive, pending→proposed);
- one ``Task`` per item (intent ``order``; open→requested, done→completed,
  overdue→requested with businessStatus "overdue"); an item a lane was late with carries
  the reason the lane gave as ``statusReason`` (the pathway's words, its shared code).

The CarePlan names the pathway it follows as ``instantiatesCanonical``: the canonical URL
and version of the pathway's PlanDefinition (`homeward pathway export <id> --fhir`,
`exports.plandefinition`).

There is no patient identity in the bundle: every ``subject`` / ``patient`` / ``for``
is a ``Patient`` reference with only the case label as ``display``.  People are
references with their display name in the room and their lane as ``display`` ("Anna
Koordinator (Öppenvård)"; the Matrix id when the room gave no name) and their Matrix id as
``identifier`` (an RFC 3986 URI of the ``matrix:`` scheme, ``matrix:u/anna:example.org``).
``fullUrl`` and references are ``urn:uuid:`` URLs derived from the pathway, the case label
and the item, so a re-export of the same case gives the same ids.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from homeward.exports.document import CarePlanDocument, ConsentLine, Goal, ItemLine, Person

__all__ = ["CONSENT_STATUS", "TASK_STATUS", "to_fhir_bundle"]

_NAMESPACE = uuid.UUID("0b7c6a3e-5f7e-4d52-9a55-6b0d1f0c2e11")  # Homeward exports
_ITEM_SYSTEM = "urn:homeward:item"
_GOAL_SYSTEM = "urn:homeward:goal"
_CONSENT_SYSTEM = "urn:homeward:consent"
_PLAN_SYSTEM = "urn:homeward:plan"
_REASON_SYSTEM = "urn:homeward:delay-reason"  # the shared codes of docs/EVENTS.md

CONSENT_STATUS = {"given": "active", "refused": "rejected", "withdrawn": "inactive", "pending": "proposed"}
TASK_STATUS = {"open": "requested", "done": "completed", "overdue": "requested"}


def _instant(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def _day(value: date) -> str:
    return value.isoformat()


def _display(text: str, kind: str | None = None) -> dict[str, Any]:
    ref: dict[str, Any] = {"display": text}
    if kind:
        ref["type"] = kind
    return ref


def _person(person: Person, kind: str | None = None) -> dict[str, Any]:
    """A reference to a person: their name and organisation as `display`, their Matrix id as `identifier`."""
    ref = _display(person.display(), kind)
    ref["identifier"] = {"system": "urn:ietf:rfc:3986", "value": "matrix:u/" + person.user_id.removeprefix("@")}
    return ref


class _Ids:
    """Stable urn:uuid ids for the resources of one case."""

    def __init__(self, doc: CarePlanDocument) -> None:
        self._base = f"{doc.pathway_id}/{doc.case_label}"

    def __call__(self, *parts: str) -> str:
        return str(uuid.uuid5(_NAMESPACE, "/".join([self._base, *parts])))


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}


def _ref(resource: dict[str, Any], display: str | None = None) -> dict[str, Any]:
    ref: dict[str, Any] = {"reference": f"urn:uuid:{resource['id']}", "type": resource["resourceType"]}
    if display:
        ref["display"] = display
    return ref


def _goal(ident: str, ref: str, text: str, category: str, subject: dict[str, Any], language: str) -> dict[str, Any]:
    return {
        "resourceType": "Goal",
        "id": ident,
        "language": language,
        "identifier": [{"system": _GOAL_SYSTEM, "value": ref}],
        "lifecycleStatus": "active",
        "category": [{"text": category}],
        "description": {"text": text},
        "subject": subject,
    }


def _consent(
    ident: str, line: ConsentLine, patient: dict[str, Any], language: str, doc: CarePlanDocument
) -> dict[str, Any]:
    consent: dict[str, Any] = {
        "resourceType": "Consent",
        "id": ident,
        "language": language,
        "identifier": [{"system": _CONSENT_SYSTEM, "value": line.id}],
        "status": CONSENT_STATUS[line.state],
        "scope": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}],
            "text": line.title,
        },
        "category": [
            {
                "coding": [{"system": "http://loinc.org", "code": "59284-0", "display": "Patient Consent"}],
                "text": line.title,
            }
        ],
        "patient": patient,
        # R4 invariant ppc-1 wants a policy or a policy rule; the family opted in (or not).
        "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
    }
    if line.answers:
        consent["dateTime"] = _instant(max(answer.at for answer in line.answers))
        performers: list[str] = []
        for answer in line.answers:
            if answer.user not in performers:
                performers.append(answer.user)
        consent["performer"] = [_person(doc.person(user), "RelatedPerson") for user in performers]
    return consent


def _task(
    ident: str, item: ItemLine, patient: dict[str, Any], plan: dict[str, Any], doc: CarePlanDocument
) -> dict[str, Any]:
    task: dict[str, Any] = {
        "resourceType": "Task",
        "id": ident,
        "language": doc.language,
        "identifier": [{"system": _ITEM_SYSTEM, "value": item.id}],
        "basedOn": [_ref(plan)],
        "groupIdentifier": {"system": "urn:homeward:phase", "value": item.phase},
        "status": TASK_STATUS[item.state],
        "intent": "order",
        "code": {"text": item.kind},
        "description": item.title,
        "for": patient,
        "owner": _display(item.lane),
        "lastModified": _instant(doc.changed_at),
    }
    if item.state == "overdue":
        task["businessStatus"] = {"text": "overdue"}
    if item.due is not None:
        task["restriction"] = {"period": {"end": _instant(item.due)}}
    if item.reasons:
        codes = list(dict.fromkeys(code for _, _, code in item.reasons))
        task["statusReason"] = {
            "coding": [{"system": _REASON_SYSTEM, "code": code} for code in codes],
            "text": "; ".join(f"{lane}: {reason}" for lane, reason, _ in item.reasons),
        }
    return task


def _activity_status(start: date | None, today: date) -> str:
    if start is None:
        return "not-started"
    return "scheduled" if start > today else "in-progress"


def to_fhir_bundle(doc: CarePlanDocument) -> dict[str, Any]:
    """The plan as a FHIR R4 Bundle (type collection), as plain JSON-ready data."""
    if not isinstance(doc, CarePlanDocument):
        raise TypeError(f"to_fhir_bundle needs a CarePlanDocument (got {type(doc).__name__})")
    ids = _Ids(doc)
    patient = _display(doc.case_label, "Patient")
    language = doc.language
    today = doc.generated_at.astimezone(doc.zone).date()

    # Goals and sub-goals.
    goals: list[dict[str, Any]] = []
    goal_of: dict[str, dict[str, Any]] = {}

    def add_goal(goal: Goal) -> None:
        main = _goal(ids("goal", goal.ref), goal.ref, goal.text, doc.term("goal"), patient, language)
        subs = [
            _goal(ids("goal", goal.ref, "sub", sub.ref), sub.ref, sub.text, doc.term("subgoal"), patient, language)
            for sub in goal.subgoals
        ]
        if subs:
            main["extension"] = [
                {
                    "url": "http://hl7.org/fhir/StructureDefinition/goal-relationship",
                    "extension": [
                        {
                            "url": "type",
                            "valueCodeableConcept": {
                                "coding": [
                                    {
                                        "system": "http://hl7.org/fhir/goal-relationship-type",
                                        "code": "milestone",
                                    }
                                ],
                                "text": doc.term("subgoal"),
                            },
                        },
                        {"url": "target", "valueReference": _ref(sub)},
                    ],
                }
                for sub in subs
            ]
        goals.append(main)
        goals.extend(subs)
        goal_of[goal.ref] = main

    for goal in doc.goals:
        add_goal(goal)

    # The care team.
    participants: list[dict[str, Any]] = []
    for person in doc.participants:
        roles = [{"text": person.lane}]
        if person.coordinator:
            roles.append({"text": doc.term("coordinator")})
        participants.append({"role": roles, "member": _person(doc.person(person.user_id))})
    team: dict[str, Any] = {
        "resourceType": "CareTeam",
        "id": ids("careteam"),
        "language": language,
        "status": "active",
        "name": f"{doc.plan_name} – {doc.case_label}",
        "subject": patient,
    }
    if participants:
        team["participant"] = participants

    # The plan.
    activities: list[dict[str, Any]] = []
    for goal, action in doc.actions():
        detail: dict[str, Any] = {
            "code": {"text": doc.term("action")},
            "status": _activity_status(action.start, today),
            "description": action.text,
            "goal": [_ref(goal_of[goal.ref])],
            "performer": [_person(owner) if (owner := doc.owner(action.owner)) else _display(action.owner)],
        }
        if action.start or action.end:
            detail["scheduledPeriod"] = {
                k: _day(v) for k, v in (("start", action.start), ("end", action.end)) if v is not None
            }
        activities.append({"detail": detail})
    if doc.followup is not None:
        activities.append(
            {
                "detail": {
                    "kind": "Appointment",
                    "code": {"text": doc.term("followup")},
                    "status": "scheduled" if doc.followup >= today else "unknown",
                    "description": doc.term("followup"),
                    "scheduledPeriod": {"start": _day(doc.followup), "end": _day(doc.followup)},
                }
            }
        )
    plan: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": ids("careplan"),
        "language": language,
        "meta": {"versionId": str(doc.version), "lastUpdated": _instant(doc.changed_at)},
        "identifier": [{"system": _PLAN_SYSTEM, "value": f"{doc.pathway_id}/{doc.case_label}"}],
        "status": "active",
        "intent": "plan",
        **({"instantiatesCanonical": [doc.pathway_canonical]} if doc.pathway_canonical else {}),
        "title": doc.plan_name,
        "description": doc.pathway_title,
        "subject": patient,
        "created": _instant(doc.generated_at),
        "contributor": [_person(doc.person(doc.changed_by))],
        "careTeam": [_ref(team)],
    }
    start, end = doc.period()
    if start or end:
        plan["period"] = {k: _day(v) for k, v in (("start", start), ("end", end)) if v is not None}
    if doc.responsible:
        plan["author"] = _display(doc.responsible)
    if goals:
        plan["goal"] = [_ref(goal) for goal in goals]
    if activities:
        plan["activity"] = activities

    consents = [_consent(ids("consent", line.id), line, patient, language, doc) for line in doc.consents]
    tasks = [_task(ids("task", item.id), item, patient, plan, doc) for item in doc.items]

    resources = [plan, *goals, team, *consents, *tasks]
    return {
        "resourceType": "Bundle",
        "id": ids("bundle", str(doc.version)),
        "meta": {"lastUpdated": _instant(doc.generated_at)},
        "type": "collection",
        "timestamp": _instant(doc.generated_at),
        "entry": [_entry(resource) for resource in resources],
    }
