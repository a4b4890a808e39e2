"""The main job end to end, as `make demo` runs it; safe to run twice.

synthetic portfolio -> validation -> expert, WoE and LightGBM models -> MLflow comparison ->
LightGBM promoted to champion -> credit decisions by configs/policy.yaml, with committee reports for
a typical approve, refer and decline (with what it would take to be approved) -> the what-if of
doubling the tech-innovation share (the firms the past policy declined a segment of it) ->
monitoring a later, stressed vintage against the champion.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from rich.console import Console

from innoscore.display import print_comparison
from innoscore.features.catalogue import load_catalogue
from innoscore.features.history import HistoryPolicy, booked
from innoscore.features.synthetic import generate_portfolio, write_portfolio
from innoscore.features.validation import validate_file
from innoscore.model.config import TrainingConfig
from innoscore.model.counterfactual.search import CounterfactualSearch, Target
from innoscore.model.decision.policy import load_policy
from innoscore.model.decision.what_if import Portfolio, what_if
from innoscore.model.monitoring.config import MonitoringConfig
from innoscore.model.monitoring.monitor import monitor, observed_data
from innoscore.model.reports.monitoring import render_monitoring
from innoscore.model.reports.committee import ModelInfo, write_reports
from innoscore.model.reports.what_if import render_what_if
from innoscore.model.scoring.record import scored_firms
from innoscore.model.tracking.registry import load_pd_model, promote
from innoscore.model.training import train_models
from innoscore.paths import tracking_uri


def pick_decision_firms(records) -> dict[str, int]:
    """One firm per outcome, each the median decision score of its outcome: a typical approve, refer and decline."""
    picks = {}
    for outcome in ("approve", "refer", "decline"):
        rows = np.flatnonzero(records["decision"].to_numpy() == outcome)
        if len(rows):
            picks[outcome] = int(rows[np.argsort(records["decision_score"].to_numpy()[rows])[len(rows) // 2]])
    return picks


def run_demo(n_firms: int, seed: int, out_dir: Path, console: Console, experiment: str | None = None) -> dict:
    catalogue = load_catalogue()
    config = TrainingConfig.load()
    monitoring_config = MonitoringConfig.load()
    out_dir.mkdir(parents=True, exist_ok=True)
    step = 0

    def say(message: str) -> None:
        nonlocal step
        step += 1
        console.print(f"[bold][{step}/7][/] {message}")

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
    policy = load_policy(catalogue=catalogue)
    scores = model.score(test_rows)
    records = scored_firms(test_rows, scores, model, policy=policy)
    picks = pick_decision_firms(records)
    info = ModelInfo(resolved.name, resolved.version, resolved.run_id, result.data_fingerprint, catalogue.version)
    reports = out_dir / "reports"
    written = {}
    search = CounterfactualSearch(model, policy=policy)
    what_it_takes = {kind: search.explain(test_rows.iloc[[pos]], Target(decision="approve"))[0]
                     for kind, pos in picks.items()}
    for kind, pos in picks.items():
        firm = str(test_rows.iloc[pos][catalogue.dataset.firm_id_column])
        for lang in ("zh", "en"):
            path = reports / f"{kind}-{firm}.{lang}.html"
            write_reports(test_rows.iloc[[pos]], model, info, out=path, lang=lang, policy=policy,
                          counterfactuals=[what_it_takes[kind]])
            written[(kind, lang)] = path
    say(f"credit decisions by policy {policy.version} ({policy.fingerprint}) / 审批建议: "
        + ", ".join(f"{records['decision'].eq(k).mean():.0%} {k}" for k in ("approve", "refer", "decline")))
    for kind, pos in picks.items():
        r = records.iloc[pos]
        reasons = "; ".join(r["decision_reasons"]) or "no rule fired / 未触发规则"
        console.print(f"    {r['firm_id']}  {r['decision_en']} / {r['decision_zh']}  PD {100 * r['pd']:.2f}% "
                      f"grade {r['grade']}  limit {r['limit']:,.1f} (CNY 10k, {r['guarantee']})  reasons: {reasons}")
        if kind != "approve":
            console.print(f"      what it would take / 如何获批: {what_it_takes[kind].text_en}")
    for (kind, lang), path in written.items():
        console.print(f"    {kind:<8} {lang}: {_relative(path)}")

    proposed = policy.with_overrides({"tech_innovation_weight": 2 * sum(
        policy.blend.category_weight[c] for c in policy.tech_innovation_categories)})
    past_declines = ~booked(test_rows, catalogue, HistoryPolicy.load())     # as configs/history.yaml would have
    portfolio_view = Portfolio(scores.pd, scores.expert, test_rows, test_rows[catalogue.dataset.target_column]
                               .to_numpy(float), test_rows[catalogue.dataset.truth_column].to_numpy(float),
                               past_declines)
    what = what_if(portfolio_view, catalogue, policy, proposed)
    what["model"] = {"name": resolved.name, "version": resolved.version, "reject_inference": model.reject_inference}
    what_if_path = out_dir / "what-if-tech-innovation.html"
    what_if_path.write_text(render_what_if(what, "What if the tech-innovation share doubles / 科技创新得分权重加倍"),
                            encoding="utf-8")
    (out_dir / "what-if-tech-innovation.json").write_text(json.dumps(what, indent=2, ensure_ascii=False),
                                                            encoding="utf-8")
    cur, new = what["current"], what["proposed"]
    say(f"what-if, tech-innovation share {cur['tech_innovation_weight']:.2f} -> {new['tech_innovation_weight']:.2f} "
        f"/ 政策情景: approval {cur['approval_rate']:.1%} -> {new['approval_rate']:.1%}, default rate of the approved "
        f"book {cur['expected_default_rate']:.2%} -> {new['expected_default_rate']:.2%} (true "
        f"{cur['true_default_rate']:.2%} -> {new['true_default_rate']:.2%}): {_relative(what_if_path)}")
    seg = what["previously_declined"]
    console.print(f"    firms the past policy (configs/history.yaml) declined / 以往被拒企业: {seg['count']:,}, approved "
                  f"{seg['approved_current']:,} -> {seg['approved_proposed']:,}; mean model PD {seg['mean_pd']:.2%} vs true "
                  f"{seg['true_pd']:.2%} (this demo's model saw their outcomes; trained on booked firms alone a model "
                  f"under-states them: docs/reject-inference.md)")
    priced = records[records["decision"] == "approve"]
    console.print(f"    pricing / 定价: approved loans' rate floor {100 * priced['rate_floor'].mean():.2f}% on average "
                  f"({priced['inclusive'].mean():.0%} inclusive, FTP {100 * policy.pricing.ftp_rate:.2f}% less "
                  f"{1e4 * policy.pricing.inclusive_discount:.0f} bp); the book at its floors earns "
                  f"{cur['expected_net_income']:,.0f} (CNY 10k) a year, RAROC {cur['raroc']:.1%} (the hurdle)")

    with console.status("monitoring a later, stressed vintage / 监测"):
        later = generate_portfolio(max(n_firms // 4, 2000), seed=seed + 1, catalogue=catalogue,
                                   scenario="financial_stress").data
        later_path = out_dir / "later-vintage-financial-stress.parquet"
        later.to_parquet(later_path)
        monitored = monitor(observed_data(later_path, model), model, monitoring_config,
                            model_info={"name": resolved.name, "version": resolved.version, "kind": model.kind})
        monitoring_path = out_dir / "monitoring-financial-stress.html"
        monitoring_path.write_text(render_monitoring(monitored, catalogue, "Monitoring a stressed 2025 vintage / "
                                                     "压力情景下的2025年批次监测", monitoring_config), encoding="utf-8")
    named = ", ".join(monitored.alerts().query("kind == 'indicator'")["item"].head(4))
    overall = next(r for r in monitored.backtest.itertuples() if r.grade == "all")
    say(f"monitoring a stressed 2025 vintage / 监测: overall {monitored.light}; drifted: {named}; defaults "
        f"{overall.observed_rate:.2%} against PD {overall.predicted_pd:.2%} (Jeffreys p {overall.jeffreys_p:.1e}): "
        f"{_relative(monitoring_path)}")

    console.print("\n[bold]Where to look / 查看结果[/]")
    console.print(f"  MLflow store      {tracking_uri()}")
    console.print("  MLflow UI         make mlflow-ui   (then open http://127.0.0.1:5000, experiment "
                  f"'{experiment or config.experiment}', select the runs, Compare)")
    console.print(f"  HTTP service      make serve       (serves models:/{name}@{champion})")
    console.print(f"  Reports           {_relative(reports)}")
    return {"result": result, "reports": written, "what_it_takes": what_it_takes, "monitoring": monitored}


def _relative(path: Path) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
