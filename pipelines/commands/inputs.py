"""Reads raw prediction inputs in the forms a source trained on: a CSV/TSV/Parquet table,
NumPy arrays (.npy/.npz), a folder or file of images, or a text file of one example per line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pipelines.errors import DataError, suggestion

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}


def read_inputs(path: str, features: list[dict[str, Any]], data_cfg: Any = None) -> tuple[dict[str, np.ndarray], list[str]]:
    """Raw arrays by feature name, and one identifier per example."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"input={path}: no such file or folder.")
    if p.is_dir() or p.suffix.lower() in IMAGE_SUFFIXES:
        return _images(p, features)
    suffix = p.suffix.lower()
    if suffix == ".npy":
        return _single(np.load(p, allow_pickle=False), features, path)
    if suffix == ".npz":
        with np.load(p, allow_pickle=False) as arrays:
            return _named(dict(arrays), features, path)
    if suffix in (".txt",) and len(features) == 1 and features[0]["kind"] == "text":
        lines = [line.rstrip("\n") for line in p.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
        return {features[0]["name"]: np.array(lines, dtype=object).reshape(-1, 1)}, [str(i) for i in range(len(lines))]
    return _table(p, features, data_cfg)


def _single(array: np.ndarray, features: list[dict], path: str):
    if len(features) != 1:
        names = ", ".join(f["name"] for f in features)
        raise DataError(f"input={path}: one array given, but the model takes {len(features)} inputs ({names}); use an .npz with one array per input.")
    return {features[0]["name"]: _shaped(array, features[0], path)}, [str(i) for i in range(len(array))]


def _named(arrays: dict[str, np.ndarray], features: list[dict], path: str):
    if len(arrays) == 1 and len(features) == 1:
        return _single(next(iter(arrays.values())), features, path)
    out = {}
    for f in features:
        if f["name"] not in arrays:
            raise DataError(f"input={path}: no array '{f['name']}'.{suggestion(f['name'], arrays)} Arrays: {', '.join(arrays)}.")
        out[f["name"]] = _shaped(arrays[f["name"]], f, path)
    n = len(next(iter(out.values())))
    return out, [str(i) for i in range(n)]


def _shaped(array: np.ndarray, feature: dict, path: str) -> np.ndarray:
    shape = tuple(feature["shape"])
    try:
        out = np.asarray(array).reshape((-1, *shape))
    except ValueError:
        raise DataError(
            f"input={path}: array of shape {np.shape(array)} does not fit input '{feature['name']}' of shape {shape} per example."
        ) from None
    return out.astype(object) if feature["dtype"] == "string" else out.astype(feature["dtype"])


def _images(p: Path, features: list[dict]):
    from PIL import Image, UnidentifiedImageError

    image_features = [f for f in features if f["kind"] == "image"]
    if len(image_features) != 1 or len(features) != 1:
        raise DataError(f"input={p}: a folder of images needs a model with one image input.")
    feature = image_features[0]
    files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"input={p}: no image files (png, jpg, bmp, gif) in the folder.")
    height, width, channels = feature["shape"]
    images = []
    for f in files:
        try:
            with Image.open(f) as img:
                img = img.convert("L" if channels == 1 else "RGB").resize((width, height))
                images.append(np.asarray(img, dtype="float32").reshape(height, width, channels))
        except (UnidentifiedImageError, OSError) as ex:
            raise DataError(f"input={f}: not a readable image ({ex}).") from None
    return {feature["name"]: np.stack(images)}, [str(f.relative_to(p) if p.is_dir() else f.name) for f in files]


def _table(p: Path, features: list[dict], data_cfg: Any):
    import pandas as pd

    try:
        if p.suffix.lower() == ".parquet":
            frame = pd.read_parquet(p)
        else:
            sep = "\t" if p.suffix.lower() in (".tsv", ".tab") else getattr(data_cfg, "delimiter", None) or ","
            header = getattr(data_cfg, "header", True)
            names = list(getattr(data_cfg, "column_names", None) or []) or None
            frame = pd.read_csv(
                p, sep=sep, header=0 if header else None, names=None if header else names,
                keep_default_na=False, dtype=str, encoding_errors="replace", quoting=3 if sep == "\t" else 0,
            )
    except (ValueError, OSError, pd.errors.ParserError) as ex:
        raise DataError(f"input={p}: cannot read as a table ({str(ex).splitlines()[0]}).") from None
    if frame.empty:
        raise DataError(f"input={p}: the file holds no rows.")
    out = {}
    for f in features:
        column = f.get("column") or f["name"]
        if f["kind"] == "image":
            numeric = frame.apply(pd.to_numeric, errors="coerce")
            out[f["name"]] = _shaped(numeric.to_numpy(dtype="float32"), f, str(p))
            continue
        if column not in frame.columns:
            if column == f["name"] and f.get("column") not in (None, column):
                column = f["column"]
            raise DataError(
                f"input={p}: column '{column}' is missing; the model needs it.{suggestion(column, frame.columns)}"
            )
        out[f["name"]] = _column(frame[column], f, p)
    return out, [str(i) for i in range(len(frame))]


def _column(series, feature: dict, p: Path) -> np.ndarray:
    import pandas as pd

    missing = set((feature.get("options") or {}).get("missing_values", ["", "NA", "N/A", "NaN", "nan", "null", "None"]))
    if feature["dtype"] == "string":
        return series.fillna("").astype(str).to_numpy(dtype=object).reshape(-1, 1)
    values = series.where(~series.isin(missing), None)
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() & values.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(
            f"input={p}: column '{series.name}' row {row + 2} holds {values.iloc[row]!r}, expected a number."
        )
    return numbers.to_numpy(dtype="float32").reshape(-1, 1)
