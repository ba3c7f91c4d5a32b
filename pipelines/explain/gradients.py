"""Gradient attributions at the split points: integrated gradients and saliency.

Integrated gradients (Sundararajan et al., 2017) average the gradient along the straight path from
a baseline to the input, times the input's difference from the baseline. The attributions of an
example add up to `prediction - baseline prediction` (completeness), up to the error of the
trapezoidal rule over `steps` intervals.
"""

from __future__ import annotations

import numpy as np

from strata.explain.model_split import SplitModel

# interpolated examples per forward/backward pass; bounds memory, keeps a pass cheap on a CPU
CHUNK = 2048


def integrated_gradients(
    split: SplitModel, xs: list, masks: list, baselines: list, targets: np.ndarray, steps: int = 64
) -> list[np.ndarray | None]:
    """Attributions at each split point (None for points that take no gradient).

    Args:
        split: the model split at its differentiable inputs.
        xs: the inputs' split tensors, one array (n, ...) per point.
        masks: Keras masks of those tensors (None where there is none).
        baselines: one array (1, ...) per point.
        targets: for each example, the index of the (flattened) output to explain.
        steps: intervals of the path integral (the trapezoidal rule uses steps + 1 points).
    """
    alphas = np.linspace(0.0, 1.0, steps + 1, dtype="float32")
    weights = np.full(steps + 1, 1.0 / steps, dtype="float32")
    weights[[0, -1]] /= 2
    return _path_gradients(split, xs, masks, baselines, targets, alphas, weights, times_delta=True)


def saliency(split: SplitModel, xs: list, masks: list, targets: np.ndarray) -> list[np.ndarray | None]:
    """The gradient of the explained output at each split point (one point on the path: alpha 1)."""
    ones = np.ones(1, dtype="float32")
    zeros = [np.zeros_like(np.asarray(x[:1])) if _is_float(x) else None for x in xs]
    return _path_gradients(split, xs, masks, zeros, targets, ones, ones, times_delta=False)


def predict_split(split: SplitModel, xs: list, masks: list, targets: np.ndarray) -> np.ndarray:
    """The explained output of each example, computed from its split tensors."""
    out = []
    n = len(targets)
    for start in range(0, n, CHUNK):
        rows = slice(start, min(n, start + CHUNK))
        batch = [np.asarray(x)[rows] for x in xs]
        batch_masks = [None if m is None else np.asarray(m)[rows] for m in masks]
        out.append(select(split.decode(batch, batch_masks), targets[rows]).numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype="float32")


def select(output, targets):
    """`output[i, targets[i]]` over the flattened outputs of each example."""
    import tensorflow as tf

    flat = tf.reshape(tf.cast(output, "float32"), [tf.shape(output)[0], -1])
    return tf.gather(flat, tf.constant(targets, dtype="int32"), batch_dims=1)


def _path_gradients(split, xs, masks, baselines, targets, alphas, weights, times_delta: bool):
    import tensorflow as tf

    n = len(targets)
    points = len(alphas)
    differentiable = [_is_float(x) and baselines[i] is not None for i, x in enumerate(xs)]
    differentiable = [d and _point_differentiable(split, i) for i, d in enumerate(differentiable)]
    results: list[np.ndarray | None] = [np.zeros(np.shape(x), "float32") if d else None for x, d in zip(xs, differentiable)]
    rows_per_chunk = max(1, CHUNK // points)
    for start in range(0, n, rows_per_chunk):
        rows = slice(start, min(n, start + rows_per_chunk))
        m = rows.stop - rows.start
        batch, watched = [], []
        for i, x in enumerate(xs):
            xr = np.asarray(x)[rows]
            if differentiable[i]:
                base = np.asarray(baselines[i], dtype="float32")
                shape = (points,) + (1,) * xr.ndim
                path = base[None] + alphas.reshape(shape) * (xr.astype("float32") - base)[None]
                tensor = tf.constant(path.reshape((points * m, *xr.shape[1:])))
                watched.append(tensor)
            else:
                tensor = tf.constant(np.tile(xr, (points,) + (1,) * (xr.ndim - 1)))
            batch.append(tensor)
        batch_masks = [None if mk is None else np.tile(np.asarray(mk)[rows], (points,) + (1,) * (np.ndim(mk) - 1))
                       for mk in masks]
        with tf.GradientTape() as tape:
            for tensor in watched:
                tape.watch(tensor)
            chosen = select(split.decode(batch, batch_masks), np.tile(targets[rows], points))
            total = tf.reduce_sum(chosen)
        grads = tape.gradient(total, watched)
        k = 0
        for i, x in enumerate(xs):
            if not differentiable[i]:
                continue
            g = grads[k]
            k += 1
            xr = np.asarray(x)[rows].astype("float32")
            if g is None:
                continue
            g = np.asarray(g).reshape((points, m, *xr.shape[1:]))
            averaged = np.tensordot(weights, g, axes=1)
            results[i][rows] = averaged * (xr - np.asarray(baselines[i], "float32")) if times_delta else averaged
    return results


def _is_float(x) -> bool:
    return "float" in str(getattr(x, "dtype", np.asarray(x).dtype))


def _point_differentiable(split: SplitModel, index: int) -> bool:
    return any(p.index == index and p.differentiable for p in split.points.values())
