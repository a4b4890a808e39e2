"""The policy what-if as a self-contained HTML page: summary, swap set, strategy curves, the sweep."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from markupsafe import Markup

from innoscore.model.reports.html import STYLE, png_img, template


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.2f}%"


def strategy_plot(result: dict):
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, style in (("current", "-"), ("proposed", "--")):
        curve = pd.DataFrame(result["strategy_curve"][name]).dropna(subset=["expected_default_rate"])
        ax.plot(curve["approval_rate"], curve["expected_default_rate"], style, label=f"{name}: model PD")
        if curve["true_default_rate"].notna().any():
            ax.plot(curve["approval_rate"], curve["true_default_rate"], style, alpha=0.5, label=f"{name}: true PD")
        elif curve["observed_default_rate"].notna().any():
            ax.plot(curve["approval_rate"], curve["observed_default_rate"], style, alpha=0.5, label=f"{name}: observed")
    for name, marker in (("current", "o"), ("proposed", "s")):
        ax.plot(result[name]["approval_rate"], result[name]["expected_default_rate"], marker, color="black")
    ax.set_xlabel("approval rate")
    ax.set_ylabel("default rate of the approved book")
    ax.set_title("Strategy curve: moving the approve cut-off")
    ax.legend(fontsize=8)
    return fig


def sweep_plot(result: dict):
    sweep = pd.DataFrame(result["sweep"])
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(sweep["tech_innovation_weight"], sweep["approval_rate"], label="approval rate")
    ax.set_xlabel("tech-innovation share of the decision score")
    ax.set_ylabel("approval rate")
    twin = ax.twinx()
    twin.plot(sweep["tech_innovation_weight"], sweep["expected_default_rate"], color="#c0392b",
              label="default rate (model PD)")
    if sweep["true_default_rate"].notna().any():
        twin.plot(sweep["tech_innovation_weight"], sweep["true_default_rate"], ":", color="#c0392b", label="(true PD)")
    twin.set_ylabel("default rate of the approved book")
    for x in (result["current"]["tech_innovation_weight"], result["proposed"]["tech_innovation_weight"]):
        ax.axvline(x, color="#8a97a6", ls="--")
    ax.set_title("Raising the tech-innovation share, cut-offs fixed")
    fig.legend(fontsize=8, loc="upper center", ncol=2, bbox_to_anchor=(0.5, -0.02))
    return fig


def ftp_sweep_plot(result: dict):
    """The approved book's mean rate floor (and income at offered rates, where known) as the inclusive
    FTP discount moves."""
    sweep = pd.DataFrame(result["ftp_discount_sweep"])
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(sweep["ftp_discount_bp"], 100 * sweep["mean_rate_floor"], label="mean rate floor, %")
    ax.set_xlabel("inclusive FTP discount, bp")
    ax.set_ylabel("mean rate floor of the approved book, %")
    if "expected_net_income_offered" in sweep:
        twin = ax.twinx()
        twin.plot(sweep["ftp_discount_bp"], sweep["expected_net_income_offered"], color="#2e8b57",
                  label="net income at offered rates")
        twin.set_ylabel("expected net income, CNY 10k")
    ax.axvline(110, color="#8a97a6", ls="--")
    ax.set_title("The FTP discount for inclusive loans (110 bp in the bank's report)")
    fig.legend(fontsize=8, loc="upper center", ncol=2, bbox_to_anchor=(0.5, -0.02))
    return fig


SWAP_NAMES = {"both": "approved by both / 两者均批准", "only_proposed": "only the proposed / 仅新政策批准",
              "only_current": "only the current / 仅现政策批准", "neither": "neither / 均不批准"}


def _swap_cells(cells: dict) -> list[tuple[str, ...]]:
    return [(SWAP_NAMES[k], f"{c['count']:,}", _pct(c["mean_pd"]), _pct(c["bad_rate"]), _pct(c["true_pd"]))
            for k, c in cells.items()]


def training_text(result: dict) -> tuple[str, str] | None:
    """How the model met the declined applicants in training (reject inference), English and Chinese."""
    ri = result.get("model", {}).get("reject_inference")
    if not ri:
        return None
    if not ri["n_declined"]:
        return ("data that had no declined applicants (no booked column, or every firm booked)",
                "训练数据中没有被拒申请企业")
    if ri["method"] == "none":
        return (f"no reject inference: it learned from the booked firms alone, leaving out {ri['n_declined']:,} "
                "declined applicants", f"未做拒绝推断：仅以已放款企业训练，未使用 {ri['n_declined']:,} 家被拒申请企业")
    return (f"reject inference by {ri['method']} over {ri['n_declined']:,} declined applicants",
            f"拒绝推断方法 {ri['method']}，使用 {ri['n_declined']:,} 家被拒申请企业")


def _segment(result: dict) -> dict | None:
    """The firms the past policy declined, as shown."""
    seg = result.get("previously_declined")
    if not seg:
        return None
    return {"count": f"{seg['count']:,}", "share": _pct(seg["share"]),
            "approved_current": f"{seg['approved_current']:,}", "approved_proposed": f"{seg['approved_proposed']:,}",
            "mean_pd": _pct(seg["mean_pd"]), "true_pd": _pct(seg["true_pd"]),
            "ratio": "-" if seg["pd_over_true"] is None else f"{seg['pd_over_true']:.2f}",
            "swap": _swap_cells(seg["swap_set"])}


def render_what_if(result: dict, title: str) -> str:
    """The page: what changes between the current and the proposed policy, in Chinese and English
    (templates/what_if.html.j2; numbers formatted here)."""
    rows = [("approval rate / 批准率", "approval_rate", _pct), ("referral rate / 提交评审率", "refer_rate", _pct),
            ("expected default rate (model PD) / 预期违约率", "expected_default_rate", _pct),
            ("observed default rate / 实际违约率", "observed_default_rate", _pct),
            ("true default rate (synthetic) / 真实违约率", "true_default_rate", _pct),
            ("expected loss, CNY 10k / 预期损失（万元）", "expected_loss", lambda v: f"{v:,.1f}"),
            ("approved limits, CNY 10k / 批准额度（万元）", "approved_limit", lambda v: f"{v:,.0f}"),
            ("mean rate floor / 平均最低定价", "mean_rate_floor", _pct),
            ("inclusive loans / 普惠型小微贷款占比", "inclusive_share", _pct),
            ("expected net income at the floors, CNY 10k / 最低定价下预期净收入（万元）", "expected_net_income",
             lambda v: f"{v:,.1f}"),
            ("RAROC at the floors / 最低定价下RAROC", "raroc", _pct),
            ("tech-innovation weight / 科技创新权重", "tech_innovation_weight", lambda v: f"{v:.2f}")]
    if "raroc_offered" in result["current"]:
        rows[-1:-1] = [("expected net income at offered rates / 报价下预期净收入（万元）", "expected_net_income_offered",
                        lambda v: f"{v:,.1f}"), ("RAROC at offered rates / 报价下RAROC", "raroc_offered", _pct)]
    blend = result["blend"]
    weights = [("model / 模型", f"{blend['current']['model_weight']:.3f}", f"{blend['proposed']['model_weight']:.3f}")]
    weights += [(k, f"{blend['current']['category_weight'].get(k, 0):.3f}",
                 f"{blend['proposed']['category_weight'].get(k, 0):.3f}") for k in blend["current"]["category_weight"]]
    return template("what_if.html.j2").render(
        title=title, style=Markup(STYLE), training=training_text(result), assumptions=result.get("assumptions", []),
        hashes=(result["current"]["policy_hash"], result["proposed"]["policy_hash"]),
        summary=[(label, fmt(result["current"][k]), fmt(result["proposed"][k])) for label, k, fmt in rows],
        weights=weights, swap=_swap_cells(result["swap_set"]), segment=_segment(result),
        figures=[Markup(png_img(plot(result))) for plot in (strategy_plot, sweep_plot, ftp_sweep_plot)])
