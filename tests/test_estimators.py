"""The scorecards and the LightGBM wrapper are scikit-learn estimators."""
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import cross_val_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from innoscore.features.catalogue import load_catalogue
from innoscore.features.synthetic import generate_portfolio
from innoscore.model.estimators.expert_scorecard import ExpertScorecard
from innoscore.model.estimators.lightgbm_pd import LightGBMPD
from innoscore.model.estimators.woe_scorecard import WoEScorecard

CATALOGUE = load_catalogue()

# Our estimators read firm rows whose columns are the catalogue's indicators (44 here); these checks
# feed arrays of 1-10 made-up columns, which are refused by design with a message naming the shape
# the catalogue needs, before the check gets to what it tests. Each entry says what that check feeds.
# Everything else the checks test (clone, get/set_params, no work in __init__, repr, NotFittedError,
# sparse refusal, y required, tags) passes; fitting on real firm rows is tested below.
_MADE_UP_COLUMNS = "refused: the input must have the catalogue's indicator columns, the check feeds"
_SHAPE_BOUND = {
    "check_classifier_data_not_an_array": f"{_MADE_UP_COLUMNS} 2 columns as a list of lists",
    "check_classifiers_classes": f"{_MADE_UP_COLUMNS} 2 columns with string and multiclass labels",
    "check_classifiers_one_label": f"{_MADE_UP_COLUMNS} 10 columns with one class (our one-class error is "
                                   "raised only for catalogue-shaped input)",
    "check_classifiers_regression_target": f"{_MADE_UP_COLUMNS} 10 columns with a continuous target",
    "check_classifiers_train": f"{_MADE_UP_COLUMNS} 2 columns of blobs",
    "check_complex_data": f"{_MADE_UP_COLUMNS} 10 complex columns (the shape error precedes the dtype one)",
    "check_dict_unchanged": f"{_MADE_UP_COLUMNS} 3 columns",
    "check_dont_overwrite_parameters": f"{_MADE_UP_COLUMNS} 3 columns",
    "check_dtype_object": f"{_MADE_UP_COLUMNS} 10 object columns",
    "check_estimators_dtypes": f"{_MADE_UP_COLUMNS} 5 columns in several dtypes",
    "check_estimators_empty_data_messages": f"{_MADE_UP_COLUMNS} 0 or 3 columns and expects sklearn's wording",
    "check_estimators_fit_returns_self": f"{_MADE_UP_COLUMNS} 2 columns",
    "check_estimators_overwrite_params": f"{_MADE_UP_COLUMNS} 2 columns",
    "check_estimators_pickle": f"{_MADE_UP_COLUMNS} 3 columns (pickling fitted models is tested via MLflow)",
    "check_f_contiguous_array_estimator": f"{_MADE_UP_COLUMNS} 3 columns",
    "check_fit2d_1feature": f"{_MADE_UP_COLUMNS} 1 column and expects sklearn's wording",
    "check_fit2d_1sample": f"{_MADE_UP_COLUMNS} 10 columns, 1 row, and expects sklearn's wording",
    "check_fit2d_predict1d": f"{_MADE_UP_COLUMNS} 3 columns",
    "check_fit_check_is_fitted": f"{_MADE_UP_COLUMNS} 2 columns",
    "check_fit_idempotent": f"{_MADE_UP_COLUMNS} 2 columns",
    "check_fit_score_takes_y": f"{_MADE_UP_COLUMNS} 3 columns",
    "check_methods_sample_order_invariance": f"{_MADE_UP_COLUMNS} 3 columns",
    "check_methods_subset_invariance": f"{_MADE_UP_COLUMNS} 3 columns",
    "check_n_features_in": f"{_MADE_UP_COLUMNS} 2 columns",
    "check_n_features_in_after_fitting": f"{_MADE_UP_COLUMNS} 4 columns",
    "check_pipeline_consistency": f"{_MADE_UP_COLUMNS} 3 columns",
    "check_positive_only_tag_during_fit": f"{_MADE_UP_COLUMNS} 2 negative columns",
    "check_readonly_memmap_input": f"{_MADE_UP_COLUMNS} 2 columns",
    "check_supervised_y_2d": f"{_MADE_UP_COLUMNS} 3 columns",
}
# Only an estimator with decision_function (LightGBM: raw log-odds) gets this check.
_DECISION_FUNCTION = {"check_decision_proba_consistency": f"{_MADE_UP_COLUMNS} 2 columns"}
# Only an estimator whose fit takes sample_weight (LightGBM: reject inference's weights) gets these;
# test_sample_weights_reach_the_booster checks the weights on catalogue data.
_SAMPLE_WEIGHT = {name: f"{_MADE_UP_COLUMNS} a few columns" for name in (
    "check_sample_weights_pandas_series", "check_sample_weights_not_an_array", "check_sample_weights_list",
    "check_all_zero_sample_weights_error", "check_sample_weights_shape", "check_sample_weights_not_overwritten",
    "check_sample_weight_equivalence_on_dense_data", "check_classifiers_one_label_sample_weights")}


