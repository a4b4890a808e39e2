"""A monitoring run as a self-contained HTML page for a model validator: lights, the named alerts,
score and grade distributions against the reference, every indicator's stability, the backtest."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from markupsafe import Markup

from innoscore.features.catalogue import Catalogue, both_languages
from innoscore.model.monitoring.config import MonitoringConfig
from innoscore.model.reports.html import STYLE, png_img, template

LIGHT_COLOURS = {"green": "#2e8b57", "amber": "#e0a100", "red": "#c0392b", "grey": "#8a97a6"}
LIGHT_NAMES = {"green": "green / 绿", "amber": "amber / 黄", "red": "red / 红", "grey": "not judged / 未评"}
SECTION_NAMES = {"score": "score (PD) / 违约概率分布", "indicators": "indicators (CSI) / 指标稳定性",
                 "categories": "categories / 大类得分", "grade_mix": "grade mix / 等级分布",
                 "backtest": "per-grade backtest / 分级回测", "calibration": "calibration slope / 校准斜率",
                 "discrimination": "discrimination (AUC) / 区分能力", "hosmer_lemeshow": "Hosmer-Lemeshow / HL检验"}


def _num(value, digits: int = 3) -> str:
    return "-" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.{digits}f}"


def _pct(value) -> str:
    return "-" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{100 * value:.2f}%"


def distribution_plot(bins: dict, title: str):
    """Reference vs now share per bin (the last bin: missing)."""
    ref, now = np.asarray(bins["reference"]), np.asarray(bins["now"])
    x = np.arange(len(ref))
    fig, ax = plt.subplots(figsize=(6.5, 3))
    ax.bar(x - 0.2, ref, 0.4, label="reference (training)", color="#8a97a6")
    ax.bar(x + 0.2, now, 0.4, label="now", color="#2a5d8f")
    ax.set_xticks(x, [f"{i + 1}" for i in range(len(ref) - 1)] + ["missing"])
    ax.set_xlabel("reference quantile bin")
    ax.set_ylabel("share of firms")
    ax.set_title(title)
    ax.legend(fontsize=8)
    return fig


def grade_plot(grade_mix: pd.DataFrame):
    x = np.arange(len(grade_mix))
    fig, ax = plt.subplots(figsize=(6.5, 3))
    ax.bar(x - 0.2, grade_mix["reference_share"], 0.4, label="reference (training)", color="#8a97a6")
    ax.bar(x + 0.2, grade_mix["share_now"], 0.4, label="now", color="#2a5d8f")
    ax.set_xticks(x, grade_mix["grade"])
    ax.set_ylabel("share of firms")
    ax.set_title("Grade mix")
    ax.legend(fontsize=8)
    return fig


def backtest_plot(backtest: pd.DataFrame):
    """Observed default rate with its Jeffreys interval against the predicted PD, per grade (log scale)."""
    rows = backtest[(backtest["grade"] != "all") & (backtest["n"] > 0)]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    ax.plot(x, rows["predicted_pd"], "s-", color="#8a97a6", label="predicted PD (mean)")
    observed = np.clip(rows["observed_rate"].to_numpy(dtype=float), 1e-5, None)    # log scale: no zero
    low = np.clip(rows["jeffreys_low"].to_numpy(dtype=float), 1e-5, None)
    high = rows["jeffreys_high"].to_numpy(dtype=float)
    ax.errorbar(x, observed, yerr=[np.clip(observed - low, 0, None), np.clip(high - observed, 0, None)],
                fmt="o", color="#2a5d8f", capsize=3, label="observed rate, Jeffreys 95%")
    for xi, light, y in zip(x, rows["light"], rows["jeffreys_high"]):
        ax.plot(xi, y * 1.3, "v", color=LIGHT_COLOURS[light])
    ax.set_yscale("log")
    ax.set_xticks(x, rows["grade"])
    ax.set_ylabel("default rate")
    ax.set_title("Backtest per grade")
    ax.legend(fontsize=8)
    return fig


def _name(catalogue: Catalogue, kind: str, item: str) -> str:
    """How a monitored item is named on the page (an indicator with its id in code type)."""
    if kind == "indicator" and item in catalogue.by_id:
        ind = catalogue.by_id[item]
        return Markup("{} <code>{}</code>").format(both_languages(ind.name_zh, ind.name_en), item)
    if kind == "category" and item in catalogue.category_by_id:
        c = catalogue.category_by_id[item]
        return both_languages(c.name_zh, c.name_en)
    return {"pd": "score (PD) / 违约概率", "grade": "grade mix / 等级分布"}.get(item, item)


def _stability_rows(frame: pd.DataFrame, catalogue: Catalogue) -> list[dict]:
    return [{"name": _name(catalogue, r.kind, r.item), "psi": _num(r.psi), "light": r.light,
             "missing": None if r.kind != "indicator" else (_pct(r.missing_reference), _pct(r.missing_now),
                                                            r.missing_light)}
            for r in frame.itertuples()]


def render_monitoring(result, catalogue: Catalogue, title: str, config: MonitoringConfig) -> str:
    """The page for one `MonitoringResult` (templates/monitoring.html.j2; numbers formatted here)."""
    s = result.stability
    context = dict(
        title=title, style=Markup(STYLE), colours=LIGHT_COLOURS, light_names=LIGHT_NAMES,
        model=" ".join(f"{k}: {v}" for k, v in result.model.items()), n_firms=f"{result.n_firms:,}",
        versions=", ".join(f"v{k}: {n:,}" for k, n in result.versions.items()) or "-",
        rejected=f"{result.rejected:,}", overall=result.light,
        lights=[(SECTION_NAMES[k], v) for k, v in result.lights.items()],
        amber=config.stability.amber, red=config.stability.red,
        alerts=[{"name": _name(catalogue, r.kind, r.item), "psi": _num(r.psi), "light": r.light,
                 "shift": "-" if r.kind != "indicator" else f"{100 * r.missing_shift:+.1f} pp"}
                for r in result.alerts().itertuples()],
        mean_pd=(_pct(result.mean_pd["reference"]), _pct(result.mean_pd["now"])),
        grade_mix=[(str(r.grade), _pct(r.reference_share), _pct(r.share_now), f"{r.n_now:,}")
                   for r in result.grade_mix.itertuples()],
        categories=_stability_rows(s[s["kind"] == "category"], catalogue),
        indicators=_stability_rows(s[s["kind"] == "indicator"].sort_values("psi", ascending=False), catalogue),
        backtest=None)
    figures = [distribution_plot(result.bins["pd"], "PD by reference decile"), grade_plot(result.grade_mix)]
    if result.backtest is not None:
        bt = result.backtest
        cal, disc, hl = result.calibration, result.discrimination, result.hosmer_lemeshow
        context.update(
            n_outcomes=f"{result.n_outcomes:,}",
            backtest=[(str(r.grade), f"{r.n:,}", f"{r.defaults:,}", _pct(r.predicted_pd), _pct(r.observed_rate),
                       _pct(r.jeffreys_low), _pct(r.jeffreys_high), _num(r.jeffreys_p, 4), _num(r.binomial_p, 4),
                       r.light) for r in bt.itertuples()],
            cal={"intercept": _num(cal["intercept"]), "slope": _num(cal["slope"]), "light": cal["light"]},
            disc={"auc": _num(disc["auc"]), "low": _num(disc["auc_ci"][0]), "high": _num(disc["auc_ci"][1]),
                  "reference": _num(disc["validation_auc"]), "light": disc["light"]},
            hl={"df": hl["df"], "statistic": _num(hl["statistic"], 2), "p": _num(hl["p_value"], 4), "light": hl["light"]})
        figures.append(backtest_plot(bt))
    return template("monitoring.html.j2").render(figures=[Markup(png_img(f)) for f in figures], **context)
