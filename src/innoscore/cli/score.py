"""Scoring: `score` (a file in chunks, locally or on Dask)."""
from __future__ import annotations

import signal
from pathlib import Path
from typing import Optional

import typer

from innoscore.cli._common import (app, console, err_console, EXIT_INVALID, AcceptUnterminatedOpt, EncodingOpt,
                                   _interrupted, Engine, fail, _declare_encoding, ModelUriOpt, _load_registered,
                                   _policy)


@app.command()
def score(
    data: Path = typer.Option(..., "--data", help="CSV or Parquet file, or a folder of Parquet parts / 输入数据"),
    encoding: Optional[str] = EncodingOpt,
    out: Path = typer.Option(..., "--out", help="Output Parquet / 输出文件"),
    model_uri: Optional[str] = ModelUriOpt,
    with_explanations: bool = typer.Option(False, "--explain", help="Add category contributions and top-k reasons / 附带解释"),
    top_k: int = typer.Option(5, "--top-k", min=1, max=20, help="Reasons per firm / 每户原因数"),
    engine: Engine = typer.Option(Engine.local, "--engine", help="local | dask / 计算引擎"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler address; default a LocalCluster / Dask调度器地址"),
    chunk_rows: int = typer.Option(100_000, "--chunk-rows", min=1000, help="Rows per chunk (local engine) / 每批行数"),
    policy: Optional[Path] = typer.Option(None, "--policy", help="Add the credit decision by this policy (e.g. "
                                          "configs/policy.yaml) / 按此政策给出审批结论"),
    log_dir: Optional[Path] = typer.Option(None, "--log-dir", help="Also record every scored firm in this inference "
                                           "log folder, for `innoscore monitor --log` / 推理日志目录"),
    accept_unterminated: bool = AcceptUnterminatedOpt,
) -> None:
    """Score (and explain) every firm in a large file; failing rows go to a rejects file / 批量评分."""
    _declare_encoding(encoding, data)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from innoscore.features.validation import DataReadError
    from innoscore.model.monitoring.log import LogTarget
    from innoscore.model.scoring.batch import (BatchInputError, count_rows, input_columns, score_file_dask,
                                               score_file_local)
    from innoscore.settings import SettingsError

    engine = engine.value
    model, version = _load_registered(model_uri, explanations_for="--explain" if with_explanations else None)
    decision_policy = _policy(policy, model.catalogue, input_columns(data) or None, data) if policy else None
    log = LogTarget(str(log_dir), version.name, str(version.version)) if log_dir else None
    signal.signal(signal.SIGTERM, _interrupted)     # a stopped job cleans up its partial files as Ctrl-C does
    try:
        if engine == "local":
            with Progress(TextColumn("scoring / 评分"), BarColumn(), MofNCompleteColumn(),
                          TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), console=err_console) as progress:
                task = progress.add_task("score", total=count_rows(data), rate="")

                def advance(n: int) -> None:
                    progress.advance(task, n)
                    t = progress.tasks[task]
                    progress.update(task, rate=f"{t.completed / max(t.elapsed or 1e-9, 1e-9):,.0f} rows/s")

                summary = score_file_local(data, out, model, with_explanations, top_k, chunk_rows, on_chunk=advance,
                                           policy=decision_policy, log=log, accept_unterminated=accept_unterminated)
        else:
            with console.status("scoring on Dask / Dask集群评分"):
                summary = score_file_dask(data, out, model, with_explanations, top_k, scheduler=scheduler,
                                          policy=decision_policy, log=log, accept_unterminated=accept_unterminated)
    except (DataReadError, BatchInputError, SettingsError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot write {exc.filename or out}: {exc.strerror or exc} / 无法写入输出文件")
    console.print(f"{summary.rows_in:,} rows: {summary.scored:,} scored -> {summary.out}; {summary.rejected:,} rejected "
                  f"-> {summary.rejects} (model {version.name} v{version.version})")
    if summary.rejected:
        raise typer.Exit(EXIT_INVALID if summary.scored == 0 else 0)
