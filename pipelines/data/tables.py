"""Reads CSV/TSV/Parquet tables and types their columns: numeric, categorical, text or ignored.

Every cell is read as a string first, so that a number written as text, a missing-value marker
or a stray word in a numeric column is seen and reported with its file, column and row, never
coerced silently. Used by the `csv`, `text` and `timeseries` sources and by `strata predict`.
"""

from __future__ import annotations

import codecs
import csv
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from strata.errors import ConfigError, DataError, suggestion

log = logging.getLogger(__name__)

COLUMN_KINDS = ("numeric", "categorical", "text", "ignore")
DEFAULT_MISSING = ("", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "?")

# a string column whose values hold at least this many words on average is free text
TEXT_MIN_WORDS = 3.0
# a column whose non-missing values are numbers but for at most this fraction is a numeric
# column with bad rows (an error), not a categorical one
BAD_NUMBER_FRACTION = 0.05

# The one grammar of a number in a cell, for every reader (in memory, streamed, predict): the
# cell stripped of white space is a decimal or scientific-notation number, or inf, infinity or
# nan in any case. It is exactly what Arrow's cast from string to float64 reads (so the common
# case, a column of numbers, is parsed in one cast; tests/test_csv_grammar.py checks the two
# agree), and it reads no digit separators ('1_000', '1,000'), hexadecimal or non-ASCII digits,
# which Python's float() would take.
NUMBER_PATTERN = r"^[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN])$"
_NUMBER = re.compile(NUMBER_PATTERN)


def delimiter_of(value: str | None, files: list[Path] | None = None) -> str:
    """The field delimiter a config names (`,`, `\\t`, `tab`, `;`, ...); TSV files default to tab."""
    if value is None or value == "auto":
        if files and all(f.suffix.lower() in (".tsv", ".tab") for f in files):
            return "\t"
        if files and files[0].suffix.lower() not in (".parquet", ".pq"):
            with open(files[0], encoding="utf-8", errors="replace") as f:
                first = f.readline()
            if "\t" in first and "," not in first:
                return "\t"
        return ","
    named = {"\\t": "\t", "tab": "\t", "\t": "\t", "comma": ",", "semicolon": ";", "space": " ", "pipe": "|"}
    if value in named:
        return named[value]
    if len(value) != 1:
        raise ConfigError(f"data.delimiter: got {value!r}, expected one character such as ',' ';' '|' or '\\t'.")
    return value


@dataclass
class Table:
    """A table read as strings, with where each row came from (for error messages)."""

    frame: object  # pandas.DataFrame of str
    files: list[Path]
    starts: list[int]  # index of each file's first row in `frame`
    header: bool
    # column -> (numbers, missing mask, bad mask) from `column_numbers`, parsed once per column
    parsed: dict = field(default_factory=dict, repr=False)
    # the line each row starts on, when known (a reader that skips blank lines or reads quoted
    # values over several lines); else a row's line follows from its index and the header
    lines: list[int] | None = field(default=None, repr=False)
    # the row each row of the frame had when the files were read, once rows have been left out
    # (`labelled_rows`); None: the same
    origin: np.ndarray | None = field(default=None, repr=False)

    def where(self, row: int) -> str:
        """'<file> row N (line L)' of a row index in the frame."""
        read = int(self.origin[row]) if self.origin is not None else row
        i = int(np.searchsorted(self.starts, read, side="right")) - 1
        in_file = read - self.starts[i]
        line = self.lines[row] if self.lines is not None else in_file + (2 if self.header else 1)
        return f"{self.files[i]} row {in_file + 1} (line {line})"

    @property
    def label(self) -> str:
        return str(self.files[0]) if len(self.files) == 1 else f"{self.files[0].parent}/{{{len(self.files)} files}}"


def read_table(
    files: list[Path],
    delimiter: str,
    header: bool,
    column_names: list[str] | None,
    key: str = "data.path",
    encoding: str = "utf-8",
    nrows: int | None = None,
) -> Table:
    """Reads one or more files with the same columns into one table of strings."""
    import pandas as pd

    frames, starts, total = [], [], 0
    for f in files:
        frame = _read_one(f, delimiter, header, column_names, key, encoding, nrows)
        if frames and list(frame.columns) != list(frames[0].columns):
            raise DataError(
                f"{key}: {f} has columns {', '.join(map(str, frame.columns))}, but {files[0]} has "
                f"{', '.join(map(str, frames[0].columns))}; every file must have the same columns."
            )
        starts.append(total)
        total += len(frame)
        frames.append(frame)
    table = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    if len(table) == 0:
        raise DataError(f"{key}: {files[0] if len(files) == 1 else 'the files'} hold no data rows, only a header.")
    return Table(table, files, starts, header)


