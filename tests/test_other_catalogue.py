"""A different, smaller catalogue over a differently shaped dataset trains, logs and registers
with no code change: other column names, 2 categories, 6 indicators including a categorical one."""
import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from innoscore.cli import app
from innoscore.features.catalogue import load_catalogue
from innoscore.model.tracking.registry import load_pd_model
from tests.conftest import small_training_config

pytestmark = pytest.mark.slow
runner = CliRunner()

CATALOGUE = {
    "version": "test-1", "name_zh": "测试目录", "name_en": "test catalogue", "total_points": 10,
    "dataset": {"id_column": "company_code", "date_column": "obs_date", "target_column": "bad_flag"},
    "categories": [{"id": "tech", "name_zh": "技术", "name_en": "technology", "points": 5},
                   {"id": "fin", "name_zh": "财务", "name_en": "finance", "points": 5}],
    "indicators": [
        {"id": "patents", "name_zh": "专利数", "name_en": "patents", "category": "tech", "type": "count",
         "unit": {"zh": "件", "en": "patents"}, "valid_range": [0, 500], "direction": "higher_better",
         "points": 2, "bins": {"thresholds": [1, 5], "points": [0, 1, 2]}},
        {"id": "certified", "name_zh": "高企认定", "name_en": "certified", "category": "tech", "type": "boolean",
         "unit": {"zh": "是/否", "en": "yes/no"}, "valid_range": [0, 1], "missing": "zero",
         "direction": "higher_better", "points": 1, "bins": {"thresholds": [1], "points": [0, 1]}},
        {"id": "sector", "name_zh": "行业", "name_en": "sector", "category": "tech", "type": "categorical",
         "unit": {"zh": "类", "en": "class"}, "direction": "non_monotone", "points": 2,
         "levels": [{"value": "chip", "zh": "芯片", "en": "chips"}, {"value": "bio", "zh": "生物", "en": "bio"},
                    {"value": "soft", "zh": "软件", "en": "software"}],
         "level_points": {"chip": 2, "bio": 1, "soft": 0}},
        {"id": "leverage", "name_zh": "杠杆", "name_en": "leverage", "category": "fin", "type": "numeric",
         "unit": {"zh": "比率", "en": "ratio"}, "valid_range": [0, 2], "direction": "higher_worse",
         "points": 3, "bins": {"thresholds": [0.5, 0.8], "points": [3, 1, 0]}},
        {"id": "late_payments", "name_zh": "逾期次数", "name_en": "late payments", "category": "fin",
         "type": "count", "unit": {"zh": "次", "en": "events"}, "valid_range": [0, 50], "missing": "not_allowed",
         "direction": "higher_worse", "points": 1, "bins": {"thresholds": [1], "points": [1, 0]}},
        {"id": "rating", "name_zh": "内部评级", "name_en": "internal rating", "category": "fin", "type": "ordinal",
         "unit": {"zh": "级", "en": "level"}, "valid_range": [1, 3], "direction": "higher_better", "points": 1,
         "levels": [{"value": 1, "zh": "差", "en": "poor"}, {"value": 2, "zh": "中", "en": "fair"},
                    {"value": 3, "zh": "好", "en": "good"}],
         "bins": {"thresholds": [2, 3], "points": [0, 0.5, 1]}},
    ],
}


def make_dataset(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    leverage = rng.beta(2, 3, n) * 1.4
    late = rng.poisson(0.3 + leverage, n)
    patents = rng.poisson(3, n)
    sector = rng.choice(["chip", "bio", "soft"], n)
    rating = rng.integers(1, 4, n)
    logit = -3.2 + 2.0 * leverage * (1 + late) - 0.2 * np.log1p(patents) - 0.4 * rating + (sector == "bio") * 0.5
    return pd.DataFrame({
        "company_code": [f"C-{i}" for i in range(n)],
        "obs_date": pd.to_datetime(rng.choice(["2021-06-30", "2022-06-30", "2023-06-30", "2024-06-30"], n)),
        "patents": np.where(rng.random(n) < 0.1, np.nan, patents), "certified": rng.integers(0, 2, n),
        "sector": sector, "leverage": leverage, "late_payments": late, "rating": rating,
        "bad_flag": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int),
    })


def test_other_catalogue_trains_logs_and_registers(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    cat_path = tmp_path / "catalogue.yaml"
    cat_path.write_text(yaml.safe_dump(CATALOGUE, allow_unicode=True), encoding="utf-8")
    data_path = tmp_path / "firms.csv"
    make_dataset(12_000, seed=1).to_csv(data_path, index=False)
    assert runner.invoke(app, ["validate", "--data", str(data_path), "--catalogue", str(cat_path)]).exit_code == 0
    config = small_training_config(tmp_path, n_trials=1, lightgbm="alt-pd", expert_scorecard="alt-expert",
                                   woe_scorecard="alt-woe")
    result = runner.invoke(app, ["train", "--data", str(data_path), "--catalogue", str(cat_path),
                                 "--config", str(config), "--experiment", "alt", "--metrics-out",
                                 str(tmp_path / "m.json")])
    assert result.exit_code == 0, result.output
    metrics = pd.read_json(tmp_path / "m.json", typ="series")
    assert "oracle" not in metrics["models"]
    assert metrics["split"]["test_years"] == [2024]
    assert metrics["models"]["lightgbm"]["test"]["auc"] > 0.65

    wrapper, version = load_pd_model("models:/alt-pd@challenger")
    rows = pd.read_csv(data_path).tail(200)
    cat = load_catalogue(cat_path)
    served = mlflow.pyfunc.load_model("models:/alt-pd@challenger").predict(rows[["company_code", *cat.indicator_ids]])
    np.testing.assert_allclose(served["pd"], wrapper.predict_pd(rows), atol=1e-12)
    assert served["company_code"].tolist() == rows["company_code"].tolist()
    assert load_pd_model("models:/alt-expert@challenger")[1].tags["model_kind"] == "expert_scorecard"
