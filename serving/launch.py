"""`bentoml serve`, with this server's own Prometheus folder.

BentoML keeps one multiprocess metrics folder per BENTOML_HOME and empties it at every start: two
servers started from one checkout would share it and wipe each other's counters. `innoscore serve`
runs BentoML's CLI through this module, which gives the server a fresh folder and removes it when
the server ends.
"""
from __future__ import annotations

import atexit
import shutil
import sys
import tempfile


def main(argv: list[str]) -> int:
    from bentoml._internal.configuration.containers import BentoMLContainer
    from bentoml_cli.cli import cli

    directory = tempfile.mkdtemp(prefix="innoscore-metrics-")
    atexit.register(shutil.rmtree, directory, True)
    BentoMLContainer.prometheus_multiproc_dir.set(directory)
    return cli.main(args=argv, prog_name="bentoml", standalone_mode=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
