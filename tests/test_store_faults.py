"""Commands that read the registry fail fast, in one line, when the store is missing or broken; none
creates an empty registry where a store was expected."""
import time

import pytest
from typer.testing import CliRunner

from innoscore.cli import app

runner = CliRunner()


def _missing(tmp_path):
    return f"sqlite:///{tmp_path}/none.db", "no MLflow store"


def _folder(tmp_path):
    (tmp_path / "d.db").mkdir()
    return f"sqlite:///{tmp_path}/d.db", "is not a file"


def _corrupt(tmp_path):
    (tmp_path / "c.db").write_bytes(b"\x00garbage" * 500)
    return f"sqlite:///{tmp_path}/c.db", "not a readable MLflow database"


def _not_mlflow(tmp_path):
    import sqlite3

    with sqlite3.connect(tmp_path / "other.db") as db:
        db.execute("CREATE TABLE t (x)")
    return f"sqlite:///{tmp_path}/other.db", "not an MLflow store"


def _unreachable(tmp_path):
    return "http://127.0.0.1:9", "does not answer"


@pytest.mark.parametrize("make", [_missing, _folder, _corrupt, _not_mlflow, _unreachable])
@pytest.mark.parametrize("command", [["serve", "--port", "3999"], ["score", "--data", "x.csv", "--out", "y.parquet"],
                                     ["promote", "--name", "innoscore-pd", "--version", "1"]])
def test_a_broken_store_is_one_clear_line_in_seconds(tmp_path, monkeypatch, make, command):
    uri, text = make(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    t0 = time.time()
    result = runner.invoke(app, command)
    assert result.exit_code == 2 and text in result.output, result.output
    assert "Traceback" not in result.output and time.time() - t0 < 15
    assert not (tmp_path / "none.db").exists()
