"""Batch scoring for large files: streamed in chunks on one machine, or per partition on Dask.

Both engines run `score_chunk` on each piece, so their answers are the same. Rows that fail the
catalogue's validation go to a rejects file with their reasons; nothing is dropped silently.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from features.validation import DataReadError, validate_frame
from model.expert_scorecard import category_points
from model.explanation import explain


class BatchInputError(ValueError):
    """The input cannot be scored at all (unreadable, or a required column is missing)."""


@dataclass
class BatchSummary:
    rows_in: int = 0
    scored: int = 0
    rejected: int = 0
    out: Path | None = None
    rejects: Path | None = None


def rejects_path(out: Path) -> Path:
    return out.with_name(out.name.split(".")[0] + ".rejects.parquet")


def iter_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """CSV or Parquet (a file or a folder of parts) in pieces of about `chunk_rows` rows."""
    path = Path(path)
    if not path.exists():
        raise DataReadError(f"data file not found: {path}")
    try:
        if path.is_dir():
            # No read-ahead: memory then holds one chunk at a time, whatever the number of parts.
            for batch in pads.dataset(path, format="parquet").to_batches(batch_size=chunk_rows, batch_readahead=0,
                                                                         fragment_readahead=0):
                yield batch.to_pandas()
        elif path.suffix.lower() in (".parquet", ".pq"):
            for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
                yield batch.to_pandas()
        elif path.suffix.lower() in (".csv", ".gz", ".txt"):
            yield from pd.read_csv(path, chunksize=chunk_rows, low_memory=False)
        else:
            raise DataReadError(f"unsupported file type '{path.suffix}' for {path}: use .csv or .parquet")
    except (pa.ArrowInvalid, OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataReadError(f"cannot read {path}: {type(exc).__name__}: {str(exc)[:200]}") from None


def score_chunk(frame: pd.DataFrame, wrapper, with_explanations: bool = False, top_k: int = 5
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scored rows and rejected rows (firm id, row, reasons) of one piece of input."""
    catalogue = wrapper.catalogue
    id_col = catalogue.dataset.id_column
    frame = frame.reset_index(drop=True)
    rows, report = validate_frame(frame, catalogue)
    if report.whole_file:
        raise BatchInputError("; ".join(p.line() for p in report.problems if p.row is None))
    bad = np.zeros(len(frame), dtype=bool)
    bad[report.bad_rows] = True
    reasons: dict[int, list[str]] = {}
    for p in report.problems:
        reasons.setdefault(p.row, []).append(f"{p.column}: {p.message_en}" + (f" ({p.value})" if p.value else ""))
    rejected = pd.DataFrame({
        id_col: frame.loc[bad, id_col].astype(str).to_numpy() if id_col in frame else None,
        "reasons": ["; ".join(reasons[i]) for i in np.flatnonzero(bad)]})
    good = rows.loc[~bad].reset_index(drop=True)
    if good.empty:
        return _empty_scores(catalogue, with_explanations), rejected
    out = {id_col: good[id_col].astype(str).to_numpy()}
    if with_explanations:
        expl = explain(wrapper.estimator, good)
        pd_values = expl.pd
    else:
        pd_values = wrapper.estimator.predict_pd(good)
    out["pd"] = pd_values
    out["grade"] = wrapper.grade_scale.assign(pd_values)
    points = category_points(good, catalogue)
    out["expert_score"] = points["total"].to_numpy()
    for c in catalogue.category_ids:
        out[f"expert_{c}"] = points[c].to_numpy()
    if with_explanations:
        for c in catalogue.category_ids:
            out[f"contribution_{c}"] = expl.categories[c].to_numpy()
        contrib = expl.indicators.to_numpy()
        order = np.argsort(-contrib, axis=1, kind="stable")[:, :top_k]
        ids = np.asarray(catalogue.indicator_ids, dtype=object)
        top = np.take_along_axis(contrib, order, axis=1)
        out["top_risk_indicators"] = [list(ids[o][t > 0]) for o, t in zip(order, top)]
        out["top_risk_contributions"] = [list(t[t > 0]) for t in top]
    return pd.DataFrame(out), rejected


def output_schema(catalogue, with_explanations: bool) -> pa.Schema:
    """The scored file's columns and types, the same for both engines."""
    fields = [(catalogue.dataset.id_column, pa.string()), ("pd", pa.float64()), ("grade", pa.string()),
              ("expert_score", pa.float64()), *((f"expert_{c}", pa.float64()) for c in catalogue.category_ids)]
    if with_explanations:
        fields += [*((f"contribution_{c}", pa.float64()) for c in catalogue.category_ids),
                   ("top_risk_indicators", pa.list_(pa.string())), ("top_risk_contributions", pa.list_(pa.float64()))]
    return pa.schema(fields)