def parquet_strings(frame):
    """A frame read from Parquet as the strings a CSV would hold: missing values are ''."""
    frame = frame.astype(object).where(frame.notna(), "").astype(str)
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _read_one(f: Path, delimiter: str, header: bool, column_names, key: str, encoding: str, nrows):
    import pandas as pd

    if f.suffix.lower() in (".parquet", ".pq"):
        try:
            frame = pd.read_parquet(f)
        except Exception as ex:  # pyarrow raises several types for a broken file
            raise DataError(f"{key}: cannot read {f} as Parquet ({str(ex).splitlines()[0]}).") from None
        if nrows is not None:
            frame = frame.head(nrows)
        return _rename(parquet_strings(frame), column_names, f, key)
    (frame,) = csv_frames(f, delimiter, header, column_names, key, encoding, nrows=nrows)
    return frame


def csv_frames(f: Path, delimiter: str, header: bool, column_names, key: str = "data.path", encoding: str = "utf-8",
               nrows: int | None = None, chunksize: int | None = None):
    """The rows of one CSV/TSV file as frames of strings: the whole file (or its first `nrows`
    rows) as one frame, or `chunksize` rows at a time. The one reader of the in-memory path, the
    streamed path's checking pass and its epochs, so all of them read the same rows and cells:
    quoted fields may hold the delimiter, doubled quotes and line breaks (not in a TSV, whose
    quotes are plain characters); blank lines are skipped; a row with fewer fields than the header
    has its last cells empty (missing); a row with more is a `DataError` naming its line."""
    import pandas as pd

    # UTF-8 with or without a byte order mark
    reading = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        codecs.lookup(reading)
    except LookupError:
        raise ConfigError(f"data.encoding={encoding}: no such text encoding; try utf-8, latin-1 or cp1252.") from None
    try:
        reader = pd.read_csv(
            f,
            sep=delimiter,
            header=0 if header else None,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            encoding=reading,
            encoding_errors="strict",
            quoting=csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL,
            skipinitialspace=False,
            nrows=nrows,
            chunksize=chunksize,
        )
        frames = [reader] if chunksize is None else reader
        width = None
        for frame in frames:
            if not isinstance(frame.index, pd.RangeIndex):
                # every row one field longer than the header: pandas would take the first field
                # as the row's name and shift the others one column to the left
                raise DataError(
                    f"{key}: {f} has rows with more fields than its header ({len(frame.columns)} names); "
                    "each row needs one field per column."
                )
            if width is None:
                width = len(frame.columns)
                if header and width == 1 and delimiter != "\t" and "\t" in str(frame.columns[0]):
                    raise DataError(
                        f"{key}: {f} looks tab-separated but data.delimiter is {delimiter!r}; set data.delimiter='\\t'."
                    )
            if not header:
                frame.columns = [f"column_{i + 1}" for i in range(len(frame.columns))]
            else:
                frame.columns = [str(c).strip() for c in frame.columns]
            yield _rename(frame, column_names, f, key)
    except pd.errors.EmptyDataError:
        raise DataError(f"{key}: {f} is empty.") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as ex:
        # pandas decodes the cells of a block only after tokenizing it, so which of the two errors
        # it meets first depends on how many rows it reads at a time: a byte that is not
        # `encoding` text is reported first, wherever it is, so the file whole and in chunks
        # are refused alike
        bad_byte = _undecodable(f, reading)
        if bad_byte is not None:
            raise DataError(f"{key}: {f} is not {encoding} text ({bad_byte}); set data.encoding.") from None
        if isinstance(ex, UnicodeDecodeError):  # not expected once the whole file decodes
            raise DataError(f"{key}: {f} is not {encoding} text; set data.encoding.") from None
        raise DataError(f"{key}: cannot parse {f} with delimiter {delimiter!r}: {str(ex).strip().splitlines()[-1]}") from None


