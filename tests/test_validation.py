import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from innoscore.cli import app
from innoscore.features.validation import DataReadError, read_table, validate_frame

runner = CliRunner()


def _invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_good_file_exits_zero(good_csv):
    result = _invoke("validate", "--data", good_csv, "--require-target")
    assert result.exit_code == 0, result.output
    assert "OK: 200 rows" in result.output


def test_generated_parquet_conforms(small_portfolio, catalogue):
    _, report = validate_frame(small_portfolio.data, catalogue, require_target=True)
    assert report.ok, report.to_text()


def _bad(small_portfolio, tmp_path, mutate, name="bad.csv"):
    df = small_portfolio.data.head(50).copy()
    df = mutate(df) if mutate else df
    path = tmp_path / name
    df.to_csv(path, index=False)
    return path


def _at(df, row, col, value):
    df[col] = df[col].astype(object)
    df.loc[row, col] = value
    return df


@pytest.mark.parametrize("mutate, firm, column, reason", [
    (lambda d: d.drop(columns=["debt_ratio"]), None, "debt_ratio", "missing required column"),
    (lambda d: _at(d, 3, "revenue", "lots"), "F0000004", "revenue", "not a number"),
    (lambda d: _at(d, 5, "debt_ratio", 7.5), "F0000006", "debt_ratio", "out of range [0, 3]"),
    (lambda d: _at(d, 7, "tax_credit_grade", 9), "F0000008", "tax_credit_grade", "unknown level"),
    (lambda d: _at(d, 9, "firm_id", "F0000001"), "F0000001", "firm_id", "duplicate firm id"),
    (lambda d: _at(d, 2, "invention_patents", 2.5), "F0000003", "invention_patents", "whole number"),
    (lambda d: _at(d, 4, "application_date", "31/31/2020"), "F0000005", "application_date", "not a valid date"),
    (lambda d: _at(d, 6, "default_12m", 3), "F0000007", "default_12m", "neither bad nor good"),
    (lambda d: _at(d, 8, "firm_id", None), None, "firm_id", "missing value not allowed"),
])
def test_each_kind_of_bad_data_is_named_with_exit_2(small_portfolio, tmp_path, mutate, firm, column, reason):
    path = _bad(small_portfolio, tmp_path, mutate)
    result = _invoke("validate", "--data", path, "--require-target")
    assert result.exit_code == 2, result.output
    line = next((ln for ln in result.output.splitlines() if f"column {column}" in ln), None)
    assert line is not None, result.output
    assert reason in line
    if firm:
        assert f"firm {firm}" in line
    assert "Traceback" not in result.output


def test_empty_and_unreadable_files_exit_2(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    header_only = tmp_path / "header.csv"
    header_only.write_text("firm_id,debt_ratio\n", encoding="utf-8")
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"\x00not parquet at all")
    for path, message in [(empty, "empty"), (header_only, "no rows"), (garbage, "cannot read"),
                          (tmp_path / "missing.csv", "not found"), (tmp_path / "x.xlsx", "not found")]:
        result = _invoke("validate", "--data", path)
        assert result.exit_code == 2, (path, result.output)
        assert message in result.output, result.output


def test_a_last_line_without_a_line_end_is_a_problem_unless_accepted(good_csv, tmp_path):
    cut = tmp_path / "cut.csv"
    cut.write_text(good_csv.read_text().rstrip("\n"))
    lines = cut.read_text().count("\n") + 1
    result = _invoke("validate", "--data", cut)
    assert result.exit_code == 2 and f"line {lines}" in result.output and "no line end" in result.output
    assert _invoke("validate", "--data", cut, "--accept-unterminated").exit_code == 0
    with pytest.raises(DataReadError, match="no line end"):
        read_table(cut)
    assert len(read_table(cut, accept_unterminated=True)) == 200
    assert len(read_table(good_csv)) == 200


def test_a_gbk_csv_reads_as_its_utf8_twin_and_a_semicolon_csv_gets_a_hint(small_portfolio, tmp_path):
    """Issue #24 row 13: GBK (what Chinese banks' systems export) was a bare UnicodeDecodeError; a
    `;`-separated file was a 44-item missing-column list."""
    data = small_portfolio.data.head(50)
    utf8, gbk, semi = tmp_path / "utf8.csv", tmp_path / "gbk.csv", tmp_path / "semi.csv"
    data.to_csv(utf8, index=False)
    data.to_csv(gbk, index=False, encoding="gbk")
    data.to_csv(semi, index=False, sep=";")
    assert read_table(gbk).equals(read_table(utf8)) and (read_table(gbk)["industry"] == data["industry"]).all()
    assert _invoke("validate", "--data", gbk).exit_code == 0
    result = _invoke("validate", "--data", semi)
    assert result.exit_code == 2 and "';'-separated" in result.output.replace("\n", "")


