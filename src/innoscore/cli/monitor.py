"""Monitoring: `monitor` (stability, backtests, lights and exit codes)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from innoscore.cli._common import (app, console, EncodingOpt, Light, fail, _declare_encoding, ModelUriOpt,
                                   _load_registered, _write_text)


@app.command()
def monitor(
    data: Optional[Path] = typer.Option(None, "--data", help="Firms to score and monitor, CSV or Parquet / 待监测数据"),
    encoding: Optional[str] = EncodingOpt,
    log: Optional[Path] = typer.Option(None, "--log", help="An inference log folder (serving or batch) / 推理日志目录"),
    model_uri: Optional[str] = ModelUriOpt,
    outcomes: Optional[Path] = typer.Option(None, "--outcomes", help="Firm id and outcome (the catalogue's target "
                                            "column), CSV or Parquet: adds the backtest / 违约结果"),
    out: Optional[Path] = typer.Option(None, "--out", help="HTML report / 报告文件"),
    json_out: Optional[Path] = typer.Option(None, "--json-out", help="The same figures as JSON / JSON输出"),
    config: Optional[Path] = typer.Option(None, "--config", help="Thresholds (default configs/monitoring.yaml) / 阈值配置"),
    log_mlflow: bool = typer.Option(False, "--log-mlflow", help="Log the figures to MLflow against the model version / 记录到MLflow"),
    fail_on: Light = typer.Option(Light.red, "--fail-on", help="red | amber: the light that makes the exit code 1 / 告警级别"),
) -> None:
    """Drift, stability and per-grade backtest against the model's reference; exit 1 on a red light /
    监测人群漂移、稳定性与分级回测，红灯时退出码为1."""
    _declare_encoding(encoding, data, outcomes)
    import json

    from innoscore.features.validation import DataReadError, read_table
    from innoscore.model.monitoring.config import MonitoringConfig
    from innoscore.model.monitoring.monitor import MonitoringInputError, monitor as run_monitor, observed_data, observed_log
    from innoscore.model.reports.monitoring import render_monitoring
    from innoscore.model.scoring.batch import BatchInputError
    from innoscore.settings import SettingsError

    if (data is None) == (log is None):
        fail("give exactly one of --data PATH or --log DIR")
    fail_on = fail_on.value
    try:
        settings = MonitoringConfig.load(config)
    except SettingsError as exc:
        fail(str(exc))
    model, version = _load_registered(model_uri)
    rejected: list[int] = []
    try:
        known = read_table(outcomes) if outcomes else None
        source = observed_data(data, model, rejected=rejected) if data else observed_log(log, model)
        with console.status("monitoring / 监测中"):
            result = run_monitor(source, model, settings, known,
                                 {"name": version.name, "version": version.version, "kind": model.kind})
    except (DataReadError, BatchInputError, MonitoringInputError) as exc:
        fail(str(exc))
    result.rejected = sum(rejected)
    console.print(f"{result.n_firms:,} firms against {version.name} v{version.version}: overall {result.light}")
    for section, light in result.lights.items():
        console.print(f"  {section}: {light}")
    for r in result.alerts().head(15).itertuples():
        console.print(f"  {r.light}: {r.kind} {r.item} (PSI {r.psi:.3f})")
    title = f"Monitoring / 模型监测: {version.name} v{version.version}"
    if out:
        _write_text(out, render_monitoring(result, model.catalogue, title, settings))
    if json_out:
        _write_text(json_out, json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    if log_mlflow:
        from innoscore.model.tracking.store import log_monitoring

        console.print(f"logged to MLflow run {log_monitoring(result, out)}")
    raise typer.Exit(result.exit_code(fail_on))