def _undecodable(f: Path, encoding: str) -> str | None:
    """'line L, byte B' of the first byte of `f` that is not `encoding` text (None: none is)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset, line = 0, 1
    with open(f, "rb") as raw:
        while block := raw.read(1 << 20):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as ex:
                at = max(ex.start, 0)
                return f"line {line + block.count(NEWLINE, 0, at)}, byte {offset + at + 1}"
            offset += len(block)
            line += block.count(NEWLINE)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return f"line {line}, byte {offset}"
    return None


NEWLINE = b"\n"


def _rename(frame, column_names, f: Path, key: str):
    if column_names:
        if len(column_names) != len(frame.columns):
            raise DataError(
                f"data.column_names: {len(column_names)} names given, but {f} has {len(frame.columns)} columns."
            )
        frame.columns = [str(c) for c in column_names]
    duplicated = frame.columns[frame.columns.duplicated()].tolist()
    if duplicated:
        raise DataError(f"{key}: {f} has the column name '{duplicated[0]}' twice; set data.column_names.")
    return frame


def require_column(table: Table, column: str, key: str) -> None:
    """A `DataError` naming the columns there are when `column` is not one of them."""
    columns = [str(c) for c in table.frame.columns]
    if column not in columns:
        shown = ", ".join(columns[:30]) + (f", ... ({len(columns)} in all)" if len(columns) > 30 else "")
        raise DataError(
            f"{key}={column}: no column '{column}' in {table.label}.{suggestion(column, columns)} Columns: {shown}."
        )


def missing_mask(values: np.ndarray, missing: set[str]) -> np.ndarray:
    stripped = np.char.strip(values.astype(str))
    return np.isin(stripped, list(missing))


def labelled_rows(table: Table, target: str, missing: set[str]) -> tuple[Table, np.ndarray]:
    """The table's rows that have a target, and their raw target strings; rows without one are
    left out with a warning, and a target column empty in every row is a `DataError`."""
    values = table.frame[target].to_numpy(dtype=str)
    absent = missing_mask(values, missing)
    if absent.all():
        raise DataError(f"data.target={target}: the column is empty in every row of {table.label}.")
    if absent.any():
        log.warning("data: %d rows of %s have no target '%s'; they are left out", int(absent.sum()), table.label, target)
        origin = (table.origin if table.origin is not None else np.arange(len(absent)))[~absent]
        lines = None if table.lines is None else [line for line, gone in zip(table.lines, absent) if not gone]
        table = Table(table.frame[~absent].reset_index(drop=True), table.files, table.starts, table.header,
                      lines=lines, origin=origin)
    return table, values[~absent]


def parse_numbers(values: np.ndarray, missing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Floats (NaN where missing or not a number, `NUMBER_PATTERN`), and the mask of non-missing
    non-numbers."""
    import pyarrow as pa
    import pyarrow.compute as pc

    strings = pa.array(np.asarray(values).astype(str).astype(object), type=pa.string())
    return _numbers(pc.utf8_trim_whitespace(strings), pa.array(np.asarray(missing, dtype=bool)))


def _numbers(trimmed, absent) -> tuple[np.ndarray, np.ndarray]:
    """Arrow strings, stripped of white space, as float64 (NaN where `absent` or not a number)
    and the mask of present non-numbers: one cast when every present cell is a number, else the
    cells that match `NUMBER_PATTERN` cast and the others marked. No Python call per cell."""
    import pyarrow as pa
    import pyarrow.compute as pc

    blank = pa.scalar(None, trimmed.type)
    try:
        numbers = pc.cast(pc.if_else(absent, blank, trimmed), pa.float64())
        bad = None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        number = pc.fill_null(pc.match_substring_regex(trimmed, NUMBER_PATTERN), False)
        keep = pc.and_(number, pc.invert(absent))
        numbers = pc.cast(pc.if_else(keep, trimmed, blank), pa.float64())
        bad = pc.and_(pc.invert(number), pc.invert(absent))
    as_numpy = np.asarray(numbers.to_numpy(zero_copy_only=False), dtype="float64")
    if bad is None:
        return as_numpy, np.zeros(len(as_numpy), dtype=bool)
    return as_numpy, np.asarray(bad.to_numpy(zero_copy_only=False), dtype=bool)


