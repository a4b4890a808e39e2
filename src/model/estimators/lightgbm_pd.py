"""LightGBM on derived features, monotone where the catalogue says so, with a Platt-calibrated PD."""
from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from innoscore.features.catalogue import Catalogue
from innoscore.features.derive import FeatureConfig, FeatureSet
from innoscore.features.sources import SourceReference
from innoscore.model.estimators.base import CatalogueClassifier, check_fitted, check_parameters
from innoscore.model.estimators.single_row import CONTRIBUTIONS, booster_output
from innoscore.model.grades import GradeScale


def _platt(raw: np.ndarray, y, weight=None) -> tuple[float, float]:
    lr = LogisticRegression(C=1e6, max_iter=1000).fit(np.asarray(raw).reshape(-1, 1), np.asarray(y).astype(int),
                                                      sample_weight=weight)
    return float(lr.intercept_[0]), float(lr.coef_[0, 0])


class LightGBMPD(CatalogueClassifier):
    """Gradient-boosted PD model; `fit(X, y, eval_set=(X_valid, y_valid))` early-stops and calibrates on it.

    Parameters
    ----------
    catalogue : Catalogue
    feature_config : FeatureConfig or None
        Which derived features to build (see features.derive).
    params : dict or None
        LightGBM parameters (num_leaves, max_depth, ...); objective and monotone constraints are set here.
    n_estimators, learning_rate, early_stopping_rounds, num_threads, seed
        `early_stopping_rounds=None`: `n_estimators` trees exactly (a count chosen by cross-validation);
        the validation window then only calibrates.
    calibration : {"platt_cross_fitted", "platt", "none"}
        PD = sigmoid(a + b * raw log-odds). `platt_cross_fitted`: a and b fitted on out-of-fold raw
        log-odds of every training and validation row (`calibration_folds` boosters of the final
        recipe, each on the other folds); `platt`: on the validation window alone (one year's
        realised default rate moves every PD: the synthetic book's safest deciles came out 20-25%
        low); `none`: the booster's own log-odds.
    calibration_folds : int
    grade_scale : GradeScale or None
    monotone : dict or None
        Constraint sign per indicator id and `points_<category>` (see features.derive.FeatureSet);
        None: every direction the catalogue declares. `estimators.monotone` decides it from data.
    refit_below_rows : int
        When the training and validation rows together are fewer, the booster is refitted on both
        with the number of trees early stopping chose (a small sample cannot spare a fifth of its
        rows); the calibration fitted on the validation window is kept.
    min_child_share : float
        `min_child_samples` never exceeds this share of the training rows (a leaf size that suits
        100k firms would allow a few splits on 1,000).

    Attributes
    ----------
    feature_set_ : FeatureSet
    source_reference_ : features.sources.SourceReference
        The training rows' mean expert points and log amounts, against which explanations hand a
        derived feature's contribution to its indicators, and each indicator's missing rate among
        defaulted and other firms, which reasons quote.
    booster_, best_iteration_, calibration_, refitted_
    """

    def __init__(self, catalogue: Catalogue | None = None, feature_config: FeatureConfig | None = None,
                 params: dict | None = None, n_estimators: int = 2000, learning_rate: float = 0.05,
                 early_stopping_rounds: int = 100, num_threads: int = 2, seed: int = 0,
                 calibration: str = "platt_cross_fitted", grade_scale: GradeScale | None = None,
                 monotone: dict | None = None, refit_below_rows: int = 0, min_child_share: float = 1.0,
                 calibration_folds: int = 5):
        self.catalogue = catalogue
        self.feature_config = feature_config
        self.params = params
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.early_stopping_rounds = early_stopping_rounds
        self.num_threads = num_threads
        self.seed = seed
        self.calibration = calibration
        self.grade_scale = grade_scale
        self.monotone = monotone
        self.refit_below_rows = refit_below_rows
        self.min_child_share = min_child_share
        self.calibration_folds = calibration_folds

    def make_feature_set(self) -> FeatureSet:
        """The derived features this model's parameters ask for (fitted as `feature_set_`)."""
        return FeatureSet(self.catalogue, self.feature_config, self.monotone)

    def booster_params(self, feature_set: FeatureSet, n_rows: int | None = None, overrides: dict | None = None) -> dict:
        """LightGBM's parameters: ours, then `params`, then `overrides` (a search trial's), with
        `min_child_samples` capped by `min_child_share` of `n_rows` training rows."""
        params = {"objective": "binary", "learning_rate": self.learning_rate, "verbosity": -1,
                  "seed": self.seed, "deterministic": True, "force_row_wise": True,
                  "num_threads": self.num_threads, "monotone_constraints": feature_set.monotone_constraints,
                  "monotone_constraints_method": "advanced"}
        params.update(self.params or {})
        params.update(overrides or {})
        if n_rows is not None:
            cap = max(2, int(self.min_child_share * n_rows))
            params["min_child_samples"] = min(int(params.get("min_child_samples", 20)), cap)
        return params

    def dataset(self, X, y, feature_set: FeatureSet, reference: lgb.Dataset | None = None,
                weight=None) -> lgb.Dataset:
        return lgb.Dataset(feature_set.transform(self._as_frame(X)), label=np.asarray(y), reference=reference,
                           weight=None if weight is None else np.asarray(weight, dtype=float),
                           categorical_feature=feature_set.categorical_names or "auto", free_raw_data=False,
                           params={"feature_pre_filter": False})

    def fit(self, X, y, eval_set: tuple | None = None, sample_weight=None):
        """`sample_weight`: per training row (e.g. reject inference's weights); the validation rows
        weigh 1. Calibration uses the weights too."""
        check_parameters(self, calibration={"platt_cross_fitted", "platt", "none"})
        X, y = self._start_fit(X, y)
        self.feature_set_ = self.make_feature_set()
        self.source_reference_ = SourceReference.of(self.feature_set_.derive(X), y)
        train = self.dataset(X, y, self.feature_set_, weight=sample_weight)
        callbacks, valid_sets = [], []
        if eval_set is not None:
            Xv, yv = eval_set
            valid = self.dataset(Xv, yv, self.feature_set_, reference=train)
            if self.early_stopping_rounds is not None:
                valid_sets = [valid]
                callbacks.append(lgb.early_stopping(self.early_stopping_rounds, verbose=False))
        params = self.booster_params(self.feature_set_, len(X))
        self.booster_ = lgb.train(params, train, num_boost_round=self.n_estimators, valid_sets=valid_sets,
                                  callbacks=callbacks)
        self.best_iteration_ = self.booster_.best_iteration or self.booster_.current_iteration()
        Xc, yc = (eval_set if eval_set is not None else (X, y))
        rows = X if eval_set is None else pd.concat([X, self._as_frame(Xc)], ignore_index=True)
        outcomes = np.asarray(y) if eval_set is None else np.concatenate([y, np.asarray(yc)])
        weights = None if sample_weight is None else np.concatenate(
            [np.asarray(sample_weight, dtype=float), np.ones(len(outcomes) - len(X))])
        folds = min(self.calibration_folds, int(np.bincount(outcomes.astype(int), minlength=2).min()))
        if self.calibration == "platt_cross_fitted" and folds >= 2:    # (fewer than 2 defaults: the window)
            self.calibration_ = _platt(self._out_of_fold_raw(rows, outcomes, params, folds, weights), outcomes,
                                       weights)
        elif self.calibration != "none" and np.unique(np.asarray(yc)).size == 2:
            self.calibration_ = _platt(self.decision_function(Xc), yc)
        else:                                                          # nothing to calibrate on
            self.calibration_ = (0.0, 1.0)
        self.refitted_ = eval_set is not None and len(X) + len(Xc) < self.refit_below_rows
        if self.refitted_:
            self.booster_ = lgb.train(params, self.dataset(rows, outcomes, self.feature_set_, weight=weights),
                                      num_boost_round=self.best_iteration_)
        return self

    def _out_of_fold_raw(self, X: pd.DataFrame, y: np.ndarray, params: dict, folds: int,
                         weights: np.ndarray | None = None) -> np.ndarray:
        """Raw log-odds of every row from a booster of the final recipe (`best_iteration_` trees)
        that did not see it: what the calibration is fitted on."""
        from sklearn.model_selection import StratifiedKFold

        raw = np.empty(len(y))
        for fit_rows, held_rows in StratifiedKFold(folds, shuffle=True, random_state=self.seed).split(X, y):
            booster = lgb.train(params, self.dataset(X.iloc[fit_rows], y[fit_rows], self.feature_set_,
                                                     weight=None if weights is None else weights[fit_rows]),
                                num_boost_round=self.best_iteration_)
            raw[held_rows] = booster.predict(self.feature_set_.transform_array(X.iloc[held_rows]), raw_score=True,
                                             num_threads=self.num_threads)
        return raw

    supports_contributions = True

    def derive(self, X):
        check_fitted(self, "booster_")
        return self.feature_set_.derive(self._as_frame(X))

    def predict_pd_derived(self, X, derived) -> np.ndarray:
        check_fitted(self, "calibration_")
        return self.calibrate(self.raw_log_odds(derived.matrix))

    def feature_contributions(self, matrix: np.ndarray) -> tuple[np.ndarray, float]:
        """TreeSHAP values (log-odds) of each derived feature, by LightGBM's own `pred_contrib`, and the
        base; one firm's through the single-row API, as `raw_log_odds`."""
        check_fitted(self, "booster_")
        out = booster_output(self, self.booster_, matrix, self.best_iteration_, self.num_threads, CONTRIBUTIONS)
        return out[:, :-1], float(out[0, -1]) if len(out) else 0.0

    def features(self, X) -> pd.DataFrame:
        check_fitted(self, "booster_")
        return self.feature_set_.transform(self._as_frame(X))

    def decision_function(self, X) -> np.ndarray:
        """Raw log-odds of the booster (before calibration): what SHAP explains."""
        check_fitted(self, "booster_")
        return self.raw_log_odds(self.feature_set_.transform_array(self._as_frame(X)))

    def raw_log_odds(self, matrix: np.ndarray) -> np.ndarray:
        """Raw log-odds of an already derived model matrix (`feature_set_.derive(rows).matrix`); one
        firm's (an HTTP request's) through LightGBM's single-row API (`estimators.single_row`)."""
        return booster_output(self, self.booster_, matrix, self.best_iteration_, self.num_threads)

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        a, b = self.calibration_
        return expit(a + b * np.asarray(raw))

    def predict_pd(self, X) -> np.ndarray:
        check_fitted(self, "calibration_")
        return self.calibrate(self.decision_function(X))
