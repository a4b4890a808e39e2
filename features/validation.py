"""One validation layer for firm data, used by `innoscore validate`, training, batch scoring and HTTP.

pandera does the checking from a schema built out of the catalogue's column rules (`features.rules`,
where the rules are written once); this module reads files, coerces text to numbers (recording what
would not convert), skips pandera when a vectorised pass over the same rules finds nothing wrong,
and turns pandera's failure cases into problems that name the firm, the column and the reason in
English and Chinese.
"""
from __future__ import annotations

import codecs
import difflib
import gzip
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from pandera.errors import SchemaErrors

from innoscore.features.catalogue import ROW_ID_COLUMN, Catalogue, target_key
from innoscore.features.rules import PROBLEM_CODES, rules_and_schema, rules_hold

DEFAULT_MAX_LISTED = 50


class DataReadError(ValueError):
    """A data file that cannot be read at all (missing, empty, wrong format)."""


@dataclass(frozen=True)
class Problem:
    firm_id: str | None
    column: str | None
    code: str
    message_en: str
    message_zh: str
    value: str | None = None
    row: int | None = None
    id_label: str = "firm"      # "row" when the catalogue has no id column: the id is the row number
    line: int | None = None     # the file's line, for a line that could not be read as a row

    def to_dict(self) -> dict:
        return {"firm_id": self.firm_id, "field": self.column, "code": self.code,
                "message": self.message_en, "message_zh": self.message_zh, "value": self.value}

    def line_text(self) -> str:
        firm = f"{self.id_label} {self.firm_id}" if self.firm_id is not None else (
            f"row {self.row}" if self.row is not None else f"line {self.line}" if self.line is not None else "file")
        col = f"column {self.column}" if self.column else "(whole file)"
        val = f" (value: {self.value})" if self.value is not None else ""
        return f"{firm} · {col} · {self.message_en}{val} / {self.message_zh}"


@dataclass
class ValidationReport:
    n_rows: int
    problems: list[Problem] = field(default_factory=list)
    bad_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    whole_file: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def counts(self) -> pd.DataFrame:
        """Problems summarised by column and reason, most frequent first."""
        if not self.problems:
            return pd.DataFrame(columns=["column", "code", "count"])
        df = pd.DataFrame([(p.column, p.code) for p in self.problems], columns=["column", "code"])
        return (df.fillna({"column": "(file)"}).value_counts().rename("count").reset_index()
                .sort_values(["count", "column"], ascending=[False, True], ignore_index=True))

    def to_text(self, max_listed: int = DEFAULT_MAX_LISTED, per_kind: int | None = None) -> str:
        """The problems, at most `max_listed` lines in all (and at most `per_kind` for one column and
        reason, if given), then a summary by column and reason when anything was left out."""
        if self.ok:
            return f"OK: {self.n_rows} rows conform to the catalogue / 数据符合指标目录"
        lines = [f"INVALID: {len(self.problems)} problem(s) in {self.n_rows} rows, "
                 f"{len(self.bad_rows)} row(s) affected / 数据校验未通过"]
        shown: dict[tuple, int] = {}
        listed = 0
        for p in self.problems:
            kind = (p.column, p.code)
            shown[kind] = shown.get(kind, 0) + 1
            if (per_kind is None or shown[kind] <= per_kind) and listed < max_listed:
                lines.append(f"  {p.line_text()}")
                listed += 1
        if listed < len(self.problems):
            lines.append(f"  ... and {len(self.problems) - listed} more of the same kinds; by column and reason "
                         f"/ 按列和原因汇总:")
            lines += [f"    {r.column}: {r.code} x{r['count']}" for _, r in self.counts().iterrows()]
        return "\n".join(lines)


