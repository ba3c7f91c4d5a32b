"""Reads raw prediction inputs in the forms a source trained on: a CSV/TSV/Parquet table (with or
without the target column), NumPy arrays (.npy/.npz), a folder or file of images, a text file of
one example per line or a folder of text files, or a time series table (one window per row).

Every value goes through the same readers as training (`strata.data.tables`,
`strata.data.image_files`), so a served model sees what it was trained on. Unseen categories are
not errors (the model maps them to its OOV bucket), nor are missing values (the model imputes them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from strata.data import image_files, tables
from strata.data.features import Feature
from strata.errors import DataError, suggestion

IMAGE_SUFFIXES = set(image_files.IMAGE_SUFFIXES)


def read_inputs(path: str, features: list[Feature], data_cfg: Any = None) -> tuple[dict[str, np.ndarray], list[str]]:
    """Raw arrays by feature name, and one identifier per example."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"input={path}: no such file or folder ({p.absolute()}).")
    source = getattr(data_cfg, "source", None)
    kinds = [f.kind for f in features]
    if source == "timeseries":
        return _windows(p, features, data_cfg)
    if p.is_dir():
        if kinds == ["image"]:
            return _images(p, features, data_cfg)
        if kinds == ["text"]:
            return _text_folder(p, features[0])
        raise DataError(f"input={path}: a folder is read as images or text files; this model takes a table. Give a file.")
    if p.stat().st_size == 0:
        raise DataError(f"input={path}: the file is empty.")
    suffix = p.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return _images(p, features, data_cfg)
    if suffix == ".npy":
        return _single(np.load(p, allow_pickle=False), features, path)
    if suffix == ".npz":
        with np.load(p, allow_pickle=False) as arrays:
            return _named(dict(arrays), features, path)
    if kinds == ["text"] and source != "csv" and not (source == "text" and suffix in (".csv", ".tsv", ".tab")):
        return _text_lines(p, features[0], data_cfg)
    return _table(p, features, data_cfg)


def _single(array: np.ndarray, features: list[Feature], path: str):
    if len(features) != 1:
        names = ", ".join(f.name for f in features)
        raise DataError(
            f"input={path}: one array given, but the model takes {len(features)} inputs ({names}); "
            "use an .npz with one array per input."
        )
    return {features[0].name: _shaped(array, features[0], path)}, [str(i) for i in range(len(array))]


def _named(arrays: dict[str, np.ndarray], features: list[Feature], path: str):
    if len(arrays) == 1 and len(features) == 1:
        return _single(next(iter(arrays.values())), features, path)
    out = {}
    for f in features:
        key = f.name if f.name in arrays else f.column
        if key not in arrays:
            raise DataError(f"input={path}: no array '{f['name']}'.{suggestion(f['name'], arrays)} Arrays: {', '.join(arrays)}.")
        out[f.name] = _shaped(arrays[key], f, path)
    n = len(next(iter(out.values())))
    return out, [str(i) for i in range(n)]


def _shaped(array: np.ndarray, feature: Feature, path: str) -> np.ndarray:
    shape = tuple(feature.shape)
    try:
        out = np.asarray(array).reshape((-1, *shape))
    except ValueError:
        raise DataError(
            f"input={path}: array of shape {np.shape(array)} does not fit input '{feature['name']}' of shape {shape} per example."
        ) from None
    return out.astype(str).astype(object) if feature.dtype == "string" else out.astype(feature.dtype)


def _images(p: Path, features: list[Feature], data_cfg: Any):
    if [f.kind for f in features] != ["image"]:
        raise DataError(f"input={p}: images given, but the model takes {', '.join(f['name'] for f in features)}.")
    feature = features[0]
    files = [p] if p.is_file() else image_files.image_files(p)
    if not files:
        raise DataError(f"input={p}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) in the folder.")
    # digits-style arrays (no images source) were never resized: resize any image to the input
    resize = feature.options.get("resize", True)
    pixels = image_files.read_images(files, tuple(feature.shape), resize, f"input={p}")
    return {feature.name: pixels}, [str(f.relative_to(p) if p.is_dir() else f.name) for f in files]


