"""The bank's hand-weighted expert scorecard: catalogue points per indicator, mapped to PD and grade."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from innoscore.features.catalogue import Catalogue
from innoscore.features.derive import Derived
from innoscore.features.expert_points import category_point_arrays
from innoscore.model.arrays import column_labels
from innoscore.model.estimators.base import CatalogueClassifier, check_fitted, check_parameters
from innoscore.model.grades import GradeScale


def category_points(data: pd.DataFrame, catalogue: Catalogue, derived: Derived | None = None) -> pd.DataFrame:
    """Expert points in total and per category (`features.expert_points.category_point_arrays`) as a
    frame on the rows' index; `derived` (`features.derive`) saves computing them again."""
    computed = () if derived is None else (derived.points, derived.category_totals)
    columns = category_point_arrays(data, catalogue, *computed)
    return pd.DataFrame(columns, index=data.index, columns=column_labels(tuple(columns)))


class ExpertScorecard(CatalogueClassifier):
    """Points from the catalogue's hand weights and bins, a monotone calibration from points to PD.

    Parameters
    ----------
    catalogue : Catalogue
        Supplies the indicators, bins and points.
    calibration : {"logistic", "isotonic"}
        How total points map to PD; both are monotone (more points, lower PD).
    grade_scale : GradeScale or None
        PD bands for `predict_grade`.
    """

    def __init__(self, catalogue: Catalogue | None = None, calibration: str = "logistic",
                 grade_scale: GradeScale | None = None):
        self.catalogue = catalogue
        self.calibration = calibration
        self.grade_scale = grade_scale

    def fit(self, X, y):
        check_parameters(self, calibration={"logistic", "isotonic"})
        X, y = self._start_fit(X, y)
        total = category_points(X, self.catalogue)["total"].to_numpy()
        if self.calibration == "logistic":
            self.calibrator_ = LogisticRegression(C=1e6, max_iter=1000).fit(total.reshape(-1, 1), y)
        else:
            self.calibrator_ = IsotonicRegression(increasing=False, out_of_bounds="clip",
                                                  y_min=1e-4, y_max=1 - 1e-4).fit(total, y)
        return self

    def points(self, X) -> pd.DataFrame:
        return category_points(self._as_frame(X), self.catalogue)

    def predict_pd(self, X) -> np.ndarray:
        check_fitted(self, "calibrator_")
        total = self.points(X)["total"].to_numpy()
        if self.calibration == "logistic":
            return self.calibrator_.predict_proba(total.reshape(-1, 1))[:, 1]
        return self.calibrator_.predict(total)
