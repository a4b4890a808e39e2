"""The credit policy: `policy what-if`."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from innoscore.cli._common import (app, console, err_console, EXIT_INVALID, EncodingOpt, fail, _declare_encoding,
                                   ModelUriOpt, _load_registered, _write_text)


policy_app = typer.Typer(help="Credit policy: decisions, limits, what-if / 授信政策：审批、额度与情景分析",
                         no_args_is_help=True)
app.add_typer(policy_app, name="policy")


@policy_app.command("what-if")
def what_if_command(
    data: Path = typer.Option(..., "--data", help="Portfolio, CSV or Parquet / 贷款组合数据"),
    encoding: Optional[str] = EncodingOpt,
    policy: Optional[Path] = typer.Option(None, "--policy", help="Current policy / 现行政策 (default: configs/policy.yaml)"),
    set_: list[str] = typer.Option([], "--set", help="A change, KEY=VALUE, e.g. category_weight.B=0.4 or "
                                   "tech_innovation_weight=0.4 (repeatable) / 政策调整"),
    out: Optional[Path] = typer.Option(None, "--out", help="HTML report / 报告文件"),
    json_out: Optional[Path] = typer.Option(None, "--json-out", help="The same figures as JSON / JSON输出"),
    model_uri: Optional[str] = ModelUriOpt,
    steps: int = typer.Option(20, "--steps", min=1, max=200, help="Sweep steps of the tech-innovation share / 扫描步数"),
    log_mlflow: bool = typer.Option(False, "--log-mlflow", help="Log the figures to MLflow / 记录到MLflow"),
) -> None:
    """Re-decide a portfolio under a changed policy and compare / 在调整后的政策下重新审批并对比."""
    _declare_encoding(encoding, data)
    import json

    import pandas as pd

    from innoscore.features.history import previously_declined, validated_applicants
    from innoscore.features.validation import DataReadError, read_table
    from innoscore.model.decision.policy import load_policy, parse_overrides
    from innoscore.model.decision.what_if import Portfolio, what_if
    from innoscore.model.reports.what_if import render_what_if
    from innoscore.settings import SettingsError

    model, version = _load_registered(model_uri)
    cat = model.catalogue
    try:
        current = load_policy(policy, cat)
        proposed = current.with_overrides(parse_overrides(set_))
        frame = read_table(data)
        current.require_columns(frame, str(data))
        previously_declined(frame)              # a booked column that is not true/false fails here, by name
    except (SettingsError, DataReadError, ValueError) as exc:
        fail(str(exc))
    rows, declined_rows, report = validated_applicants(frame, cat)      # declined: no outcome to check
    if not report.ok:
        err_console.print(report.to_text())
        raise typer.Exit(EXIT_INVALID)
    if declined_rows is not None:
        rows = pd.concat([rows, declined_rows], ignore_index=True)
    with console.status("re-deciding the portfolio / 重新审批"):
        scores = model.score(rows)
        ds = cat.dataset
        portfolio = Portfolio(scores.pd, scores.expert, rows,
                              rows[ds.target_column].to_numpy(float) if ds.target_column in rows else None,
                              rows[ds.truth_column].to_numpy(float) if ds.truth_column and ds.truth_column in rows else None,
                              previously_declined(rows))
        result = what_if(portfolio, cat, current, proposed, steps)
    result["model"] = {"name": version.name, "version": version.version, "reject_inference": model.reject_inference}
    result["changes"] = parse_overrides(set_)
    result["assumptions"] = current.assumptions(frame.columns)
    for assumed in result["assumptions"]:
        err_console.print(f"assumed / 假设: {assumed['en']} / {assumed['zh']}")
    for label, key in (("approval rate / 批准率", "approval_rate"),
                       ("expected default rate / 预期违约率", "expected_default_rate"),
                       ("expected loss (CNY 10k) / 预期损失", "expected_loss")):
        cur, new = result["current"][key], result["proposed"][key]
        fmt = (lambda v: "-" if v is None else f"{100 * v:.2f}%") if "rate" in key else (lambda v: f"{v:,.1f}")
        console.print(f"{label}: current {fmt(cur)} -> proposed {fmt(new)}")
    swap = result["swap_set"]
    console.print("swap set / 迁移: " + ", ".join(f"{k} {v['count']:,}" for k, v in swap.items()))
    if seg := result.get("previously_declined"):
        truth = "" if seg["true_pd"] is None else f" (true {100 * seg['true_pd']:.2f}%)"
        console.print(f"declined by the past policy / 以往被拒: {seg['count']:,} firms, approved {seg['approved_current']:,} "
                      f"-> {seg['approved_proposed']:,}, mean model PD {100 * seg['mean_pd']:.2f}%{truth}; model trained "
                      f"with reject inference {model.reject_inference['method']}")
    if out:
        _write_text(out, render_what_if(result, f"{current.name_en} / {current.name_zh}: what-if"))
    if json_out:
        _write_text(json_out, json.dumps(result, indent=2, ensure_ascii=False))
    if log_mlflow:
        from innoscore.model.tracking.store import log_what_if

        console.print(f"logged to MLflow run {log_what_if(result, out)}")
