"""The reference input an attribution is measured against ("compared with what?").

`mean`: numbers at their training mean, categories at their training frequencies (the average
one-hot or embedding vector), texts empty, images black. `zero`: numbers 0, categories the zero
encoding, texts empty, images black. A number: that raw value for every number and pixel.
"""

from __future__ import annotations

import numpy as np

from strata.data.features import Feature
from strata.errors import ConfigError


def parse_baseline(value: str | float | None) -> str | float:
    if value is None or value == "":
        return "mean"
    if isinstance(value, (int, float)):
        return float(value)
    if value in ("mean", "zero"):
        return value
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"baseline={value}: expected mean, zero or a number.") from None


def raw_baseline(features: list[Feature], reference: dict[str, np.ndarray] | None, choice: str | float) -> dict:
    """One raw example (a batch of 1) that stands for "nothing in particular" per feature."""
    row: dict[str, np.ndarray] = {}
    for f in features:
        shape = (1, *f.shape)
        if f.dtype == "string":
            row[f.name] = np.full(shape, _mode(reference, f) if f.kind == "categorical" else "", dtype=object)
            continue
        if isinstance(choice, float):
            value = np.full(shape, choice, dtype="float64")
        elif choice == "mean" and f.kind in ("numeric", "sequence") and reference is not None:
            values = np.asarray(reference[f.name], dtype="float64")
            mean = np.nanmean(values, axis=0) if np.isfinite(values).any() else np.zeros(values.shape[1:])
            value = np.nan_to_num(mean)[None]
        else:
            value = np.zeros(shape, dtype="float64")
        row[f.name] = value.astype(f.dtype)
    return row


def split_baselines(split, features: list[Feature], reference: dict[str, np.ndarray] | None, choice: str | float) -> list:
    """Baselines at each split point: the raw baseline encoded, with categories averaged."""
    encoded, _ = split.encode(raw_baseline(features, reference, choice))
    out = [np.asarray(t) for t in encoded]
    averaged = None
    for f in features:
        point = split.points.get(f.name)
        if point is None or f.kind != "categorical" or not point.differentiable:
            continue
        if choice == "mean" and reference is not None:
            if averaged is None:  # one pass over the reference sample for every category
                values, _ = split.encode({g.name: reference[g.name][:2000] for g in features})
                averaged = [np.asarray(v).mean(axis=0, keepdims=True) if "float" in str(v.dtype) else None for v in values]
            out[point.index] = averaged[point.index]
        elif choice == "zero" or isinstance(choice, float):
            out[point.index] = np.zeros_like(out[point.index])
    return out


def _mode(reference: dict[str, np.ndarray] | None, feature: Feature) -> str:
    if reference is None or feature.name not in reference:
        return ""
    values, counts = np.unique(np.asarray(reference[feature.name]).astype(str).ravel(), return_counts=True)
    return str(values[counts.argmax()]) if len(values) else ""