_REASONS = {
    "missing_column": ("missing required column{}", "缺少必需的列{}"),
    "unknown_target": ("target value is neither bad nor good: the catalogue codes {}", "违约标签取值不在目录定义中：{}"),
    "not_a_number": ("not a number", "不是数值"),
    "not_a_date": ("not a valid date", "不是有效日期"),
    "out_of_range": ("out of range {}", "超出有效范围 {}"),
    "not_integer": ("must be a whole number", "必须为整数"),
    "unknown_level": ("unknown level, allowed: {}", "未知等级，允许值：{}"),
    "missing_value": ("missing value not allowed", "不允许缺失"),
    "duplicate_id": ("duplicate firm id", "企业编号重复"),
    "unknown_field": ("not an indicator of the catalogue", "不是指标目录中的指标"),
    "too_long": ("text too long", "文本过长"),
    "wrong_type": ("wrong type of value", "取值类型错误"),
    "wrong_field_count": ("{} fields where the header has {}", "字段数为{}，表头为{}列"),
    "unterminated_line": ("the last line has no line end: the file may be cut short (accept it with "
                          "--accept-unterminated)", "末行没有换行符，文件可能被截断（确认完整可用--accept-unterminated）"),
    "empty": ("the file has no rows", "文件没有数据行"),
    "relation": ("contradicts {} = {} / {}: {} expected", "与目录关系{} = {} / {}不符：应约为{}"),
}


def problem(code: str, *, firm_id=None, column=None, value=None, row=None, detail="",
            id_label: str = "firm", line: int | None = None) -> Problem:
    """A problem with the reason's text in en and zh; `detail` fills the text's blank (a tuple: blanks)."""
    en, zh = _REASONS[code]
    details = detail if isinstance(detail, tuple) else (detail,)
    return Problem(firm_id=None if firm_id is None else str(firm_id), column=column, code=code,
                   message_en=en.format(*details), message_zh=zh.format(*details),
                   value=None if value is None else str(value), row=row, id_label=id_label, line=line)


@dataclass(frozen=True)
class MalformedLine:
    line: int           # 1-based, the header is line 1
    expected: int
    found: int
    text: str
    code: str = "wrong_field_count"     # or "unterminated_line": the file's last line, cut short

    def problem(self) -> Problem:
        detail = (self.found, self.expected) if self.code == "wrong_field_count" else ""
        return problem(self.code, line=self.line, detail=detail, value=self.text[:60])

    def field(self, position: int | None) -> str | None:
        """The line's value at `position` (0-based, as the header counts), where the line has one."""
        import csv

        if position is None:
            return None
        fields = next(csv.reader([self.text]), [])
        return fields[position] if position < len(fields) and fields[position] != "" else None


@lru_cache(maxsize=32)
def _encoding_of(path: str, mtime_ns: int, size: int) -> str:
    decoder = codecs.getincrementaldecoder("utf-8")()
    opener = gzip.open if path.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            while block := f.read(1 << 24):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


_DECLARED_ENCODINGS: dict[str, str] = {}


def declare_encoding(path: str | Path, encoding: str) -> None:
    """Read the CSV at `path` in `encoding` (the CLI's `--encoding`) instead of detecting it."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise DataReadError(f"unknown encoding '{encoding}' (e.g. utf-8, gb18030, gbk) / 未知的文件编码") from None
    _DECLARED_ENCODINGS[str(Path(path).resolve())] = name


def csv_encoding(path: str | Path) -> str:
    """The encoding declared for the file (`declare_encoding`); else UTF-8 where the whole file
    decodes as UTF-8, else GB18030 (a superset of GBK and GB2312, what Chinese banks' systems
    export), detected once per file version (path, modification time, size)."""
    declared = _DECLARED_ENCODINGS.get(str(Path(path).resolve()))
    if declared is not None:
        return declared
    stat = Path(path).stat()
    return _encoding_of(str(path), stat.st_mtime_ns, stat.st_size)


def read_csv(path: str | Path, **options) -> pd.DataFrame:
    """`pd.read_csv` in the file's encoding (`csv_encoding`); every CSV of the project is read here. A
    header that is one column holding `;`, tab or `|` is refused with that hint (DataReadError), not
    read as one column that lacks every indicator."""
    encoding = csv_encoding(path)
    header = pd.read_csv(path, encoding=encoding, nrows=0).columns
    if len(header) == 1:
        found = [d for d in (";", "\t", "|") if d in str(header[0])]
        if found:
            shown = {"\t": "tab"}.get(found[0], found[0])
            raise DataReadError(f"{path}: the header is one column holding '{shown}': the file seems to be "
                                f"'{shown}'-separated; save it comma-separated / 文件似乎以'{shown}'分隔，请另存为逗号分隔的CSV")
    return pd.read_csv(path, encoding=encoding, **options)


PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".txt", ".gz")


def file_format(path: Path) -> str | None:
    """How a data path reads: "parquet" (a folder of parts or a .parquet/.pq file), "csv" (.csv,
    .txt or gzip-compressed .gz) or None (unsupported): the one place that reads suffixes."""
    if path.is_dir() or path.suffix.lower() in PARQUET_SUFFIXES:
        return "parquet"
    return "csv" if path.suffix.lower() in CSV_SUFFIXES else None


def unsupported(path: Path) -> DataReadError:
    return DataReadError(f"unsupported file type '{path.suffix}' for {path}: use .csv or .parquet")


def _unterminated_last_line(path: Path) -> MalformedLine | None:
    """The file's last line if it has no line end and is not the header: a file cut short in its last
    value (220.9 -> 22) still has the header's number of fields, and would be scored as it reads."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    if opener is open:                  # the usual file ends with a line end: one byte read, no pass
        with open(path, "rb") as f:
            if f.seek(0, 2) == 0 or (f.seek(-1, 2) >= 0 and f.read(1) == b"\n"):
                return None
    lines, tail = 0, b""
    with opener(path, "rb") as f:
        while block := f.read(1 << 24):
            lines += block.count(b"\n")
            tail = (tail + block)[-65536:]
    if not tail or tail.endswith(b"\n") or lines == 0:
        return None
    text = tail.rsplit(b"\n", 1)[-1].decode(csv_encoding(path), "replace")
    return MalformedLine(lines + 1, 0, 0, text, "unterminated_line")


