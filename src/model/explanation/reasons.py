"""Plain-language reasons from explanations: sentences in Chinese and English built from the catalogue."""
from __future__ import annotations

import numpy as np
import pandas as pd

from innoscore.features.catalogue import Catalogue, Indicator
from innoscore.model.explanation.contributions import Explanations

LANGS = ("zh", "en")


def format_value(ind: Indicator, value, lang: str) -> str:
    """A value as a credit officer reads it: percentages for ratios, labels for levels, units."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "未提供" if lang == "zh" else "not provided"
    if ind.type in ("ordinal", "categorical"):
        label = ind.level_label(int(value) if ind.type == "ordinal" else value, lang)
        return label if label is not None else str(value)
    if ind.type == "boolean":
        yes = bool(value)
        return ("是" if yes else "否") if lang == "zh" else ("yes" if yes else "no")
    if ind.format == "percent":
        return f"{100 * value:.1f}%"
    number = f"{value:,.0f}" if ind.type == "count" else f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{number}{ind.unit.zh}" if lang == "zh" else f"{number} {ind.unit.en}"


def percentile(value: float, quantiles: pd.Series) -> float:
    """Share of training-window peers (0-100) with a lower value."""
    q = quantiles.to_numpy(dtype=float)
    if np.isnan(value) or np.all(np.isnan(q)):
        return float("nan")
    lo, hi = np.searchsorted(q, value, side="left"), np.searchsorted(q, value, side="right")
    return float(100 * (lo + hi) / 2 / (len(q) - 1)) if len(q) > 1 else 50.0


def _peer_place(ind: Indicator, pct: float, median: float, lang: str) -> str:
    if np.isnan(pct) or ind.type in ("ordinal", "categorical", "boolean"):
        return ""
    med = format_value(ind, median, lang)
    if lang == "zh":
        return f"，高于{pct:.0f}%的同业（中位数{med}）" if pct >= 50 else f"，低于{100 - pct:.0f}%的同业（中位数{med}）"
    return (f", higher than {pct:.0f}% of peers (median {med})" if pct >= 50
            else f", lower than {100 - pct:.0f}% of peers (median {med})")


def _sentence(ind: Indicator, value, contribution: float, pct: float, median: float, lang: str) -> str:
    name, val = ind.name(lang), format_value(ind, value, lang)
    missing = isinstance(value, float) and np.isnan(value)
    place = "" if missing else _peer_place(ind, pct, median, lang)
    if lang == "zh":
        effect = f"{'推高' if contribution > 0 else '降低'}违约风险（{contribution:+.2f}）"
        return f"{name}{val}，{effect}" if missing else f"{name}为{val}{place}，{effect}"
    effect = f"{'raises' if contribution > 0 else 'lowers'} default risk ({contribution:+.2f})"
    return f"{name}: {val}; {effect}" if missing else f"{name} is {val}{place}; {effect}"


def reason(ind: Indicator, value, contribution: float, quantiles: pd.DataFrame, catalogue: Catalogue) -> dict:
    q = quantiles[ind.id]
    value = float(value) if value is not None and not (isinstance(value, str)) else value
    pct = percentile(value, q) if isinstance(value, float) else float("nan")
    median = float(q.iloc[len(q) // 2])
    cat = catalogue.category_by_id[ind.category]
    return {
        "indicator": ind.id, "name_zh": ind.name_zh, "name_en": ind.name_en,
        "category": ind.category, "category_zh": cat.name_zh, "category_en": cat.name_en,
        "value": None if isinstance(value, float) and np.isnan(value) else value,
        "value_zh": format_value(ind, value, "zh"), "value_en": format_value(ind, value, "en"),
        "percentile": None if np.isnan(pct) else round(pct, 1), "peer_median": median,
        "contribution": float(contribution),
        "text_zh": _sentence(ind, value, contribution, pct, median, "zh"),
        "text_en": _sentence(ind, value, contribution, pct, median, "en"),
    }


def firm_reasons(expl: Explanations, i: int, catalogue: Catalogue, quantiles: pd.DataFrame, top_k: int = 5) -> dict:
    """Top risk-raising and risk-lowering indicators of firm `i`, and each category's total."""
    contrib = expl.indicators.iloc[i]
    values = expl.values.iloc[i]
    order = np.argsort(-contrib.to_numpy(), kind="stable")
    ids = contrib.index.to_numpy()
    raising = [ids[j] for j in order if contrib.iloc[j] > 0][:top_k]
    lowering = [ids[j] for j in order[::-1] if contrib.iloc[j] < 0][:top_k]

    def build(ind_id):
        return reason(catalogue.by_id[ind_id], values[ind_id], contrib[ind_id], quantiles, catalogue)

    categories = [{"category": c.id, "name_zh": c.name_zh, "name_en": c.name_en,
                   "contribution": float(expl.categories.iloc[i][c.id])} for c in catalogue.categories]
    return {"risk_raising": [build(r) for r in raising], "risk_lowering": [build(r) for r in lowering],
            "categories": categories}
