"""The policy what-if as a self-contained HTML page: summary, swap set, strategy curves, the sweep."""
from __future__ import annotations

import html

import matplotlib.pyplot as plt
import pandas as pd

from innoscore.model.reports.html import STYLE, png_img


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


def _swap_rows(cells: dict) -> str:
    return "".join(f"<tr><th>{SWAP_NAMES[k]}</th><td>{c['count']:,}</td><td>{_pct(c['mean_pd'])}</td>"
                   f"<td>{_pct(c['bad_rate'])}</td><td>{_pct(c['true_pd'])}</td></tr>" for k, c in cells.items())


SWAP_HEAD = "<tr><th></th><th>firms / 企业数</th><th>mean model PD</th><th>bad rate / 违约率</th><th>true PD</th></tr>"


def training_line(result: dict) -> str:
    """How the model met the declined applicants in training (reject inference), in both languages."""
    ri = result.get("model", {}).get("reject_inference")
    if not ri:
        return ""
    if not ri["n_declined"]:
        how = ("data that had no declined applicants (no booked column, or every firm booked)",
               "训练数据中没有被拒申请企业")
    elif ri["method"] == "none":
        how = (f"no reject inference: it learned from the booked firms alone, leaving out {ri['n_declined']:,} "
               "declined applicants", f"未做拒绝推断：仅以已放款企业训练，未使用 {ri['n_declined']:,} 家被拒申请企业")
    else:
        how = (f"reject inference by {ri['method']} over {ri['n_declined']:,} declined applicants",
               f"拒绝推断方法 {ri['method']}，使用 {ri['n_declined']:,} 家被拒申请企业")
    return f'<p class="note">The model was trained with {how[0]} / 模型训练：{how[1]}。</p>'


def declined_section(result: dict) -> str:
    """The firms the past policy declined, as a segment of the swap set."""
    seg = result.get("previously_declined")
    if not seg:
        return ""
    ratio = "-" if seg["pd_over_true"] is None else f"{seg['pd_over_true']:.2f}"
    return f"""<h2>Firms the past policy declined / 以往政策拒绝的企业</h2>
<p class="note">{seg['count']:,} firms ({_pct(seg['share'])}) were declined by the bank's past policy, so no outcome of
theirs was seen in training: the model knows them least (docs/reject-inference.md). 这些企业曾被以往政策拒绝，训练数据中
没有其结果，模型对其了解最少。</p>
<table><tr><th>approved by the current policy / 现政策批准</th><td>{seg['approved_current']:,}</td></tr>
<tr><th>approved by the proposed policy / 新政策批准</th><td>{seg['approved_proposed']:,}</td></tr>
<tr><th>mean model PD / 平均模型违约概率</th><td>{_pct(seg['mean_pd'])}</td></tr>
<tr><th>mean true PD (synthetic) / 平均真实违约概率</th><td>{_pct(seg['true_pd'])}</td></tr>
<tr><th>model PD / true PD / 模型与真实之比</th><td>{ratio}</td></tr></table>
<table>{SWAP_HEAD}{_swap_rows(seg['swap_set'])}</table>"""


def render_what_if(result: dict, title: str) -> str:
    """The page: what changes between the current and the proposed policy, in Chinese and English."""
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
    summary = "".join(f"<tr><th>{html.escape(label)}</th><td>{fmt(result['current'][k])}</td>"
                      f"<td>{fmt(result['proposed'][k])}</td></tr>" for label, k, fmt in rows)
    swap = _swap_rows(result["swap_set"])
    weights = "".join(f"<tr><th>{html.escape(k)}</th><td>{result['blend']['current']['category_weight'].get(k, 0):.3f}"
                      f"</td><td>{result['blend']['proposed']['category_weight'].get(k, 0):.3f}</td></tr>"
                      for k in result["blend"]["current"]["category_weight"])
    model_w = (f"<tr><th>model / 模型</th><td>{result['blend']['current']['model_weight']:.3f}</td>"
               f"<td>{result['blend']['proposed']['model_weight']:.3f}</td></tr>")
    assumed = "".join(f"<li>{html.escape(a['en'])} / {html.escape(a['zh'])}</li>" for a in result.get("assumptions", []))
    assumed = f'<p class="note">Assumed / 假设:</p><ul class="note">{assumed}</ul>' if assumed else ""
    return f"""<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{STYLE}</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="note">Approved means approve (a referral is not yet a loan). Expected rates come from the model PD; observed
rates exist only where the portfolio has outcomes, and a real book has none for firms its policy declined (reject
inference). 批准指直接批准（提交评审尚未放款）。预期违约率来自模型违约概率；实际违约率仅在有结果的样本上可得。</p>
{training_line(result)}{assumed}
<h2>Current vs proposed / 现政策与新政策</h2>
<table><tr><th></th><th>current / 现政策 ({result['current']['policy_hash']})</th><th>proposed / 新政策 ({result['proposed']['policy_hash']})</th></tr>{summary}</table>
<h2>Blend weights / 决策得分权重</h2>
<table><tr><th></th><th>current</th><th>proposed</th></tr>{model_w}{weights}</table>
<h2>Swap set / 审批结果迁移</h2>
<table>{SWAP_HEAD}{swap}</table>
{declined_section(result)}
<h2>Strategy curves / 策略曲线</h2>{png_img(strategy_plot(result))}
<h2>Tech-innovation share sweep / 科技创新权重扫描</h2>{png_img(sweep_plot(result))}
<h2>FTP discount sweep / 内部资金转移价格优惠扫描</h2>{png_img(ftp_sweep_plot(result))}
</body></html>"""
