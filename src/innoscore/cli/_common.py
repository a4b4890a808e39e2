"""What every command module shares: the typer app, the consoles, the options used by several
commands, the fixed choices, and the helpers that load, check and write (one way each)."""
from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from innoscore.display import quiet_mlflow

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


def _write_text(path: Path, text: str) -> None:
    """Write an output file (its folder made if needed); exit 2 with one line if it cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc} / 无法写入")
    console.print(f"wrote {path}")
