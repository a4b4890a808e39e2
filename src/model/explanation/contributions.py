"""Per-firm SHAP explanations of the LightGBM PD, folded onto catalogue indicators and categories.

TreeSHAP (path-dependent) in log-odds space, computed by LightGBM's own `pred_contrib`, which is the
same algorithm as `shap.TreeExplainer` on a LightGBM booster and gives identical values
(tests/test_explanation.py checks it; benchmarks/explanation.py compares their speed). Additivity:
base value + sum of contributions = the booster's raw log-odds. The committee sees the calibrated
PD = sigmoid(a + b * raw log-odds), so a contribution c moves the calibrated log-odds by b * c.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from innoscore.features.catalogue import Catalogue
from innoscore.features.firm_columns import text_array
from innoscore.features.derive import Derived
from innoscore.model.columns import column_labels, in_order
from innoscore.model.estimators.lightgbm_pd import LightGBMPD

METHODS = ("pred_contrib", "shap")


@dataclass
class Explanations:
    """Explanations of a batch of firms; every table is indexed like the input rows."""

    firm_ids: np.ndarray | pd.api.extensions.ExtensionArray     # text (features.firm_columns.text_array)
    raw_log_odds: np.ndarray
    base_value: float
    pd: np.ndarray
    calibration: tuple[float, float]
    features: pd.DataFrame      # contribution of each derived feature
    indicators: pd.DataFrame    # folded onto catalogue indicators
    categories: pd.DataFrame    # folded onto catalogue categories
    values: pd.DataFrame        # each firm's indicator values (as the model saw them)

    def __len__(self) -> int:
        return len(self.firm_ids)


def feature_contributions(model: LightGBMPD, features: pd.DataFrame, method: str = "pred_contrib"
                          ) -> tuple[pd.DataFrame, float]:
    """SHAP values per derived feature (log-odds) and the base value."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method == "pred_contrib":
        contrib, base_value = model.feature_contributions(features.to_numpy())
        base = np.full(len(features), base_value)
    else:
        import shap

        explainer = shap.TreeExplainer(model.booster_, feature_perturbation="tree_path_dependent")
        explainer.model.tree_limit = model.best_iteration_
        contrib = explainer.shap_values(features, tree_limit=model.best_iteration_)
        contrib = contrib[1] if isinstance(contrib, list) else contrib
        base = np.full(len(features), float(np.ravel(explainer.expected_value)[-1]))
    return pd.DataFrame(contrib, index=features.index, columns=features.columns), float(base[0]) if len(base) else 0.0


def fold_to_indicators(contributions: pd.DataFrame, sources: pd.DataFrame) -> pd.DataFrame:
    """Each derived feature's contribution shared among the indicators it comes from (totals kept)."""
    folded = in_order(contributions, sources.index) @ sources.to_numpy()
    return pd.DataFrame(folded, index=contributions.index, columns=sources.columns)


def fold_to_categories(indicators: pd.DataFrame, catalogue: Catalogue) -> pd.DataFrame:
    totals = catalogue.category_totals(in_order(indicators, catalogue.indicator_ids))
    return pd.DataFrame(np.column_stack(list(totals.values())) if totals else np.empty((len(indicators), 0)),
                        index=indicators.index, columns=column_labels(tuple(totals)))


def explain(model: LightGBMPD, rows: pd.DataFrame, method: str = "pred_contrib",
            derived: Derived | None = None) -> Explanations:
    """Explain validated firm rows with a fitted LightGBMPD (`derived`: the rows' features, if known)."""
    catalogue = model.catalogue
    derived = model.derive(rows) if derived is None else derived
    features = pd.DataFrame(derived.matrix, index=rows.index, columns=column_labels(tuple(model.feature_set_.names)),
                            copy=False)
    contrib, base = feature_contributions(model, features, method)
    indicators = fold_to_indicators(contrib, model.feature_set_.sources_matrix())
    raw = base + contrib.to_numpy().sum(axis=1)
    id_col = catalogue.dataset.firm_id_column
    ids = text_array(rows, id_col) if id_col in rows else np.asarray(rows.index.astype(str))
    return Explanations(firm_ids=ids, raw_log_odds=raw, base_value=base, pd=model.calibrate(raw),
                        calibration=model.calibration_, features=contrib, indicators=indicators,
                        categories=fold_to_categories(indicators, catalogue),
                        values=_level_values(derived.values, rows.index, catalogue))


def _level_values(values: np.ndarray, index: pd.Index, catalogue: Catalogue) -> pd.DataFrame:
    """Indicator values as people know them: a categorical indicator's level, not the model's code."""
    frame = pd.DataFrame(values, index=index, columns=column_labels(tuple(catalogue.indicator_ids)))
    for ind in catalogue.indicators:
        if ind.type == "categorical":
            levels = np.asarray(ind.level_values + [None], dtype=object)
            codes = frame[ind.id].to_numpy()
            frame[ind.id] = levels[np.where(np.isnan(codes), len(levels) - 1, codes).astype(int)]
    return frame
