"""Reads raw prediction inputs, the one reader of `strata predict` and `strata explain`: a table
(CSV, TSV, Parquet, JSON Lines, with or without the target column), NumPy arrays (.npy/.npz), a
folder or file of images, a text file of one example per line or a folder of text files, or a time
series table (one window per full run of rows); `-` reads any of the text forms or Parquet from
stdin.

A table is read in its own form, not the training file's: its delimiter follows from its suffix
(.csv comma, .tsv/.tab tab), else is sniffed from its first lines (one of `,` tab `;` `|`, else
the training delimiter); its first row is a header when it names the model's columns, else it is
data in the training file's column order. Comma (`;`, `|`) files honour CSV quoting; tab files
keep quotes as text, as training does (`strata.data.tables`): sentences hold stray `"`s. A row
that does not fit (a wrong number of fields, a line that is not a JSON object) is a `DataError`
naming the file and line, so that there is one prediction per data row, always.

Every value then goes through the same readers as training (`strata.data.tables`,
`strata.data.image_files`), so a served model sees what it was trained on. Unseen categories are
not errors (the model maps them to its OOV bucket), nor are missing values (the model imputes them).
"""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from strata.data import image_files, tables
from strata.data.features import Feature
from strata.errors import DataError, UserError, suggestion

IMAGE_SUFFIXES = set(image_files.IMAGE_SUFFIXES)
STDIN = "-"  # input=- reads stdin
DELIMITED_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
PARQUET_SUFFIXES = (".parquet", ".pq")
JSON_LINES_SUFFIXES = (".jsonl", ".ndjson")
SNIFFED_DELIMITERS = ",\t;|"
SAMPLE_LINES = 50  # the first lines a delimiter is sniffed on and a table's shape is checked on
DELIMITER_NAMES = {",": "','", "\t": "tab", ";": "';'", "|": "'|'", " ": "space"}


@dataclass
class RawInputs:
    """Raw arrays by model input name, one identifier per example, and how they were read.

    Args:
        x: the model's raw inputs, `(n, *shape)` arrays by input name.
        ids: the examples' identifiers (an id column's values, row or line numbers, file names).
        summary: one line saying how the input was read (its delimiter, header and rows), for the log.
    """

    x: dict[str, np.ndarray]
    ids: list[str]
    summary: str


def read_inputs(path: str, features: list[Feature], data_cfg: Any = None) -> tuple[dict[str, np.ndarray], list[str]]:
    """Raw arrays by feature name, and one identifier per example (`read` without its summary)."""
    inputs = read(path, features, data_cfg)
    return inputs.x, inputs.ids


def input_stem(value: str) -> str:
    """What the outputs of an input are named after: its file name without the suffix, or `stdin`."""
    return "stdin" if value == STDIN else Path(value).stem


def read(path: str, features: list[Feature], data_cfg: Any = None, stdin: BinaryIO | None = None) -> RawInputs:
    """The raw inputs of a file, a folder or (`-`) stdin, for a model of `features` trained on
    `data_cfg` (the run's data config, or None)."""
    if path == STDIN:
        data = (stdin or sys.stdin.buffer).read()
        if not data.strip():
            raise DataError("input=-: nothing was read from stdin.")
        return _content(_Source("stdin", "input=-", "", data), features, data_cfg)
    p = Path(path)
    if not p.exists():
        raise DataError(f"input={path}: no such file or folder ({p.absolute()}).")
    kinds = [f.kind for f in features]
    if p.is_dir():
        if getattr(data_cfg, "source", None) == "timeseries":
            raise DataError(f"input={path}: a folder; this model forecasts from a table of time steps. Give a file.")
        if kinds == ["image"]:
            return _images(p, features)
        if kinds == ["text"]:
            return _text_folder(p, features[0])
        raise DataError(f"input={path}: a folder is read as images or text files; this model takes a table. Give a file.")
    if p.stat().st_size == 0:
        raise DataError(f"input={path}: the file is empty.")
    suffix = p.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return _images(p, features)
    if suffix == ".npy":
        return _single(np.load(p, allow_pickle=False), features, path)
    if suffix == ".npz":
        with np.load(p, allow_pickle=False) as arrays:
            return _named(dict(arrays), features, path)
    return _content(_Source(path, f"input={path}", suffix, p.read_bytes()), features, data_cfg)


