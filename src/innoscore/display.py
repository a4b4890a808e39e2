"""What the CLI and the demo print."""
from __future__ import annotations

from rich.console import Console


def quiet_mlflow() -> None:
    """Keep MLflow's info chatter out of the command output."""
    import logging
    import warnings

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="mlflow")


def print_comparison(console: Console, metrics: dict, title: str) -> None:
    """The out-of-time comparison table: one row per model (and the oracle when known)."""
    from rich.table import Table

    from innoscore.model.evaluation.metrics import HEADLINE_METRICS

    table = Table(title=title)
    table.add_column("model / 模型")
    for w in ("valid", "test"):
        for k in ("auc", "gini", "ks"):
            table.add_column(f"{w} {k}", justify="right")
    for k in ("brier", "log_loss", "ece"):
        table.add_column(f"test {k}", justify="right")
    table.add_column("test AUC 95% CI", justify="right")
    with_oracle = any(m["test"].get("auc_gap_to_oracle") is not None for m in metrics.values())
    if with_oracle:                  # only where a truth exists (a synthetic portfolio)
        table.add_column("test AUC gap to oracle", justify="right")
    for name, m in metrics.items():
        cells = [f"{m[w][k]:.4f}" if m[w].get(k) is not None else "-" for w in ("valid", "test") for k in ("auc", "gini", "ks")]
        cells += [f"{m['test'][k]:.4f}" if m["test"].get(k) is not None else "-" for k in HEADLINE_METRICS[3:]]
        ci = m["test"].get("auc_ci")
        cells.append("-" if ci is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]")
        gap = m["test"].get("auc_gap_to_oracle")
        if with_oracle:
            cells.append("-" if gap is None else f"{gap:+.4f}")
        table.add_row(name, *cells)
    console.print(table)


def print_training_summary(console: Console, result) -> None:
    """The split, models skipped, and the monotone constraints: what the data supports and what it costs."""
    split = result.split_summary
    sizes = ", ".join(f"{w} {split[f'n_{w}']:,} ({split[f'bad_{w}']:,} bad)" for w in ("train", "valid", "test"))
    console.print(f"split / 样本划分: {split['kind']}: {sizes}")
    for kind, why in result.skipped.items():
        console.print(f"skipped / 未训练 {kind}: {why}")
    mono = result.monotonicity
    console.print(f"monotone policy / 单调约束策略: {mono['policy']}; constrained {len(mono['applied'])} feature(s); "
                  f"price in test AUC (unconstrained - constrained) {mono['price_in_test_auc']:+.4f}")
    report = result.monotone
    if report is not None and report["contradicts"].any():
        from rich.table import Table

        table = Table(title="declared direction contradicted by the training data / 数据趋势与声明方向相反")
        for col in ("feature", "declared", "data trend", "Spearman", "p", "constrained"):
            table.add_column(col)
        for feature, r in report[report["contradicts"]].iterrows():
            table.add_row(feature, r["declared"], r["data_trend"], f"{r['spearman']:+.3f}", f"{r['p_value']:.2g}",
                          "yes" if r["applied"] else "no")
        console.print(table)
