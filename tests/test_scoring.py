"""VSI-Bench scoring against the official code: vision-x-nyu/thinking-in-space, lmms_eval/tasks/vsibench/utils.py.

The `_official_*` functions are a literal transcription of that file's formulas, used only as a reference oracle;
the hand-written tables pin the expected values as literals so that an oracle mistake cannot hide one.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from videostar_env.datasets.vsibench.scoring import (MCA_QUESTION_TYPES, MRA_TOLERANCES, NA_QUESTION_TYPES, choice_score,
                                         exact_match, fuzzy_matching, mean_relative_accuracy, numeric_score,
                                         parse_number, vsibench_score)


# --- reference oracle: the official code, transcribed literally --------------------------------------------------

def _official_fuzzy_matching(pred):
    return pred.split(' ')[0].rstrip('.').strip()


def _official_exact_match(pred, target):
    return 1. if pred.lower() == target.lower() else 0.


def _official_abs_dist_norm(pred, target):
    return abs(pred - target) / target


def _official_mean_relative_accuracy(pred, target, start=.5, end=.95, interval=.05):
    num_pts = (end - start) / interval + 2
    conf_intervs = np.linspace(start, end, int(num_pts))
    accuracy = _official_abs_dist_norm(pred, target) <= 1 - conf_intervs
    return accuracy.mean()


def _official_to_float(pred):
    try:
        pred = float(pred)
    except BaseException:
        pred = None
    return pred


def _official_process_results(question_type, prediction, ground_truth):
    if question_type in MCA_QUESTION_TYPES:
        return _official_exact_match(_official_fuzzy_matching(prediction), ground_truth)
    try:
        return _official_mean_relative_accuracy(_official_to_float(_official_fuzzy_matching(prediction)),
                                                _official_to_float(ground_truth))
    except TypeError:
        return 0.


# --- the thresholds ------------------------------------------------------------------------------------------------

def test_tolerances_are_the_official_float_values():
    official = 1 - np.linspace(.5, .95, int((.95 - .5) / .05 + 2))
    assert len(official) == 10 and len(MRA_TOLERANCES) == 10  # int(10.999999999999998) == 10
    assert [float(x).hex() for x in official] == [x.hex() for x in MRA_TOLERANCES]
    # the boundary facts the table below depends on
    assert MRA_TOLERANCES[6] < 0.2 and MRA_TOLERANCES[1] < 0.45
    assert MRA_TOLERANCES[4] > 0.3 and MRA_TOLERANCES[7] > 0.15 and MRA_TOLERANCES[8] > 0.1
    assert MRA_TOLERANCES[9] > 0.05
    assert (MRA_TOLERANCES[0], MRA_TOLERANCES[2], MRA_TOLERANCES[3], MRA_TOLERANCES[5]) == (0.5, 0.4, 0.35, 0.25)


# --- hand-written table: (pred, target, expected MRA) ------------------------------------------------------------

INF, NAN = float("inf"), float("nan")
HAND_TABLE = [
    (10.0, 10.0, 1.0),
    (10.5, 10.0, 1.0), (9.5, 10.0, 1.0),     # error 0.05 <= 0.050000000000000044
    (11.0, 10.0, 0.9), (9.0, 10.0, 0.9),     # 0.1 <= 0.10000000000000009
    (11.5, 10.0, 0.8), (8.5, 10.0, 0.8),     # 0.15 <= 0.15000000000000002
    (12.0, 10.0, 0.6), (8.0, 10.0, 0.6),     # 0.2 > 0.19999999999999996: not 0.7
    (12.5, 10.0, 0.6), (7.5, 10.0, 0.6),     # 0.25 <= 0.25
    (13.0, 10.0, 0.5), (7.0, 10.0, 0.5),     # 0.3 <= 0.30000000000000004
    (13.5, 10.0, 0.4), (6.5, 10.0, 0.4),     # 0.35 <= 0.35
    (14.0, 10.0, 0.3), (6.0, 10.0, 0.3),     # 0.4 <= 0.4
    (14.5, 10.0, 0.1), (5.5, 10.0, 0.1),     # 0.45 > 0.44999999999999996: not 0.2
    (15.0, 10.0, 0.1), (5.0, 10.0, 0.1),     # 0.5 <= 0.5
    (15.01, 10.0, 0.0), (16.0, 10.0, 0.0), (0.0, 10.0, 0.0), (-10.0, 10.0, 0.0), (20.0, 10.0, 0.0),
    (1.0, 1.0, 1.0), (2.0, 1.0, 0.0),
    (1.05, 1.0, 1.0), (0.95, 1.0, 1.0),      # error 0.050000000000000044, equal to the tolerance
    (1.1, 1.0, 0.9), (0.9, 1.0, 0.9),
    (1.15, 1.0, 0.8), (0.85, 1.0, 0.8),
    (1.2, 1.0, 0.7), (0.8, 1.0, 0.7),        # 1.2 - 1.0 == 0.19999999999999996: unlike 12 vs 10
    (1.25, 1.0, 0.6), (0.75, 1.0, 0.6),
    (1.3, 1.0, 0.5), (0.7, 1.0, 0.5),
    (1.35, 1.0, 0.3), (0.65, 1.0, 0.4),      # 1.35 - 1.0 == 0.3500000000000001 > 0.35
    (1.4, 1.0, 0.3), (0.6, 1.0, 0.3),
    (1.45, 1.0, 0.2), (0.55, 1.0, 0.2),      # error 0.44999999999999996: unlike 14.5 vs 10
    (1.5, 1.0, 0.1), (0.5, 1.0, 0.1),
    (3.0, 5.0, 0.3), (6.0, 5.0, 0.6), (4.0, 5.0, 0.6), (2.3, 2.0, 0.8),
    (120.0, 100.0, 0.6), (80.0, 100.0, 0.6), (110.0, 100.0, 0.9), (90.0, 100.0, 0.9),
    (145.0, 100.0, 0.1), (55.0, 100.0, 0.1), (105.0, 100.0, 1.0), (95.0, 100.0, 1.0),
    (1.2e-09, 1e-09, 0.7), (1.2e12, 1e12, 0.6), (3.0, 0.5, 0.0),
    # negative target: the error is negative, always <= every tolerance
    (5.0, -10.0, 1.0), (-5.0, -10.0, 1.0), (-12.0, -10.0, 1.0), (INF, -10.0, 1.0),
    # NaN errors compare False
    (NAN, 10.0, 0.0), (1.0, NAN, 0.0), (1.0, INF, 0.0), (INF, 10.0, 0.0), (-INF, 10.0, 0.0),
]


@pytest.mark.parametrize("pred,target,expected", HAND_TABLE)
def test_hand_table(pred, target, expected):
    assert mean_relative_accuracy(pred, target) == expected
    assert _official_mean_relative_accuracy(pred, target) == expected


def test_hand_table_is_large_enough():
    assert len(HAND_TABLE) >= 30


# --- >= 1000 generated pairs against the oracle -------------------------------------------------------------------

def _generated_pairs() -> list[tuple[float, float]]:
    targets = [1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 0.1, 0.3, 1.7, 2.5, 12.34, 100.0, 123456.789, 1e-12, 1e-300, 5e-324,
               1e12, 1e300, 1.7976931348623157e308, -1.0, -10.0, -2.5, -1e-300]
    thresholds = ([round(0.05 * k, 2) for k in range(1, 11)]          # 0.05, 0.1, ... as decimal literals
                  + [0.05 * k for k in range(1, 11)]                  # float products, e.g. 0.15000000000000002
                  + list(MRA_TOLERANCES))                             # the official tolerances themselves
    pairs = []
    for target in targets:
        pairs.append((target, target))
        for t in thresholds:
            for pred in (target * (1 + t), target * (1 - t), target + target * t, target - target * t,
                         target + abs(target) * t, target - abs(target) * t):
                pairs.append((pred, target))
                pairs.append((math.nextafter(pred, INF), target))
                pairs.append((math.nextafter(pred, -INF), target))
    rng = random.Random(1234)
    for _ in range(500):
        target = rng.choice([rng.uniform(0.1, 20), float(rng.randint(1, 30)), rng.uniform(1, 1e4)])
        pred = rng.choice([round(target * rng.uniform(0.4, 1.6), rng.randint(0, 3)), float(rng.randint(0, 40))])
        pairs.append((pred, target))
    pairs += [(p, t) for p in (0.0, -0.0, INF, -INF, NAN, 1e308, -1e308, 5e-324) for t in (1.0, -1.0, 1e-300, 1e308)]
    return pairs


def test_generated_pairs_match_the_official_formula():
    pairs = _generated_pairs()
    assert len(pairs) >= 1000
    mismatches = [(p, t, mean_relative_accuracy(p, t), _official_mean_relative_accuracy(p, t))
                  for p, t in pairs if mean_relative_accuracy(p, t) != _official_mean_relative_accuracy(p, t)]
    assert not mismatches, mismatches[:10]
    # the generated set really does exercise every level 0.0, 0.1, ..., 1.0
    assert {mean_relative_accuracy(p, t) for p, t in pairs} == {k / 10 for k in range(11)}


@pytest.mark.parametrize("target", [0.0, -0.0, 0])
def test_target_zero_raises_like_the_official_code(target):
    # the official abs_dist_norm divides by target; process_results catches only TypeError, so this propagates
    with pytest.raises(ZeroDivisionError):
        _official_mean_relative_accuracy(1.0, float(target))
    with pytest.raises(ZeroDivisionError):
        mean_relative_accuracy(1.0, target)
    with pytest.raises(ZeroDivisionError):
        numeric_score("3", target)
    with pytest.raises(ZeroDivisionError):
        vsibench_score("object_counting", "3", "0")
    # an unparsable prediction fails first with TypeError (None - 0.0), which is caught: score 0
    assert numeric_score("three", target) == 0.0 == _official_process_results("object_counting", "three", "0")


# --- parsing the answer text ----------------------------------------------------------------------------------------

PARSE_TABLE = [
    ("3.5", 3.5), ("3.5.", 3.5), ("3.5 meters", 3.5), ("3.5 m.", 3.5), ("2.", 2.0), ("2...", 2.0), (".5", 0.5),
    ("3.5\n", 3.5), ("\t4", 4.0), ("4\t", 4.0), ("4 ", 4.0), ("-2", -2.0), ("+2", 2.0), ("1e3", 1000.0),
    ("1_000", 1000.0), ("\u0663", 3.0), ("Infinity", INF), ("-inf", -INF),
    ("The answer is 3.5 meters", None), (" 3.5", None), ("3.5m", None), ("3,5", None), ("1,000", None),
    ("3.5.\n", None), ("3.5\tmeters", None), ("3.5\nmeters", None), ("0x10", None), ("5/2", None), ("two", None),
    ("**3**", None), ("", None), (".", None), ("~4", None),
]


@pytest.mark.parametrize("text,expected", PARSE_TABLE)
def test_parse_number(text, expected):
    assert parse_number(text) == expected
    assert _official_to_float(_official_fuzzy_matching(text)) == expected


def test_parse_nan():
    assert math.isnan(parse_number("nan")) and math.isnan(parse_number("NaN."))
    assert numeric_score("nan", 10.0) == 0.0


FUZZY_TABLE = [
    ("A", "A"), ("A.", "A"), ("A..", "A"), ("A\n", "A"), ("A.\n", "A."), ("\tA\t", "A"), (" A", ""), (" c ", ""),
    ("(B) the chair", "(B)"), ("B. the chair", "B"), ("The answer is A", "The"), ("A\nB", "A\nB"), ("", ""),
]


@pytest.mark.parametrize("text,expected", FUZZY_TABLE)
def test_fuzzy_matching(text, expected):
    assert fuzzy_matching(text) == expected == _official_fuzzy_matching(text)


CHOICE_TABLE = [
    ("A", "A", 1.0), ("A.", "A", 1.0), ("a", "A", 1.0), ("a.", "A", 1.0), ("A", "a", 1.0), ("C..", "C", 1.0),
    ("B. the chair", "B", 1.0), ("B the chair", "B", 1.0), ("c ", "C", 1.0), ("C\n", "C", 1.0), ("\tD", "D", 1.0),
    ("(B) the chair", "B", 0.0), (" c ", "C", 0.0), ("C.\n", "C", 0.0), ("Answer: C", "C", 0.0), ("C)", "C", 0.0),
    ("The answer is A", "A", 0.0), ("A\nB", "A", 0.0), ("A,", "A", 0.0), ("A", "B", 0.0), ("", "A", 0.0),
]


@pytest.mark.parametrize("text,answer,expected", CHOICE_TABLE)
def test_choice_score(text, answer, expected):
    assert choice_score(text, answer) == expected
    assert _official_exact_match(_official_fuzzy_matching(text), answer) == expected


def test_exact_match():
    assert exact_match("b", "B") == 1.0 and exact_match("B", "C") == 0.0


NUMERIC_TABLE = [
    ("11", 10.0, 0.9), ("12 meters", 10.0, 0.6), ("1.2 m", 1.0, 0.7), ("10.", 10.0, 1.0),
    ("The answer is 10", 10.0, 0.0), (" 10", 10.0, 0.0), ("10m", 10.0, 0.0), ("", 10.0, 0.0),
    ("14.5", "10", 0.1), ("3", "not a number", 0.0),
]


@pytest.mark.parametrize("text,target,expected", NUMERIC_TABLE)
def test_numeric_score(text, target, expected):
    assert numeric_score(text, target) == expected
    assert _official_process_results("object_counting", text, str(target)) == expected


# --- the whole per-question path against the oracle ----------------------------------------------------------------

PREDICTIONS = [text for text, _ in PARSE_TABLE] + [text for text, _ in FUZZY_TABLE] + [
    "A", "b", "C.", "d the table", "5", "5.0", "4.5 meters", "7", "0.8", "2.", "12", "nan"]
GROUND_TRUTHS_NA = ["5", "4.5", "2.3", "10", "0.8", "12", "1", "-3", "abc"]


def test_process_results_path_matches_the_oracle():
    for pred in PREDICTIONS:
        for qt in MCA_QUESTION_TYPES:
            for gt in "ABCD":
                assert vsibench_score(qt, pred, gt) == _official_process_results(qt, pred, gt), (qt, pred, gt)
        for qt in NA_QUESTION_TYPES:
            for gt in GROUND_TRUTHS_NA:
                assert vsibench_score(qt, pred, gt) == _official_process_results(qt, pred, gt), (qt, pred, gt)


def test_unknown_question_type():
    with pytest.raises(ValueError):
        vsibench_score("object_color", "A", "A")