def _expected_failures(estimator):
    return {**_SHAPE_BOUND, **(_DECISION_FUNCTION if hasattr(estimator, "decision_function") else {}),
            **(_SAMPLE_WEIGHT if isinstance(estimator, LightGBMPD) else {})}


@parametrize_with_checks([ExpertScorecard(CATALOGUE), WoEScorecard(CATALOGUE), LightGBMPD(CATALOGUE, n_estimators=20)],
                         expected_failed_checks=_expected_failures)
def test_sklearn_estimator_contract(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", [ExpertScorecard(CATALOGUE), WoEScorecard(CATALOGUE), LightGBMPD(CATALOGUE)],
                         ids=lambda e: type(e).__name__)
def test_unfitted_estimators_raise_not_fitted_and_declare_nan_support(estimator, small_portfolio):
    rows = small_portfolio.data.head(5)
    for method in ("predict", "predict_proba", "predict_pd"):
        with pytest.raises(NotFittedError):
            getattr(estimator, method)(rows)
    assert estimator.__sklearn_tags__().input_tags.allow_nan


@pytest.fixture(scope="module")
def firm_rows(small_portfolio):
    d = small_portfolio.data
    return d, d["default_12m"].to_numpy()


@pytest.mark.slow
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


def test_one_firm_scores_by_the_single_row_api_as_the_batch_does(firm_rows):
    """A request's one firm goes through LightGBM's single-row C API (estimators.single_row); its raw
    score and contributions must be the batch predict's to the bit, after pickling and after a refit."""
    X, y = firm_rows
    model = LightGBMPD(CATALOGUE, n_estimators=30).fit(X, y)
    rows = X.head(200)                     # missing values and categorical levels included
    for fitted in (model, pickle.loads(pickle.dumps(model))):
        matrix = fitted.feature_set_.derive(rows).matrix
        batch = fitted.booster_.predict(matrix, num_iteration=fitted.best_iteration_, raw_score=True)
        one_by_one = np.concatenate([fitted.raw_log_odds(matrix[i:i + 1]) for i in range(len(matrix))])
        np.testing.assert_array_equal(one_by_one, batch)
        contributions = fitted.booster_.predict(matrix, num_iteration=fitted.best_iteration_, pred_contrib=True)
        for i in range(0, len(matrix), 20):
            one, base = fitted.feature_contributions(matrix[i:i + 1])
            np.testing.assert_array_equal(one, contributions[i:i + 1, :-1])
            assert base == contributions[i, -1]
        np.testing.assert_array_equal(np.concatenate([fitted.predict_pd(rows.iloc[[i]]) for i in range(5)]),
                                      fitted.predict_pd(rows.head(5)))
    before = model.raw_log_odds(matrix[:1])
    model.set_params(n_estimators=5).fit(X, y)         # a new booster: the set-up follows it
    assert model.raw_log_odds(matrix[:1]) != before
    np.testing.assert_array_equal(model.raw_log_odds(matrix[:1]),
                                  model.booster_.predict(matrix[:1], num_iteration=model.best_iteration_, raw_score=True))



def test_one_firm_is_scored_without_the_single_row_api_where_lightgbm_lacks_it(firm_rows, monkeypatch):
    from innoscore.model.estimators import single_row

    X, y = firm_rows
    model = LightGBMPD(CATALOGUE, n_estimators=10).fit(X, y)
    matrix = model.feature_set_.derive(X.head(3)).matrix
    expected = model.booster_.predict(matrix, num_iteration=model.best_iteration_, raw_score=True)
    monkeypatch.setattr(single_row, "_LIB", None)
    assert not single_row.single_row_predictor(model, model.booster_, model.best_iteration_).available
    np.testing.assert_array_equal(np.concatenate([model.raw_log_odds(matrix[i:i + 1]) for i in range(3)]), expected)


