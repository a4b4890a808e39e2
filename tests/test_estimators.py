"""The scorecards and the LightGBM wrapper are scikit-learn estimators."""
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import cross_val_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from innoscore.features.catalogue import load_catalogue
from innoscore.model.estimators.expert_scorecard import ExpertScorecard
from innoscore.model.estimators.lightgbm_pd import LightGBMPD
from innoscore.model.estimators.woe_scorecard import WoEScorecard

CATALOGUE = load_catalogue()

# These checks feed arrays of 1-10 made-up columns; our estimators read firm rows whose columns are
# the catalogue's indicators (44 here), so they refuse such input by design. Everything the checks
# test about the API itself (clone, get/set_params, no work in __init__, repr, sparse refusal,
# y required) runs and passes; fitting on real firm rows is tested below and in test_training.
_SHAPE_BOUND = [
    "check_classifier_data_not_an_array", "check_classifiers_classes", "check_classifiers_one_label",
    "check_classifiers_regression_target", "check_classifiers_train", "check_complex_data",
    "check_decision_proba_consistency", "check_dict_unchanged", "check_dont_overwrite_parameters",
    "check_dtype_object", "check_estimators_dtypes", "check_estimators_empty_data_messages",
    "check_estimators_fit_returns_self", "check_estimators_nan_inf", "check_estimators_overwrite_params",
    "check_estimators_pickle", "check_estimators_unfitted", "check_f_contiguous_array_estimator",
    "check_fit2d_1feature", "check_fit2d_1sample", "check_fit2d_predict1d", "check_fit_check_is_fitted",
    "check_fit_idempotent", "check_fit_score_takes_y", "check_methods_sample_order_invariance",
    "check_methods_subset_invariance", "check_n_features_in", "check_n_features_in_after_fitting",
    "check_pipeline_consistency", "check_positive_only_tag_during_fit", "check_readonly_memmap_input",
    "check_supervised_y_2d",
]


def _expected_failures(estimator):
    return {name: "input must have the catalogue's indicator columns" for name in _SHAPE_BOUND}


@parametrize_with_checks([ExpertScorecard(CATALOGUE), WoEScorecard(CATALOGUE), LightGBMPD(CATALOGUE, n_estimators=20)],
                         expected_failed_checks=_expected_failures)
def test_sklearn_estimator_contract(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def firm_rows(small_portfolio):
    d = small_portfolio.data
    return d, d["default_12m"].to_numpy()


@pytest.mark.parametrize("estimator", [ExpertScorecard(CATALOGUE, calibration="isotonic"), WoEScorecard(CATALOGUE),
                                       LightGBMPD(CATALOGUE, n_estimators=50)], ids=lambda e: type(e).__name__)
def test_sklearn_tooling_works_on_firm_rows(estimator, firm_rows):
    X, y = firm_rows
    scores = cross_val_score(clone(estimator), X, y, cv=2, scoring="roc_auc")
    assert np.all(scores > 0.6)
    fitted = clone(estimator).fit(X, y)
    assert fitted is not estimator
    np.testing.assert_allclose(fitted.predict_proba(X).sum(axis=1), 1.0)
    np.testing.assert_allclose(fitted.predict_pd(X), fitted.predict_pd(X[CATALOGUE.indicator_ids].to_numpy()))


def test_expert_pd_falls_as_points_rise(firm_rows):
    X, y = firm_rows
    model = ExpertScorecard(CATALOGUE).fit(X, y)
    order = np.argsort(model.points(X)["total"].to_numpy())
    assert np.all(np.diff(model.predict_pd(X)[order]) <= 1e-12)


@pytest.mark.parametrize("make, error", [
    (lambda: ExpertScorecard(CATALOGUE, calibration="magic"), "calibration must be one of"),
    (lambda: ExpertScorecard("configs/indicators.yaml"), "catalogue must be"),
    (lambda: WoEScorecard(CATALOGUE, pdo=-5), "pdo must be positive"),
    (lambda: LightGBMPD(CATALOGUE, calibration="beta"), "calibration must be one of"),
])
def test_bad_parameters_are_named(make, error, firm_rows):
    X, y = firm_rows
    with pytest.raises((TypeError, ValueError), match=error):
        make().fit(X, y)


def test_missing_indicator_column_is_named(firm_rows):
    X, y = firm_rows
    with pytest.raises(ValueError, match="debt_ratio"):
        ExpertScorecard(CATALOGUE).fit(X.drop(columns=["debt_ratio"]), y)
