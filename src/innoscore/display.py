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
    table.add_column("test AUC gap to oracle", justify="right")
    for name, m in metrics.items():
        cells = [f"{m[w][k]:.4f}" if m[w].get(k) is not None else "-" for w in ("valid", "test") for k in ("auc", "gini", "ks")]
        cells += [f"{m['test'][k]:.4f}" if m["test"].get(k) is not None else "-" for k in HEADLINE_METRICS[3:]]
        gap = m["test"].get("auc_gap_to_oracle")
        cells.append("-" if gap is None else f"{gap:+.4f}")
        table.add_row(name, *cells)
    console.print(table)