def malformed_csv_lines(path: str | Path, accept_unterminated: bool = False) -> list[MalformedLine]:
    """CSV lines whose number of fields differs from the header's, and a last line without a line
    end (a file cut short; `accept_unterminated` keeps it). pandas pads a short line with missing
    values (a silent wrong score) and aborts the whole file on a long one; Arrow's reader finds both
    in one pass (threaded; a second, numbered pass only when there are any)."""
    import pyarrow as pyarrow
    import pyarrow.csv as pcsv

    path = Path(path)
    if file_format(path) != "csv":
        return []
    try:
        header = read_csv(path, nrows=0).columns
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return []   # read_table reports the file as unreadable
    found: list[MalformedLine] = []

    def scan(threads: bool) -> None:
        def handler(row) -> str:
            found.append(MalformedLine(row.number or 0, row.expected_columns, row.actual_columns, row.text))
            return "skip"
        reader = pcsv.open_csv(
            path, read_options=pcsv.ReadOptions(use_threads=threads, block_size=16 << 20, encoding=csv_encoding(path)),
            parse_options=pcsv.ParseOptions(invalid_row_handler=handler),
            convert_options=pcsv.ConvertOptions(column_types={c: pyarrow.string() for c in header}))
        for _ in reader:
            pass

    try:
        scan(threads=True)
        if found:
            found.clear()
            scan(threads=False)     # line numbers are known only to a single-threaded reader
        cut = None if accept_unterminated else _unterminated_last_line(path)
    except (pyarrow.ArrowInvalid, OSError):
        return []                   # read_table reports what it cannot read
    if cut is not None and all(m.line != cut.line for m in found):
        found.append(cut)
    return found


def read_table(path: str | Path, skip_lines: list[int] | None = None, accept_unterminated: bool = False
               ) -> pd.DataFrame:
    """Read CSV or Parquet (a file or a directory of Parquet parts); raise DataReadError if unreadable,
    or if a CSV's last line has no line end (cut short) unless `accept_unterminated`.
    `skip_lines`: 0-based CSV lines not to read (`malformed_csv_lines`)."""
    path = Path(path)
    if not path.exists():
        raise DataReadError(f"data file not found: {path}")
    try:
        if file_format(path) == "parquet":
            return pd.read_parquet(path)
        if file_format(path) == "csv":
            cut = None if accept_unterminated else _unterminated_last_line(path)
            if cut is not None and (cut.line - 1) not in (skip_lines or ()):
                raise DataReadError(f"{path}: {cut.problem().line_text()}")
            return read_csv(path, low_memory=False, skiprows=skip_lines)
    except pd.errors.EmptyDataError:
        raise DataReadError(f"data file is empty: {path}") from None
    except DataReadError:
        raise
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise DataReadError(f"cannot read {path}: {type(exc).__name__}: {str(exc)[:200]}") from None
    raise unsupported(path)


