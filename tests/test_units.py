"""The fast tier's golden values: derivation, value formatting, grade band edges, settings errors."""
import math

import numpy as np
import pandas as pd
import pytest
import yaml

from innoscore.features.catalogue import CatalogueError, load_catalogue
from innoscore.features.derive import FeatureConfig, FeatureSet
from innoscore.model.config import TrainingConfig, default_model_uri
from innoscore.model.explanation.reasons import format_value
from innoscore.model.reports.committee import ModelInfo, render_index
from innoscore.paths import DEFAULT_CATALOGUE, DEFAULT_SERVING_CONFIG, DEFAULT_TRAINING_CONFIG
from innoscore.serving.config import ServingConfig
from innoscore.settings import SettingsError


@pytest.fixture
def one_firm(small_portfolio):
    row = small_portfolio.data.head(1).copy()
    row[["revenue", "employees", "debt_ratio"]] = [999.0, 50.0, np.nan]
    return row


def test_derivation_golden_values(one_firm, catalogue):
    fs = FeatureSet(catalogue, TrainingConfig.load().features)
    derived = fs.derive(one_firm)
    feature = dict(zip(fs.names, derived.matrix[0]))
    assert feature["log_revenue"] == pytest.approx(math.log1p(999.0), rel=1e-12)
    assert feature["revenue_per_employee"] == pytest.approx(999.0 / 50.0, rel=1e-12)
    assert feature["missing_debt_ratio"] == 1.0 and math.isnan(feature["debt_ratio"])
    points = dict(zip(catalogue.indicator_ids, derived.points[0]))
    assert points["revenue"] == 0.5          # bins [300, 1000, ...]: 999 earns the second bin
    assert points["employees"] == 1.0        # bins [10, 20, 300]: 50 earns the third
    assert points["debt_ratio"] == 0.0       # missing earns nothing
    assert feature["points_C"] == pytest.approx(sum(points[i.id] for i in catalogue.indicators_in("C")))


def test_the_log_transform_comes_from_the_catalogue_field_not_the_unit(catalogue):
    logged = {f.sources[0] for f in FeatureSet(catalogue).features if f.kind == "log"}
    assert logged == {i.id for i in catalogue.indicators if i.transform == "log"} and "revenue" in logged
    assert not any(f.kind == "log" for f in FeatureSet(catalogue, FeatureConfig(transforms=False)).features)


@pytest.mark.parametrize("indicator, value, zh, en", [
    ("debt_ratio", 0.6543, "65.4%", "65.4%"),
    ("revenue", 1234.5, "1,234.5万元", "1,234.5 CNY 10k"),
    ("employees", 1234.0, "1,234人", "1,234 persons"),
    ("revenue", float("nan"), "未提供", "not provided"),
])
def test_values_are_formatted_as_a_credit_officer_reads_them(catalogue, indicator, value, zh, en):
    ind = catalogue.by_id[indicator]
    assert (format_value(ind, value, "zh"), format_value(ind, value, "en")) == (zh, en)


def test_grade_band_edges(catalogue):
    scale = TrainingConfig.load().grade_scale
    bounds = [g.pd_max for g in scale.grades]
    assert list(scale.assign([0.0, bounds[0], np.nextafter(bounds[0], 1), bounds[-2], 1.0])) == [
        scale.labels[0], scale.labels[0], scale.labels[1], scale.labels[-2], scale.labels[-1]]


def test_meeting_pack_index_renders_links_pd_and_grade():
    page = render_index([{"file": "F1.html", "firm_id": "F1", "pd": 0.01234, "grade": "BBB", "expert": 61.5}],
                        ModelInfo("innoscore-pd", "3", "run", "fp", "v1"), "zh", "违约概率（60个月）")
    assert '<a href="F1.html">F1</a>' in page and "1.23%" in page and "BBB" in page and "授信评审会材料" in page
    assert "违约概率（60个月）" in page


