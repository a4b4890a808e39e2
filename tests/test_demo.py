"""`make demo`'s job end to end, small: every step runs and leaves what it says it leaves."""
import pytest
from typer.testing import CliRunner

from innoscore.cli import app

pytestmark = pytest.mark.slow


def test_the_demo_runs_end_to_end(tmp_path, monkeypatch):
    from innoscore.model.tracking.store import configure_mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    configure_mlflow()
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["demo", "--n-firms", "8000", "--seed", "42", "--out-dir", str(out)])
    assert result.exit_code == 0, result.output
    assert "[7/7] monitoring a stressed 2025 vintage" in result.output and "overall red" in result.output
    reports = sorted(p.name for p in (out / "reports").glob("*.html"))
    assert len(reports) == 6 and {r.split("-")[0] for r in reports} == {"approve", "refer", "decline"}
    refer = next((out / "reports").glob("refer-*.en.html")).read_text(encoding="utf-8")
    assert "What it would take" in refer and "Credit decision" in refer and "Rate floor" in refer
    assert "pricing / 定价" in result.output and "RAROC 10.0% (the hurdle)" in " ".join(result.output.split())
    for name in ("what-if-tech-innovation.html", "what-if-tech-innovation.json", "monitoring-financial-stress.html"):
        assert (out / name).stat().st_size > 1000, name
