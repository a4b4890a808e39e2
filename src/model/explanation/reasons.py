"""Plain-language reasons from explanations: sentences in Chinese and English built from the catalogue."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from innoscore.features.catalogue import Catalogue, Direction, Indicator
from innoscore.model.arrays import in_order
from innoscore.model.explanation.contributions import Explanations

LANGS = ("zh", "en")
AGAINST_DIRECTION = "against_declared_direction"   # the effect runs against the catalogue's direction
MISSING = "missing"                                # the value was not provided: missingness is the signal


def format_value(ind: Indicator, value, lang: str) -> str:
    """A value as a credit officer reads it: percentages for ratios, labels for levels, units."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "未提供" if lang == "zh" else "not provided"
    if ind.type in ("ordinal", "categorical"):
        label = ind.level_label(int(value) if ind.type == "ordinal" else value, lang)
        return label if label is not None else str(value)
    if ind.type == "boolean":
        yes = bool(value)
        return ("是" if yes else "否") if lang == "zh" else ("yes" if yes else "no")
    digits = max(0, round(-math.log10(ind.display_step)))       # the precision `display_step` promises
    if ind.format == "percent":
        return f"{100 * value:.{max(0, digits - 2)}f}%"
    number = f"{value:,.0f}" if ind.type == "count" else f"{value:,.{digits}f}".rstrip("0").rstrip(".")
    return f"{number}{ind.unit.zh}" if lang == "zh" else f"{number} {ind.unit.en}".rstrip()


def peer_shares(value: float, quantiles) -> tuple[float, float]:
    """Shares (0-100) of training peers with a strictly lower and a strictly higher value, read off
    the peer quantiles (a Series or an array); with ties (many firms at exactly 0) the two do not add up to 100."""
    below, above = peer_shares_many(np.array([value], dtype=float), np.asarray(quantiles, dtype=float)[:, None])
    return float(below[0]), float(above[0])


