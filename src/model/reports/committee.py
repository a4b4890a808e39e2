"""Committee reports: one self-contained, printable HTML page per firm, and an index for a meeting pack."""
from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from innoscore.hashing import short_hash
from innoscore.features.catalogue import Catalogue
from innoscore.model.estimators.expert_scorecard import category_points
from innoscore.model.explanation.contributions import Explanations
from innoscore.model.counterfactual.search import Counterfactual
from innoscore.model.explanation.reasons import firm_reasons
from innoscore.model.reports.html import template
from innoscore.model.scoring.interface import ScoringModel
from innoscore.model.scoring.record import scored_firms

LABELS = {
    "zh": {"title": "授信评审报告", "generated": "生成于", "profile": "企业概况", "decision": "评级结论",
           "grade": "信用等级", "expert_score": "专家评分卡得分", "portfolio_pd": "组合平均违约概率",
           "reasons": "主要原因", "raising": "推高风险的因素", "lowering": "降低风险的因素", "none": "无",
           "categories": "{n}大类指标：模型与专家评分卡对照", "category": "指标大类", "model_effect": "模型影响 (对数几率)",
           "expert_points": "专家评分卡得分", "agreement": "是否一致", "agree": "一致", "differ": "不一致",
           "waterfall": "违约风险构成 (瀑布图)", "base": "SHAP基准值", "others": "其余指标", "final": "本企业",
           "waterfall_note": "条形为各指标对违约对数几率的SHAP贡献：红色推高风险，绿色降低风险；SHAP基准值为模型在训练样本上的期望对数几率。",
           "provenance": "模型与数据来源", "model": "模型", "version": "注册版本", "run": "训练运行", "data": "数据指纹",
           "catalogue": "指标目录版本", "firm_id": "企业编号", "credit_decision": "审批建议",
           "outcome": "结论", "limit": "建议额度（万元）", "guarantee": "担保方式", "decision_score": "决策得分",
           "expected_loss": "预期损失（万元）", "rate_floor": "最低定价（年化）", "inclusive": "普惠型小微贷款（内部资金转移价格优惠）",
           "rules": "触发的政策规则", "model_reasons": "模型主要风险原因",
           "policy": "政策版本", "row_number": "行号 (数据无编号列)", "date": "申请日期", "index_title": "授信评审会材料",
           "counterfactual": "如何达到目标：可行的改进方案", "cf_changes": "需要的改变", "cf_cost": "难度",
           "cf_note": "每个方案只调整可改变的指标，且只朝降低风险的方向、在合理范围内调整；违约概率为模型对调整后企业的重新评分。"
                      "方案说明模型会如何看待这些改变，并非因果承诺。"},
    "en": {"title": "Credit committee report", "generated": "generated", "profile": "Firm profile",
           "decision": "Rating", "grade": "Grade",
           "expert_score": "Expert scorecard points", "portfolio_pd": "Portfolio average PD", "reasons": "Main reasons",
           "raising": "Raising risk", "lowering": "Lowering risk", "none": "none",
           "categories": "The {n} categories: model vs expert scorecard", "category": "Category",
           "model_effect": "Model effect (log-odds)", "expert_points": "Expert points", "agreement": "Agreement",
           "agree": "agree", "differ": "differ", "waterfall": "What drives the risk (waterfall)",
           "base": "SHAP base value", "others": "other indicators", "final": "this firm",
           "waterfall_note": "Bars are SHAP contributions to the log-odds of default: red raises risk, green lowers it; the SHAP base value is the model's expected log-odds over the training sample.",
           "provenance": "Model and data", "model": "Model", "version": "Registered version", "run": "Training run",
           "data": "Data fingerprint", "catalogue": "Catalogue version", "firm_id": "Firm id",
           "credit_decision": "Credit decision", "outcome": "Outcome", "limit": "Limit (CNY 10k)",
           "guarantee": "Guarantee", "decision_score": "Decision score", "expected_loss": "Expected loss (CNY 10k)",
           "rate_floor": "Rate floor (annual)", "inclusive": "inclusive small and micro loan (FTP discount)",
           "rules": "Policy rules that fired", "model_reasons": "Top model reasons", "policy": "Policy",
           "row_number": "Row number (the data has no id column)",
           "date": "Application date", "index_title": "Credit committee meeting pack",
           "counterfactual": "What it would take: feasible improvements", "cf_changes": "Changes needed",
           "cf_cost": "Effort",
           "cf_note": "Each alternative changes only actionable indicators, each in its feasible direction and range; the PD is "
                      "the model's score of the changed firm. It says how the model would see these changes, not that "
                      "they cause a lower risk."},
}


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: str
    run_id: str
    data_fingerprint: str
    catalogue_version: str


