"""Explanations: `explain` (reasons, committee reports, what it would take)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from innoscore.cli._common import (app, console, err_console, EXIT_INVALID, EncodingOpt, Lang, fail,
                                   _declare_encoding, ModelUriOpt, _load_registered, _policy, _write_text)


@app.command()
def explain(
    data: Path = typer.Option(..., "--data", help="Firm data, CSV or Parquet / 企业数据"),
    encoding: Optional[str] = EncodingOpt,
    firm_id: Optional[str] = typer.Option(None, "--firm-id", help="The firm to report on (its row number, from 1, "
                                          "when the catalogue has no id column) / 企业编号"),
    all_firms: bool = typer.Option(False, "--all", help="Every firm in the file: a meeting pack / 全部企业"),
    model_uri: Optional[str] = ModelUriOpt,
    lang: Lang = typer.Option(Lang.zh, "--lang", help="zh | en / 报告语言"),
    out: Optional[Path] = typer.Option(None, "--out", help="Report file (.html) for --firm-id / 报告文件"),
    out_dir: Optional[Path] = typer.Option(None, "--out-dir", help="Folder for --all, with index.html / 输出目录"),
    top_k: int = typer.Option(5, "--top-k", min=1, max=20, help="Reasons each way / 每方向原因数"),
    policy: Optional[Path] = typer.Option(None, "--policy", help="Add a credit-decision section by this policy (e.g. "
                                          "configs/policy.yaml) / 按此政策增加审批建议"),
    counterfactual: bool = typer.Option(False, "--counterfactual", help="Add what it would take to reach "
                                        "--target-grade or --target-decision / 反事实改进方案"),
    target_grade: Optional[str] = typer.Option(None, "--target-grade", help="e.g. BBB: the grade to reach / 目标等级"),
    target_decision: Optional[str] = typer.Option(None, "--target-decision", help="approve: reach an approval under "
                                                  "--policy / 目标审批结论"),
    alternatives: int = typer.Option(3, "--alternatives", min=1, max=10, help="Alternatives per firm / 每户方案数"),
    max_changes: int = typer.Option(3, "--max-changes", min=1, max=6, help="Most indicators one alternative "
                                    "changes / 每个方案最多改变的指标数"),
    json_out: Optional[Path] = typer.Option(None, "--json-out", help="Per firm as JSON: PD, grade, category "
                                            "contributions, reasons (and the counterfactual when asked) / JSON输出"),
) -> None:
    """Committee report(s) with SHAP reasons in Chinese or English; with --counterfactual, what it would
    take to reach a better grade or an approval / 生成授信评审报告（可附反事实改进方案）."""
    _declare_encoding(encoding, data)
    from innoscore.features.validation import DataReadError, read_table, validate_frame, with_row_ids
    from innoscore.model.reports.committee import ModelInfo, write_reports

    lang = lang.value
    if all_firms == (firm_id is not None):
        fail("give exactly one of --firm-id ID or --all")
    if counterfactual and (target_grade is None) == (target_decision is None):
        fail("--counterfactual needs exactly one of --target-grade GRADE or --target-decision approve")
    if (target_grade or target_decision) and not counterfactual:
        fail("--target-grade and --target-decision go with --counterfactual")
    if target_decision is not None and target_decision != "approve":
        fail(f"--target-decision can only be approve, got '{target_decision}'")
    if target_decision and policy is None:
        fail("--target-decision approve needs --policy FILE (the policy that decides)")
    if firm_id is not None and out is None and json_out is None:
        fail("--firm-id needs --out PATH.html or --json-out PATH.json")
    if all_firms and out_dir is None and json_out is None:
        fail("--all needs --out-dir DIR or --json-out PATH.json")
    model, version = _load_registered(model_uri, explanations_for="a committee report")
    try:
        frame = read_table(data)
    except DataReadError as exc:
        fail(str(exc))
    frame = with_row_ids(frame, model.catalogue)   # data without an id column: firms are row numbers
    id_col = model.catalogue.dataset.firm_id_column
    if id_col not in frame:
        fail(f"{data} has no id column '{id_col}'")
    if firm_id is not None:
        frame = frame[frame[id_col].astype(str) == firm_id]
        if frame.empty:
            fail(f"firm '{firm_id}' not found in {data} / 未找到该企业")
    rows, report = validate_frame(frame, model.catalogue)
    if not report.ok:
        err_console.print(report.to_text())
        raise typer.Exit(EXIT_INVALID)
    info = ModelInfo(name=version.name, version=version.version, run_id=version.run_id,
                     data_fingerprint=version.tags.get("data_fingerprint", "unknown"),
                     catalogue_version=version.tags.get("catalogue_version", model.catalogue.version))
    decision_policy = _policy(policy, model.catalogue, rows, data) if policy else None
    found = None
    if counterfactual:
        found = _counterfactuals(rows, model, decision_policy, target_grade, target_decision, alternatives,
                                 max_changes, lang)
    if json_out:
        import json

        from innoscore.model.explanation.export import explanation_records

        records = explanation_records(model.score(rows, with_explanations=True), model.catalogue,
                                      model.peer_quantiles, top_k, found)
        _write_text(json_out, json.dumps(records, indent=2, ensure_ascii=False))
        console.print(f"wrote {len(records):,} firm(s) to {json_out}")
    if (out if not all_firms else out_dir) is None:
        return
    with console.status(f"writing {len(rows):,} report(s) / 生成报告"):
        written = write_reports(rows, model, info, out_dir=out_dir if all_firms else None,
                                out=out if not all_firms else None, lang=lang, top_k=top_k,
                                policy=decision_policy, counterfactuals=found)
    console.print(f"wrote {len(written) - 1} report(s) and their index: {written[-1]}" if all_firms
                  else f"wrote {written[0]}")


def _counterfactuals(rows, model, policy, target_grade, target_decision, k: int, max_changes: int, lang: str) -> list:
    """Search every firm of `rows` and print a line per firm."""
    from innoscore.model.counterfactual.search import CounterfactualSearch, Target

    try:
        target = Target(grade=target_grade, decision=target_decision)
        search = CounterfactualSearch(model, k=k, max_changes=max_changes, policy=policy)
        with console.status(f"searching counterfactuals for {len(rows):,} firm(s) / 搜索改进方案"):
            found = search.explain(rows, target)
    except ValueError as exc:
        fail(str(exc))
    for cf in found:
        console.print(f"{cf.firm_id} ({cf.grade}, PD {cf.pd:.2%}): {getattr(cf, f'text_{lang}')}")
    return found
