"""Compresses heavy-tailed numeric columns: sign(x) * log(1 + |x|) on chosen columns."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


def signed_log(values: np.ndarray) -> np.ndarray:
    """The NumPy twin of `SignedLog` on every column."""
    return np.sign(values) * np.log1p(np.abs(values))


def skewness(values: np.ndarray) -> np.ndarray:
    """Per column, the sample skewness of the present (finite) values; 0 for a constant column."""
    values = np.where(np.isfinite(values), values, np.nan).astype("float64")
    mean = np.nanmean(values, axis=0)
    centered = values - mean
    std = np.sqrt(np.nanmean(centered**2, axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        skew = np.nanmean(centered**3, axis=0) / std**3
    return np.nan_to_num(skew)


# a column is heavy-tailed when the skewness of its training values is beyond this (|skew| > 2
# is the usual mark of a strongly skewed distribution: counts, areas, prices, incomes)
HEAVY_TAIL_SKEW = 2.0


def heavy_tailed(values: np.ndarray) -> np.ndarray:
    """Per column of training values: whether the signed log makes it markedly less skewed."""
    if values.size == 0 or not np.isfinite(values).any():
        return np.zeros(values.shape[1:], dtype=bool)
    raw = np.abs(skewness(values))
    logged = np.abs(skewness(signed_log(values)))
    return (raw > HEAVY_TAIL_SKEW) & (logged < raw)


@keras.saving.register_keras_serializable(package="strata")
class SignedLog(keras.layers.Layer):
    """Applies sign(x) * log(1 + |x|) to the columns `columns` marks, leaves the others as they are.

    Args:
        columns: list of bools, one per last-axis entry.

    Example:

    >>> layer = SignedLog([True, False])
    >>> [round(v, 3) for v in layer(keras.ops.convert_to_tensor([[-9.0, 9.0]])).numpy()[0].tolist()]
    [-2.303, 9.0]
    """

    def __init__(self, columns, **kwargs):
        super().__init__(**kwargs)
        self.columns = [bool(c) for c in columns]

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        logged = ops.sign(x) * ops.log1p(ops.abs(x))
        return ops.where(np.asarray(self.columns), logged, x)

    def get_config(self):
        return {**super().get_config(), "columns": self.columns}