def _bar_svg(rows: list[tuple[str, float, float, str, str]], width: int = 900, row_h: int = 24,
             label_w: int = 300, axis: float = 0.0) -> str:
    """Horizontal bars from start to end on a shared axis: (label, start, end, colour, value text) per row;
    a dashed line marks `axis`."""
    lo = min([axis] + [min(s, e) for _, s, e, _, _ in rows])
    hi = max([axis] + [max(s, e) for _, s, e, _, _ in rows])
    span = (hi - lo) or 1.0
    plot_w = width - label_w - 70

    def x(v):
        return label_w + (v - lo) / span * plot_w

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 {width} {row_h * len(rows) + 10}" role="img">']
    parts.append(f'<line x1="{x(axis):.1f}" y1="0" x2="{x(axis):.1f}" y2="{row_h * len(rows)}" stroke="#8a97a6" '
                 'stroke-dasharray="3,3"/>')
    for k, (label, start, end, colour, text) in enumerate(rows):
        y = k * row_h + 4
        left, right = sorted((x(start), x(end)))
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" font-size="12">{html.escape(label)}</text>')
        parts.append(f'<rect x="{left:.1f}" y="{y}" width="{max(right - left, 1.5):.1f}" height="{row_h - 8}" fill="{colour}"/>')
        parts.append(f'<text x="{right + 5:.1f}" y="{y + 13}" font-size="11" fill="#3c4a59">{html.escape(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _waterfall(expl: Explanations, i: int, catalogue: Catalogue, lang: str, top_n: int = 10) -> str:
    L = LABELS[lang]
    contrib = pd.Series(expl.per_indicator[i], index=expl.indicator_ids)
    top = contrib.abs().sort_values(ascending=False).index[:top_n]
    base, final = expl.base_value, float(expl.raw_log_odds[i])
    rows, level = [(L["base"], base, base, "#8a97a6", f"{base:+.2f}")], base
    steps = [(catalogue.by_id[ind_id].name(lang), float(contrib[ind_id])) for ind_id in top]
    steps.append((L["others"], float(contrib.drop(top).sum())))
    for label, c in steps:
        rows.append((label, level, level + c, "#c0392b" if c > 0 else "#2e8b57", f"{c:+.2f}"))
        level += c
    rows.append((L["final"], final, final, "#2a5d8f", f"{final:+.2f}"))
    return _bar_svg(rows, axis=base)


def _category_rows(expl: Explanations, i: int, catalogue: Catalogue, points: pd.Series, lang: str) -> list[dict]:
    L = LABELS[lang]
    rows = []
    for k, c in enumerate(catalogue.categories):
        share = 100 * points[c.id] / c.points if c.points else 0.0
        contribution = float(expl.per_category[i, k])
        # The expert view calls a category strong above 60% of its points; the model, when it lowers risk.
        agree = (share >= 60) == (contribution <= 0)
        rows.append({"id": c.id, "name": c.name_zh if lang == "zh" else c.name_en, "contribution": contribution,
                     "points": float(points[c.id]), "max_points": c.points, "share": share,
                     "agreement": L["agree"] if agree else L["differ"]})
    return rows


def render_firm_report(row: pd.Series, expl: Explanations, i: int, catalogue: Catalogue, quantiles: pd.DataFrame,
                       grade: str, grade_text: str, model: ModelInfo, lang: str = "zh", top_k: int = 5,
                       points: pd.Series | None = None, portfolio_pd: float | None = None,
                       decision: dict | None = None, counterfactual: Counterfactual | None = None) -> str:
    """The HTML page for the firm in row `i` of `expl` (`points`: its expert points, total and by category;
    `portfolio_pd`: the mean PD of the training population; `decision`: its scored-firm record's
    decision fields, for the decision section; `counterfactual`: what it would take, for its section)."""
    if lang not in LABELS:
        raise ValueError(f"lang must be 'zh' or 'en', got {lang!r}")
    L = LABELS[lang]
    ds = catalogue.dataset
    reasons = firm_reasons(expl, i, catalogue, quantiles, top_k)
    for r in reasons["risk_raising"] + reasons["risk_lowering"]:
        r["text"] = r[f"text_{lang}"]
    points = category_points(row.to_frame().T, catalogue).iloc[0] if points is None else points
    profile = [(L["firm_id"] if ds.id_column else L["row_number"], str(row[ds.firm_id_column]))]
    if ds.date_column and ds.date_column in row:
        profile.append((L["date"], str(pd.Timestamp(row[ds.date_column]).date())))
    profile += [(ds.context_label(col, lang), ds.context_value(col, row[col], lang)) for col in ds.context_columns
                if col in row and pd.notna(row[col])]
    a, b = expl.calibration
    calibration_note = (
        f"PD = 1 / (1 + exp(-({a:.3f} + {b:.3f} × raw log-odds))); "
        + ("解释在模型原始对数几率空间内可加：基准 + 各贡献之和 = 原始对数几率；校准后每项贡献对违约对数几率的影响为其乘以 "
           f"{b:.3f}。" if lang == "zh" else
           f"explanations add up in the model's raw log-odds: base + contributions = raw log-odds; after calibration "
           f"each contribution moves the log-odds of default by {b:.3f} times its value."))
    context = {
        "lang": lang, "L": {**L, "pd": ds.pd_label(lang), "categories": L["categories"].format(n=len(catalogue.categories))},
        "has_expert": catalogue.has_expert_points, "firm_id": str(row[ds.firm_id_column]), "catalogue_name": catalogue.name_zh if lang == "zh" else catalogue.name_en,
        "generated_at": dt.date.today().isoformat(), "profile": profile,
        "pd_text": f"{100 * expl.pd[i]:.2f}%", "grade": grade, "grade_text": grade_text,
        "expert_total": f"{points['total']:.1f}", "expert_max": f"{catalogue.max_points:g}",
        "base_pd_text": "-" if portfolio_pd is None else f"{100 * portfolio_pd:.2f}%",
        "reasons": reasons, "category_rows": _category_rows(expl, i, catalogue, points, lang),
        "category_svg": _bar_svg([(c.name_zh if lang == "zh" else c.name_en, 0.0, v,
                                   "#c0392b" if v > 0 else "#2e8b57", f"{v:+.2f}")
                                  for c, v in zip(catalogue.categories, expl.per_category[i].tolist())]),
        "waterfall_svg": _waterfall(expl, i, catalogue, lang),
        "provenance": [(L["model"], model.name), (L["version"], model.version), (L["run"], model.run_id),
                       (L["data"], model.data_fingerprint), (L["catalogue"], model.catalogue_version)],
        "calibration_note": calibration_note,
        "decision": None if decision is None else {
            "outcome": decision[f"decision_{lang}"], "code": decision["decision"],
            "limit": f"{decision['limit']:,.1f}", "guarantee": decision["guarantee"],
            "score": f"{decision['decision_score']:.1f}", "expected_loss": f"{decision['expected_loss']:,.2f}",
            "rate_floor": "-" if decision["rate_floor"] != decision["rate_floor"] else
            f"{100 * decision['rate_floor']:.2f}% (LPR {decision['spread_over_lpr_bp']:+.0f} bp)"
            if decision["spread_over_lpr_bp"] == decision["spread_over_lpr_bp"] else f"{100 * decision['rate_floor']:.2f}%",
            "inclusive": bool(decision["inclusive"]),
            "rules": list(decision["decision_reasons_zh" if lang == "zh" else "decision_reasons"]),
            "policy": f"{decision['policy_version']} ({decision['policy_hash']})"},
        "counterfactual": None if counterfactual is None else {
            "summary": getattr(counterfactual, f"text_{lang}"),
            "alternatives": [{"text": getattr(a, f"text_{lang}"), "pd": f"{100 * a.pd:.2f}%", "grade": a.grade,
                              "cost": f"{a.cost:.2f}"} for a in counterfactual.alternatives]},
    }
    return template("report.html.j2").render(**context)


def render_index(entries: list[dict], model: ModelInfo, lang: str, pd_label: str) -> str:
    """The meeting pack's index page (templates/index.html.j2): a row per firm, linking its report."""
    return template("index.html.j2").render(L={**LABELS[lang], "pd": pd_label}, model=model, entries=entries,
                                            html_lang="zh-CN" if lang == "zh" else "en")


def write_reports(rows: pd.DataFrame, scoring_model: ScoringModel, model: ModelInfo, out_dir: Path | None = None,
                  out: Path | None = None, lang: str = "zh", top_k: int = 5, policy=None,
                  counterfactuals: list[Counterfactual] | None = None) -> list[Path]:
    """Write one report per row (validated firm rows) to `out` (one firm) or `out_dir` (with index.html);
    with a policy, each report has a decision section; with counterfactuals (row for row), a section
    on what it would take."""
    catalogue = scoring_model.catalogue
    scores = scoring_model.score(rows, with_explanations=True)
    records = scored_firms(rows, scores, scoring_model, top_k, policy)
    expl, points = scores.explanations, scores.expert
    id_col = catalogue.dataset.firm_id_column
    written, entries = [], []
    names = report_file_names(records[id_col].astype(str).tolist())
    for i, rec in enumerate(records.itertuples(index=False)):
        record = rec._asdict() if hasattr(rec, "_asdict") else dict(zip(records.columns, rec))
        page = render_firm_report(rows.iloc[i], expl, i, catalogue, scoring_model.peer_quantiles, record["grade"],
                                  record[f"grade_{lang}"], model, lang, top_k, points=points.iloc[i],
                                  portfolio_pd=scoring_model.reference.mean_pd,
                                  decision=None if policy is None else {
                                      **record, "guarantee": getattr(policy.limits.guarantees[record["guarantee"]], lang)},
                                  counterfactual=None if counterfactuals is None else counterfactuals[i])
        firm_id = str(records[id_col].iat[i])
        path = out if out is not None else out_dir / names[i]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
        written.append(path)
        entries.append({"file": path.name, "firm_id": firm_id, "pd": float(record["pd"]), "grade": record["grade"],
                        "expert": float(record["expert_score"])})
    if out_dir is not None:
        index = out_dir / "index.html"
        index.write_text(render_index(entries, model, lang, catalogue.dataset.pd_label(lang)), encoding="utf-8")
        written.append(index)
    return written


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)[:80] or "_"


def report_file_names(firm_ids: list[str]) -> list[str]:
    """One file name per firm, never the same for two firms and never `index.html`: the id itself where
    it is a safe, unique name; otherwise its safe form plus a short hash of the exact id (so `a/b`
    and `a_b`, or `F1` and `f1` on a case-insensitive disk, get their own pages)."""

    safe = [_safe(f) for f in firm_ids]
    taken = pd.Series([s.lower() for s in safe]).value_counts()
    names = []
    for firm, name in zip(firm_ids, safe):
        if name != firm or taken[name.lower()] > 1 or name.lower() == "index":
            name = f"{name}-{short_hash(firm, length=10)}"
        names.append(f"{name}.html")
    if len({n.lower() for n in names}) != len(names):
        raise ValueError("the same firm id appears twice in the reports' input")
    return names
