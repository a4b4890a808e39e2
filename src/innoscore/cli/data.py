"""Data: a synthetic portfolio (`generate`) and checking a file against the catalogue (`validate`)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from innoscore.cli._common import (app, console, err_console, EXIT_INVALID, AcceptUnterminatedOpt, EncodingOpt,
                                   CatalogueOpt, fail, _declare_encoding, _catalogue)


@app.command()
def generate(
    n_firms: int = typer.Option(50_000, "--n-firms", min=1, help="Number of loan applications / 企业数"),
    seed: int = typer.Option(42, "--seed", help="Random seed / 随机种子"),
    out: Path = typer.Option(Path("data/portfolio.parquet"), "--out", help="Output .parquet or .csv / 输出文件"),
    base_default_rate: Optional[float] = typer.Option(None, "--base-default-rate", help="Override configs/synthetic.yaml / 基准违约率"),
    scenario: Optional[str] = typer.Option(None, "--scenario", help="A later vintage with a known shift, named in configs/synthetic.yaml (financial_stress, industry_mix, ...) / 漂移情景"),
    history_policy: Optional[str] = typer.Option(None, "--history-policy", help="Simulate the bank's past decisions: "
                                                 "'expert' (configs/history.yaml) or a file of that form; declined "
                                                 "applicants get booked=false and no outcome / 模拟历史审批（拒绝者无违约标签）"),
    catalogue: Optional[Path] = CatalogueOpt,
) -> None:
    """Generate a synthetic portfolio with known true PD / 生成已知真实违约概率的模拟贷款组合."""
    from innoscore.features.summary import summarise_portfolio
    from innoscore.features.synthetic import SyntheticConfig, generate_portfolio, write_portfolio

    cat = _catalogue(catalogue)
    try:
        cfg = SyntheticConfig.load(base_default_rate=base_default_rate)
        chosen = cfg.scenario(scenario) if scenario else None
    except ValueError as exc:
        fail(str(exc))
    portfolio = generate_portfolio(n_firms, seed=seed, config=cfg, catalogue=cat, scenario=chosen)
    if history_policy:
        from innoscore.features.history import BOOKED_COLUMN, HistoryPolicy, with_history

        try:
            portfolio = with_history(portfolio, cat, HistoryPolicy.load(history_policy))
        except ValueError as exc:
            fail(str(exc))
        console.print(f"history / 历史审批: {1 - portfolio.data[BOOKED_COLUMN].mean():.1%} of applicants declined, "
                      "their outcomes only in the truth file")
    data_path, truth_path = write_portfolio(portfolio, out)
    console.print(f"wrote {len(portfolio.data):,} firms to {data_path} (true contributions: {truth_path})")
    console.print(summarise_portfolio(portfolio.data, cat).to_string())


@app.command()
def validate(
    data: Path = typer.Option(..., "--data", help="CSV or Parquet file (or folder of parts) / 数据文件"),
    encoding: Optional[str] = EncodingOpt,
    catalogue: Optional[Path] = CatalogueOpt,
    require_target: bool = typer.Option(False, "--require-target", help="Also require the outcome column / 要求包含违约标签"),
    max_listed: int = typer.Option(50, "--max-listed", help="Problems listed before summarising / 最多列出的问题数"),
    accept_unterminated: bool = AcceptUnterminatedOpt,
) -> None:
    """Check a data file against the catalogue; exit 2 listing each problem / 按指标目录校验数据，有问题时退出码为2."""
    _declare_encoding(encoding, data)
    from innoscore.features.validation import DataReadError, relation_problems, validate_file

    cat = _catalogue(catalogue)
    try:
        frame, report = validate_file(data, cat, require_target=require_target, accept_unterminated=accept_unterminated)
    except DataReadError as exc:
        fail(str(exc))
    contradictions = relation_problems(frame, cat)      # the catalogue's relations: reported, rows still scored
    if contradictions:
        import numpy as np

        report.problems += contradictions
        report.bad_rows = np.union1d(report.bad_rows, [p.row for p in contradictions]).astype(int)
    if report.ok:
        console.print(report.to_text(max_listed))
        return
    err_console.print(report.to_text(max_listed))
    raise typer.Exit(EXIT_INVALID)
