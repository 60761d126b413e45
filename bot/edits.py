"""Edits (`m.replace`) of people's messages: never run as commands (`bot.events`), but an edit of the
message a consent answer was recorded from is answered (`work.consents.answer_edited`)."""

from __future__ import annotations

from nio import RoomMessageText

from homeward.commands.parser import strip_reply_fallback


def edit_from(event: RoomMessageText, own_user_id: str) -> tuple[str, str] | None:
    """(the edited event's id, the new text) of an encrypted edit by someone else; None for anything else.

    The new text is `m.new_content`'s body (the event's own body is the "* …" fallback), without a
    quoted reply fallback. A clear-text edit in an encrypted room is not acted on, as no clear-text
    command is (`bot.events`).
    """
    if event.sender == own_user_id or getattr(event, "decrypted", False) is not True:
        return None
    content = event.source.get("content") if isinstance(event.source, dict) else None
    if not isinstance(content, dict):
        return None
    relates = content.get("m.relates_to")
    if not isinstance(relates, dict) or relates.get("rel_type") != "m.replace":
        return None
    original = relates.get("event_id")
    new = content.get("m.new_content")
    body = new.get("body") if isinstance(new, dict) else None
    if not isinstance(original, str) or not original or not isinstance(body, str):
        return None
    return original, strip_reply_fallback(body)[:200]
