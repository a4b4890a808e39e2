"""`innoscore`: a thin command line over the functions the notebooks call too, one module per stage
(data, train, explain, score, monitor, serve, policy, demo), each registering its commands on the one
typer app of `innoscore.cli._common`."""
from __future__ import annotations

import sys

from innoscore.cli import data, train, explain, score, monitor, serve, policy, demo  # noqa: F401  (registers)
from innoscore.cli._common import Engine, Lang, Light, RejectInference, SplitKind, app

__all__ = ["app", "main", "Engine", "Lang", "Light", "RejectInference", "SplitKind"]


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
