"""Specification: the suppression of small numbers holds across answers (care/stats.py, `sets_apart`)."""

from __future__ import annotations

from homeward.care.stats import MIN_CASES, sets_apart, shown


def cases(first: int, last: int) -> frozenset[int]:
    return frozenset(range(first, last + 1))


def test_the_rule_every_figure_goes_through_shows_five_cases_and_more() -> None:
    assert MIN_CASES == 5 and shown(5) and not shown(4) and not shown(0)


def test_two_answers_differing_by_one_case_are_refused_whichever_comes_first() -> None:
    assert sets_apart([cases(1, 10)], cases(1, 11)) == 1  # the one case added
    assert sets_apart([cases(1, 11)], cases(1, 10)) == 1  # or left out
    assert sets_apart([cases(1, 10)], cases(2, 11)) == 1  # or swapped


def test_the_same_cases_again_or_five_more_are_answered() -> None:
    assert sets_apart([cases(1, 10)], cases(1, 10)) is None
    assert sets_apart([cases(1, 10)], cases(1, 15)) is None
    assert sets_apart([cases(1, 10)], cases(11, 20)) is None  # disjoint: nothing to subtract
    assert sets_apart([], cases(1, 5)) is None


def test_a_combination_of_three_answers_is_caught_not_only_pairs() -> None:
    answered = [cases(1, 20), cases(1, 10)]
    assert sets_apart(answered, cases(1, 10)) is None
    # 20 - 10 - 9 = case 20: no two of the three differ by fewer than five, yet together they single it out.
    assert sets_apart(answered, cases(11, 19)) == 1
    assert sets_apart(answered, cases(11, 15)) is None  # 11-15 and 16-20: five each


def test_an_answer_with_too_few_cases_to_show_a_figure_is_never_refused() -> None:
    assert sets_apart([cases(1, 10)], cases(1, 4)) is None


def test_a_group_earlier_answers_left_small_is_not_held_against_an_answer_that_keeps_it_whole() -> None:
    # Answers from before this rule may have left a small group (here case 11); keeping it whole reveals no more.
    answered = [cases(1, 10), cases(1, 11)]
    assert sets_apart(answered, cases(1, 11)) is None
    assert sets_apart(answered, cases(1, 16)) is None
