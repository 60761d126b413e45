"""Case labels: the pseudonym a team gives a child's case, checked before it is used.

A coordinator opens a case with ``!case new <pathway> <label>``. The label becomes
part of the Matrix room name, and room names are *not* end-to-end encrypted: the
name is stored in clear on every participating homeserver and shown in every
member's client, notifications and room list. So a label must never carry who the
child is. We cannot recognise names, but we can recognise the one thing that
identifies a person outright and that staff type every day: an identity number.

The rules (``check_label``):

* **Shape.** After Unicode NFC normalisation and stripping surrounding
  whitespace: 1–40 characters, each a letter of any script ("Sjøstjerne",
  "Måsen"), an ASCII digit 0–9, ``-`` or ``_``, with at least one letter or digit.
  Combining marks are allowed right after a letter (scripts that need them).
  Everything else (spaces, ``/``, ``.``, emoji, invisible format characters,
  digits of other scripts) is refused with ``care.label_invalid``, which echoes the
  label so the user sees what was wrong.

* **Identity-number lookalikes** are refused with ``care.label_looks_like_id``,
  which carries *no values*: the bot must never repeat the number into the room.
  The check runs *before* the shape check, so a number typed with a space or a dot
  is never echoed back either. It removes every character that is neither a letter
  nor a digit (``-``, ``_``, ``+``, spaces, dots, slashes, invisible characters…),
  reads digits of any script (and superscript digits) as their value, and then looks at each run of
  consecutive digits. A run "looks like" an identity number when it has at least
  10 digits and some stretch of 10, 11 or 12 of them starts with a plausible date:

  - Norwegian fødselsnummer ``DDMMYY NNNNN`` (11 digits), D-number (day + 40) and
    H-number (month + 40, the health services' help number);
  - Swedish personnummer ``YYMMDD-NNNN`` / ``YYMMDD+NNNN`` (10 digits) and
    ``YYYYMMDD[-]NNNN`` (12 digits), samordningsnummer (day + 60).

  A 12-digit ``YYYYMMDDNNNN`` needs no check of its own: its last 10 digits are
  ``YYMMDDNNNN`` with the same date.

  The check digits are deliberately *not* verified: a mistyped number leaks just
  as much as a correct one. For the same reason the formats are not tied to the
  run's length: a Norwegian number with a digit missing, or a Swedish one with a
  digit too many, is still caught. Two-digit years may be in any century. The
  price is that some harmless long digit runs are refused too; a pseudonym does
  not need ten digits in a row. A date alone (``case-2026-12-14``, 8 digits) is
  fine.

* **Only digits.** A label that is nothing but digits (separators ignored) and at
  least 6 long is refused with ``care.label_looks_like_id`` as well. This is a
  cautious product rule, not a format check: ``010190`` is a birth date, and a bare
  number is most likely a piece of an identity number or a hospital record number
  (journalnummer), never a pseudonym someone chose.

Pure Python, no Matrix and no SQL, like the rest of ``care``.
"""

from __future__ import annotations

import unicodedata
from datetime import date

from homeward.care.refusal import Refusal

__all__ = ["MAX_LABEL_LENGTH", "check_label", "looks_like_identity_number"]

#: The longest label, in characters (after NFC normalisation).
MAX_LABEL_LENGTH = 40

#: A label of only digits this long or longer is refused (see the module docstring).
MIN_DIGITS_ONLY_REFUSED = 6

#: Digit runs shorter than this cannot be an identity number.
_MIN_ID_DIGITS = 10

#: Echoed labels are cut to this length, so a pasted page does not come back whole.
_ECHO_LENGTH = MAX_LABEL_LENGTH + 10


def check_label(text: str) -> str:
    """The label, NFC-normalised and stripped, or a ``Refusal`` saying why not.

    ``care.label_looks_like_id`` (no values) for anything that could be an identity
    number, checked first; ``care.label_invalid`` (``label``) for bad characters or
    length.
    """
    label = unicodedata.normalize("NFC", text).strip()
    if looks_like_identity_number(label):
        raise Refusal("care.label_looks_like_id")
    if not _well_formed(label):
        shown = label if len(label) <= _ECHO_LENGTH else label[: _ECHO_LENGTH - 1] + "…"
        raise Refusal("care.label_invalid", label=shown)
    return label


def looks_like_identity_number(text: str) -> bool:
    """Whether ``text`` contains something a reader could take for an identity number.

    See the module docstring for the rules; this also applies the only-digits rule.
    """
    runs = _digit_runs(text)
    if len(runs) == 1 and runs[0][1] and len(runs[0][0]) >= MIN_DIGITS_ONLY_REFUSED:
        return True
    return any(_run_has_id(run) for run, _ in runs)


def _digit_runs(text: str) -> list[tuple[str, bool]]:
    """The runs of digits, with separators removed and letters ending a run.

    Returns ``(digits, whole)`` pairs; ``whole`` is True when the text has no letters
    at all, i.e. the run is everything the label says.
    """
    runs: list[str] = []
    current: list[str] = []
    has_letters = False
    for ch in text:
        category = unicodedata.category(ch)
        value = unicodedata.digit(ch, None)  # any script, also superscripts
        if value is not None:
            current.append(str(value))
        elif category[0] in "LM":
            has_letters = True
            if current:
                runs.append("".join(current))
                current = []
        # Anything else is a separator: removed, so it does not end a run.
    if current:
        runs.append("".join(current))
    whole = not has_letters
    return [(run, whole) for run in runs]


def _run_has_id(run: str) -> bool:
    """Whether some stretch of 10 or more digits of ``run`` starts with a plausible date."""
    for start in range(len(run) - _MIN_ID_DIGITS + 1):
        six = run[start : start + 6]
        if _norwegian_date(six) or _swedish_short_date(six):
            return True
    return False


def _norwegian_date(six: str) -> bool:
    """DDMMYY, with D-number (day + 40) and H-number (month + 40)."""
    day, month, year = int(six[0:2]), int(six[2:4]), int(six[4:6])
    if day > 40:
        day -= 40
    if month > 40:
        month -= 40
    return _two_digit_year_date(year, month, day)


def _swedish_short_date(six: str) -> bool:
    """YYMMDD, with samordningsnummer (day + 60); also the tail of YYYYMMDD."""
    year, month, day = int(six[0:2]), int(six[2:4]), int(six[4:6])
    if day > 60:
        day -= 60
    return _two_digit_year_date(year, month, day)


def _two_digit_year_date(year: int, month: int, day: int) -> bool:
    # 29 February: a leap year in some century is enough.
    return any(_is_date(century + year, month, day) for century in (1900, 2000))


def _is_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _well_formed(label: str) -> bool:
    if not 1 <= len(label) <= MAX_LABEL_LENGTH:
        return False
    previous = ""
    has_word = False
    for ch in label:
        category = unicodedata.category(ch)
        if category[0] == "L" or "0" <= ch <= "9":
            has_word = True
        elif category in ("Mn", "Mc"):
            if previous not in ("L", "M"):
                return False
        elif ch not in "-_":
            return False
        previous = category[0]
    return has_word
