"""A monitoring run as a self-contained HTML page for a model validator: lights, the named alerts,
score and grade distributions against the reference, every indicator's stability, the backtest."""
from __future__ import annotations

import html

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from innoscore.features.catalogue import Catalogue, both_languages
from innoscore.model.monitoring.config import MonitoringConfig
from innoscore.model.reports.html import STYLE, png_img

LIGHT_COLOURS = {"green": "#2e8b57", "amber": "#e0a100", "red": "#c0392b", "grey": "#8a97a6"}
LIGHT_NAMES = {"green": "green / 绿", "amber": "amber / 黄", "red": "red / 红", "grey": "not judged / 未评"}
SECTION_NAMES = {"score": "score (PD) / 违约概率分布", "indicators": "indicators (CSI) / 指标稳定性",
                 "categories": "categories / 大类得分", "grade_mix": "grade mix / 等级分布",
                 "backtest": "per-grade backtest / 分级回测", "calibration": "calibration slope / 校准斜率",
                 "discrimination": "discrimination (AUC) / 区分能力", "hosmer_lemeshow": "Hosmer-Lemeshow / HL检验"}


def _light(value: str) -> str:
    return (f'<span style="color:{LIGHT_COLOURS[value]};font-weight:bold">&#9679; '
            f'{html.escape(LIGHT_NAMES[value])}</span>')


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
    if kind == "indicator" and item in catalogue.by_id:
        ind = catalogue.by_id[item]
        return f"{html.escape(both_languages(ind.name_zh, ind.name_en))} <code>{html.escape(item)}</code>"
    if kind == "category" and item in catalogue.category_by_id:
        c = catalogue.category_by_id[item]
        return html.escape(both_languages(c.name_zh, c.name_en))
    return {"pd": "score (PD) / 违约概率", "grade": "grade mix / 等级分布"}.get(item, html.escape(item))


def _stability_rows(frame: pd.DataFrame, catalogue: Catalogue) -> str:
    out = []
    for r in frame.itertuples():
        missing = "" if r.kind != "indicator" else (f"<td>{_pct(r.missing_reference)}</td><td>{_pct(r.missing_now)}</td>"
                                                    f"<td>{_light(r.missing_light)}</td>")
        out.append(f"<tr><th>{_name(catalogue, r.kind, r.item)}</th><td>{_num(r.psi)}</td>{missing}"
                   f"<td>{_light(r.light)}</td></tr>")
    return "".join(out)


