"""`demo`: the main job end to end (innoscore.demo)."""
from __future__ import annotations

from pathlib import Path

import typer

from innoscore.cli._common import (app, console, quiet_mlflow)


@app.command()
def demo(
    n_firms: int = typer.Option(50_000, "--n-firms", min=1000, help="Portfolio size / 组合规模"),
    seed: int = typer.Option(42, "--seed", help="Random seed / 随机种子"),
    out_dir: Path = typer.Option(Path("demo-output"), "--out-dir", help="Where outputs go / 输出目录"),
) -> None:
    """The main job end to end / 端到端演示: portfolio -> models -> MLflow -> champion -> decisions and committee
    reports (with what it would take) -> policy what-if -> monitoring a stressed later vintage."""
    from innoscore.demo import run_demo

    quiet_mlflow()
    run_demo(n_firms=n_firms, seed=seed, out_dir=out_dir, console=console)
