"""Per-firm SHAP explanations of the LightGBM PD, folded onto catalogue indicators and categories.

TreeSHAP (path-dependent) in log-odds space, computed by LightGBM's own `pred_contrib`, which is the
same algorithm as `shap.TreeExplainer` on a LightGBM booster and gives identical values
(tests/test_explanation.py checks it; benchmarks/explanation.py compares their speed). Additivity:
base value + sum of contributions = the booster's raw log-odds. The committee sees the calibrated
PD = sigmoid(a + b * raw log-odds), so a contribution c moves the calibrated log-odds by b * c.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from innoscore.features.catalogue import Catalogue
from innoscore.features.firm_columns import text_array
from innoscore.features.derive import Derived, FeatureSet
from innoscore.features.sources import SourceDeviations, SourceReference, source_deviations
from innoscore.model.arrays import column_labels
from innoscore.model.estimators.lightgbm_pd import LightGBMPD
from innoscore.speed import per_object

METHODS = ("pred_contrib", "shap")


def frame_view(array: str, names: str) -> property:
    """A read-only frame of the array field `array`, its columns named by the field `names`, indexed
    like the input rows."""
    return property(lambda self: pd.DataFrame(getattr(self, array), index=self.index,
                                              columns=column_labels(getattr(self, names))))


@dataclass
class Explanations:
    """Explanations of a batch of firms as arrays, a row per firm in the input's order and a column per
    feature, catalogue indicator or category (in the catalogue's order); `features`, `indicators`,
    `categories` and `values` give them as frames indexed like the input rows, for a notebook."""

    firm_ids: np.ndarray | pd.api.extensions.ExtensionArray     # text (features.firm_columns.text_array)
    raw_log_odds: np.ndarray
    base_value: float
    pd: np.ndarray
    calibration: tuple[float, float]
    feature_names: tuple[str, ...]
    per_feature: np.ndarray       # contribution of each derived feature (log-odds)
    indicator_ids: tuple[str, ...]
    per_indicator: np.ndarray     # folded onto the catalogue's indicators
    category_ids: tuple[str, ...]
    per_category: np.ndarray      # folded onto the catalogue's categories
    indicator_values: np.ndarray  # each firm's indicator values as the model saw them (a level by its code)
    levels: tuple[tuple[str, ...] | None, ...]   # per indicator, a categorical's levels (None: numeric)
    index: pd.Index               # the input rows' index
    reference: SourceReference | None = None   # the training reference (missing rates by outcome)

    def __len__(self) -> int:
        return len(self.firm_ids)

    features = frame_view("per_feature", "feature_names")
    indicators = frame_view("per_indicator", "indicator_ids")
    categories = frame_view("per_category", "category_ids")

    @cached_property
    def known_values(self) -> np.ndarray:
        """The indicator values as people know them, an object array: a categorical indicator's
        level, not its code (None where missing); made once, where a reason is written."""
        out = self.indicator_values.astype(object)
        for j, levels in self.categorical_levels():
            out[:, j] = levels
        return out

    @property
    def values(self) -> pd.DataFrame:
        """The indicator values as people know them, a numeric indicator's column in floats."""
        frame = pd.DataFrame(self.indicator_values, index=self.index, columns=column_labels(self.indicator_ids))
        for j, levels in self.categorical_levels():
            frame[self.indicator_ids[j]] = levels
        return frame

    def categorical_levels(self):
        """(position, each firm's level) of every categorical indicator."""
        for j, levels in enumerate(self.levels):
            if levels is not None:
                named = np.asarray([*levels, None], dtype=object)
                codes = self.indicator_values[:, j]
                yield j, named[np.where(np.isnan(codes), len(named) - 1, codes).astype(int)]


def feature_contributions(model: LightGBMPD, features, method: str = "pred_contrib") -> tuple[np.ndarray, float]:
    """SHAP values per derived feature (log-odds), a row per firm of `features` (the derived features,
    a frame or an array), and the base value."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    matrix = np.asarray(features, dtype=float)
    if method == "pred_contrib":
        return model.feature_contributions(matrix)
    import shap

    explainer = shap.TreeExplainer(model.booster_, feature_perturbation="tree_path_dependent")
    explainer.model.tree_limit = model.best_iteration_
    contrib = explainer.shap_values(matrix, tree_limit=model.best_iteration_)
    contrib = contrib[1] if isinstance(contrib, list) else contrib
    return contrib, float(np.ravel(explainer.expected_value)[-1])


MAX_GAIN = 4.0


def deviation_shares(phi: np.ndarray, dev: SourceDeviations, max_gain: float = MAX_GAIN) -> np.ndarray:
    """Each source's share (rows x [features x] sources; shares of a feature sum to 1) of derived
    features' contributions `phi` (rows [x features]).

    The chain rule: a source's share is its own deviation over the sum of deviations, d_i / sum(d),
    so that a source on the risk-lowering side of the reference takes a risk-lowering part. It is
    used where it is well conditioned: the sum's sign agrees with the feature's declared effect
    and sum(|d|) / |sum(d)| is at most `max_gain`. Elsewhere (the sources nearly cancel, or the
    trees' response runs against the reference), `phi` goes to the sources deviating in the
    direction that explains it, by size; if none does, to those short of their best level (a credit:
    those above their worst), by the distance; for a feature with no declared effect, by the size of
    each deviation. A source at its best level can then not take a share of a risk-raising contribution.
    """
    d = dev.deviation
    mask = np.ones(d.shape[-1], bool) if dev.mask is None else dev.mask
    total, size = d.sum(axis=-1), np.abs(d).sum(axis=-1)
    sign = np.sign(phi)
    with np.errstate(divide="ignore", invalid="ignore"):
        chain = d / total[..., None]
    ok = (size > 0) & (np.abs(total) * max_gain >= size)
    if dev.effect:
        ok &= sign == dev.effect * np.sign(total)
        towards = (sign * dev.effect)[..., None]          # the direction of the features that explains phi
        fallback = np.maximum(towards * d, 0)
        if dev.room_up is not None:
            room = np.where(towards < 0, dev.room_up, dev.room_down)     # how far from the best (or worst)
            fallback = np.where((fallback.sum(axis=-1) > 0)[..., None], fallback, np.maximum(room, 0))
    else:
        fallback = np.abs(d)
    fallback = fallback * mask
    weight = fallback.sum(axis=-1, keepdims=True)
    even = mask / mask.sum(axis=-1, keepdims=True)
    fallback = np.where(weight > 0, fallback / np.where(weight > 0, weight, 1), even)
    return np.where(ok[..., None], chain, fallback)


def fold_to_indicators(contributions: np.ndarray, feature_set: FeatureSet, derived: Derived,
                       reference: SourceReference | None) -> np.ndarray:
    """Each derived feature's contribution (columns in `feature_set.names` order) passed to the
    catalogue's indicators it comes from (totals kept): a one-source feature's whole, a
    several-source feature's by `deviation_shares` of the firm's own values against the training
    `reference` (None, for a model stored before it: by fixed weights). One array step per kind of
    feature, whatever the number of features or firms."""
    phi = np.asarray(contributions, dtype=float)
    if reference is None:
        return phi @ feature_set.sources_matrix().to_numpy()
    one_source, groups = feature_set.source_positions()
    folded = phi @ one_source
    for group in groups:
        part = phi[:, group.features]
        shares = deviation_shares(part, source_deviations(group, derived, reference))
        folded += (part[:, :, None] * shares).reshape(len(phi), -1) @ group.scatter
    return folded


def fold_to_categories(indicators: np.ndarray, catalogue: Catalogue) -> np.ndarray:
    """The indicators' contributions (catalogue order) summed per category (catalogue order)."""
    totals = catalogue.category_totals(indicators)
    return np.column_stack(list(totals.values())) if totals else np.empty((len(indicators), 0))


def explain(model: LightGBMPD, rows: pd.DataFrame, method: str = "pred_contrib",
            derived: Derived | None = None) -> Explanations:
    """Explain validated firm rows with a fitted LightGBMPD (`derived`: the rows' features, if known)."""
    catalogue = model.catalogue
    derived = model.derive(rows) if derived is None else derived
    contrib, base = feature_contributions(model, derived.matrix, method)
    reference = getattr(model, "source_reference_", None)
    indicators = fold_to_indicators(contrib, model.feature_set_, derived, reference)
    raw = base + np.asfortranarray(contrib).sum(axis=1)   # feature by feature, as PDs were always summed (to the last digit)
    id_col = catalogue.dataset.firm_id_column
    ids = text_array(rows, id_col) if id_col in rows else np.asarray(rows.index.astype(str))
    return Explanations(firm_ids=ids, raw_log_odds=raw, base_value=base, pd=model.calibrate(raw),
                        calibration=model.calibration_, feature_names=tuple(model.feature_set_.names),
                        per_feature=contrib, indicator_ids=tuple(catalogue.indicator_ids), per_indicator=indicators,
                        category_ids=tuple(catalogue.category_ids), per_category=fold_to_categories(indicators, catalogue),
                        indicator_values=derived.values, levels=indicator_levels(catalogue), index=rows.index,
                        reference=reference)


@per_object
def indicator_levels(catalogue: Catalogue) -> tuple[tuple[str, ...] | None, ...]:
    """Each indicator's levels in the catalogue's order (None: a numeric indicator)."""
    return tuple(tuple(ind.level_values) if ind.type == "categorical" else None for ind in catalogue.indicators)