def _write(tmp_path, default, edit, name):
    raw = yaml.safe_load(default.read_text(encoding="utf-8"))
    edit(raw)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("edit, message", [
    (lambda r: r["lightgbm"].update(learning_rat=0.1), "unknown key 'lightgbm.learning_rat' (did you mean 'learning_rate'?)"),
    (lambda r: r.update(experimnt="x"), "unknown key 'experimnt' (did you mean 'experiment'?)"),
    (lambda r: r["lightgbm"].update(calibration="beta"), "lightgbm.calibration"),
    (lambda r: r["split"].update(test_years=0), "split.test_years"),
    (lambda r: r.pop("registry"), "registry: Field required"),
])
def test_a_bad_training_config_is_refused_naming_file_key_and_reason(tmp_path, edit, message):
    path = _write(tmp_path, DEFAULT_TRAINING_CONFIG, edit, "training.yaml")
    with pytest.raises(SettingsError) as err:
        TrainingConfig.load(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_serving_defaults_to_the_champion_that_training_names(tmp_path):
    assert ServingConfig.load().served_model_uri() == default_model_uri() == "models:/innoscore-pd@champion"
    with pytest.raises(SettingsError, match="unknown key 'max_firms'"):
        ServingConfig.load(_write(tmp_path, DEFAULT_SERVING_CONFIG, lambda r: r.update(max_firms=3), "serving.yaml"))


def test_a_transform_on_a_level_indicator_is_refused(tmp_path):
    def edit(raw):
        next(i for i in raw["indicators"] if i["type"] == "ordinal")["transform"] = "log"

    with pytest.raises(CatalogueError, match="transform 'log' applies to numeric and count"):
        load_catalogue(_write(tmp_path, DEFAULT_CATALOGUE, edit, "catalogue.yaml"))


def test_vectorised_expert_points_equal_the_per_indicator_rule(small_portfolio, catalogue):
    """The padded threshold table scores every indicator exactly as `expert_points` does, with and
    without the derived indicator values, missing values and values on the thresholds included."""
    from innoscore.features.derive import FeatureSet
    from innoscore.features.expert_points import expert_points, expert_points_table
    from innoscore.speed import REQUEST_ROWS

    rows = small_portfolio.data.head(500).copy()
    for ind in catalogue.indicators[:12]:
        if ind.bins is not None:
            rows.loc[rows.index[:20], ind.id] = ind.bins.thresholds[0]      # exactly on a threshold
    expected = np.column_stack([expert_points(ind, rows[ind.id].to_numpy()) for ind in catalogue.indicators])
    table = expert_points_table(catalogue)
    assert np.array_equal(table.score(rows), expected)
    assert np.array_equal(table.score(rows, FeatureSet(catalogue).indicator_array(rows)), expected)
    many = pd.concat([rows] * (REQUEST_ROWS // len(rows) + 1), ignore_index=True)   # the batch path
    assert np.array_equal(table.score(many), np.tile(expected, (len(many) // len(rows), 1)))
    assert np.isnan(rows[catalogue.indicator_ids].to_numpy(float)).any()


def test_report_file_names_never_collide_and_never_replace_the_index():
    from innoscore.model.reports.committee import report_file_names

    ids = ["a/b", "a_b", "index", "INDEX.", "F1", "f1", "企业-1", "ok-id", "x" * 300]
    names = report_file_names(ids)
    assert len({n.lower() for n in names}) == len(ids)
    assert "index.html" not in {n.lower() for n in names} and "ok-id.html" in names
    assert all("/" not in n and len(n) < 120 for n in names)
    assert report_file_names(ids) == names                        # stable: links from the index keep working


def test_derivation_is_the_same_from_a_frame_and_from_request_records(small_portfolio, catalogue):
    """The vectorised plan (`FeatureSet.derive`) on the HTTP path's `FirmColumns` equals it on a frame,
    and its missing mask is the rows' own missingness, as received."""
    from innoscore.features.firm_columns import FirmColumns, missing_mask

    frame = small_portfolio.data.head(60).copy()
    rng = np.random.default_rng(3)
    for ind in catalogue.indicator_ids:
        frame.loc[rng.random(len(frame)) < 0.2, ind] = None
    records = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
               for r in frame[["firm_id", *catalogue.indicator_ids]].astype(object).to_dict("records")]
    for config in (TrainingConfig.load().features, FeatureConfig(missing_flags=True, category_points=False)):
        fs = FeatureSet(catalogue, config)
        from_frame, from_records = fs.derive(frame), fs.derive(FirmColumns.from_records(records, catalogue))
        assert np.array_equal(from_frame.matrix, from_records.matrix, equal_nan=True)
        assert np.array_equal(from_frame.points, from_records.points)
        raw = np.column_stack([missing_mask(frame[c].to_numpy()) for c in catalogue.indicator_ids])
        assert np.array_equal(from_frame.missing, raw) and np.array_equal(from_records.missing, raw)
        for k, f in enumerate(fs.features):
            if f.kind == "missing_flag":
                assert np.array_equal(from_frame.matrix[:, k], raw[:, catalogue.indicator_ids.index(f.sources[0])])


def test_peer_shares_of_many_values_equal_searching_each_one():
    from innoscore.model.explanation.reasons import peer_shares_many

    rng = np.random.default_rng(7)
    q = np.sort(np.round(rng.gamma(1.0, size=(101, 40)), 1), axis=0)      # rounded: many ties
    q[:30, 5] = 0.0
    q[:, 7] = np.nan                                                        # an indicator without peers
    values = np.round(rng.gamma(1.0, size=40), 1)
    values[[3, 9]] = [np.nan, q[50, 9]]
    below, above = peer_shares_many(values, q)
    for j in range(40):
        if np.isnan(values[j]) or j == 7:
            assert np.isnan(below[j]) and np.isnan(above[j])
            continue
        lo, hi = np.searchsorted(q[:, j], values[j], "left"), np.searchsorted(q[:, j], values[j], "right")
        assert below[j] == pytest.approx(100 * min(lo, 100) / 100)
        assert above[j] == pytest.approx(min(100 * max(0, 101 - max(hi, 1)) / 100, 100 - below[j]))


def test_the_cli_offers_every_split_kind_and_only_those():
    from innoscore.cli import SplitKind
    from innoscore.model.evaluation.split import SPLIT_KINDS

    assert tuple(k.value for k in SplitKind) == SPLIT_KINDS


def test_the_cli_offers_every_reject_inference_method_and_only_those():
    from innoscore.cli import RejectInference
    from innoscore.model.estimators.reject_inference import METHODS

    assert tuple(k.value for k in RejectInference) == METHODS


def test_per_object_builds_once_per_live_owner_and_forgets_it_when_collected(catalogue):
    """The one cache idiom (innoscore.speed): built once per owner object and arguments, for owners
    pydantic cannot hash, and gone with the owner (the id()-keyed dicts it replaces never emptied)."""
    import gc

    from innoscore.features.catalogue import load_catalogue
    from innoscore.speed import per_object

    built = []

    @per_object
    def table(owner, flag=False):
        built.append((id(owner), flag))
        return [owner.version, flag]

    first = table(catalogue)
    assert table(catalogue) is first and table(catalogue, True) is not first and len(built) == 2
    other = load_catalogue()
    assert table(other) is not first and len(table) == 3
    del other
    gc.collect()
    assert len(table) == 2