@dataclass
class _Source:
    """The bytes of an input file or of stdin, with how messages name it."""

    label: str  # the path as given, or 'stdin'
    key: str  # what error messages start with: input=<path>
    suffix: str  # lower case; '' for stdin
    data: bytes

    def text(self, encoding: str) -> str:
        try:
            return self.data.decode(_codec(encoding))
        except UnicodeDecodeError as ex:
            raise DataError(f"{self.key}: not {encoding} text (byte {ex.start}); inputs are read in the run's data.encoding.") from None

    def first_text_char(self) -> str:
        head = self.data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
        return chr(head[0]) if head else ""


def _codec(encoding: str) -> str:
    """utf-8 read as utf-8-sig: a spreadsheet's byte order mark would be part of the first column's name."""
    return "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding


def _content(source: _Source, features: list[Feature], data_cfg: Any) -> RawInputs:
    """A file or stdin read as a table (or, for a text model, as lines of text), by its suffix or
    else by what it holds."""
    columns = _Columns.of(features, data_cfg)
    encoding = getattr(data_cfg, "encoding", None) or "utf-8"
    known_suffix = source.suffix in (*DELIMITED_SUFFIXES, *PARQUET_SUFFIXES, *JSON_LINES_SUFFIXES)
    if source.suffix in PARQUET_SUFFIXES or (not known_suffix and source.data[:4] == b"PAR1"):
        table, how = _parquet(source), "Parquet"
    elif source.suffix in JSON_LINES_SUFFIXES or (not known_suffix and source.first_text_char() == "{"):
        table, how = _json_lines(source, source.text(encoding)), "JSON Lines"
    else:
        text = source.text(encoding)
        if source.suffix in DELIMITED_SUFFIXES:
            delimiter = DELIMITED_SUFFIXES[source.suffix]
        elif columns.text_lines:
            delimiter = _text_table_delimiter(_sample(text), columns)
            if delimiter is None:
                return _text_lines(source, text, features[0])
        else:
            delimiter = _sniff(_sample(text), columns)
        table, how = _delimited(source, text, columns, delimiter, by_suffix=source.suffix in DELIMITED_SUFFIXES)
    read_how = f"read {_count(len(table.frame), 'row')} from {source.label} ({how})"
    if columns.source == "timeseries":
        return _windows(table, features, data_cfg, source.key, read_how)
    x, ids = _table_inputs(table, features, data_cfg, source.key)
    return RawInputs(x, ids, read_how)


@dataclass
class _Columns:
    """What a run knows of the columns its training file had, to recognise a header row and to
    name the columns of a file without one."""

    needed: list[str]  # the columns the model's inputs are read from
    known: set[str]  # every column name of the training data (inputs, target, id, column names)
    order: list[str] | None  # the training file's columns in order, when known
    target: str | None
    delimiter: str  # the training delimiter: the fallback when sniffing finds none
    source: str | None  # the training source (csv, text, timeseries, ...)
    pixels: bool  # the model takes one image, as a table's row of pixel values
    text_lines: bool  # a file of another suffix may be lines of text, one example each

    @classmethod
    def of(cls, features: list[Feature], cfg: Any) -> _Columns:
        source = getattr(cfg, "source", None)
        if source == "timeseries":
            needed = [c for f in features for c in f.options.get("columns") or []]
        else:
            needed = [f.source_column for f in features]
        target = getattr(cfg, "target", None)
        target = target if isinstance(target, str) else None
        extra = [getattr(cfg, "time_column", None), target, getattr(cfg, "id_column", None), getattr(cfg, "text_column", None)]
        extra += list(getattr(cfg, "targets", None) or [])
        training = _training_file(cfg)
        order = list(getattr(cfg, "column_names", None) or []) or _header_of(training, cfg)
        known = {*needed, *(f.name for f in features), *(order or []), *(c for c in extra if isinstance(c, str) and c != "auto")}
        kinds = [f.kind for f in features]
        return cls(
            needed=needed,
            known={c for c in known if c},
            order=order,
            target=target,
            delimiter=_training_delimiter(cfg, training),
            source=source,
            pixels=kinds == ["image"],
            text_lines=kinds == ["text"] and source != "csv",
        )

    def named(self, cells: list[str]) -> list[str]:
        """The cells of a row that name a column of the training data."""
        return [c.strip() for c in cells if c.strip() in self.known]

    def headerless(self, width: int) -> list[str] | None:
        """The column names of a row of `width` fields in the training file's order: all its
        columns, or all but the target; None when the width is neither."""
        order = self.order or self.needed
        if width == len(order):
            return list(order)
        if self.target in order and width == len(order) - 1:
            return [c for c in order if c != self.target]
        return None


