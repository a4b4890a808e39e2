"""The statistical standard: optbinning WoE bins (monotone per the catalogue) + logistic regression, PDO points."""
from __future__ import annotations

import numpy as np
import pandas as pd
from optbinning import BinningProcess, Scorecard
from sklearn.linear_model import LogisticRegression

from innoscore.features.catalogue import Catalogue, Direction
from innoscore.model.estimators.base import CatalogueClassifier, check_fitted, check_parameters
from innoscore.model.grades import GradeScale

# optbinning's trend of the event (default) rate as the indicator grows.
_TREND = {Direction.higher_worse: "ascending", Direction.higher_better: "descending",
          Direction.non_monotone: "auto_heuristic"}


class WoEScorecard(CatalogueClassifier):
    """WoE scorecard scaled by points-to-double-the-odds, a scikit-learn estimator.

    Parameters
    ----------
    catalogue : Catalogue
    pdo, base_odds, base_score : float
        Score scaling: `base_score` points at good:bad odds `base_odds`, +`pdo` points doubles the odds.
    max_n_bins : int
    min_bin_size : float
        Smallest bin as a share of the training rows.
    grade_scale : GradeScale or None
    """

    def __init__(self, catalogue: Catalogue | None = None, pdo: float = 20, base_odds: float = 50,
                 base_score: float = 600, max_n_bins: int = 6, min_bin_size: float = 0.05,
                 grade_scale: GradeScale | None = None):
        self.catalogue = catalogue
        self.pdo = pdo
        self.base_odds = base_odds
        self.base_score = base_score
        self.max_n_bins = max_n_bins
        self.min_bin_size = min_bin_size
        self.grade_scale = grade_scale

    def _input(self, X) -> pd.DataFrame:
        X = self._as_frame(X)
        return X[self.catalogue.indicator_ids].apply(
            lambda s: s if self.catalogue.by_id[s.name].type == "categorical" else pd.to_numeric(s, errors="coerce"))

    def fit(self, X, y):
        check_parameters(self)
        for name in ("pdo", "base_odds", "min_bin_size"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        X, y = self._start_fit(X, y)
        cat = self.catalogue
        binning = BinningProcess(
            variable_names=cat.indicator_ids,
            categorical_variables=[i.id for i in cat.indicators if i.type == "categorical"] or None,
            max_n_bins=self.max_n_bins, min_bin_size=self.min_bin_size,
            binning_fit_params={i.id: {"monotonic_trend": _TREND[i.direction]}
                                for i in cat.indicators if i.type != "categorical"},
        )
        self.scorecard_ = Scorecard(
            binning_process=binning, estimator=LogisticRegression(max_iter=2000),
            scaling_method="pdo_odds",
            scaling_method_params={"pdo": self.pdo, "odds": self.base_odds, "scorecard_points": self.base_score},
        ).fit(self._input(X), y)
        return self

    def predict_pd(self, X) -> np.ndarray:
        check_fitted(self, "scorecard_")
        return self.scorecard_.predict_proba(self._input(X))[:, 1]

    def points(self, X) -> np.ndarray:
        """Scorecard points (higher = safer)."""
        check_fitted(self, "scorecard_")
        return self.scorecard_.score(self._input(X))