def test_small_samples_choose_parameters_by_folds_and_keep_a_fixed_candidate_within_noise(small_portfolio, catalogue):
    """Issue #25: on one small validation window the search chose by noise and lost to the plain
    model. Below `cv_below_rows`, candidates are ranked by 5-fold AUC (n_trials // 5 trials), the
    configured and fixed candidates always among them, and a search trial wins only beyond one
    standard error of its folds."""
    from innoscore.model.estimators.tuning import tune_lightgbm

    data = small_portfolio.data
    y = data[catalogue.dataset.target_column].to_numpy().astype(int)
    train, valid = data.index < 2000, data.index >= 2000
    model = LightGBMPD(catalogue, params={"num_leaves": 2, "max_depth": 1, "min_child_samples": 600},
                       n_estimators=300, learning_rate=0.01, early_stopping_rounds=30, num_threads=1, seed=3)
    good = {"num_leaves": 7, "max_depth": 3, "min_child_samples": 50, "learning_rate": 0.05}
    space = {"num_leaves": [4, 8], "learning_rate": [0.02, 0.1]}
    best, auc, scored = tune_lightgbm(model, data[train], y[train], data[valid], y[valid], space, n_trials=10,
                                      candidates=(good,), cv_below_rows=10_000, folds=5)
    assert [s["source"] for s in scored] == ["configured", "candidate", "search", "search"]   # 10 // 5 trials
    assert {s["selection"] for s in scored} == {"5-fold"} and all(s["auc_se"] > 0 for s in scored)
    chosen = [s for s in scored if s["chosen"]]
    assert len(chosen) == 1 and chosen[0]["auc"] == auc
    fixed = max((s for s in scored if s["source"] != "search"), key=lambda s: s["auc"])
    assert fixed["source"] == "candidate"                      # the crippled configured parameters lose
    assert chosen[0] is fixed or chosen[0]["auc"] - fixed["auc"] > chosen[0]["auc_se"]
    _, _, window = tune_lightgbm(model, data[train], y[train], data[valid], y[valid], space, n_trials=2,
                                 candidates=(good,), cv_below_rows=0)
    assert len(window) == 4 and {s["selection"] for s in window} == {"valid"}


def test_cross_fitted_calibration_fits_on_out_of_fold_log_odds_and_falls_back_on_too_few_defaults(firm_rows):
    """Issue #25: Platt on one validation window moved every PD with that year's realised rate; the
    default fits it on out-of-fold log-odds of train + valid (the intercept then matches the whole
    sample's rate), and falls back to the window where folds cannot each hold a default."""
    X, y = firm_rows
    X, y = X.reset_index(drop=True), y.copy()
    half = len(y) // 2
    kwargs = dict(n_estimators=60, early_stopping_rounds=None, num_threads=1, seed=1)
    crossed = LightGBMPD(CATALOGUE, **kwargs).fit(X[:half], y[:half], eval_set=(X[half:], y[half:]))
    window = LightGBMPD(CATALOGUE, calibration="platt", **kwargs).fit(X[:half], y[:half], eval_set=(X[half:], y[half:]))
    assert crossed.calibration_ != window.calibration_
    for defaults in ([0, 1, half], [0]):                     # three folds of one default each; then none
        few = np.zeros_like(y)
        few[defaults] = 1
        lone = LightGBMPD(CATALOGUE, **kwargs).fit(X[:half], few[:half], eval_set=(X[half:], few[half:]))
        assert np.isfinite(lone.calibration_).all()


def test_sample_weights_reach_the_booster_and_the_calibration(catalogue):
    data = generate_portfolio(6000, seed=4, catalogue=catalogue).data
    y = data["default_12m"].to_numpy()
    weights = np.where(y == 1, 5.0, 1.0)                     # defaults count five times
    plain = LightGBMPD(catalogue, n_estimators=60, calibration="none", seed=0).fit(data, y)
    weighted = LightGBMPD(catalogue, n_estimators=60, calibration="none", seed=0).fit(data, y, sample_weight=weights)
    assert weighted.predict_pd(data).mean() > 2 * plain.predict_pd(data).mean()
    calibrated = [LightGBMPD(catalogue, n_estimators=60, seed=0).fit(data, y, sample_weight=w).predict_pd(data).mean()
                  for w in (None, weights)]        # Platt on out-of-fold log-odds, weighted as the booster
    assert calibrated[1] > 2 * calibrated[0] and calibrated[0] == pytest.approx(y.mean(), rel=0.25)