def _training_file(cfg: Any) -> Path | None:
    """The run's (first) training file, when it still exists."""
    from strata.data import file_paths

    path = getattr(cfg, "path", None)
    if not isinstance(path, str) or not path:
        return None
    try:
        files = file_paths.matching_files(path, getattr(cfg, "base_dir", None))
    except (UserError, OSError):
        return None
    return files[0] if files and files[0].is_file() else None


def _training_delimiter(cfg: Any, training: Path | None) -> str:
    value = getattr(cfg, "delimiter", None)
    try:
        return tables.delimiter_of(value if isinstance(value, str) else None, [training] if training else None)
    except (UserError, OSError):
        return ","


def _header_of(training: Path | None, cfg: Any) -> list[str] | None:
    """The column names in the first line of the training file, when it had a header."""
    if training is None or not getattr(cfg, "header", True):
        return None
    try:
        if training.suffix.lower() in PARQUET_SUFFIXES:
            import pyarrow.parquet as pq

            return [str(c) for c in pq.read_schema(training).names]
        delimiter = _training_delimiter(cfg, training)
        with open(training, encoding=_codec(getattr(cfg, "encoding", None) or "utf-8"), newline="") as f:
            first = next(csv.reader(f, delimiter=delimiter, quoting=_quoting(delimiter)), None)
    except (UserError, OSError, ValueError, csv.Error, StopIteration):
        return None
    return [c.strip() for c in first] if first else None


def _quoting(delimiter: str) -> int:
    """Tab files keep quotes as text, as training reads them; others honour CSV quoting."""
    return csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL


def _sample(text: str) -> str:
    return "\n".join(_lines(text)[:SAMPLE_LINES])


def _lines(text: str) -> list[str]:
    """The lines of a text (only \\n, \\r\\n and \\r end one: a sentence may hold other breaks)."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _sample_records(sample: str, delimiter: str) -> list[list[str]]:
    """The non-blank records of a sample, leniently (the sample may end inside a quoted value)."""
    try:
        records = list(csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter, quoting=_quoting(delimiter)))
    except csv.Error:
        return []
    return [r for r in records if not _blank(r)]


def _sniff(sample: str, columns: _Columns) -> str:
    """The delimiter of a table's first lines, among csv.Sniffer's choice, the training delimiter
    and `,` tab `;` `|`, of those that split every line into as many fields: the one whose first
    row names the model's columns (a header); else one that splits it into the training file's
    columns (the training delimiter first, then tab: values hold commas more often than tabs);
    else the first. A one-column sample whose lines include a whole quoted value is a CSV: its
    quotes are quoting, not text."""
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=SNIFFED_DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
        quoted = any(len(line.strip()) > 1 and line.strip()[0] == line.strip()[-1] == '"' for line in _lines(sample))
        if quoted and {len(r) for r in _sample_records(sample, ",")} == {1}:
            return ","
    candidates = list(dict.fromkeys(d for d in (sniffed, columns.delimiter, *SNIFFED_DELIMITERS) if d))
    records = {d: _sample_records(sample, d) for d in candidates}
    even = [d for d in candidates if len({len(r) for r in records[d]}) == 1]
    for d in even:
        if columns.named(records[d][0]):
            return d
    split = [d for d in even if len(records[d][0]) > 1 and columns.headerless(len(records[d][0])) is not None]
    for d in (columns.delimiter, "\t", *split):
        if d in split:
            return d
    return even[0] if even else sniffed or columns.delimiter


def _text_table_delimiter(sample: str, columns: _Columns) -> str | None:
    """For a text model given a file that is not a .csv/.tsv: the delimiter of a table when its
    first row names a column (a header) or when each of its first lines holds the training file's
    columns separated by tabs (the training file itself); None for lines of text, which are never
    split at their commas."""
    delimiter = _sniff(sample, columns)
    records = _sample_records(sample, delimiter)
    if records and columns.named(records[0]):
        return delimiter
    widths = {len(r) for r in _sample_records(sample, "\t")}
    if len(widths) == 1 and min(widths) > 1 and columns.headerless(min(widths)) is not None:
        return "\t"
    return None


def _blank(record: list[str]) -> bool:
    return not record or (len(record) == 1 and not record[0].strip())


def _records(source: _Source, text: str, delimiter: str) -> list[tuple[int, list[str]]]:
    """Every non-blank record with the line it starts on; a broken quote is a `DataError`."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # a long text is one field
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=_quoting(delimiter), strict=True)
    records = []
    while True:
        line = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            return records
        except csv.Error as ex:
            raise DataError(
                f"{source.key}: line {line} cannot be read as {_name(delimiter)}-separated values ({ex}); "
                'a value holding the delimiter, a quote or a line break must be quoted, with its quotes doubled ("").'
            ) from None
        if not _blank(record):
            records.append((line, record))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _name(delimiter: str) -> str:
    return DELIMITER_NAMES.get(delimiter, repr(delimiter))


