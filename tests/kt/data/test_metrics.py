"""kt.data.metrics: hand-computed values, brute-force AUC, clear errors."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from riley_gym.kt.data.metrics import (
    auc_score,
    binary_metrics,
    calibration_curve,
    evaluate_predictions,
    per_skill_metrics,
)
from tests.helpers.tables import prediction_table


def test_hand_computed_example_with_ties():
    correct = [1, 0, 1, 1, 0, 0]
    p = [0.9, 0.9, 0.4, 0.6, 0.4, 0.1]
    # positives 0.9, 0.4, 0.6 against negatives 0.9, 0.4, 0.1:
    # 0.9: tie, win, win = 2.5; 0.4: loss, tie, win = 1.5; 0.6: loss, win, win = 2
    metrics = binary_metrics(correct, p)
    assert metrics["auc"] == pytest.approx(6.0 / 9.0)
    # p >= 0.5 predicts correct: right on 0.9(1), 0.6(1), 0.4(0), 0.1(0); wrong on 0.9(0), 0.4(1)
    assert metrics["acc"] == pytest.approx(4 / 6)
    squared = [0.01, 0.81, 0.36, 0.16, 0.16, 0.01]
    assert metrics["rmse"] == pytest.approx(math.sqrt(sum(squared) / 6))
    losses = [
        -math.log(0.9),
        -math.log(0.1),
        -math.log(0.4),
        -math.log(0.6),
        -math.log(0.6),
        -math.log(0.9),
    ]
    assert metrics["log_loss"] == pytest.approx(sum(losses) / 6)
    assert metrics["n"] == 6


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_equals_brute_force_pair_count(seed):
    rng = np.random.default_rng(seed)
    correct = rng.integers(0, 2, 300)
    p = np.round(rng.random(300), 1)  # coarse values: many ties
    wins = 0.0
    positives, negatives = p[correct == 1], p[correct == 0]
    for a, b in itertools.product(positives, negatives):
        wins += 1.0 if a > b else 0.5 if a == b else 0.0
    assert auc_score(correct, p) == pytest.approx(wins / (len(positives) * len(negatives)))


def test_extreme_predictions_and_perfect_ranking():
    metrics = binary_metrics([0, 1], [0.0, 1.0])
    assert metrics["auc"] == 1.0 and metrics["acc"] == 1.0 and metrics["rmse"] == 0.0
    assert metrics["log_loss"] == pytest.approx(-math.log(1 - 1e-15), abs=1e-12)
    # a confident mistake costs -log(1e-15) per row, not infinity
    assert binary_metrics([0, 1], [1.0, 0.0])["log_loss"] == pytest.approx(
        -math.log(1e-15), rel=1e-4
    )


@pytest.mark.parametrize(
    "correct, p, message",
    [
        ([0, 1], [0.5], "length mismatch: 2 answers, 1 predictions"),
        ([0, 1], [0.5, float("nan")], r"finite and in \[0, 1\]; index 1 has nan"),
        ([0, 1], [0.5, 1.2], r"index 1 has 1.2"),
        ([0, 2], [0.5, 0.5], "correct must be 0 or 1; index 1 has 2"),
        ([1, 1], [0.5, 0.7], "AUC needs both classes; got 2 correct and 0 wrong"),
        ([], [], "no predictions"),
    ],
)
def test_bad_inputs_raise_clear_errors(correct, p, message):
    with pytest.raises(ValueError, match=message):
        binary_metrics(correct, p)


def test_evaluate_and_per_skill():
    table = prediction_table()
    before = table.copy()
    overall = evaluate_predictions(table)
    assert overall["n_students"] == 3 and overall["n"] == 6
    assert overall["auc"] == pytest.approx(
        binary_metrics(table["correct"], table["p_correct"])["auc"]
    )
    skills = per_skill_metrics(table)
    assert skills["skill_id"].tolist() == [5, 7] and skills["n"].tolist() == [3, 3]
    assert skills.loc[0, "auc"] == pytest.approx(1.0)  # 0.8, 0.6 (right) above 0.3 (wrong)
    assert math.isnan(skills.loc[1, "auc"])  # skill 7: all correct, AUC undefined
    assert skills.loc[1, "acc"] == pytest.approx(2 / 3)
    pd.testing.assert_frame_equal(table, before)
    later = evaluate_predictions(table.assign(order=[0, 1, 0, 1, 0, 1]), skip_first_attempt=True)
    # rows 1, 3, 5: (0, 0.3), (1, 0.7), (1, 0.9): both positives ranked above the negative
    assert later["n"] == 3 and later["auc"] == 1.0 and later["n_students"] == 3
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['p_correct'\]"):
        evaluate_predictions(table.drop(columns="p_correct"))


def test_calibration_curve_counts_by_hand():
    curve = calibration_curve([0, 1, 1, 0, 1], [0.05, 0.15, 0.55, 0.59, 1.0], n_bins=5)
    assert curve["n"].tolist() == [2, 0, 2, 0, 1]
    assert curve["mean_p"].tolist()[0] == pytest.approx(0.10)
    assert curve["frac_correct"].tolist()[2] == pytest.approx(0.5)
    assert math.isnan(curve["mean_p"][1]) and curve["bin_upper"].tolist()[-1] == 1.0
    with pytest.raises(ValueError, match="n_bins must be a positive integer"):
        calibration_curve([0, 1], [0.1, 0.9], n_bins=0)
