"""The main job end to end, as `make demo` runs it; safe to run twice."""
from __future__ import annotations

from pathlib import Path

from rich.console import Console

from features.catalogue import load_catalogue
from features.summary import summarise_portfolio
from features.synthetic import generate_portfolio, write_portfolio
from features.validation import validate_file


def run_demo(n_firms: int, seed: int, out_dir: Path, console: Console) -> None:
    catalogue = load_catalogue()
    out_dir.mkdir(parents=True, exist_ok=True)
    with console.status(f"generating {n_firms:,} firms (seed {seed}) / 生成模拟组合"):
        data_path, _ = write_portfolio(generate_portfolio(n_firms, seed=seed, catalogue=catalogue),
                                       out_dir / "portfolio.parquet")
    console.print(f"[1/2] portfolio: {data_path}")
    with console.status("validating / 数据校验"):
        data, report = validate_file(data_path, catalogue, require_target=True)
    console.print(f"[2/2] {report.to_text()}")
    if not report.ok:
        raise SystemExit(2)
    console.print(summarise_portfolio(data, catalogue).to_string())