def column_numbers(table: Table, column: str, missing: set[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One column of the table as floats (NaN where missing or not a number), its missing mask
    and its mask of non-missing non-numbers.

    The column is parsed by Arrow's compute kernels over the strings pandas holds, with the one
    number grammar of every reader (`NUMBER_PATTERN`: '1_000' is not a number, in memory or
    streamed, whichever rows it is read with).
    """
    key = (column, frozenset(missing))
    if key not in table.parsed:
        table.parsed[key] = _column_numbers(table, column, missing)
    return table.parsed[key]


def _column_numbers(table: Table, column: str, missing: set[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import pyarrow as pa
    import pyarrow.compute as pc

    series = table.frame[column]
    # pandas' Arrow-backed strings are handed over through the Arrow array protocol, chunks and
    # all (no copy); object columns are converted
    strings = series.array.__arrow_array__() if hasattr(series.array, "__arrow_array__") else None
    if strings is None or not (pa.types.is_string(strings.type) or pa.types.is_large_string(strings.type)):
        strings = pa.array(series.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    trimmed = pc.utf8_trim_whitespace(strings)
    absent = pc.fill_null(pc.is_in(trimmed, value_set=pa.array(sorted(missing), type=trimmed.type)), False)
    numbers, bad = _numbers(trimmed, absent)
    return numbers, np.asarray(absent.to_numpy(zero_copy_only=False), dtype=bool), bad


def infer_kind(values: np.ndarray, missing: np.ndarray, numbers_bad: np.ndarray | None = None) -> str:
    """numeric, categorical, text or ignore (all missing) for one column of strings
    (`numbers_bad`: its mask of non-missing non-numbers, when already known)."""
    present = ~missing
    if not present.any():
        return "ignore"
    bad = parse_numbers(values, missing)[1] if numbers_bad is None else numbers_bad
    n_bad, n_present = int(bad.sum()), int(present.sum())
    if n_bad == 0:
        return "numeric"
    if n_bad <= BAD_NUMBER_FRACTION * n_present and n_bad < n_present:
        return "numeric"  # mostly numbers: the rest are errors, reported by `numeric_column`
    words = np.char.count(np.char.strip(values[present].astype(str)), " ") + 1
    return "text" if float(words.mean()) >= TEXT_MIN_WORDS else "categorical"


def column_kind(table: Table, column: str, missing: set[str]) -> str:
    """`infer_kind` of one column of the table, reading its cells as strings only when they
    are not all numbers."""
    _, absent, bad = column_numbers(table, column, missing)
    if not (~absent).any():
        return "ignore"
    if not bad.any():
        return "numeric"
    return infer_kind(table.frame[column].to_numpy(dtype=str), absent, bad)


def numeric_column(table: Table, column: str, missing: set[str], key: str = "data.path") -> np.ndarray:
    """The column as float32 (NaN where missing); a `DataError` at the first non-number."""
    check_numbers(table, [column], missing, key)
    return column_numbers(table, column, missing)[0].astype("float32")


def check_numbers(table: Table, columns: list[str], missing: set[str], key: str = "data.path",
                  rows: np.ndarray | None = None) -> None:
    """A `DataError` at the table's first cell, in file order (by row, then by column), that is
    not a number in one of the numeric `columns` (among `rows`, a mask, when given): the same cell
    whether the file is checked whole or a chunk of rows at a time."""
    first = None
    for column in columns:
        bad = column_numbers(table, column, missing)[2]
        if rows is not None:
            bad = bad & rows
        if bad.any() and (first is None or int(np.argmax(bad)) < first[0]):
            first = (int(np.argmax(bad)), column, int(bad.sum()))
    if first is not None:
        row, column, count = first
        raise DataError(
            f"{key}: column '{column}' holds {str(table.frame[column].iloc[row])!r} at {table.where(row)}, expected a "
            f"number ({count} such rows; mark missing values with data.missing_values, or set "
            f"+data.features.{column}=categorical)."
        )


def string_column(table: Table, column: str, missing: set[str]) -> np.ndarray:
    """The column as strings, with missing values as ''."""
    values = table.frame[column].to_numpy(dtype=str)
    return np.where(missing_mask(values, missing), "", values).astype(object)


def canonical_label(value: str) -> str:
    """'1.0' and '1' name one class; numbers (`NUMBER_PATTERN`) keep their shortest form."""
    if not _NUMBER.match(value.strip()):
        return value.strip()
    number = float(value)
    if np.isfinite(number) and number == int(number):
        return str(int(number))
    return value.strip()


def canonical_labels(values: np.ndarray) -> np.ndarray:
    """`canonical_label` of every value, computed once per distinct value."""
    distinct, inverse = np.unique(values.astype(str), return_inverse=True)
    return np.array([canonical_label(v) for v in distinct], dtype=object)[inverse.reshape(-1)]


def infer_task(values: np.ndarray, max_classes: int) -> str:
    """regression, binary or multiclass from a target column's non-missing strings."""
    numbers = parse_numbers(values, np.zeros(len(values), dtype=bool))[0]
    if not np.isnan(numbers).any() and not np.all(numbers == np.round(numbers)) and len(np.unique(numbers)) > 2:
        # distinct numbers have distinct labels: more than two classes, not all whole, so a number
        # to regress on (found without one Python call per distinct value of a long column)
        return "regression"
    distinct = len(set(canonical_label(v) for v in np.unique(values.astype(str))))
    if distinct <= 2:
        return "binary"
    if np.isnan(numbers).any():
        return "multiclass"
    integral = bool(np.all(numbers == np.round(numbers)))
    if integral and distinct <= min(max_classes, max(3, len(values) // 5)):
        return "multiclass"
    return "regression"


def class_order(labels: np.ndarray) -> list[str]:
    """Class names sorted numerically when they are numbers, else alphabetically."""
    distinct = sorted(set(labels.tolist()))
    try:
        return sorted(distinct, key=float)
    except ValueError:
        return distinct
