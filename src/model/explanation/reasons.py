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
    return f"{number}{ind.unit.zh}" if lang == "zh" else f"{number} {ind.unit.en}".rstrip()


def peer_shares(value: float, quantiles) -> tuple[float, float]:
    """Shares (0-100) of training peers with a strictly lower and a strictly higher value, read off
    the peer quantiles (a Series or an array); with ties (many firms at exactly 0) the two do not add up to 100."""
    q = np.asarray(quantiles, dtype=float)
    if np.isnan(value) or np.all(np.isnan(q)) or len(q) < 2:
        return float("nan"), float("nan")
    steps = len(q) - 1
    lo, hi = np.searchsorted(q, value, side="left"), np.searchsorted(q, value, side="right")
    below = 100 * min(lo, steps) / steps
    above = 100 * max(0, len(q) - max(hi, 1)) / steps
    return float(below), float(min(above, 100 - below))


def percentile(value: float, quantiles) -> float:
    """Mid-rank percentile (0-100) among training peers: lower share plus half the tied share."""
    below, above = peer_shares(value, quantiles)
    return below + (100 - below - above) / 2 if not np.isnan(below) else float("nan")


def _peer_place(ind: Indicator, below: float, above: float, median: float, lang: str) -> str:
    if np.isnan(below) or ind.type in ("ordinal", "categorical", "boolean"):
        return ""
    med = format_value(ind, median, lang)
    higher = below + (100 - below - above) / 2 >= 50     # mid-rank: which side of the peers the firm is on
    if lang == "zh":
        return f"，高于{below:.0f}%的同业（中位数{med}）" if higher else f"，低于{above:.0f}%的同业（中位数{med}）"
    return (f", higher than {below:.0f}% of peers (median {med})" if higher
            else f", lower than {above:.0f}% of peers (median {med})")


def _sentence(ind: Indicator, value, contribution: float, shares: tuple[float, float], median: float,
              lang: str) -> str:
    name, val = ind.name(lang), format_value(ind, value, lang)
    missing = isinstance(value, float) and np.isnan(value)
    place = "" if missing else _peer_place(ind, *shares, median, lang)
    if lang == "zh":
        effect = f"{'推高' if contribution > 0 else '降低'}违约风险（{contribution:+.2f}）"
        return f"{name}{val}，{effect}" if missing else f"{name}为{val}{place}，{effect}"
    effect = f"{'raises' if contribution > 0 else 'lowers'} default risk ({contribution:+.2f})"
    return f"{name}: {val}; {effect}" if missing else f"{name} is {val}{place}; {effect}"


def reason(ind: Indicator, value, contribution: float, quantiles, catalogue: Catalogue) -> dict:
    """One indicator's reason; `quantiles`: the peer quantiles of every indicator (a DataFrame) or of
    this one (an array)."""
    q = np.asarray(quantiles[ind.id] if isinstance(quantiles, pd.DataFrame) else quantiles, dtype=float)
    numeric = ind.type != "categorical" and value is not None and not isinstance(value, str)
    value = float(value) if numeric else value      # a categorical value is its level, shown by its label
    shares = peer_shares(value, q) if numeric else (float("nan"), float("nan"))
    pct = shares[0] + (100 - shares[0] - shares[1]) / 2 if numeric and not np.isnan(shares[0]) else float("nan")
    median = float(q[len(q) // 2]) if ind.type != "categorical" else None
    cat = catalogue.category_by_id[ind.category]
    return {
        "indicator": ind.id, "name_zh": ind.name_zh, "name_en": ind.name_en,
        "category": ind.category, "category_zh": cat.name_zh, "category_en": cat.name_en,
        "value": None if isinstance(value, float) and np.isnan(value) else value,
        "value_zh": format_value(ind, value, "zh"), "value_en": format_value(ind, value, "en"),
        "percentile": None if np.isnan(pct) else round(pct, 1), "peer_median": median,
        "contribution": float(contribution),
        "text_zh": _sentence(ind, value, contribution, shares, median, "zh"),
        "text_en": _sentence(ind, value, contribution, shares, median, "en"),
    }


def all_firm_reasons(expl: Explanations, catalogue: Catalogue, quantiles: pd.DataFrame, top_k: int = 5,
                     firms=None) -> list[dict]:
    """`firm_reasons` of every firm (or of the positions in `firms`): the tables are read into arrays
    and ranked once for all firms, so that only the sentences are built per firm."""
    ids = expl.indicators.columns.to_numpy()
    contrib = expl.indicators.to_numpy()
    values = expl.values[list(ids)].to_numpy(dtype=object)
    q = quantiles[list(ids)].to_numpy(dtype=float)
    categories = expl.categories[catalogue.category_ids].to_numpy()
    order = np.argsort(-contrib, axis=1, kind="stable")
    indicators = [catalogue.by_id[i] for i in ids]
    out = []
    for i in (range(len(contrib)) if firms is None else firms):
        row, ranked = contrib[i], order[i]
        raising = [j for j in ranked[:top_k] if row[j] > 0]
        lowering = [j for j in ranked[::-1][:top_k] if row[j] < 0]

        def build(j):
            return reason(indicators[j], values[i, j], row[j], q[:, j], catalogue)

        out.append({"risk_raising": [build(j) for j in raising], "risk_lowering": [build(j) for j in lowering],
                    "categories": [{"category": c.id, "name_zh": c.name_zh, "name_en": c.name_en,
                                    "contribution": float(categories[i, k])}
                                   for k, c in enumerate(catalogue.categories)]})
    return out


def firm_reasons(expl: Explanations, i: int, catalogue: Catalogue, quantiles: pd.DataFrame, top_k: int = 5) -> dict:
    """Top risk-raising and risk-lowering indicators of firm `i`, and each category's total."""
    return all_firm_reasons(expl, catalogue, quantiles, top_k, firms=[i])[0]
