"""`innoscore`: a thin command line over the functions the notebooks call too."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

app = typer.Typer(
    help="innoscore: credit scoring of specialised tech SMEs / 专精特新科创企业信用评分",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

EXIT_INVALID = 2

CatalogueOpt = typer.Option(None, "--catalogue", help="Indicator catalogue YAML / 指标目录文件 (default: configs/indicators.yaml)")


def fail(message: str, code: int = EXIT_INVALID) -> None:
    """Print a one-line error (no traceback) and exit with `code`."""
    err_console.print(f"[bold red]error / 错误:[/] {message}")
    raise typer.Exit(code)


def _catalogue(path: Optional[Path]):
    from features.catalogue import CatalogueError, load_catalogue

    try:
        return load_catalogue(path)
    except CatalogueError as exc:
        fail(str(exc))


@app.command()
def generate(
    n_firms: int = typer.Option(50_000, "--n-firms", min=1, help="Number of loan applications / 企业数"),
    seed: int = typer.Option(42, "--seed", help="Random seed / 随机种子"),
    out: Path = typer.Option(Path("data/portfolio.parquet"), "--out", help="Output .parquet or .csv / 输出文件"),
    base_default_rate: Optional[float] = typer.Option(None, "--base-default-rate", help="Override configs/synthetic.yaml / 基准违约率"),
    catalogue: Optional[Path] = CatalogueOpt,
) -> None:
    """Generate a synthetic portfolio with known true PD / 生成已知真实违约概率的模拟贷款组合."""
    from features.synthetic import SyntheticConfig, generate_portfolio, write_portfolio

    try:
        cfg = SyntheticConfig.load(base_default_rate=base_default_rate)
    except ValueError as exc:
        fail(str(exc))
    portfolio = generate_portfolio(n_firms, seed=seed, config=cfg, catalogue=_catalogue(catalogue))
    data_path, truth_path = write_portfolio(portfolio, out)
    console.print(f"wrote {len(portfolio.data):,} firms to {data_path} (true contributions: {truth_path})")
    console.print(portfolio_summary(portfolio.data, _catalogue(catalogue)))


def portfolio_summary(data, catalogue) -> str:
    from features.summary import summarise_portfolio

    return summarise_portfolio(data, catalogue).to_string()


@app.command()
def validate(
    data: Path = typer.Option(..., "--data", help="CSV or Parquet file (or folder of parts) / 数据文件"),
    catalogue: Optional[Path] = CatalogueOpt,
    require_target: bool = typer.Option(False, "--require-target", help="Also require the outcome column / 要求包含违约标签"),
    max_listed: int = typer.Option(50, "--max-listed", help="Problems listed before summarising / 最多列出的问题数"),
) -> None:
    """Check a data file against the catalogue; exit 2 listing each problem / 按指标目录校验数据，有问题时退出码为2."""
    from features.validation import DataReadError, validate_file

    cat = _catalogue(catalogue)
    try:
        _, report = validate_file(data, cat, require_target=require_target)
    except DataReadError as exc:
        fail(str(exc))
    if report.ok:
        console.print(report.to_text(max_listed))
        return
    err_console.print(report.to_text(max_listed))
    raise typer.Exit(EXIT_INVALID)


@app.command()
def demo(
    n_firms: int = typer.Option(50_000, "--n-firms", min=1000, help="Portfolio size / 组合规模"),
    seed: int = typer.Option(42, "--seed", help="Random seed / 随机种子"),
    out_dir: Path = typer.Option(Path("demo-output"), "--out-dir", help="Where outputs go / 输出目录"),
) -> None:
    """The main job end to end / 端到端演示: portfolio -> validation -> summary."""
    from innoscore.demo import run_demo

    run_demo(n_firms=n_firms, seed=seed, out_dir=out_dir, console=console)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