def test_large_files_are_capped_and_summarised(small_portfolio, tmp_path):
    df = small_portfolio.data.copy()
    df["debt_ratio"] = 9.0
    path = tmp_path / "many.parquet"
    df.to_parquet(path)
    result = _invoke("validate", "--data", path, "--max-listed", 10)
    assert result.exit_code == 2
    assert f"{len(df)} problem(s)" in result.output
    assert f"debt_ratio: out_of_range x{len(df)}" in result.output
    assert result.output.count("out of range [0, 3]") == 10


def test_rows_with_problems_are_reported_for_rejects(small_portfolio, catalogue):
    df = small_portfolio.data.head(100).copy()
    df.loc[[10, 20], "current_ratio"] = -1.0
    _, report = validate_frame(df, catalogue)
    assert list(report.bad_rows) == [10, 20]
    assert not report.whole_file


def test_read_table_rejects_unknown_suffix(tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(DataReadError, match="unsupported file type"):
        read_table(path)


def test_console_command_exit_code(tmp_path, small_portfolio):
    path = _bad(small_portfolio, tmp_path, lambda d: _at(d, 0, "debt_ratio", -2))
    proc = subprocess.run([Path(sys.executable).with_name("innoscore"), "validate", "--data", path],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "firm F0000001 · column debt_ratio · out of range" in proc.stderr


@pytest.mark.slow  # randomised: thousands of perturbed rows through both executions
def test_fast_rule_check_agrees_with_pandera(small_portfolio, catalogue):
    """The vectorised check may skip pandera only when pandera would find nothing: for random
    single-cell edits (in range, out of range, fractional, missing, unknown level, duplicate id)
    both must agree on every frame."""
    from pandera.errors import SchemaErrors

    from innoscore.features.rules import rules_and_schema, rules_hold
    from innoscore.features.validation import coerce_frame

    rules, schema = rules_and_schema(catalogue, False)
    base, _ = coerce_frame(small_portfolio.data.head(40), catalogue)
    rng = np.random.default_rng(7)
    edits = {"ok": 0, "bad": 0}
    for _ in range(300):
        df = base.copy()
        ind = catalogue.indicators[rng.integers(len(catalogue.indicators))]
        row = int(rng.integers(len(df)))
        kind = rng.choice(["resample", "nan", "low", "high", "fraction", "level", "dup"])
        if kind == "resample":
            df.loc[row, ind.id] = df[ind.id].iloc[int(rng.integers(len(df)))]
        elif kind == "nan":
            df.loc[row, ind.id] = np.nan
        elif kind in ("low", "high") and ind.valid_range is not None:
            low, high = ind.valid_range
            df.loc[row, ind.id] = (low - 1.0) if kind == "low" else (high + 1.0)
        elif kind == "fraction" and ind.type in ("count", "boolean"):
            df.loc[row, ind.id] = 0.5
        elif kind == "level" and ind.type == "ordinal":
            df.loc[row, ind.id] = max(ind.level_values) + 7
        elif kind == "dup":
            df.loc[row, "firm_id"] = df["firm_id"].iloc[(row + 1) % len(df)]
        try:
            schema.validate(df, lazy=True)
            pandera_ok = True
        except SchemaErrors:
            pandera_ok = False
        assert rules_hold(df, rules) == pandera_ok, (kind, ind.id, row)
        edits["ok" if pandera_ok else "bad"] += 1
    assert edits["ok"] > 50 and edits["bad"] > 50, edits


def test_clean_frames_skip_pandera_but_bad_ones_are_still_reported(small_portfolio, catalogue):
    clean = small_portfolio.data.head(1)
    _, report = validate_frame(clean, catalogue)
    assert report.ok
    bad = clean.copy()
    bad["debt_ratio"] = 1e9
    _, report = validate_frame(bad, catalogue)
    assert [(p.column, p.code) for p in report.problems] == [("debt_ratio", "out_of_range")]


def test_encoding_option_reads_a_declared_encoding_and_refuses_an_unknown_one(small_portfolio, tmp_path):
    """Issue #24 row 13: `--encoding` names the file's encoding instead of detecting it; an unknown
    name, or a file that does not decode in the declared one, is a clear exit 2."""
    data = small_portfolio.data.head(30)
    gbk = tmp_path / "gbk.csv"
    data.to_csv(gbk, index=False, encoding="gbk")
    assert data["industry"].str.contains("[^\\x00-\\x7f]").any()          # text that differs between encodings
    assert _invoke("validate", "--data", gbk, "--encoding", "gbk").exit_code == 0
    result = _invoke("validate", "--data", gbk, "--encoding", "no-such-codec")
    assert result.exit_code == 2 and "unknown encoding 'no-such-codec'" in result.output
    result = _invoke("validate", "--data", gbk, "--encoding", "utf-8")      # declared wrong: read error, no trace
    assert result.exit_code == 2 and "Traceback" not in result.output and "cannot read" in result.output
