"""Batch scoring: streamed local engine, Dask engine with the same answers, rejects, safe outputs."""
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from innoscore.cli import app
from innoscore.model.scoring.score import score_frame
from innoscore.model.tracking.registry import load_pd_model

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture(scope="module")
def batch_input(_trained_session, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("batch")
    data = _trained_session["data"].head(4000).copy()
    data["debt_ratio"] = data["debt_ratio"].astype(object)
    data.loc[7, "debt_ratio"] = 9.0
    data.loc[3001, "debt_ratio"] = "lots"
    data.loc[3500, "firm_id"] = data.loc[10, "firm_id"]  # the same firm in two different chunks
    path = tmp / "firms.csv"
    data.to_csv(path, index=False)
    return tmp, path, data


def _score(*args):
    return runner.invoke(app, ["score", "--model-uri", "models:/innoscore-pd@challenger", *map(str, args)])


def test_local_engine_scores_in_chunks_and_rejects_bad_rows(trained, batch_input, catalogue):
    tmp, path, data = batch_input
    out = tmp / "local.parquet"
    result = _score("--data", path, "--out", out, "--chunk-rows", 1000)
    assert result.exit_code == 0, result.output
    assert "3,996 scored" in result.output and "4 rejected" in result.output
    scored = pd.read_parquet(out)
    rejects = pd.read_parquet(tmp / "local.rejects.parquet").set_index("firm_id")
    assert sorted(rejects.index) == sorted(data.loc[[7, 3001, 10, 3500], "firm_id"])
    for row, reason, reason_zh in ((7, "debt_ratio: out of range", "超出有效范围"),
                                   (3001, "debt_ratio: not a number", "不是数值"),
                                   (10, "firm_id: duplicate firm id", "企业编号重复")):
        firm = data.loc[row, "firm_id"]
        assert rejects.loc[[firm], "reasons"].str.contains(reason).all(), rejects.loc[[firm]]
        assert rejects.loc[[firm], "reasons_zh"].str.contains(reason_zh).all()
    assert not set(scored["firm_id"]) & set(rejects.index)
    wrapper, _ = load_pd_model("models:/innoscore-pd@challenger")
    good = data.drop(index=[7, 3001, 10, 3500])
    good = good.assign(debt_ratio=good["debt_ratio"].astype(float))
    expected = score_frame(good, wrapper)
    np.testing.assert_allclose(scored["pd"].to_numpy(), expected["pd"].to_numpy(), atol=1e-12)
    assert (scored["grade"].to_numpy() == expected["grade"].to_numpy()).all()
    assert not scored["pd"].isna().any()


def test_dask_engine_equals_local_engine_exactly(trained, batch_input):
    tmp, path, _ = batch_input
    local, distributed = tmp / "explained.parquet", tmp / "explained_dask"
    assert _score("--data", path, "--out", local, "--explain", "--top-k", 3).exit_code == 0
    result = _score("--data", path, "--out", distributed, "--explain", "--top-k", 3, "--engine", "dask")
    assert result.exit_code == 0, result.output
    a, b = pd.read_parquet(local), pd.read_parquet(distributed)
    pd.testing.assert_frame_equal(a.sort_values("firm_id").reset_index(drop=True),
                                  b.sort_values("firm_id").reset_index(drop=True))
    assert {"contribution_A", "contribution_D", "top_risk_indicators"} <= set(a.columns)
    assert a["top_risk_indicators"].map(len).max() <= 3
    rej_a = pd.read_parquet(tmp / "explained.rejects.parquet")
    rej_b = pd.read_parquet(tmp / "explained_dask.rejects.parquet")
    assert sorted(rej_a["firm_id"]) == sorted(rej_b["firm_id"])


def test_unscorable_input_fails_clearly_and_keeps_the_previous_output(trained, batch_input):
    tmp, path, data = batch_input
    out = tmp / "keep.parquet"
    assert _score("--data", path, "--out", out).exit_code == 0
    before = out.read_bytes()
    broken = tmp / "no_debt_ratio.csv"
    data.drop(columns=["debt_ratio"]).to_csv(broken, index=False)
    result = _score("--data", broken, "--out", out)
    assert result.exit_code == 2 and "debt_ratio" in result.output and "missing required column" in result.output
    assert out.read_bytes() == before
    missing = _score("--data", tmp / "nope.parquet", "--out", out)
    assert missing.exit_code == 2 and "not found" in missing.output
    bad_engine = _score("--data", path, "--out", out, "--engine", "spark")
    assert bad_engine.exit_code == 2 and "'spark' is not one of 'local', 'dask'" in " ".join(bad_engine.output.replace("│", " ").split())


def test_repeated_hashes_across_chunks():
    from innoscore.model.scoring.batch import repeated_hashes

    rng = np.random.default_rng(3)
    chunks = [rng.integers(0, 2**63, 5000, dtype=np.uint64) for _ in range(4)]
    chunks[3][:2] = [chunks[0][17], chunks[2][4000]]
    chunks[1][9] = chunks[1][10]
    expected = sorted({int(chunks[0][17]), int(chunks[2][4000]), int(chunks[1][10])})
    assert sorted(int(v) for v in repeated_hashes(iter(chunks))) == expected
    assert len(repeated_hashes(iter([np.arange(10, dtype=np.uint64)]))) == 0
    one_chunk = np.concatenate(chunks)                  # a single chunk is checked without spilling
    assert sorted(int(v) for v in repeated_hashes(iter([one_chunk]))) == expected
    assert len(repeated_hashes(iter([]))) == 0


def test_lines_with_too_few_or_too_many_fields_are_rejected_by_line_number(trained, batch_input):
    """A truncated line was scored as a firm with missing indicators, and a long one aborted the file."""
    tmp, path, data = batch_input
    lines = path.read_text().splitlines()
    lines[5] = ",".join(lines[5].split(",")[:10])            # line 6 of the file: firm in data row 4
    lines[9] = lines[9] + ",1,2,3"                             # line 10: data row 8
    broken = tmp / "broken.csv"
    broken.write_text("\n".join(lines) + "\n")
    validated = runner.invoke(app, ["validate", "--data", str(broken)])
    assert validated.exit_code == 2 and "line 6" in validated.output and "line 10" in validated.output
    result = _score("--data", broken, "--out", tmp / "broken.v1.parquet")
    assert result.exit_code == 0, result.output
    rejects = pd.read_parquet(tmp / "broken.v1.rejects.parquet")
    by_line = rejects[rejects["reasons"].str.startswith("line ")]
    assert by_line["reasons"].str.extract(r"line (\d+)")[0].astype(int).tolist() == [6, 10]
    assert "10 fields where the header has" in by_line["reasons"].iloc[0] and "第6行" in by_line["reasons_zh"].iloc[0]
    assert by_line["firm_id"].tolist() == data.loc[[4, 8], "firm_id"].tolist()     # the id, read from the line
    scored = pd.read_parquet(tmp / "broken.v1.parquet")
    assert not set(scored["firm_id"]) & set(data.loc[[4, 8], "firm_id"])
    reference = pd.read_parquet(tmp / "local.parquet").set_index("firm_id")      # the same rows, scored intact
    np.testing.assert_allclose(scored.set_index("firm_id")["pd"], reference.loc[scored["firm_id"], "pd"], atol=1e-12)
    dask = _score("--data", broken, "--out", tmp / "broken_dask", "--engine", "dask")
    assert dask.exit_code == 2 and "line 6" in dask.output and "--engine local" in dask.output


def test_a_file_cut_inside_its_last_value_is_not_scored_silently(trained, batch_input):
    """Issue #24 row 4: revenue 220.9 cut to 22 kept the header's field count and was scored."""
    tmp, path, data = batch_input
    text = path.read_text()
    cut = tmp / "cut.csv"
    cut.write_text(text.rstrip("\n")[:-1])                  # the last value loses its last character
    last_line = text.count("\n")                            # the header is line 1; the text ends with a line end
    result = _score("--data", cut, "--out", tmp / "cut.parquet")
    assert result.exit_code == 0, result.output
    rejects = pd.read_parquet(tmp / "cut.rejects.parquet")
    row = rejects[rejects["reasons"].str.startswith(f"line {last_line}:")]
    assert len(row) == 1 and "no line end" in row["reasons"].iloc[0] and "截断" in row["reasons_zh"].iloc[0]
    assert row["firm_id"].iloc[0] == data["firm_id"].iloc[-1]
    assert data["firm_id"].iloc[-1] not in set(pd.read_parquet(tmp / "cut.parquet")["firm_id"])
    accepted = _score("--data", cut, "--out", tmp / "cut_ok.parquet", "--accept-unterminated")
    assert accepted.exit_code == 0 and data["firm_id"].iloc[-1] in set(pd.read_parquet(tmp / "cut_ok.parquet")["firm_id"])
    dask = _score("--data", cut, "--out", tmp / "cut_dask", "--engine", "dask")
    assert dask.exit_code == 2 and f"line {last_line}" in dask.output


def test_rejects_are_named_after_the_whole_output_and_unwritable_outputs_fail_cleanly(trained, batch_input):
    tmp, path, _ = batch_input
    small = tmp / "small.csv"
    pd.read_csv(path).head(300).to_csv(small, index=False)
    for name in ("scores.v1.parquet", "scores.v2.parquet"):
        assert _score("--data", small, "--out", tmp / name).exit_code == 0
    assert (tmp / "scores.v1.rejects.parquet").exists() and (tmp / "scores.v2.rejects.parquet").exists()
    not_a_folder = tmp / "a-file"
    not_a_folder.write_text("x")
    result = _score("--data", small, "--out", not_a_folder / "out.parquet")
    assert result.exit_code == 2 and "cannot write" in result.output and "Traceback" not in result.output


def test_sigterm_leaves_no_partial_file(trained, batch_input, _trained_session, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    big = tmp_path / "big.parquet"
    pd.concat([_trained_session["data"]] * 4, ignore_index=True).assign(
        firm_id=lambda d: [f"F{i}" for i in range(len(d))]).to_parquet(big)
    out = tmp_path / "out.parquet"
    innoscore = Path(sys.executable).with_name("innoscore")
    proc = subprocess.Popen([str(innoscore), "score", "--model-uri", "models:/innoscore-pd@challenger", "--data",
                             str(big), "--out", str(out), "--chunk-rows", "1000", "--explain"],
                            env={**os.environ, "MLFLOW_TRACKING_URI": _trained_session["uri"]},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while not list(tmp_path.glob("*.partial")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert list(tmp_path.glob("*.partial")), "scoring finished before it could be stopped"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    assert not list(tmp_path.glob("*.partial")) and not out.exists()


def test_text_hashes_depend_on_the_text_alone(monkeypatch):
    """Equal ids hash equal however they arrive (Arrow or Python strings, sliced, hashed in small
    blocks); 200k distinct ids, of every length and script, hash apart."""
    from innoscore.model.scoring import text_hash

    rng = np.random.default_rng(5)
    alphabet = np.array(list("ABCxyz0189-_/ 中文企业编号é"), dtype=object)
    ids = {"", "a", "ab", "ba", "a\x00", "中文", "F0000001", "x" * 500}
    while len(ids) < 200_000:
        ids.add("".join(rng.choice(alphabet, int(rng.integers(1, 30)))))
    texts = pd.Series(sorted(ids), dtype=str)
    hashes = text_hash.text_hashes(texts)
    assert hashes.dtype == np.uint64 and len(np.unique(hashes)) == len(texts)
    monkeypatch.setattr(text_hash, "BLOCK_BYTES", 7)
    sample = texts.sample(2000, random_state=1)
    for same in (sample, sample.astype(object), sample.iloc[1:], pd.concat([sample, sample])):
        np.testing.assert_array_equal(text_hash.text_hashes(same), hashes[same.index.to_numpy()])
    assert len(text_hash.text_hashes(pd.Series([], dtype=str))) == 0
