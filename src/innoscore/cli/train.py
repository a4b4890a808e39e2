"""Training: `train`, `compare` (from MLflow's stored runs), `promote` (move an alias)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from innoscore.cli._common import (app, console, err_console, EXIT_INVALID, EncodingOpt, CatalogueOpt,
                                   RejectInference, SplitKind, fail, _declare_encoding, _catalogue, quiet_mlflow,
                                   _write_text)
from innoscore.display import print_comparison, print_training_summary


@app.command()
def train(
    data: Path = typer.Option(..., "--data", help="Training data, CSV or Parquet / 训练数据"),
    encoding: Optional[str] = EncodingOpt,
    catalogue: Optional[Path] = CatalogueOpt,
    config: Optional[Path] = typer.Option(None, "--config", help="Training config / 训练配置 (default: configs/training.yaml)"),
    experiment: Optional[str] = typer.Option(None, "--experiment", help="MLflow experiment name / 实验名称"),
    metrics_out: Optional[Path] = typer.Option(None, "--metrics-out", help="Write metrics JSON here / 指标输出文件"),
    split: Optional[SplitKind] = typer.Option(None, "--split", help="auto | time | random | column | cv / 样本划分方式 "
                                        "(default: configs/training.yaml split.kind)"),
    name: Optional[str] = typer.Option(None, "--name", help="Model family: registers <name>-pd, ... / 模型族名称 "
                                       "(default: the catalogue's model_family, else configs/training.yaml)"),
    reject_inference: Optional[RejectInference] = typer.Option(
        None, "--reject-inference", help="How declined applicants (booked false, no outcome) enter LightGBM's training "
        "(docs/reject-inference.md) / 拒绝推断方法 (default: configs/training.yaml reject_inference.method)"),
) -> None:
    """Train the expert, WoE and LightGBM models, log and register them in MLflow / 训练三种模型并登记到MLflow."""
    _declare_encoding(encoding, data)
    import json

    from innoscore.features.validation import DataReadError, read_table
    from innoscore.model.config import TrainingConfig
    from innoscore.model.explanation.fidelity import load_truth
    from innoscore.model.training import DataValidationError, train_models

    cat = _catalogue(catalogue)
    try:
        cfg = TrainingConfig.load(config)
        if reject_inference is not None:
            cfg = cfg.with_reject_inference(reject_inference.value)
        frame = read_table(data)
    except (ValueError, DataReadError) as exc:
        fail(str(exc))
    quiet_mlflow()
    try:
        with console.status("training / 训练中") as status:
            result = train_models(frame, cat, cfg, experiment=experiment, split_kind=split.value if split else None, family=name,
                                  truth=load_truth(data, cat.dataset.firm_id_column),
                                  data_source=str(data.resolve()), dataset_name=data.name,
                                  progress=lambda msg: (status.update(msg), console.log(msg, log_locals=False)))
    except DataValidationError as exc:
        err_console.print(exc.report.to_text())
        raise typer.Exit(EXIT_INVALID)
    except ValueError as exc:
        fail(str(exc))
    if metrics_out:
        _write_text(metrics_out, json.dumps(result.metrics_json(), indent=2))
    print_training_summary(console, result)
    print_comparison(console, result.metrics, f"innoscore: {result.split.kind} split, test window (run {result.parent_run_id})")
    base = result.baselines
    console.print("plain baselines on the same test rows / 同样本基准模型 (test AUC): " + ", ".join(
        f"{k} {v:.4f}" for k, v in base["test_auc"].items() if k in ("plain_lightgbm", "logistic_one_hot"))
        + f"; LightGBM minus plain LightGBM {base['lightgbm_minus_plain_lightgbm']:+.4f}, "
          f"WoE scorecard minus logistic {base['woe_minus_logistic_one_hot']:+.4f}")
    ri = result.reject_inference
    if ri:
        kicked = (f"; kickout against the accepts-only LightGBM {ri['kickout']:+.3f} on {ri['kickout_rows']:,} test "
                  f"applicants at {ri['kickout_acceptance_rate']:.0%} accepted" if "kickout" in ri else "")
        used = f" ({ri['n_declined_trained_on']:,} of them in training)" if "n_declined_trained_on" in ri else ""
        console.print(f"reject inference / 拒绝推断: {ri['method']}, {ri['n_declined']:,} declined applicants{used}{kicked}")
    if result.fidelity:
        console.print("explanation fidelity vs the true contributions (test window) / 解释与真实贡献的一致性: "
                      + ", ".join(f"{k} {v:.3f}" for k, v in result.fidelity.items()))
    for name, (reg, version) in result.versions.items():
        console.print(f"registered {name}: models:/{reg}/{version} (alias @{cfg.registry.new_version_alias})")


@app.command()
def compare(
    experiment: str = typer.Option("innoscore", "--experiment", help="MLflow experiment name / 实验名称"),
    run_id: Optional[str] = typer.Option(None, "--run-id", help="A training (parent) run; default: the latest / 训练运行ID"),
) -> None:
    """Print the comparison table from MLflow's stored runs / 从MLflow读取并对比模型."""
    from innoscore.model.training import stored_comparison

    quiet_mlflow()
    try:
        metrics, rid = stored_comparison(experiment, run_id=run_id)
    except ValueError as exc:
        fail(str(exc))
    print_comparison(console, metrics, f"innoscore: stored comparison (experiment {experiment}, run {rid})")


@app.command()
def promote(
    name: str = typer.Option(..., "--name", help="Registered model name / 注册模型名称"),
    version: str = typer.Option(..., "--version", help="Model version / 模型版本"),
    alias: str = typer.Option("champion", "--alias", help="Alias to move / 别名"),
) -> None:
    """Move an alias (default champion) to a registered model version / 将别名指向指定模型版本."""
    from innoscore.model.tracking.registry import RegistryError, promote as promote_version
    from innoscore.model.tracking.store import StoreUnavailable, check_store, configure_mlflow

    quiet_mlflow()
    try:
        configure_mlflow(check_store())
        resolved = promote_version(name, version, alias)
    except (RegistryError, StoreUnavailable) as exc:
        fail(str(exc))
    console.print(f"models:/{name}@{alias} -> version {resolved.version} (run {resolved.run_id})")
