"""Intervals and paired comparisons, checked against a plain NumPy + scikit-learn reference."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from mmsa_keras.uncertainty import bootstrap_intervals, mcnemar_exact, paired_bootstrap


def _reference(y_true, y_pred, resamples, seed, metric):
    """The textbook loop: the same seeded resamples, each scored by scikit-learn."""
    idx = np.random.default_rng(seed).integers(0, len(y_true), size=(resamples, len(y_true)))
    values = []
    for row in idx:
        t, p = y_true[row], y_pred[row]
        if metric == "accuracy":
            values.append(accuracy_score(t, p))
        else:
            average = metric.split("_")[0]
            values.append(f1_score(t, p, labels=[0, 1, 2], average=average, zero_division=0))
    return np.percentile(values, [2.5, 97.5])


@pytest.mark.parametrize("metric", ["accuracy", "weighted_f1", "macro_f1"])
def test_bootstrap_intervals_match_a_reference_bootstrap(metric):
    rng = np.random.default_rng(1)
    y_true = rng.choice(3, size=200, p=[0.3, 0.1, 0.6])
    y_pred = np.where(rng.random(200) < 0.7, y_true, rng.integers(0, 3, 200))
    got = bootstrap_intervals(y_true, y_pred, 3, resamples=300, seed=7)[metric]
    np.testing.assert_allclose(got, _reference(y_true, y_pred, 300, 7, metric), atol=1e-12)


def test_an_interval_has_the_expected_width_and_holds_the_point_estimate():
    """A 362-post accuracy near 0.68 has a 95% interval about +-4.8 points wide (the binomial figure)."""
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 3, 362)
    y_pred = np.where(rng.random(362) < 0.68, y_true, (y_true + 1) % 3)
    lo, hi = bootstrap_intervals(y_true, y_pred, 3)["accuracy"]
    acc = np.mean(y_true == y_pred)
    half = 1.96 * np.sqrt(acc * (1 - acc) / 362)
    assert lo < acc < hi and abs((hi - lo) / 2 - half) < 0.006


def test_paired_comparison_and_mcnemar():
    rng = np.random.default_rng(2)
    y_true = rng.integers(0, 3, 400)
    good = np.where(rng.random(400) < 0.8, y_true, (y_true + 1) % 3)
    bad = np.where(rng.random(400) < 0.6, y_true, (y_true + 2) % 3)
    out = paired_bootstrap(y_true, good, bad, 3, resamples=500)
    acc = out["accuracy"]
    assert acc["difference"] == pytest.approx(np.mean(good == y_true) - np.mean(bad == y_true))
    assert acc["interval"][0] > 0 and acc["excludes_zero"]
    same = paired_bootstrap(y_true, good, good, 3, resamples=200)["macro_f1"]
    assert same["difference"] == 0 and same["interval"] == [0.0, 0.0] and not same["excludes_zero"]
    test = mcnemar_exact(y_true, good, bad)
    assert test["only_a_right"] > test["only_b_right"] and test["p_value"] < 1e-4
    # the exact test on a known case: 10 discordant posts split 9:1 -> two-sided p = 22/1024
    y = np.zeros(10, int)
    assert mcnemar_exact(y, np.r_[np.zeros(9), 1], np.r_[np.ones(9), 0])["p_value"] == pytest.approx(22 / 1024)
