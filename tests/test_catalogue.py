from pathlib import Path

import numpy as np
import pytest
import yaml

from innoscore.features.catalogue import CatalogueError, MissingMeaning, load_catalogue
from innoscore.features.expert_points import expert_points
from innoscore.paths import DEFAULT_CATALOGUE


def test_catalogue_has_44_indicators_in_4_categories_worth_100_points(catalogue):
    assert len(catalogue.indicators) == 44
    assert catalogue.category_ids == ["A", "B", "C", "D"]
    assert catalogue.max_points == pytest.approx(100)
    per_category = {c: len(catalogue.indicators_in(c)) for c in catalogue.category_ids}
    assert per_category == {"A": 11, "B": 14, "C": 10, "D": 9}
    for cat in catalogue.categories:
        assert sum(i.points for i in catalogue.indicators_in(cat.id)) == pytest.approx(cat.points)


def test_every_indicator_is_bilingual_and_scorable(catalogue):
    for ind in catalogue.indicators:
        assert ind.name_zh and ind.name_en and ind.unit.zh and ind.unit.en
        assert any("\u4e00" <= ch <= "\u9fff" for ch in ind.name_zh), ind.id
        best = expert_points(ind, np.array([ind.valid_range[0], ind.valid_range[1]]))
        assert best.max() <= ind.points + 1e-9


def test_dataset_columns_are_named(catalogue):
    ds = catalogue.dataset
    assert (ds.firm_id_column, ds.date_column, ds.target_column) == ("firm_id", "application_date", "default_12m")


@pytest.mark.parametrize("value, points", [(0.01, 0.0), (0.02, 0.8), (0.045, 2.4), (0.055, 3.2), (0.06, 4.0), (0.5, 4.0)])
def test_expert_points_follow_the_most_rd_intensity_table(catalogue, value, points):
    assert expert_points(catalogue.by_id["rd_intensity"], np.array([value]))[0] == pytest.approx(points)


def test_missing_earns_zero_points_or_is_scored_as_zero(catalogue):
    debt = catalogue.by_id["debt_ratio"]
    assert expert_points(debt, np.array([np.nan]))[0] == 0.0
    penalty = catalogue.by_id["admin_penalty_abnormal"]  # missing means "no penalty" -> full point
    assert penalty.missing is MissingMeaning.zero
    assert expert_points(penalty, np.array([np.nan]))[0] == 1.0


def _broken(tmp_path: Path, edit) -> Path:
    raw = yaml.safe_load(DEFAULT_CATALOGUE.read_text(encoding="utf-8"))
    edit(raw)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def _indicator(raw, ind_id):
    return next(i for i in raw["indicators"] if i["id"] == ind_id)


@pytest.mark.parametrize("edit, message", [
    (lambda r: r["indicators"].append(dict(_indicator(r, "debt_ratio"))), "duplicate indicator id"),
    (lambda r: _indicator(r, "debt_ratio").update(category="Z"), "unknown category 'Z'"),
    (lambda r: _indicator(r, "debt_ratio").update(points=4), "debt_ratio"),
    (lambda r: r["categories"][0].update(points=30), "category 'A' declares 30"),
    (lambda r: _indicator(r, "current_ratio")["bins"].update(thresholds=[1.5, 1, 2]), "not strictly increasing"),
    (lambda r: _indicator(r, "current_ratio")["bins"].update(points=[0, 2]), "need 4 bin points"),
    (lambda r: _indicator(r, "revenue").update(direction="sideways"), "revenue"),
    (lambda r: _indicator(r, "tax_credit_grade").pop("levels"), "needs 'levels'"),
    (lambda r: r.update(total_points=120), "not 120"),
    (lambda r: _indicator(r, "revenue").update(weight=3), "weight"),
])
def test_a_broken_catalogue_fails_with_a_clear_message(tmp_path, edit, message):
    with pytest.raises(CatalogueError, match="invalid") as info:
        load_catalogue(_broken(tmp_path, edit))
    assert message in str(info.value)


def test_unreadable_catalogue_files(tmp_path):
    with pytest.raises(CatalogueError, match="not found"):
        load_catalogue(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("indicators: [unclosed", encoding="utf-8")
    with pytest.raises(CatalogueError, match="not valid YAML"):
        load_catalogue(bad)
