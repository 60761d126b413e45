"""Specification of case labels (care/labels.py).

The label becomes part of the Matrix room name, which is not end-to-end encrypted,
so anything that looks like an identity number is refused without echoing it.
"""

from __future__ import annotations

import re

import pytest

from homeward.care.labels import MAX_LABEL_LENGTH, check_label, looks_like_identity_number
from homeward.care.refusal import Refusal

# Norwegian fødselsnummer / D-number / H-number and Swedish personnummer /
# samordningsnummer, in the ways people write them. None has a valid checksum
# requirement: the check digits are made up.
LOOKALIKES = [
    "010190 12345",  # fødselsnummer with a space
    "01019012345",  # fødselsnummer
    "010190-12345",  # fødselsnummer with a dash
    "41019012345",  # D-number: day + 40
    "01419012345",  # H-number: month + 40
    "19900101-1234",  # personnummer, 12 digits with dash
    "199001011234",  # personnummer, 12 digits
    "900101-1234",  # personnummer
    "900101+1234",  # personnummer of someone over 100
    "9001011234",  # personnummer without separator
    "900161-1234",  # samordningsnummer: day + 60
    "19900161-1234",  # samordningsnummer, 12 digits
    "290200-12345",  # 29 February 2000
]


def refusal_of(text: str) -> Refusal:
    with pytest.raises(Refusal) as caught:
        check_label(text)
    return caught.value


# --- good labels -----------------------------------------------------------------


@pytest.mark.parametrize("label", ["Sjøstjerne", "case-17", "Måsen_2", "A", "Ørn", "Älgen", "x" * MAX_LABEL_LENGTH])
def test_a_good_label_is_returned_unchanged(label: str) -> None:
    assert check_label(label) == label


def test_surrounding_whitespace_is_stripped() -> None:
    assert check_label("  Sjøstjerne \n") == "Sjøstjerne"


def test_a_decomposed_letter_is_returned_composed() -> None:
    decomposed = "Ma\u030asen"  # "a" + combining ring above
    assert check_label(decomposed) == "Måsen"


def test_letters_of_other_scripts_are_allowed() -> None:
    assert check_label("Лиса-3") == "Лиса-3"


# --- bad characters and length -------------------------------------------------------


@pytest.mark.parametrize(
    "label",
    [
        "two words",
        "a/b",
        "star🌟",
        "x" * (MAX_LABEL_LENGTH + 1),
        "",
        "   ",
        "a.b",
        "tab\there",
        "zero\u200bwidth",
        "---",
        "_",
        "\u030aa",  # a combining mark with no letter before it
        "１２",  # fullwidth digits are not ASCII digits
    ],
)
def test_a_label_with_bad_characters_or_length_is_refused_as_invalid(label: str) -> None:
    refusal = refusal_of(label)
    assert refusal.key == "care.label_invalid"
    assert set(refusal.values) == {"label"}


def test_the_invalid_refusal_names_the_stripped_label() -> None:
    assert refusal_of("  two words ").values == {"label": "two words"}


def test_a_very_long_label_is_not_echoed_whole() -> None:
    refusal = refusal_of("x" * 5000)
    assert refusal.key == "care.label_invalid"
    assert len(refusal.values["label"]) <= MAX_LABEL_LENGTH + 10


# --- identity-number lookalikes -----------------------------------------------------


@pytest.mark.parametrize("label", LOOKALIKES)
def test_an_identity_number_is_refused(label: str) -> None:
    refusal = refusal_of(label)
    assert refusal.key == "care.label_looks_like_id"


@pytest.mark.parametrize("label", LOOKALIKES)
def test_an_identity_number_inside_a_label_is_refused(label: str) -> None:
    # With letters around it the only-digits rule does not apply: the date does.
    refusal = refusal_of(f"barn-{label}-x")
    assert refusal.key == "care.label_looks_like_id"


def test_a_number_split_by_separators_is_refused() -> None:
    assert refusal_of("barn-010190-12345").key == "care.label_looks_like_id"
    assert refusal_of("barn_01_01_90_123_45").key == "care.label_looks_like_id"


def test_a_number_written_with_other_separators_is_refused_not_echoed() -> None:
    # "." and "/" are invalid characters, but the number must not be echoed back.
    assert refusal_of("01.01.90 12345").key == "care.label_looks_like_id"
    assert refusal_of("1990/01/01-1234").key == "care.label_looks_like_id"


def test_a_number_hidden_by_invisible_characters_is_refused() -> None:
    assert refusal_of("0101\u200b9012345").key == "care.label_looks_like_id"


def test_a_number_in_fullwidth_digits_is_refused() -> None:
    assert refusal_of("barn-０１０１９０１２３４５").key == "care.label_looks_like_id"


def test_a_mistyped_number_is_refused_without_a_valid_checksum() -> None:
    # 01019012345 has no valid control digits; it would still identify someone.
    assert refusal_of("Måsen-01019012345").key == "care.label_looks_like_id"


def test_a_number_with_a_digit_too_many_is_refused() -> None:
    assert refusal_of("x-010190123456").key == "care.label_looks_like_id"


def test_a_number_with_a_digit_missing_is_refused() -> None:
    # A Norwegian number missing its last digit: 10 digits, DDMMYY date first.
    assert refusal_of("x-0101901234").key == "care.label_looks_like_id"


@pytest.mark.parametrize("label", ["123456", "010190", "0000000", "123-456", "12 34 56"])
def test_a_label_of_only_six_or_more_digits_is_refused(label: str) -> None:
    assert refusal_of(label).key == "care.label_looks_like_id"


@pytest.mark.parametrize("label", ["12345", "7", "2026"])
def test_a_short_label_of_only_digits_is_allowed(label: str) -> None:
    assert check_label(label) == label


@pytest.mark.parametrize(
    "label",
    [*LOOKALIKES, "123456", "barn-010190-12345", "01.01.90 12345", "x" * 41 + "01019012345"],
)
def test_the_refusal_never_contains_the_digits(label: str) -> None:
    refusal = refusal_of(label)
    assert refusal.key == "care.label_looks_like_id"
    assert refusal.values == {}
    assert not re.search(r"\d", str(refusal))
    assert not re.search(r"\d", repr(refusal.args))


# --- not lookalikes ------------------------------------------------------------------


@pytest.mark.parametrize(
    "label",
    [
        "case-2026-12-14",  # a date is 8 digits, not an identity number
        "case-20261214",
        "case-2026-12-14-01",  # ten digits, but no plausible date at the start
        "rom-1234567890",  # ten digits, no plausible date anywhere
        "barn-010190",  # a birth date alone is 6 digits
        "Måsen-12345",
        "a123456",  # six digits with a letter is not "only digits"
        "barn-010190-x-12345",  # a letter breaks the run
    ],
)
def test_a_label_without_an_identity_number_is_allowed(label: str) -> None:
    assert check_label(label) == label


@pytest.mark.parametrize(
    "digits",
    [
        "3213991234",  # day 32 / month 13, read either way
        "9902301234",  # 30 February
        "9902291234",  # 29 February 1999 or 2099
        "0072991234",  # day 0 (DDMMYY) / month 72 (YYMMDD)
    ],
)
def test_ten_digits_without_a_plausible_date_are_not_an_identity_number(digits: str) -> None:
    assert not looks_like_identity_number(f"x-{digits}")
    assert check_label(f"x-{digits}") == f"x-{digits}"


def test_29_february_of_a_leap_year_is_a_plausible_date() -> None:
    assert looks_like_identity_number("x-0002291234")  # 29 February 2000
