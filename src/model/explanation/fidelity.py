"""How close SHAP explanations are to the truth, on data whose true contributions are known."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from innoscore.features.catalogue import Catalogue, Direction
from innoscore.features.synthetic import TRUTH_PREFIX
from innoscore.model.explanation.contributions import Explanations


def _row_spearman(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ra, rb = rankdata(a, axis=1), rankdata(b, axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    denom = np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))
    return np.where(denom > 0, (ra * rb).sum(axis=1) / np.where(denom > 0, denom, 1), np.nan)


def sign_agreement(expl: Explanations, catalogue: Catalogue, medians: pd.Series) -> float:
    """Share of (firm, monotone numeric indicator) pairs whose contribution has the sign the catalogue's
    direction implies: above the training median of a higher-is-worse indicator should raise risk."""
    agree = total = 0
    for j, ind in enumerate(catalogue.indicators):
        if ind.direction is Direction.non_monotone or ind.type == "categorical":
            continue
        v, c = expl.indicator_values[:, j], expl.per_indicator[:, j]
        side = np.sign(v - medians[ind.id]) * (1 if ind.direction is Direction.higher_worse else -1)
        ok = ~np.isnan(v) & (side != 0) & (np.abs(c) > 1e-9)
        agree += int((np.sign(c[ok]) == side[ok]).sum())
        total += int(ok.sum())
    return agree / total if total else float("nan")


def best_value_raising(expl: Explanations, catalogue: Catalogue, quantiles: pd.DataFrame) -> int:
    """How many (firm, indicator) pairs credit an indicator at its best value with raising risk: a
    higher-is-worse indicator at the training minimum, a higher-is-better one at the maximum."""
    count = 0
    for j, ind in enumerate(catalogue.indicators):
        if ind.direction is Direction.non_monotone or ind.type == "categorical":
            continue
        best = quantiles[ind.id].iloc[0 if ind.direction is Direction.higher_worse else -1]
        v = expl.indicator_values[:, j]
        count += int(((v == best) & (expl.per_indicator[:, j] > 0)).sum())
    return count


def explanation_fidelity(expl: Explanations, truth: pd.DataFrame, catalogue: Catalogue,
                         quantiles: pd.DataFrame, lead: float = 0.2) -> dict[str, float]:
    """Category ranking vs the true per-category log-odds: top risk-raising category match (all firms,
    and where the true top leads the second by more than `lead` log-odds), per-category correlation,
    sign agreement and indicators at their best value said to raise risk. `truth` rows align with
    the explained rows; `quantiles`: the training peers' (index 0..1)."""
    cats = catalogue.category_ids
    shap_cat = expl.per_category
    true_cat = truth[[f"{TRUTH_PREFIX}{c}" for c in cats]].to_numpy()
    rho = _row_spearman(shap_cat, true_cat)
    match = shap_cat.argmax(axis=1) == true_cat.argmax(axis=1)
    top2 = np.sort(true_cat, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > lead
    out = {"category_spearman_mean": float(np.nanmean(rho)),
           "top_category_match": float(match.mean()),
           "top_category_match_clear_lead": float(match[clear].mean()) if clear.any() else float("nan"),
           "sign_agreement_monotone": sign_agreement(expl, catalogue, quantiles.loc[0.5]),
           "best_value_raising": float(best_value_raising(expl, catalogue, quantiles))}
    for k, c in enumerate(cats):
        out[f"category_{c}_correlation"] = float(np.corrcoef(shap_cat[:, k], true_cat[:, k])[0, 1])
    return out


def load_truth(data_path, id_column: str) -> pd.DataFrame | None:
    """The generator's `<name>.truth.parquet` beside a data file, if there is one."""
    from pathlib import Path

    path = Path(data_path)
    sidecar = path.with_name(path.name.split(".")[0] + ".truth.parquet")
    if not sidecar.exists():
        return None
    truth = pd.read_parquet(sidecar)
    return truth if id_column in truth else None