def peer_shares_many(values: np.ndarray, quantiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`peer_shares` of many values at once; `quantiles` holds each value's peer quantiles as a column
    (quantiles x values). NaN where the value or all its quantiles are missing."""
    q, v = np.asarray(quantiles, dtype=float), np.asarray(values, dtype=float)
    steps = len(q) - 1
    if steps < 1:
        return np.full(len(v), np.nan), np.full(len(v), np.nan)
    lo, hi = (q < v).sum(axis=0), (q <= v).sum(axis=0)        # searchsorted left and right, per column
    below = 100 * np.minimum(lo, steps) / steps
    above = np.minimum(100 * np.maximum(0, len(q) - np.maximum(hi, 1)) / steps, 100 - below)
    unknown = np.isnan(v) | np.isnan(q).all(axis=0)
    return np.where(unknown, np.nan, below), np.where(unknown, np.nan, above)


def mid_rank(below: float, above: float) -> float:
    """Mid-rank percentile (0-100) among training peers from `peer_shares`: the share strictly
    below plus half the tied share (NaN when the shares are)."""
    return below + (100 - below - above) / 2


def _peer_place(ind: Indicator, below: float, above: float, med: str, lang: str) -> str:
    """Where the firm stands among peers (`med`: the peer median as text); a value whose ties reach
    both sides of the median (a flat distribution, many firms at 0) is at the median."""
    if math.isnan(below) or ind.type in ("ordinal", "categorical", "boolean"):
        return ""
    if below <= 50 and above <= 50:
        return f"，与同业中位数持平（{med}）" if lang == "zh" else f", at the peer median ({med})"
    higher = mid_rank(below, above) >= 50              # which side of the peers the firm is on
    if lang == "zh":
        return f"，高于{below:.0f}%的同业（中位数{med}）" if higher else f"，低于{above:.0f}%的同业（中位数{med}）"
    return (f", higher than {below:.0f}% of peers (median {med})" if higher
            else f", lower than {above:.0f}% of peers (median {med})")


def reason_flags(ind: Indicator, missing: bool, shares: tuple[float, float], contribution: float) -> list[str]:
    """What a reader must know about a reason beyond its value: the value was missing, or its effect
    runs against the catalogue's declared direction (a value on the safer side of the peer median
    raising risk, or on the riskier side lowering it; a value at the median has no side)."""
    if missing:
        return [MISSING]
    below, above = shares
    if (math.isnan(below) or (below <= 50 and above <= 50)
            or ind.direction not in (Direction.higher_worse, Direction.higher_better)):
        return []
    percentile = mid_rank(below, above)
    riskier_side = (percentile > 50) == (ind.direction == Direction.higher_worse)
    return [] if riskier_side == (contribution > 0) else [AGAINST_DIRECTION]


def _missing_text(rates: tuple[float, float] | None, lang: str) -> str:
    """Missingness as the signal it is: how often defaulted and other training firms lacked the value."""
    if rates is None or any(math.isnan(r) for r in rates):
        return ""
    bad, good = (f"{100 * r:.1f}".rstrip("0").rstrip(".") + "%" for r in rates)
    return (f"（训练样本中违约企业{bad}、其他企业{good}未提供）" if lang == "zh"
            else f" (missing for {bad} of defaulted firms and {good} of others in training)")


def _sentence(ind: Indicator, value, value_text: str, contribution: float, shares: tuple[float, float],
              median_text: str, lang: str, flags: list[str], missing_rates: tuple[float, float] | None) -> str:
    name = ind.name(lang)
    missing = MISSING in flags
    place = _missing_text(missing_rates, lang) if missing else _peer_place(ind, *shares, median_text, lang)
    against = AGAINST_DIRECTION in flags
    if lang == "zh":
        effect = f"{'推高' if contribution > 0 else '降低'}违约风险（{contribution:+.2f}）"
        effect += "，与目录设定的风险方向相反" if against else ""
        return f"{name}{value_text}{place}，{effect}" if missing else f"{name}为{value_text}{place}，{effect}"
    effect = f"{'raises' if contribution > 0 else 'lowers'} default risk ({contribution:+.2f})"
    effect += ", against the catalogue's declared direction" if against else ""
    return f"{name}: {value_text}{place}; {effect}" if missing else f"{name} is {value_text}{place}; {effect}"


def _is_number(ind: Indicator, value) -> bool:
    return ind.type != "categorical" and value is not None and not isinstance(value, str)


def reason(ind: Indicator, value, contribution: float, quantiles, catalogue: Catalogue,
           langs: tuple[str, ...] = LANGS) -> dict:
    """One indicator's reason; `quantiles`: the peer quantiles of every indicator (a DataFrame) or of
    this one (an array)."""
    q = np.asarray(quantiles[ind.id] if isinstance(quantiles, pd.DataFrame) else quantiles, dtype=float)
    numeric = _is_number(ind, value)
    shares = peer_shares(float(value), q) if numeric else (float("nan"), float("nan"))
    median = float(q[len(q) // 2]) if ind.type != "categorical" else None
    return _reason(ind, value, contribution, shares, median, catalogue, langs)


def _reason(ind: Indicator, value, contribution: float, shares: tuple[float, float], median: float | None,
            catalogue: Catalogue, langs: tuple[str, ...], median_texts: dict[str, str] | None = None,
            missing_rates: tuple[float, float] | None = None) -> dict:
    """The reason's fields, texts in `langs` only (a reply in one language builds half the sentences);
    `median_texts`: the peer median as text per language, when already known; `missing_rates`: the
    indicator's missing share among defaulted and other training firms."""
    numeric = _is_number(ind, value)
    value = float(value) if numeric else value      # a categorical value is its level, shown by its label
    contribution = float(contribution)
    below, above = shares
    pct = mid_rank(below, above) if numeric else float("nan")
    cat = catalogue.category_by_id[ind.category]
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    flags = reason_flags(ind, missing, shares if numeric else (float("nan"), float("nan")), contribution)
    out = {
        "indicator": ind.id, "name_zh": ind.name_zh, "name_en": ind.name_en,
        "category": ind.category, "category_zh": cat.name_zh, "category_en": cat.name_en,
        "value": None if missing else value,
        "percentile": None if math.isnan(pct) else round(pct, 1), "peer_median": median,
        "contribution": contribution, "flags": flags}
    for lang in langs:
        text = out[f"value_{lang}"] = format_value(ind, value, lang)
        median_text = median_texts[lang] if median_texts is not None else format_value(ind, median, lang)
        out[f"text_{lang}"] = _sentence(ind, value, text, contribution, shares, median_text, lang, flags,
                                        missing_rates)
    return out


