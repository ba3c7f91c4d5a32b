"""Layers of strata's tabular network: embeddings of numeric features and an efficient ensemble.

- `PiecewiseLinearEncoding` and `PeriodicEncoding`: the numeric feature embeddings of Gorishniy
  et al., "On Embeddings for Numerical Features in Tabular Deep Learning" (NeurIPS 2022).
- `EnsembleInputs` and `EnsembleMean`: a TabM-mini ensemble (Gorishniy et al., "TabM: Advancing
  Tabular Deep Learning with Parameter-Efficient Ensembling", ICLR 2025): k members share one MLP
  and differ by a multiplicative adapter on its input and by their own output layers.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops


def quantile_edges(values: np.ndarray, bins: int) -> list[float]:
    """Bin edges of one numeric column for `PiecewiseLinearEncoding`: the distinct quantiles of its
    present training values (at most `bins + 1` edges, at least two)."""
    present = values[np.isfinite(values)].astype("float64")
    if present.size == 0:
        return [0.0, 1.0]
    edges = np.unique(np.quantile(present, np.linspace(0.0, 1.0, bins + 1)))
    if edges.size < 2:
        edges = np.array([edges[0] - 0.5, edges[0] + 0.5])
    return edges.tolist()


@keras.saving.register_keras_serializable(package="strata")
class PiecewiseLinearEncoding(keras.layers.Layer):
    """Encodes each of F numeric columns as T values, one per bin between consecutive edges.

    A value below a bin gives 0, above it 1, and inside it the fraction of the bin it covers; the
    first bin extends below the smallest edge and the last above the largest (values there go
    below 0 or above 1), so the encoding stays informative outside the training range. Columns
    with fewer bins than the widest one are padded with bins that always encode 0.

    Args:
        edges: list of F lists of increasing floats (at least two each): each column's bin edges,
            usually the training split's quantiles (`quantile_edges`).

    Input shape: (batch, F). Output shape: (batch, F, T), T the most bins of any column.

    Example:

    >>> layer = PiecewiseLinearEncoding([[0.0, 1.0, 2.0]])
    >>> layer(keras.ops.convert_to_tensor([[1.5]])).numpy().tolist()
    [[[1.0, 0.5]]]
    """

    def __init__(self, edges, **kwargs):
        super().__init__(**kwargs)
        self.edges = [[float(e) for e in column] for column in edges]
        if any(len(column) < 2 for column in self.edges):
            raise ValueError("PiecewiseLinearEncoding: every column needs at least two edges.")
        bins = max(len(column) for column in self.edges) - 1
        left = np.zeros((len(self.edges), bins), dtype="float32")
        width = np.ones((len(self.edges), bins), dtype="float32")
        used = np.zeros((len(self.edges), bins), dtype="float32")
        last = np.zeros((len(self.edges), bins), dtype="float32")
        for i, column in enumerate(self.edges):
            e = np.asarray(column, dtype="float64")
            n = len(e) - 1
            left[i, :n] = e[:-1]
            width[i, :n] = np.maximum(np.diff(e), 1e-12)
            used[i, :n] = 1.0
            last[i, n - 1] = 1.0
        first = np.zeros_like(used)
        first[:, 0] = 1.0
        self._left, self._width, self._used, self._first, self._last = left, width, used, first, last

    def call(self, inputs):
        x = ops.expand_dims(ops.cast(inputs, "float32"), -1)
        t = (x - self._left) / self._width
        # first bin: no lower clip; last bin: no upper clip; every other bin in [0, 1]
        lower = ops.where(self._first > 0, t, ops.maximum(t, 0.0))
        clipped = ops.where(self._last > 0, lower, ops.minimum(lower, 1.0))
        return ops.cast(clipped * self._used, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.edges), self._left.shape[1])

    def get_config(self):
        return {**super().get_config(), "edges": self.edges}


@keras.saving.register_keras_serializable(package="strata")
class PeriodicEncoding(keras.layers.Layer):
    """Encodes each of F (standardized) numeric columns as `[cos(2 pi c x), sin(2 pi c x)]` for
    `frequencies` trainable frequencies c per column, initialized from N(0, scale^2).

    Input shape: (batch, F). Output shape: (batch, F, 2 * frequencies).
    """

    def __init__(self, frequencies: int = 16, scale: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.frequencies = int(frequencies)
        self.scale = float(scale)

    def build(self, input_shape):
        self.coefficients = self.add_weight(
            name="coefficients",
            shape=(input_shape[-1], self.frequencies),
            initializer=keras.initializers.RandomNormal(stddev=self.scale),
        )

    def call(self, inputs):
        x = 2 * math.pi * ops.expand_dims(ops.cast(inputs, self.compute_dtype), -1) * self.coefficients
        return ops.concatenate([ops.cos(x), ops.sin(x)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1], 2 * self.frequencies)

    def get_config(self):
        return {**super().get_config(), "frequencies": self.frequencies, "scale": self.scale}


@keras.saving.register_keras_serializable(package="strata")
class EnsembleInputs(keras.layers.Layer):
    """Copies each example for k ensemble members and scales member i's copy by its own trainable
    vector (TabM-mini's adapter, initialized with random signs so members start apart).

    Input shape: (batch, D). Output shape: (batch, k, D).
    """

    def __init__(self, members: int, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.members = int(members)
        self.seed = seed

    def build(self, input_shape):
        def random_signs(shape, dtype=None):
            signs = keras.random.uniform(shape, seed=self.seed) < 0.5
            return ops.cast(ops.where(signs, -1.0, 1.0), dtype or "float32")

        self.scales = self.add_weight(name="scales", shape=(self.members, input_shape[-1]), initializer=random_signs)

    def call(self, inputs):
        return ops.expand_dims(inputs, 1) * ops.cast(self.scales, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.members, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "members": self.members, "seed": self.seed}


@keras.saving.register_keras_serializable(package="strata")
class EnsembleMean(keras.layers.Layer):
    """Averages the k members' outputs (batch, k, units) into the model's (batch, units), and in
    training adds to the loss what makes it the mean of the members' own losses.

    The output is the members' mean standardized value (regression) or mean logit (classes);
    every member is trained on its own prediction, as TabM trains its members. For the default
    losses this is exact, with no targets needed in the layer:
    - `regression` (mean squared error): mean_i (y - p_i)^2 = (y - p)^2 + mean_i (p_i - p)^2;
    - `softmax` (cross-entropy over logits z): mean_i CE(y, z_i) = CE(y, z) + mean_i lse(z_i) - lse(z);
    - `sigmoid` (binary cross-entropy per output): the same with lse(z) = softplus(z).
    Here p and z are the members' means, and the added term is never negative.

    Args:
        kind: `regression`, `softmax` or `sigmoid`: what the members' outputs are.
    """

    KINDS = ("regression", "softmax", "sigmoid")

    def __init__(self, kind: str = "regression", **kwargs):
        super().__init__(**kwargs)
        if kind not in self.KINDS:
            raise ValueError(f"EnsembleMean: kind must be one of {self.KINDS}. Received: kind={kind}")
        self.kind = kind

    def call(self, inputs, training=None):
        z = ops.cast(inputs, "float32")
        mean = ops.mean(z, axis=1)
        if training:
            if self.kind == "regression":
                spread = ops.mean(ops.square(z - ops.expand_dims(mean, 1)))
            elif self.kind == "softmax":
                spread = ops.mean(ops.logsumexp(z, axis=-1)) - ops.mean(ops.logsumexp(mean, axis=-1))
            else:
                spread = ops.mean(ops.softplus(z)) - ops.mean(ops.softplus(mean))
            self.add_loss(spread)
        return mean

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "kind": self.kind}
