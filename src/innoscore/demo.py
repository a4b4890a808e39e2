"""The main job end to end, as `make demo` runs it; safe to run twice.

synthetic portfolio -> validation -> expert, WoE and LightGBM models -> MLflow comparison ->
LightGBM promoted to champion -> committee reports for a low-risk, a borderline and a high-risk firm.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.console import Console

from innoscore.features.catalogue import load_catalogue
from innoscore.features.synthetic import generate_portfolio, write_portfolio
from innoscore.features.validation import validate_file
from innoscore.display import print_comparison
from innoscore.paths import tracking_uri
from innoscore.model.config import TrainingConfig
from innoscore.model.tracking.registry import load_pd_model, promote
from innoscore.model.reports.committee import ModelInfo, write_reports
from innoscore.model.training import train_models


def pick_committee_firms(pd_values: np.ndarray, grades: np.ndarray, borderline_grade: str) -> dict[str, int]:
    """Positions of the lowest-PD firm, the firm closest to the middle of the borderline grade, and the highest-PD firm."""
    border = np.flatnonzero(grades == borderline_grade)
    middle = border[np.argsort(pd_values[border])[len(border) // 2]] if len(border) else int(np.argsort(pd_values)[len(pd_values) // 2])
    return {"low_risk": int(np.argmin(pd_values)), "borderline": int(middle), "high_risk": int(np.argmax(pd_values))}


def run_demo(n_firms: int, seed: int, out_dir: Path, console: Console, experiment: str | None = None) -> dict:
    catalogue = load_catalogue()
    config = TrainingConfig.load()
    out_dir.mkdir(parents=True, exist_ok=True)
    step = 0

    def say(message: str) -> None:
        nonlocal step
        step += 1
        console.print(f"[bold][{step}/5][/] {message}")

    with console.status(f"generating {n_firms:,} firms (seed {seed}) / 生成模拟组合"):
        portfolio = generate_portfolio(n_firms, seed=seed, catalogue=catalogue)
        data_path, _ = write_portfolio(portfolio, out_dir / "portfolio.parquet")
    say(f"portfolio / 模拟组合: {data_path} ({n_firms:,} firms, default rate {portfolio.data['default_12m'].mean():.2%})")

    with console.status("validating / 数据校验"):
        data, report = validate_file(data_path, catalogue, require_target=True)
    say(report.to_text())
    if not report.ok:
        raise SystemExit(2)

    with console.status("training / 训练") as status:
        result = train_models(data, catalogue, config, experiment=experiment, truth=portfolio.true_contributions,
                              progress=lambda msg: status.update(msg))
    say(f"trained and registered / 训练并注册 (MLflow run {result.parent_run_id})")
    print_comparison(console, result.metrics, "out-of-time comparison, test year / 跨期对比（测试年）")

    name, version = result.versions["lightgbm"]
    champion = config.registry.promoted_alias
    promote(name, version, champion)
    say(f"promoted / 晋升: models:/{name}@{champion} -> version {version}")

    model, resolved = load_pd_model(f"models:/{name}@{champion}")
    test_rows = data[result.split.test].reset_index(drop=True)
    pd_values = model.predict_pd(test_rows)
    labels = config.grade_scale.labels
    picks = pick_committee_firms(pd_values, config.grade_scale.assign(pd_values), labels[len(labels) // 2])
    info = ModelInfo(resolved.name, resolved.version, resolved.run_id, result.data_fingerprint, catalogue.version)
    reports = out_dir / "reports"
    written = {}
    for kind, pos in picks.items():
        firm = str(test_rows.iloc[pos][catalogue.dataset.firm_id_column])
        for lang in ("zh", "en"):
            path = reports / f"{kind}-{firm}.{lang}.html"
            write_reports(test_rows.iloc[[pos]], model, info, out=path, lang=lang)
            written[(kind, lang)] = path
    say("committee reports / 评审报告: " + ", ".join(
        f"{k} {100 * pd_values[p]:.2f}%" for k, p in picks.items()))
    for (kind, lang), path in written.items():
        console.print(f"    {kind:<10} {lang}: {_relative(path)}")

    console.print("\n[bold]Where to look / 查看结果[/]")
    console.print(f"  MLflow store      {tracking_uri()}")
    console.print("  MLflow UI         make mlflow-ui   (then open http://127.0.0.1:5000, experiment "
                  f"'{experiment or config.experiment}', select the runs, Compare)")
    console.print(f"  HTTP service      make serve       (serves models:/{name}@{champion})")
    console.print(f"  Reports           {_relative(reports)}")
    return {"result": result, "reports": written}


def _relative(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
