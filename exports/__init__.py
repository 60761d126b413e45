"""Exports of a case: the coordinated plan and meeting minutes as HTML, PDF and
Markdown, the plan as a FHIR R4 bundle, and its meetings as an iCalendar file.

Every export starts from a plain, frozen snapshot (``exports.document``), so this
package does not depend on the bot, the store or Matrix.
"""

from homeward.exports.document import (
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

__all__ = [
    "Action",
    "CarePlanDocument",
    "ConsentAnswer",
    "ConsentLine",
    "Goal",
    "ItemLine",
    "MeetingLine",
    "MinutesAction",
    "MinutesDocument",
    "Participant",
    "SubGoal",
    "TopicAnswer",
]
