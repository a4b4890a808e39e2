"""Golden values for each metric on small hand-checkable inputs."""
import numpy as np
import pytest

from innoscore.model.evaluation.metrics import (expected_calibration_error, grade_table, headline_metrics, ks_statistic,
                                                population_stability_index, riskiest_decile_lift)
from innoscore.model.grades import GradeScale

Y = np.array([0, 0, 1, 1, 0, 1, 0, 0, 0, 1])
P = np.array([0.1, 0.2, 0.8, 0.6, 0.3, 0.4, 0.5, 0.05, 0.15, 0.9])


def test_headline_metrics_golden_values():
    m = headline_metrics(Y, P)
    # 4 defaulters x 6 non-defaulters = 24 pairs; the defaulter at 0.4 ranks below 0.5 only: 23/24
    assert m["auc"] == pytest.approx(23 / 24, rel=1e-9)
    assert m["gini"] == pytest.approx(2 * 23 / 24 - 1, rel=1e-9)
    assert m["brier"] == pytest.approx(np.mean((P - Y) ** 2), rel=1e-9)
    assert m["log_loss"] == pytest.approx(-np.mean(Y * np.log(P) + (1 - Y) * np.log(1 - P)), rel=1e-9)
    assert m["default_rate"] == pytest.approx(0.4)


def test_ks_golden_value():
    # threshold 0.6: tpr 3/4, fpr 0; threshold 0.4: tpr 1, fpr 1/6 -> max(0.75, 0.8333)
    assert ks_statistic(Y, P) == pytest.approx(5 / 6, rel=1e-9)


def test_ece_is_zero_when_calibrated_and_golden_otherwise():
    y = np.array([0, 1] * 50)
    assert expected_calibration_error(y, np.full(100, 0.5), n_bins=1) == pytest.approx(0.0)
    assert expected_calibration_error(y, np.full(100, 0.3), n_bins=1) == pytest.approx(0.2)
    # two bins: sorted PDs split 5/5
    assert expected_calibration_error(Y, P, n_bins=2) == pytest.approx(
        0.5 * abs(0.0 - np.mean([0.05, 0.1, 0.15, 0.2, 0.3])) + 0.5 * abs(0.8 - np.mean([0.4, 0.5, 0.6, 0.8, 0.9])))


def test_lift_of_the_riskiest_decile():
    assert riskiest_decile_lift(Y, P) == pytest.approx(1 / 0.4)


def test_psi_is_zero_for_identical_and_grows_with_shift():
    rng = np.random.default_rng(0)
    a = rng.normal(size=5000)
    assert population_stability_index(a, a) == pytest.approx(0.0, abs=1e-12)
    assert population_stability_index(a, a + 0.5) > 0.1
    with_missing = np.where(rng.random(5000) < 0.3, np.nan, a)
    assert population_stability_index(a, with_missing) > 0.1


def test_grade_table_counts_and_tests():
    scale = GradeScale.from_list([{"grade": "G1", "pd_max": 0.25, "zh": "低", "en": "low"},
                                  {"grade": "G2", "pd_max": 1.0, "zh": "高", "en": "high"}])
    t = grade_table(Y, P, scale).set_index("grade")
    assert t.loc["G1", "n"] == 4 and t.loc["G1", "defaults"] == 0
    assert t.loc["G2", "n"] == 6 and t.loc["G2", "defaults"] == 4
    assert t.loc["G2", "jeffreys_low"] < 4 / 6 < t.loc["G2", "jeffreys_high"]
    assert 0 < t.loc["G2", "binomial_p"] <= 1


def test_headline_metrics_need_both_classes():
    with pytest.raises(ValueError, match="both defaulters"):
        headline_metrics(np.zeros(5), np.full(5, 0.1))