def all_firm_reasons(expl: Explanations, catalogue: Catalogue, quantiles: pd.DataFrame, top_k: int = 5,
                     firms=None, langs: tuple[str, ...] = LANGS) -> list[dict]:
    """`firm_reasons` of every firm (or of the positions in `firms`), texts in `langs`: the indicators
    are ranked and placed among peers once for all firms (one comparison over every
    chosen indicator), so that only the sentences are built per firm. A contribution smaller than the
    catalogue's `explanations.min_contribution` is not a reason."""
    ids = list(expl.indicator_ids)
    contrib, values, categories = expl.per_indicator, expl.known_values, expl.per_category
    q = in_order(quantiles, ids).astype(float)
    indicators = [catalogue.by_id[i] for i in ids]
    rows = list(range(len(contrib)) if firms is None else firms)
    ranked = contrib[rows]
    order = np.argsort(-ranked, axis=1, kind="stable")
    up, down = order[:, :top_k], order[:, ::-1][:, :top_k]
    least = catalogue.explanations.min_contribution
    up_ok = np.take_along_axis(ranked, up, axis=1) > max(least, 0.0)
    down_ok = np.take_along_axis(ranked, down, axis=1) < -max(least, 0.0)
    chosen = [([j for j, ok in zip(u, u_ok) if ok], [j for j, ok in zip(d, d_ok) if ok])   # per firm: positions
              for u, u_ok, d, d_ok in zip(up.tolist(), up_ok.tolist(), down.tolist(), down_ok.tolist())]
    pairs = [(i, j) for i, (up, down) in zip(rows, chosen) for j in (*up, *down)]
    firm_of, column_of = np.array([i for i, _ in pairs], int), np.array([j for _, j in pairs], int)
    numeric = np.array([ind.type != "categorical" for ind in indicators], bool)
    as_numbers = np.where(numeric, expl.indicator_values, np.nan)     # every value as a number, NaN for levels and gaps
    numbers = as_numbers[firm_of, column_of] if len(pairs) else np.empty(0)
    below, above = peer_shares_many(numbers, q[:, column_of])
    medians = [float(m) if ind.type != "categorical" else None for ind, m in zip(indicators, q[len(q) // 2])]
    median_texts = {j: {lang: format_value(indicators[j], medians[j], lang) for lang in langs}
                    for j in set(column_of.tolist())}
    ref = expl.reference
    position = {i: j for j, i in enumerate(catalogue.indicator_ids)}
    rates = ([None] * len(ids) if ref is None or ref.missing_bad is None else
             [(float(ref.missing_bad[position[i]]), float(ref.missing_good[position[i]])) for i in ids])
    built = {}
    for k, (i, j) in enumerate(zip(firm_of.tolist(), column_of.tolist())):
        built[(i, j)] = _reason(indicators[j], values[i, j], contrib[i, j], (float(below[k]), float(above[k])),
                                medians[j], catalogue, langs, median_texts[j], rates[j])
    return [{"risk_raising": [built[(i, j)] for j in up], "risk_lowering": [built[(i, j)] for j in down],
             "categories": [{"category": c.id, "name_zh": c.name_zh, "name_en": c.name_en,
                             "contribution": float(categories[i, k])} for k, c in enumerate(catalogue.categories)]}
            for i, (up, down) in zip(rows, chosen)]


def firm_reasons(expl: Explanations, i: int, catalogue: Catalogue, quantiles: pd.DataFrame, top_k: int = 5) -> dict:
    """Top risk-raising and risk-lowering indicators of firm `i`, and each category's total."""
    return all_firm_reasons(expl, catalogue, quantiles, top_k, firms=[i])[0]