def _text_folder(p: Path, feature: Feature):
    from strata.data.text_source import read_text_file, text_files

    files = text_files(p)
    if not files:
        raise DataError(f"input={p}: no text files (.txt) in the folder.")
    texts = [read_text_file(f, "utf-8", f"input={p}") for f in files]
    return {feature.name: np.array(texts, dtype=object).reshape(-1, 1)}, [str(f.relative_to(p)) for f in files]


def _text_lines(p: Path, feature: Feature, data_cfg: Any):
    encoding = getattr(data_cfg, "encoding", "utf-8")
    try:
        lines = [line.strip() for line in p.read_text(encoding=encoding).splitlines() if line.strip()]
    except UnicodeDecodeError as ex:
        raise DataError(f"input={p}: not {encoding} text (byte {ex.start}).") from None
    if not lines:
        raise DataError(f"input={p}: the file holds no lines of text.")
    return {feature.name: np.array(lines, dtype=object).reshape(-1, 1)}, [str(i + 1) for i in range(len(lines))]


def read_prediction_table(p: Path, data_cfg: Any) -> tables.Table:
    """A table read with the training source's delimiter, header and column names; when the
    columns were named by `column_names`, a file without the target column is accepted."""
    delimiter = tables.delimiter_of(getattr(data_cfg, "delimiter", None), [p])
    header = bool(getattr(data_cfg, "header", True))
    names = list(getattr(data_cfg, "column_names", None) or [])
    table = tables.read_table([p], delimiter, header, None, key=f"input={p}", encoding=getattr(data_cfg, "encoding", "utf-8"))
    if names:
        n = len(table.frame.columns)
        target = getattr(data_cfg, "target", None)
        if n == len(names):
            table.frame.columns = names
        elif n == len(names) - 1 and target in names:
            table.frame.columns = [c for c in names if c != target]
        else:
            raise DataError(
                f"input={p}: the file has {n} columns, but the model was trained on {len(names)} "
                f"({', '.join(names)}), with or without the target."
            )
    return table


def _table(p: Path, features: list[Feature], data_cfg: Any):
    table = read_prediction_table(p, data_cfg)
    missing = set(getattr(data_cfg, "missing_values", None) or tables.DEFAULT_MISSING)
    columns = [str(c) for c in table.frame.columns]
    out = {}
    for f in features:
        column = f.source_column
        if f.kind == "image":
            numeric = table.frame.apply(lambda s: s.astype(float), axis=0)
            out[f.name] = _shaped(numeric.to_numpy(dtype="float32"), f, str(p))
            continue
        if column not in columns:
            needed = [g.source_column for g in features if g.source_column not in columns]
            more = f" ({len(needed)} columns missing: {', '.join(needed[:10])})" if len(needed) > 1 else ""
            raise DataError(
                f"input={p}: no column '{column}', which the model needs{more}.{suggestion(column, columns)}"
            )
        if f.dtype == "string":
            out[f.name] = tables.string_column(table, column, missing).reshape(-1, 1)
        else:
            out[f.name] = tables.numeric_column(table, column, missing, key=f"input={p}").reshape(-1, 1)
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


def _windows(p: Path, features: list[Feature], data_cfg: Any):
    """Every full window of a time series table, identified by the row it ends at."""
    from strata.data.timeseries_source import series_values

    feature = next(f for f in features if f.kind == "sequence")
    window, n_columns = feature.shape
    values, _ = series_values(data_cfg, [p], f"input={p}", feature.options.get("columns"))
    if len(values) < window:
        raise DataError(f"input={p}: {len(values)} rows, but the model reads windows of {window} rows.")
    starts = np.arange(0, len(values) - window + 1)
    x = np.stack([values[s : s + window] for s in starts]).astype("float32")
    return {feature.name: x}, [str(s + window) for s in starts]
