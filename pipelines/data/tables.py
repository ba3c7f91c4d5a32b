"""Reads CSV/TSV/Parquet tables and types their columns: numeric, categorical, text or ignored.

Every cell is read as a string first, so that a number written as text, a missing-value marker
or a stray word in a numeric column is seen and reported with its file, column and row, never
coerced silently. Used by the `csv`, `text` and `timeseries` sources and by `strata predict`.
"""

from __future__ import annotations

import csv
import logging
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

    def where(self, row: int) -> str:
        """'<file> row N (line L)' of a row index in the frame."""
        i = int(np.searchsorted(self.starts, row, side="right")) - 1
        in_file = row - self.starts[i]
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
    try:
        frame = pd.read_csv(
            f,
            sep=delimiter,
            header=0 if header else None,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            encoding=encoding,
            encoding_errors="strict",
            quoting=csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL,
            skipinitialspace=False,
            nrows=nrows,
        )
    except pd.errors.EmptyDataError:
        raise DataError(f"{key}: {f} is empty.") from None
    except pd.errors.ParserError as ex:
        raise DataError(f"{key}: cannot parse {f} with delimiter {delimiter!r}: {str(ex).strip().splitlines()[-1]}") from None
    except UnicodeDecodeError as ex:
        raise DataError(f"{key}: {f} is not {encoding} text (byte {ex.start}); set data.encoding.") from None
    if header and len(frame.columns) == 1 and delimiter != "\t" and "\t" in str(frame.columns[0]):
        raise DataError(f"{key}: {f} looks tab-separated but data.delimiter is {delimiter!r}; set data.delimiter='\\t'.")
    if not header:
        frame.columns = [f"column_{i + 1}" for i in range(len(frame.columns))]
    else:
        frame.columns = [str(c).strip() for c in frame.columns]
    return _rename(frame, column_names, f, key)


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
        table = Table(table.frame[~absent].reset_index(drop=True), table.files, table.starts, table.header)
    return table, values[~absent]


def parse_numbers(values: np.ndarray, missing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Floats (NaN where missing or not a number), and the mask of non-missing non-numbers."""
    import pandas as pd

    # the common case first: every present cell is a number (float() accepts surrounding spaces)
    fast = values.astype(object)
    fast[missing] = "nan"
    try:
        return fast.astype("float64"), np.zeros(len(values), dtype=bool)
    except (ValueError, TypeError):
        pass
    cleaned = np.where(missing, "nan", np.char.strip(values.astype(str)))
    numbers = pd.to_numeric(pd.Series(cleaned), errors="coerce").to_numpy(dtype="float64")
    bad = np.isnan(numbers) & ~missing & (np.char.lower(cleaned) != "nan")
    return numbers, bad


def column_numbers(table: Table, column: str, missing: set[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One column of the table as floats (NaN where missing or not a number), its missing mask
    and its mask of non-missing non-numbers.

    A column whose present cells are all numbers, the common case, is parsed in one pass of
    Arrow's compute kernels over the strings pandas holds; anything else (a stray word, a number
    Arrow does not read, such as '1_000') takes the cell-by-cell path that finds the bad rows.
    """
    key = (column, frozenset(missing))
    if key not in table.parsed:
        table.parsed[key] = _column_numbers(table, column, missing)
    return table.parsed[key]


def _column_numbers(table: Table, column: str, missing: set[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import pyarrow as pa
    import pyarrow.compute as pc

    series = table.frame[column]
    strings = getattr(series.array, "_pa_array", None)  # pandas' Arrow-backed strings
    if strings is None or not pa.types.is_string(strings.type) and not pa.types.is_large_string(strings.type):
        strings = pa.array(series.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    trimmed = pc.utf8_trim_whitespace(strings)
    absent = pc.is_in(trimmed, value_set=pa.array(sorted(missing), type=trimmed.type))
    try:
        numbers = pc.cast(pc.if_else(absent, pa.scalar(None, trimmed.type), trimmed), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        values = series.to_numpy(dtype=str)
        mask = missing_mask(values, missing)
        numbers, bad = parse_numbers(values, mask)
        return numbers, mask, bad
    as_numpy = numbers.to_numpy(zero_copy_only=False) if isinstance(numbers, pa.Array) else numbers.to_numpy()
    absent_numpy = absent.to_numpy(zero_copy_only=False) if isinstance(absent, pa.Array) else absent.to_numpy()
    return np.asarray(as_numpy, dtype="float64"), np.asarray(absent_numpy, dtype=bool), np.zeros(len(series), dtype=bool)


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
    numbers, _, bad = column_numbers(table, column, missing)
    if bad.any():
        values = table.frame[column].to_numpy(dtype=str)
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{key}: column '{column}' holds {str(values[row])!r} at {table.where(row)}, expected a number "
            f"({int(bad.sum())} such rows; mark missing values with data.missing_values, or set "
            f"+data.features.{column}=categorical)."
        )
    return numbers.astype("float32")


def string_column(table: Table, column: str, missing: set[str]) -> np.ndarray:
    """The column as strings, with missing values as ''."""
    values = table.frame[column].to_numpy(dtype=str)
    return np.where(missing_mask(values, missing), "", values).astype(object)


def canonical_label(value: str) -> str:
    """'1.0' and '1' name one class; numbers keep their shortest form."""
    try:
        number = float(value)
    except ValueError:
        return value.strip()
    if np.isfinite(number) and number == int(number):
        return str(int(number))
    return value.strip()


def canonical_labels(values: np.ndarray) -> np.ndarray:
    """`canonical_label` of every value, computed once per distinct value."""
    distinct, inverse = np.unique(values.astype(str), return_inverse=True)
    return np.array([canonical_label(v) for v in distinct], dtype=object)[inverse.reshape(-1)]


def infer_task(values: np.ndarray, max_classes: int) -> str:
    """regression, binary or multiclass from a target column's non-missing strings."""
    import pandas as pd

    numbers = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype="float64")
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