def render_monitoring(result, catalogue: Catalogue, title: str, config: MonitoringConfig) -> str:
    """The page for one `MonitoringResult`."""
    s = result.stability
    model = " ".join(f"{k}: {html.escape(str(v))}" for k, v in result.model.items())
    versions = ", ".join(f"v{k}: {n:,}" for k, n in result.versions.items()) or "-"
    lights = "".join(f"<tr><th>{SECTION_NAMES[k]}</th><td>{_light(v)}</td></tr>" for k, v in result.lights.items())
    alerts = result.alerts()
    alert_rows = "".join(
        f"<tr><th>{_name(catalogue, r.kind, r.item)}</th><td>{_num(r.psi)}</td>"
        f"<td>{'-' if r.kind != 'indicator' else f'{100 * r.missing_shift:+.1f} pp'}</td><td>{_light(r.light)}</td></tr>"
        for r in alerts.itertuples()) or '<tr><td colspan="4">none / 无</td></tr>'
    parts = [f"""<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>
<p>{model} · firms / 企业数 {result.n_firms:,} · served versions / 服务版本 {versions} · rejected rows / 拒绝行 {result.rejected:,}</p>
<h2>Overall / 总体: {_light(result.light)}</h2><table>{lights}</table>
<p class="note">PSI = &Sigma; (now &minus; reference) &times; ln(now / reference) over the reference's quantile bins
(missing values as one bin). Green below {config.stability.amber}, amber below {config.stability.red}, red above
(configs/monitoring.yaml). PSI 低于{config.stability.amber}为绿，{config.stability.amber}–{config.stability.red}为黄，高于{config.stability.red}为红。</p>
<h2>Alerts / 预警项</h2><table><tr><th></th><th>PSI</th><th>missing shift / 缺失变化</th><th></th></tr>{alert_rows}</table>
<h2>Score distribution / 违约概率分布</h2>
<p>mean PD / 平均违约概率: reference {_pct(result.mean_pd['reference'])}, now {_pct(result.mean_pd['now'])}</p>
{png_img(distribution_plot(result.bins['pd'], 'PD by reference decile'))}
<h2>Grade mix / 等级分布</h2>{png_img(grade_plot(result.grade_mix))}
<table><tr><th>grade / 等级</th><th>reference / 基准</th><th>now / 当前</th><th>firms / 企业数</th></tr>""" + "".join(
        f"<tr><th>{html.escape(str(r.grade))}</th><td>{_pct(r.reference_share)}</td><td>{_pct(r.share_now)}</td>"
        f"<td>{r.n_now:,}</td></tr>" for r in result.grade_mix.itertuples()) + "</table>"]
    cats = s[s["kind"] == "category"]
    if len(cats):
        parts.append(f"<h2>Categories (expert points) / 大类得分</h2><table><tr><th></th><th>PSI</th><th></th></tr>"
                     f"{_stability_rows(cats, catalogue)}</table>")
    parts.append("<h2>Indicators / 指标稳定性 (CSI)</h2><table><tr><th></th><th>PSI</th><th>missing, reference / 基准缺失</th>"
                 "<th>missing now / 当前缺失</th><th>missing light</th><th></th></tr>"
                 f"{_stability_rows(s[s['kind'] == 'indicator'].sort_values('psi', ascending=False), catalogue)}</table>")
    if result.backtest is not None:
        bt = result.backtest
        rows = "".join(
            f"<tr><th>{html.escape(str(r.grade))}</th><td>{r.n:,}</td><td>{r.defaults:,}</td><td>{_pct(r.predicted_pd)}</td>"
            f"<td>{_pct(r.observed_rate)}</td><td>{_pct(r.jeffreys_low)} – {_pct(r.jeffreys_high)}</td>"
            f"<td>{_num(r.jeffreys_p, 4)}</td><td>{_num(r.binomial_p, 4)}</td><td>{_light(r.light)}</td></tr>"
            for r in bt.itertuples())
        cal, disc, hl = result.calibration, result.discrimination, result.hosmer_lemeshow
        parts.append(f"""<h2>Backtest / 回测 ({result.n_outcomes:,} firms with outcomes / 有结果企业)</h2>
<p class="note">One-sided tests of under-prediction: a small p-value means more defaults than the grade's PD allows.
With no defaults in a grade the Jeffreys test cannot flag it, however small the grade. 单侧检验：p值小表示实际违约高于预测。</p>
{png_img(backtest_plot(bt))}
<table><tr><th>grade / 等级</th><th>firms</th><th>defaults / 违约</th><th>predicted PD / 预测</th><th>observed / 实际</th>
<th>Jeffreys 95%</th><th>Jeffreys p</th><th>binomial p</th><th></th></tr>{rows}</table>
<table><tr><th>calibration-in-the-large (intercept; 0 ideal) / 整体校准截距</th><td>{_num(cal['intercept'])}</td><td></td></tr>
<tr><th>calibration slope (1 ideal) / 校准斜率</th><td>{_num(cal['slope'])}</td><td>{_light(cal['light'])}</td></tr>
<tr><th>AUC now (95% DeLong) / 当前AUC</th><td>{_num(disc['auc'])} ({_num(disc['auc_ci'][0])} – {_num(disc['auc_ci'][1])})</td>
<td>{_light(disc['light'])}</td></tr>
<tr><th>AUC at training, out of sample / 训练时样本外AUC</th><td>{_num(disc['validation_auc'])}</td><td></td></tr>
<tr><th>Hosmer-Lemeshow (df {hl['df']}) / HL统计量</th><td>{_num(hl['statistic'], 2)}, p = {_num(hl['p_value'], 4)}</td>
<td>{_light(hl['light'])}</td></tr></table>""")
    parts.append("</body></html>")
    return "".join(parts)