def _range_text(lo, hi) -> str:
    return f"[{lo:g}, {hi:g}]"


def with_row_ids(df: pd.DataFrame, catalogue: Catalogue, row_offset: int = 0) -> pd.DataFrame:
    """Data without an id column gets one: each row's number in its input (1-based), as text."""
    if catalogue.dataset.id_column is not None or ROW_ID_COLUMN in df.columns:
        return df
    out = df.copy()
    out.insert(0, ROW_ID_COLUMN, (np.arange(len(df)) + row_offset + 1).astype(str).astype(object))
    return out


def _code_target(raw: pd.Series, catalogue: Catalogue) -> tuple[pd.Series, list[int]]:
    """The target as 1.0 (bad) / 0.0 (good) by the catalogue's coding, and the rows it does not cover."""
    codes = catalogue.dataset.target_codes()
    values = raw.map({v: codes.get(target_key(v), np.nan) for v in raw.dropna().unique()}).astype(float)
    return values, np.flatnonzero((values.isna() & raw.notna()).to_numpy()).tolist()


def coerce_frame(df: pd.DataFrame, catalogue: Catalogue, require_target: bool = False
                 ) -> tuple[pd.DataFrame, list[tuple[int, str, str, object]]]:
    """Numbers to float, dates to datetime, the target to 0/1 by its coding; returns the frame and
    (row, column, code, raw) misfits."""
    out = df.reset_index(drop=True).copy()
    misfits = []
    ds = catalogue.dataset
    numeric = [i.id for i in catalogue.indicators if i.type != "categorical"]
    if ds.target_column and ds.target_column in out.columns:
        raw = out[ds.target_column]
        out[ds.target_column], unknown = _code_target(raw, catalogue)
        misfits += [(i, ds.target_column, "unknown_target", raw.iat[i]) for i in unknown]
    for col in numeric:
        if col not in out.columns:
            continue
        raw = out[col]
        if raw.dtype.kind in "fiub":  # already numbers: nothing can fail to convert
            if raw.dtype != np.float64:
                out[col] = raw.astype(np.float64)
            continue
        values = pd.to_numeric(raw, errors="coerce").astype(float)
        for i in np.flatnonzero((values.isna() & raw.notna()).to_numpy()):
            if str(raw.iat[i]).strip() not in ("", "nan", "NaN", "None"):
                misfits.append((i, col, "not_a_number", raw.iat[i]))
        out[col] = values
    for ind in catalogue.indicators:
        if ind.type == "categorical" and ind.id in out.columns:
            out[ind.id] = out[ind.id].astype(object).where(out[ind.id].notna(), None)
    if ds.date_column and ds.date_column in out.columns:
        raw = out[ds.date_column]
        values = pd.to_datetime(raw, errors="coerce")
        misfits += [(i, ds.date_column, "not_a_date", raw.iat[i])
                    for i in np.flatnonzero((values.isna() & raw.notna()).to_numpy())]
        out[ds.date_column] = values
    if ds.firm_id_column in out.columns:
        ids = out[ds.firm_id_column]
        out[ds.firm_id_column] = ids.astype(str).where(ids.notna(), None).astype(object)
    return out, misfits


def problem_detail(catalogue: Catalogue, column, code: str, columns=()) -> str:
    """The catalogue's specifics for a problem's message: the valid range, the levels, a close column name."""
    if code == "missing_column":
        close = difflib.get_close_matches(str(column), [str(c) for c in columns], n=1, cutoff=0.6)
        return f" (did you mean '{close[0]}'?)" if close else ""
    if code == "unknown_target":
        ds = catalogue.dataset
        return f"bad = {ds.target_bad_values}, good = {ds.target_good_values}"
    ind = catalogue.by_id.get(column)
    if ind is None:
        return ""
    if code == "out_of_range" and ind.valid_range is not None:
        return _range_text(*ind.valid_range)
    if code == "unknown_level":
        return ", ".join(str(v) for v in ind.level_values)
    return ""


