"""The notebooks run top to bottom (in reading order, sharing one MLflow store) and are committed without outputs."""
import json

import nbformat
import pytest
from nbclient import NotebookClient

from innoscore.paths import checkout_root

NOTEBOOKS = sorted((checkout_root() / "notebooks").glob("*.ipynb"))
pytestmark = pytest.mark.slow


def test_notebooks_are_committed_without_outputs():
    assert [p.name for p in NOTEBOOKS] == ["01-indicators-and-portfolio.ipynb", "02-train-and-compare.ipynb",
                                           "03-explain-for-the-committee.ipynb", "04-policy-what-if.ipynb",
                                           "05-monitoring.ipynb"]
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, f"{path.name} has outputs"


def test_notebooks_run_top_to_bottom(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "bentoml"))
    monkeypatch.setenv("INNOSCORE_NB_FIRMS", "8000")
    monkeypatch.setenv("INNOSCORE_NB_TRIALS", "1")
    monkeypatch.setenv("INNOSCORE_NB_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        assert not errors, f"{path.name}: {errors}"
