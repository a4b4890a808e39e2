"""`innoscore`: a thin command line over the functions the notebooks call too."""
from __future__ import annotations

import signal
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from innoscore.display import print_comparison, print_training_summary, quiet_mlflow

app = typer.Typer(
    help="innoscore: credit scoring of specialised tech SMEs / 专精特新科创企业信用评分",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)
# Wide enough for the comparison table when output goes to a file or CI log rather than a terminal.
console = Console(highlight=False, log_path=False, width=None if sys.stdout.isatty() else 140)
err_console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 140)

EXIT_INVALID = 2

AcceptUnterminatedOpt = typer.Option(False, "--accept-unterminated", help="Score a CSV whose last line has no line "
                                     "end (refused by default: a file cut short) / 接受末行无换行符的CSV")
EncodingOpt = typer.Option(None, "--encoding", help="Text encoding of CSV input, e.g. gbk (default: UTF-8, "
                           "else GB18030 where the file is not UTF-8) / CSV文件编码（默认自动识别UTF-8或GB18030）")
CatalogueOpt = typer.Option(None, "--catalogue", help="Indicator catalogue YAML / 指标目录文件 (default: configs/indicators.yaml)")


def _interrupted(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _choices(name: str, *values: str) -> type[Enum]:
    """An option's fixed values as a str Enum: typer lists them in --help and refuses others (exit 2)."""
    return Enum(name, {v: v for v in values}, type=str)


Lang = _choices("Lang", "zh", "en")                       # --lang: reports and texts
Engine = _choices("Engine", "local", "dask")              # --engine: where batch scoring runs
Light = _choices("Light", "red", "amber")                 # --fail-on: the light that makes the exit code 1
# The next two repeat tuples of the model layer, not imported (the CLI starts without pandas);
# tests/test_units.py holds them equal to `reject_inference.METHODS` and `split.SPLIT_KINDS`.
RejectInference = _choices("RejectInference", "none", "reweighting", "fuzzy", "parcelling", "self_learning")
SplitKind = _choices("SplitKind", "auto", "time", "random", "column", "cv")


def fail(message: str, code: int = EXIT_INVALID) -> None:
    """Print a one-line error (no traceback) and exit with `code`."""
    err_console.print(f"[bold red]error / 错误:[/] {message}")
    raise typer.Exit(code)


def _declare_encoding(encoding: str | None, *paths: Optional[Path]) -> None:
    """`--encoding` for every CSV the command reads."""
    from innoscore.features.validation import DataReadError, declare_encoding

    for path in paths:
        if encoding and path is not None:
            try:
                declare_encoding(path, encoding)
            except DataReadError as exc:
                fail(str(exc))


def _catalogue(path: Optional[Path]):
    from innoscore.features.catalogue import CatalogueError, load_catalogue

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
        metrics_out.parent.mkdir(parents=True, exist_ok=True)
        metrics_out.write_text(json.dumps(result.metrics_json(), indent=2), encoding="utf-8")
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


ModelUriOpt = typer.Option(None, "--model-uri", help="Registered model / 模型URI (default: the champion of configs/training.yaml)")


def _load_registered(model_uri: str | None, explanations_for: str | None = None):
    """The registered model (ScoringModel, resolved version); exit 2 if it does not resolve, or if
    `explanations_for` names a use that needs per-indicator contributions and this model has none."""
    from innoscore.model.config import default_model_uri
    from innoscore.model.tracking.registry import RegistryError, load_pd_model
    from innoscore.model.tracking.store import StoreUnavailable, check_store, configure_mlflow
    from innoscore.settings import SettingsError

    quiet_mlflow()
    try:
        configure_mlflow(check_store())
        model_uri = model_uri or default_model_uri()
        model, version = load_pd_model(model_uri)
    except (RegistryError, SettingsError, StoreUnavailable) as exc:
        fail(str(exc))
    if explanations_for and not model.has_contributions:
        fail(f"{model_uri} is a {model.kind}; {explanations_for} needs the LightGBM model")
    return model, version


def _policy(path: Optional[Path], catalogue, columns, source: Path):
    """The credit policy at `path` (default configs/policy.yaml), checked against the model's catalogue
    and against the input's `columns` (every knock-out rule must find its column in `source`; None:
    the input's header is unreadable, and reading it will say why)."""
    from innoscore.model.decision.policy import load_policy
    from innoscore.settings import SettingsError

    try:
        policy = load_policy(path, catalogue)
        return policy if columns is None else policy.require_columns(columns, str(source))
    except SettingsError as exc:
        fail(str(exc))


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


def _write_text(path: Path, text: str) -> None:
    """Write an output file (its folder made if needed); exit 2 with one line if it cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc} / 无法写入")
    console.print(f"wrote {path}")


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


@app.command()
def serve(
    model_uri: Optional[str] = typer.Option(None, "--model-uri", help="Registered model / 模型URI (default: configs/serving.yaml, else the champion)"),
    host: str = typer.Option("127.0.0.1", "--host", help="Bind address / 监听地址"),
    port: int = typer.Option(3000, "--port", help="Port / 端口"),
    config: Optional[Path] = typer.Option(None, "--config", help="Serving settings / 服务配置 (default: configs/serving.yaml)"),
    log_dir: Optional[Path] = typer.Option(None, "--log-dir", help="Record every scored firm in this inference log "
                                           "folder (overrides inference_log.directory) / 推理日志目录"),
    allow_no_key: bool = typer.Option(False, "--allow-no-key", help="Serve on an address other hosts reach without "
                                      "INNOSCORE_API_KEY (refused by default) / 允许无密钥对外服务"),
) -> None:
    """Serve a registered model version over HTTP with BentoML / 以HTTP服务方式提供模型."""
    import ipaddress
    import os

    from innoscore.model.decision.policy import load_policy
    from innoscore.model.tracking.registry import RegistryError
    from innoscore.model.tracking.store import StoreUnavailable
    from innoscore.serving.config import API_KEY_ENV, LOG_DIR_ENV, SERVING_CONFIG_ENV, ServingConfig
    from innoscore.serving.store import BENTO_MODEL_ENV, MODEL_URI_ENV, SERVICE_IMPORT_PATH, import_registered_version
    from innoscore.settings import SettingsError

    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not os.environ.get(API_KEY_ENV) and not allow_no_key:
        fail(f"--host {host} is reachable from other hosts and {API_KEY_ENV} is not set: anyone could score firms "
             f"and move the served version (/reload); set the key, or pass --allow-no-key / 对外服务须设置API密钥")
    quiet_mlflow()
    try:
        settings = ServingConfig.load(config)
        if settings.policy:          # a named policy that cannot be read: refuse to start (its loan fields
            load_policy(settings.policy)   # shape the request model whether or not /score decides)
        uri = model_uri or settings.served_model_uri()
        bento_model = import_registered_version(uri)
    except (RegistryError, SettingsError, StoreUnavailable) as exc:
        fail(str(exc))
    labels = bento_model.info.labels
    console.print(f"serving {uri} = {labels['registered_name']} v{labels['registered_version']} "
                  f"(BentoML model {bento_model.tag}) on http://{host}:{port}")
    env = {**os.environ, BENTO_MODEL_ENV: str(bento_model.tag), MODEL_URI_ENV: uri, "BENTOML_DO_NOT_TRACK": "true",
           **({SERVING_CONFIG_ENV: str(config.resolve())} if config else {}),
           **({LOG_DIR_ENV: str(log_dir.resolve())} if log_dir else {})}
    os.execve(sys.executable, [sys.executable, "-m", "innoscore.serving.launch", "serve", SERVICE_IMPORT_PATH,
                               "--host", host, "--port", str(port),
                               "--timeout-graceful-shutdown", str(settings.graceful_shutdown_s)], env)


@app.command()
def bento(
    model_uri: Optional[str] = typer.Option(None, "--model-uri", help="Registered model / 模型URI (default: configs/serving.yaml, else the champion)"),
    build_ctx: Path = typer.Option(Path("."), "--build-ctx", help="Folder with bentofile.yaml and dist/ / 构建目录"),
) -> None:
    """Build the deployable Bento around a registered version / 构建可部署的Bento包."""
    from innoscore.model.tracking.registry import RegistryError
    from innoscore.model.tracking.store import StoreUnavailable
    from innoscore.serving.bento import BentoBuildError, build_bento
    from innoscore.serving.config import ServingConfig
    from innoscore.settings import SettingsError

    quiet_mlflow()
    try:
        uri = model_uri or ServingConfig.load().served_model_uri()
        tag = build_bento(uri, build_ctx)
    except (RegistryError, BentoBuildError, SettingsError, FileNotFoundError, StoreUnavailable) as exc:
        fail(str(exc))
    console.print(f"built Bento {tag} from {uri}; serve it with `bentoml serve {tag}`, "
                  f"or build an image with `bentoml containerize {tag}`")


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
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render_what_if(result, f"{current.name_en} / {current.name_zh}: what-if"), encoding="utf-8")
        console.print(f"wrote {out}")
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
        console.print(f"wrote {json_out}")
    if log_mlflow:
        from innoscore.model.tracking.store import log_what_if

        console.print(f"logged to MLflow run {log_what_if(result, out)}")


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


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