def validate_frame(df: pd.DataFrame, catalogue: Catalogue, require_target: bool = False, row_offset: int = 0
                   ) -> tuple[pd.DataFrame, ValidationReport]:
    """Check a frame against the catalogue; return the coerced frame and a report of every problem.

    Without an id column in the catalogue, rows are numbered from `row_offset` + 1 (`with_row_ids`).
    """
    id_col = catalogue.dataset.firm_id_column
    if len(df) == 0:
        return df, ValidationReport(0, [problem("empty")], whole_file=True)
    coerced, misfits = coerce_frame(with_row_ids(df, catalogue, row_offset), catalogue, require_target)
    firm_ids = coerced[id_col].to_numpy() if id_col in coerced.columns else None
    problems: dict[tuple, Problem] = {}

    def add(row, column, code, value):
        key = (row, column)
        if key in problems:
            return
        firm = firm_ids[row] if (firm_ids is not None and row is not None) else None
        problems[key] = problem(code, firm_id=firm, column=column, value=value, row=row,
                                detail=problem_detail(catalogue, column, code, df.columns),
                                id_label="firm" if catalogue.dataset.id_column else "row")

    rules, schema = rules_and_schema(catalogue, require_target)
    if not misfits and rules_hold(coerced, rules):
        return coerced, ValidationReport(len(coerced))
    for row, column, code, value in misfits:
        add(row, column, code, value)
    try:
        schema.validate(coerced, lazy=True)
    except SchemaErrors as exc:
        fc = exc.failure_cases
        for rec in fc.itertuples(index=False):
            check = str(rec.check)
            code = PROBLEM_CODES.get(check) or PROBLEM_CODES.get(check.split("(")[0])
            if code is None:
                continue
            if code == "missing_column":
                add(None, str(rec.failure_case), code, None)
                continue
            row = None if pd.isna(rec.index) else int(rec.index)
            column = None if pd.isna(rec.column) else str(rec.column)
            if code == "missing_value" and column == id_col:
                add(row, column, code, None)
                continue
            add(row, column, code, None if code == "missing_value" else rec.failure_case)
    whole_file = any(p.row is None for p in problems.values())
    bad_rows = np.array(sorted({p.row for p in problems.values() if p.row is not None}), dtype=int)
    ordered = sorted(problems.values(), key=lambda p: (p.row is not None, p.row or 0, p.column or ""))
    return coerced, ValidationReport(len(coerced), ordered, bad_rows, whole_file)


def validate_file(path: str | Path, catalogue: Catalogue, require_target: bool = False,
                  accept_unterminated: bool = False) -> tuple[pd.DataFrame, ValidationReport]:
    """`validate_frame` of a file; a CSV line with too few or too many fields, or a last line cut short
    (`malformed_csv_lines`), is a problem of its own."""
    malformed = malformed_csv_lines(path, accept_unterminated)
    frame, report = validate_frame(read_table(path, [m.line - 1 for m in malformed] or None, accept_unterminated=True),
                                   catalogue, require_target)
    if malformed:
        report.problems = [m.problem() for m in malformed] + report.problems
    return frame, report


def relation_problems(frame: pd.DataFrame, catalogue: Catalogue) -> list[Problem]:
    """Rows that contradict a declared relation `id = numerator / denominator` by more than its
    relative tolerance, beyond what the recorded precision (`decimals`) of the three values allows."""
    out = []
    id_col = catalogue.dataset.firm_id_column
    label = "firm" if catalogue.dataset.id_column else "row"

    def half_step(ind_id: str) -> float:
        decimals = catalogue.by_id[ind_id].decimals
        return 0.0 if decimals is None else 0.5 * 10.0 ** -decimals

    for r in catalogue.relations:
        if not {r.id, r.numerator, r.denominator} <= set(frame.columns):
            continue
        value, num, den = (pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float)
                           for c in (r.id, r.numerator, r.denominator))
        with np.errstate(divide="ignore", invalid="ignore"):
            implied = num / den
            allowed = (r.tolerance * np.abs(value) + (half_step(r.numerator) + half_step(r.denominator) * np.abs(value))
                       / np.abs(den) + half_step(r.id))
            wrong = (den > 0) & ~np.isnan(value) & ~np.isnan(num) & (np.abs(implied - value) > allowed)
        for i in np.flatnonzero(wrong):
            out.append(problem("relation", firm_id=frame[id_col].iat[i] if id_col in frame else i + 1, column=r.id,
                               value=value[i], row=int(i), id_label=label,
                               detail=(r.id, r.numerator, r.denominator, f"{implied[i]:.4g}")))
    return out
