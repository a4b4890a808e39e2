"""What every innoscore estimator shares: catalogue-shaped input, grades, points by category."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from innoscore.features.catalogue import Catalogue
from innoscore.features.firm_columns import FirmColumns
from innoscore.model.grades import GradeScale


def check_fitted(estimator, attribute: str) -> None:
    """sklearn's `check_is_fitted(estimator, attribute)`, the fitted case first: one attribute lookup
    instead of reading the estimator's tags on every call (scoring a request's firm calls it twice)."""
    if not hasattr(estimator, attribute):
        check_is_fitted(estimator, attribute)


def check_parameters(estimator, **allowed) -> None:
    """Raise a clear TypeError/ValueError for a parameter outside its allowed values."""
    if not isinstance(estimator.catalogue, Catalogue):
        raise TypeError(f"catalogue must be a features.catalogue.Catalogue, got {type(estimator.catalogue).__name__}")
    if estimator.grade_scale is not None and not isinstance(estimator.grade_scale, GradeScale):
        raise TypeError("grade_scale must be a model.grades.GradeScale or None")
    for name, values in allowed.items():
        if getattr(estimator, name) not in values:
            raise ValueError(f"{name} must be one of {sorted(values)}, got {getattr(estimator, name)!r}")


class CatalogueClassifier(ClassifierMixin, BaseEstimator):
    """Base for PD models whose input is firm rows with the catalogue's indicator columns.

    An ndarray is read as the indicators in catalogue order, so sklearn tooling that strips column
    names still works.
    """

    def _as_frame(self, X) -> pd.DataFrame:
        ids = self.catalogue.indicator_ids
        if isinstance(X, (pd.DataFrame, FirmColumns)):   # FirmColumns: a request's firms, without pandas
            missing = [] if self.catalogue.indicator_id_set.issubset(X.columns) else [c for c in ids if c not in X]
            if missing:
                raise ValueError(f"input lacks indicator column(s) {missing[:5]}{'...' if len(missing) > 5 else ''}")
            return X
        if sparse.issparse(X):
            raise TypeError("sparse input is not supported: pass firm rows as a DataFrame or dense array")
        arr = np.asarray(X)
        if arr.ndim != 2 or arr.shape[1] != len(ids):
            raise ValueError(f"expected a 2-D array with {len(ids)} indicator columns in catalogue order, "
                             f"got shape {arr.shape}")
        return pd.DataFrame(arr, columns=ids)

    def _start_fit(self, X, y):
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None")
        X = self._as_frame(X)
        y = np.asarray(y)
        if y.ndim != 1:
            y = np.ravel(y)
        check_classification_targets(y)
        if len(y) != len(X):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"Classifier can't train when only one class is present: {self.classes_.tolist()}")
        if len(self.classes_) != 2 or not set(self.classes_.tolist()) <= {0, 1}:
            raise ValueError(f"y must be binary 0/1 (1 = default), got classes {self.classes_.tolist()}")
        self.n_features_in_ = len(self.catalogue.indicator_ids)
        self.feature_names_in_ = np.asarray(self.catalogue.indicator_ids, dtype=object)
        return X, y.astype(int)

    # What the model interface may ask of every estimator (innoscore.model.scoring.interface).
    supports_contributions = False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True       # a missing indicator is data, not an error
        tags.input_tags.string = True          # categorical levels may be text
        tags.non_deterministic = False
        return tags

    def predict_pd(self, X) -> np.ndarray:
        """The PD of each firm: the one PD path (predict_proba is built from it)."""
        raise NotImplementedError

    def derive(self, X):
        """What one pass over the rows yields for scoring (features.derive.Derived), or None."""
        return None

    def predict_pd_derived(self, X, derived) -> np.ndarray:
        """PD of rows whose `derive` output is already known (saves a second pass)."""
        return self.predict_pd(X)

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self)
        p = self.predict_pd(X)
        return np.column_stack([1 - p, p])

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self)
        return self.classes_[(self.predict_pd(X) >= 0.5).astype(int)]

    def predict_grade(self, X) -> np.ndarray:
        check_is_fitted(self)
        if self.grade_scale is None:
            raise ValueError("this estimator was built without a grade_scale")
        return self.grade_scale.assign(self.predict_pd(X))