def rejects_schema(catalogue) -> pa.Schema:
    return pa.schema([(catalogue.dataset.id_column, pa.string()), ("reasons", pa.string())])


def _empty_scores(catalogue, with_explanations: bool) -> pd.DataFrame:
    return output_schema(catalogue, with_explanations).empty_table().to_pandas()


class _ParquetSink:
    """Append DataFrames to one Parquet file with a fixed schema; it replaces `path` only when closed."""

    def __init__(self, path: Path, schema: pa.Schema):
        self.path, self.schema, self.writer, self.rows = path, schema, None, 0

    def write(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        table = pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False)
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.tmp, self.schema)
        self.writer.write_table(table)
        self.rows += len(frame)

    @property
    def tmp(self) -> Path:
        return self.path.with_name(self.path.name + ".partial")

    def close(self) -> None:
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(self.schema.empty_table(), self.tmp)
        else:
            self.writer.close()
        self.tmp.replace(self.path)  # only a finished file replaces what was there


def score_file_local(data: Path, out: Path, wrapper, with_explanations: bool = False, top_k: int = 5,
                     chunk_rows: int = 100_000, on_chunk: Callable[[int], None] = lambda n: None) -> BatchSummary:
    """Stream `data` through the model in chunks; memory stays flat as the input grows."""
    out = Path(out)
    summary = BatchSummary(out=out, rejects=rejects_path(out))
    sink = _ParquetSink(out, output_schema(wrapper.catalogue, with_explanations))
    rejects = _ParquetSink(summary.rejects, rejects_schema(wrapper.catalogue))
    try:
        for chunk in iter_chunks(data, chunk_rows):
            scored, rejected = score_chunk(chunk, wrapper, with_explanations, top_k)
            sink.write(scored)
            rejects.write(rejected)
            summary.rows_in += len(chunk)
            on_chunk(len(chunk))
    except BaseException:
        for s in (sink, rejects):
            if s.writer is not None:
                s.writer.close()
            s.tmp.unlink(missing_ok=True)
        raise
    sink.close()
    rejects.close()
    summary.scored, summary.rejected = sink.rows, rejects.rows
    return summary


def score_file_dask(data: Path, out: Path, wrapper, with_explanations: bool = False, top_k: int = 5,
                    scheduler: str | None = None, n_workers: int = 2, chunk_rows: int = 100_000) -> BatchSummary:
    """The same per-piece scoring on a Dask cluster (a LocalCluster unless `scheduler` is given).

    `out` and the rejects file are folders of Parquet parts, one per partition, in input order.
    """
    import dask
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    data, out = Path(data), Path(out)
    if not data.exists():
        raise DataReadError(f"data file not found: {data}")
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(scheduler or cluster)
    try:
        if data.is_dir() or data.suffix.lower() in (".parquet", ".pq"):
            ddf = dd.read_parquet(str(data), split_row_groups="adaptive")
        else:
            ddf = dd.read_csv(str(data), blocksize="64MB", dtype=object)
        remote = client.scatter(wrapper, broadcast=True)

        def both(part: pd.DataFrame, model) -> pd.DataFrame:
            scored, rejected = score_chunk(part, model, with_explanations, top_k)
            scored["_status"], rejected["_status"] = "scored", "rejected"
            return pd.concat([scored, rejected], ignore_index=True)

        meta_scored = _empty_scores(wrapper.catalogue, with_explanations)
        meta = pd.concat([meta_scored.assign(_status=pd.Series(dtype=object)),
                          pd.DataFrame({"reasons": pd.Series(dtype=object)})], axis=1)
        combined = ddf.map_partitions(both, remote, meta=meta)
        scored = combined[combined["_status"] == "scored"][list(meta_scored.columns)]
        rejected = combined[combined["_status"] == "rejected"][[wrapper.catalogue.dataset.id_column, "reasons"]]
        rej_path = rejects_path(out)
        n_in = ddf.map_partitions(len).sum()
        _, _, rows_in, n_scored, n_rejected = dask.compute(
            scored.to_parquet(str(out), write_index=False, compute=False, overwrite=True,
                              schema=output_schema(wrapper.catalogue, with_explanations)),
            rejected.to_parquet(str(rej_path), write_index=False, compute=False, overwrite=True,
                                schema=rejects_schema(wrapper.catalogue)),
            n_in, scored.map_partitions(len).sum(), rejected.map_partitions(len).sum())
        return BatchSummary(rows_in=int(rows_in), scored=int(n_scored), rejected=int(n_rejected), out=out,
                            rejects=rej_path)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