def _delimited(source: _Source, text: str, columns: _Columns, delimiter: str, by_suffix: bool) -> tuple[tables.Table, str]:
    """A delimited table: a header when its first row names the model's columns, else data in the
    training file's column order; every row must have as many fields as the first."""
    if by_suffix:
        # a .csv holding tabs (a spreadsheet's "text" export): its first line names columns only when split by them
        sample = _sample(text)
        first = _sample_records(sample, delimiter)[:1]
        if first and len(first[0]) == 1 and not columns.named(first[0]):
            sniffed = _sniff(sample, columns)
            again = _sample_records(sample, sniffed)[:1]
            if again and columns.named(again[0]):
                delimiter = sniffed
    records = _records(source, text, delimiter)
    if not records:
        raise DataError(f"{source.key}: the file holds no rows, only blank lines.")
    first_line, first = records[0]
    if columns.pixels:
        header = not all(_is_number(c) for c in first)
        names = [c.strip() for c in first] if header else [f"column_{i + 1}" for i in range(len(first))]
        how = "header yes" if header else "header no"
    elif columns.named(first):
        header, names, how = True, [c.strip() for c in first], "header yes"
    else:
        header, names = False, columns.headerless(len(first))
        if names is None:
            order = columns.order or columns.needed
            target = f" with or without the target '{columns.target}'" if columns.target in order else ""
            raise DataError(
                f"{source.key}: line {first_line} names none of the model's columns ({', '.join(columns.needed[:10])}), so it is "
                f"data, but it has {len(first)} fields (delimiter {_name(delimiter)}) and the model was trained on "
                f"{len(order)} columns ({', '.join(order[:10])}){target}. Start the file with a header row naming the columns."
            )
        how = f"header no: line {first_line} is data, the columns are the training file's ({', '.join(names[:10])})"
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if header and duplicated:
        raise DataError(f"{source.key}: the header (line {first_line}) names the column '{duplicated[0]}' twice.")
    rows = records[1:] if header else records
    if not rows:
        raise DataError(f"{source.key}: the file holds a header row (line {first_line}) and no data rows.")
    width = len(names)
    for line, record in rows:
        if len(record) != width:
            what = f"the header (line {first_line})" if header else f"line {first_line}"
            hint = f"; quote a value that holds {_name(delimiter)}" if delimiter != "\t" else ""
            raise DataError(
                f"{source.key}: line {line} has {len(record)} fields, but {what} has {width} (delimiter {_name(delimiter)}){hint}."
            )
    import pandas as pd

    frame = pd.DataFrame([r for _, r in rows], columns=names, dtype=object)
    table = tables.Table(frame, [Path(source.label)], [0], header, lines=[line for line, _ in rows])
    return table, f"delimiter {_name(delimiter)}, {how}"


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _json_lines(source: _Source, text: str) -> tables.Table:
    """One JSON object per line, its keys the column (or input) names; a key absent from a line
    is a missing value there."""
    import pandas as pd

    rows, lines, keys = [], [], {}
    for number, line in enumerate(_lines(text), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as ex:
            raise DataError(f"{source.key}: line {number} is not valid JSON ({ex.msg}, column {ex.colno}).") from None
        if not isinstance(value, dict):
            raise DataError(
                f"{source.key}: line {number} holds a JSON {type(value).__name__}, expected one object per line "
                'whose keys are the model\'s columns, e.g. {"sentence": "..."}.'
            )
        row = {}
        for key, cell in value.items():
            row[key] = _json_cell(cell, key, number, source)
            keys.setdefault(key, None)
        rows.append(row)
        lines.append(number)
    if not rows:
        raise DataError(f"{source.key}: the file holds no JSON objects, only blank lines.")
    frame = pd.DataFrame([[row.get(k, "") for k in keys] for row in rows], columns=list(keys), dtype=object)
    return tables.Table(frame, [Path(source.label)], [0], True, lines=lines)


def _json_cell(value: Any, key: str, line: int, source: _Source) -> str:
    """A JSON value as the string a CSV cell would hold: null is missing (''), true is 'true'."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise DataError(f"{source.key}: line {line}: '{key}' holds a JSON {type(value).__name__}; each key takes one value per line.")


def _parquet(source: _Source) -> tables.Table:
    import pandas as pd

    try:
        frame = pd.read_parquet(io.BytesIO(source.data))
    except Exception as ex:  # pyarrow raises several types for a broken file
        raise DataError(f"{source.key}: cannot read it as Parquet ({str(ex).splitlines()[0] if str(ex) else type(ex).__name__}).") from None
    if len(frame) == 0:
        raise DataError(f"{source.key}: the Parquet file holds no rows.")
    return tables.Table(tables.parquet_strings(frame), [Path(source.label)], [0], True)


def _table_inputs(table: tables.Table, features: list[Feature], data_cfg: Any, key: str):
    """The model's inputs from a table's columns, each found by its column (or input) name."""
    missing = set(getattr(data_cfg, "missing_values", None) or tables.DEFAULT_MISSING)
    columns = [str(c) for c in table.frame.columns]
    out = {}
    for f in features:
        if f.kind == "image":
            numbers = np.stack([tables.numeric_column(table, c, missing, key) for c in columns], axis=1)
            out[f.name] = _shaped(numbers, f, key.removeprefix("input="))
            continue
        column = f.source_column if f.source_column in columns else f.name
        if column not in columns:
            needed = [g.source_column for g in features if g.source_column not in columns and g.name not in columns]
            more = f" ({len(needed)} columns missing: {', '.join(needed[:10])})" if len(needed) > 1 else ""
            raise DataError(
                f"{key}: no column '{f.source_column}', which the model needs{more}.{suggestion(f.source_column, columns)} "
                f"Columns: {', '.join(columns[:30])}."
            )
        if f.dtype == "string":
            out[f.name] = tables.string_column(table, column, missing).reshape(-1, 1)
        else:
            out[f.name] = tables.numeric_column(table, column, missing, key=key).reshape(-1, 1)
    return out, _row_ids(table, data_cfg)


def _row_ids(table: tables.Table, data_cfg: Any) -> list[str]:
    """The id column's values when the training data had one, else row numbers from 1."""
    id_column = getattr(data_cfg, "id_column", None)
    columns = [str(c) for c in table.frame.columns]
    if id_column == "auto":
        id_column = next((c for c in columns if c.lower() == "id"), None)
    if id_column and id_column in columns:
        return table.frame[id_column].astype(str).tolist()
    return [str(i + 1) for i in range(len(table.frame))]


def _windows(table: tables.Table, features: list[Feature], data_cfg: Any, key: str, how: str) -> RawInputs:
    """Every full window of a time series table, identified by the row it ends at."""
    from strata.data.timeseries_source import series_values

    feature = next(f for f in features if f.kind == "sequence")
    window, n_columns = feature.shape
    values, _ = series_values(data_cfg, table.files, key, feature.options.get("columns"), table=table)
    if len(values) < window:
        raise DataError(f"{key}: {len(values)} rows, but the model reads windows of {window} rows.")
    starts = np.arange(0, len(values) - window + 1)
    x = np.stack([values[s : s + window] for s in starts]).astype("float32")
    return RawInputs({feature.name: x}, [str(s + window) for s in starts], f"{how}: {len(starts)} windows of {window} rows")


def _text_lines(source: _Source, text: str, feature: Feature) -> RawInputs:
    lines = [line.strip() for line in _lines(text) if line.strip()]
    if not lines:
        raise DataError(f"{source.key}: the file holds no lines of text.")
    x = {feature.name: np.array(lines, dtype=object).reshape(-1, 1)}
    how = f"read {_count(len(lines), 'line')} from {source.label} (text, one example per line)"
    return RawInputs(x, [str(i + 1) for i in range(len(lines))], how)


def _single(array: np.ndarray, features: list[Feature], path: str) -> RawInputs:
    if len(features) != 1:
        names = ", ".join(f.name for f in features)
        raise DataError(
            f"input={path}: one array given, but the model takes {len(features)} inputs ({names}); use an .npz with one array per input."
        )
    x = {features[0].name: _shaped(array, features[0], path)}
    n = len(x[features[0].name])
    return RawInputs(x, [str(i) for i in range(n)], f"read {_count(n, 'example')} from {path} (a NumPy array)")


def _named(arrays: dict[str, np.ndarray], features: list[Feature], path: str) -> RawInputs:
    if len(arrays) == 1 and len(features) == 1:
        return _single(next(iter(arrays.values())), features, path)
    out = {}
    for f in features:
        key = f.name if f.name in arrays else f.column
        if key not in arrays:
            raise DataError(f"input={path}: no array '{f.name}'.{suggestion(f.name, arrays)} Arrays: {', '.join(arrays)}.")
        out[f.name] = _shaped(arrays[key], f, path)
    n = len(next(iter(out.values())))
    return RawInputs(out, [str(i) for i in range(n)], f"read {_count(n, 'example')} from {path} (NumPy arrays {', '.join(out)})")


def _shaped(array: np.ndarray, feature: Feature, path: str) -> np.ndarray:
    shape = tuple(feature.shape)
    try:
        out = np.asarray(array).reshape((-1, *shape))
    except ValueError:
        raise DataError(
            f"input={path}: array of shape {np.shape(array)} does not fit input '{feature.name}' of shape {shape} per example."
        ) from None
    return out.astype(str).astype(object) if feature.dtype == "string" else out.astype(feature.dtype)


def _images(p: Path, features: list[Feature]) -> RawInputs:
    if [f.kind for f in features] != ["image"]:
        raise DataError(f"input={p}: images given, but the model takes {', '.join(f.name for f in features)}.")
    feature = features[0]
    files = [p] if p.is_file() else image_files.image_files(p)
    if not files:
        raise DataError(f"input={p}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) in the folder.")
    # digits-style arrays (no images source) were never resized: resize any image to the input
    resize = feature.options.get("resize", True)
    pixels = image_files.read_images(files, tuple(feature.shape), resize, f"input={p}")
    ids = [str(f.relative_to(p) if p.is_dir() else f.name) for f in files]
    return RawInputs({feature.name: pixels}, ids, f"read {_count(len(files), 'image')} from {p}")


def _text_folder(p: Path, feature: Feature) -> RawInputs:
    from strata.data.text_source import read_text_file, text_files

    files = text_files(p)
    if not files:
        raise DataError(f"input={p}: no text files (.txt) in the folder.")
    texts = [read_text_file(f, "utf-8", f"input={p}") for f in files]
    x = {feature.name: np.array(texts, dtype=object).reshape(-1, 1)}
    return RawInputs(x, [str(f.relative_to(p)) for f in files], f"read {_count(len(files), 'text file')} from {p}")
