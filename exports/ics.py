"""The plan's meetings and follow-up date as an iCalendar invitation (RFC 5545 / 5546).

One ``VCALENDAR`` with ``METHOD:REQUEST``: a ``VEVENT`` per scheduled meeting, in the
pathway's time zone (``DTSTART;TZID=…`` with the matching ``VTIMEZONE``), and an
all-day ``VEVENT`` for the follow-up date.  ``UID`` is derived from the pathway, the
case label and the meeting id, so a re-export updates the same calendar entry;
``SEQUENCE`` is the plan's version, so the newer export wins.

The organizer is the case's first coordinator and the attendees are the case's
participants, as ``matrix:u/…`` addresses (the Matrix URI scheme) with ``RSVP=FALSE``:
Homeward has no e-mail addresses, and answers are given in the care room.  The
recommended participants of the pathway are in the description, word for word.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from icalendar import Calendar, Event, Timezone, vCalAddress, vText

from homeward.exports.document import CarePlanDocument, MeetingLine, Participant
from homeward.exports.wording import Words

__all__ = ["PRODID", "event_uid", "to_ics"]

PRODID = "-//Homeward//Homeward care plan export//EN"
_NAMESPACE = uuid.UUID("5d1f7c0e-2b7a-4e0c-8f3e-9a4b6c2d1e07")  # Homeward calendar


def event_uid(doc: CarePlanDocument, key: str) -> str:
    """The stable UID of a case's meeting (or of its follow-up: key ``followup``)."""
    return f"{uuid.uuid5(_NAMESPACE, f'{doc.pathway_id}/{doc.case_label}/{key}')}@homeward"


def _address(participant: Participant) -> vCalAddress:
    address = vCalAddress(f"matrix:u/{participant.user_id.removeprefix('@')}")
    address.params["CN"] = vText(participant.user_id)
    return address


def _attendee(participant: Participant) -> vCalAddress:
    address = _address(participant)
    address.params["ROLE"] = "REQ-PARTICIPANT"
    address.params["PARTSTAT"] = "NEEDS-ACTION"
    address.params["RSVP"] = "FALSE"
    return address


def _description(doc: CarePlanDocument, w: Words, meeting: MeetingLine) -> str:
    lines = [f"{w('case')}: {doc.case_label}", f"{w('pathway')}: {doc.pathway_title}"]
    if meeting.participants:
        lines += ["", f"{w('recommended')}:"] + [f"- {who}" for who in meeting.participants]
    if meeting.topics:
        lines += ["", f"{w('agenda')}:"] + [f"{n}. {topic}" for n, topic in enumerate(meeting.topics, 1)]
    return "\n".join(lines)


def _common(event: Event, doc: CarePlanDocument, key: str, stamp: datetime) -> None:
    event.add("uid", event_uid(doc, key))
    event.add("dtstamp", stamp)
    event.add("sequence", doc.version)
    event.add("last-modified", doc.changed_at.astimezone(UTC))
    coordinators = doc.coordinators()
    if coordinators:
        event.add("organizer", _address(coordinators[0]))
    for participant in doc.participants:
        event.add("attendee", _attendee(participant))


def to_ics(doc: CarePlanDocument) -> bytes:
    """The plan's scheduled meetings and follow-up date as an .ics file (UTF-8, CRLF)."""
    if not isinstance(doc, CarePlanDocument):
        raise TypeError(f"to_ics needs a CarePlanDocument (got {type(doc).__name__})")
    zone = doc.zone
    w = Words(doc.language, zone)
    stamp = doc.generated_at.astimezone(UTC)

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "REQUEST")
    calendar.add("x-wr-calname", f"{doc.plan_name} – {doc.case_label}")

    days: list[date] = []
    events: list[Event] = []
    for meeting in doc.meetings:
        if meeting.start is None:
            continue  # not scheduled yet
        start = meeting.start.astimezone(zone)
        end = start + timedelta(minutes=meeting.duration_minutes)
        event = Event()
        _common(event, doc, f"meeting/{meeting.id}", stamp)
        event.add("summary", f"{meeting.title} – {doc.case_label}")
        event.add("dtstart", start)
        event.add("dtend", end)
        event.add("description", _description(doc, w, meeting))
        event.add("status", "CONFIRMED")
        events.append(event)
        days += [start.date(), end.date()]

    if doc.followup is not None:
        event = Event()
        _common(event, doc, "followup", stamp)
        event.add("summary", f"{doc.term('followup')} – {doc.case_label}")
        event.add("dtstart", doc.followup)
        event.add("dtend", doc.followup + timedelta(days=1))
        event.add("description", f"{w('case')}: {doc.case_label}\n{doc.plan_name}\n{w('pathway')}: {doc.pathway_title}")
        event.add("transp", "TRANSPARENT")
        events.append(event)
        days.append(doc.followup)

    if any(e.get("dtstart") is not None and isinstance(e.decoded("dtstart"), datetime) for e in events):
        # Only the transitions around the events: a VTIMEZONE from 1970 would be long.
        first, last = min(days), max(days)
        calendar.add_component(
            Timezone.from_tzid(
                doc.timezone, first_date=date(first.year - 1, 1, 1), last_date=date(last.year + 1, 12, 31)
            )
        )
    for event in events:
        calendar.add_component(event)
    return calendar.to_ical()
