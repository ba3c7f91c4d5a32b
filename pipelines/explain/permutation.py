"""Permutation importance: how much the model's error grows when one raw column is shuffled.

Global (over a sample, usually the test split) rather than per example. The error is the root
mean squared error for regression and the log loss for classifiers; shuffling keeps each
column's distribution and breaks only its link to the target.
"""

from __future__ import annotations

import numpy as np

from strata.data.features import Feature, Task


def permutation_importance(
    predict, features: list[Feature], x: dict[str, np.ndarray], y: np.ndarray, task: Task,
    repeats: int = 3, seed: int = 0, max_rows: int = 2000,
):
    """A DataFrame `feature, importance, std, rank`, most important first.

    Args:
        predict: raw inputs (dict of arrays) -> the model's outputs (n, ...).
        task: the run's task description (`kind`, `classes`).
        repeats: shuffles per column; the importance is their mean error increase.
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    n = len(y)
    if n > max_rows:
        keep = rng.choice(n, max_rows, replace=False)
        x, y, n = {k: np.asarray(v)[keep] for k, v in x.items()}, np.asarray(y)[keep], max_rows
    names = [f.name for f in features]
    # every shuffled copy in one batch: one predict call instead of columns x repeats calls
    copies = [dict(x)]
    for name in names:
        for _ in range(repeats):
            shuffled = dict(x)
            shuffled[name] = np.asarray(x[name])[rng.permutation(n)]
            copies.append(shuffled)
    stacked = {k: np.concatenate([np.asarray(c[k]) for c in copies]) for k in x}
    outputs = np.asarray(predict(stacked)).reshape(len(copies), n, -1)
    errors = np.array([error(outputs[i], y, task) for i in range(len(copies))])
    increase = (errors[1:] - errors[0]).reshape(len(names), repeats)
    frame = pd.DataFrame({"feature": names, "importance": increase.mean(axis=1), "std": increase.std(axis=1)})
    frame = frame.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)
    frame["rank"] = np.arange(1, len(frame) + 1)
    return frame


def error(output: np.ndarray, y: np.ndarray, task: Task) -> float:
    """The model's error on one copy: RMSE (regression, forecast) or log loss (classifiers)."""
    kind = task.kind
    eps = 1e-7
    if kind == "multiclass":
        p = np.clip(output.reshape(len(y), -1), eps, 1.0)
        return float(-np.mean(np.log(p[np.arange(len(y)), np.asarray(y).astype(int).ravel()])))
    if kind in ("binary", "multilabel"):
        p = np.clip(output.reshape(len(y), -1), eps, 1 - eps)
        t = np.asarray(y, dtype="float64").reshape(p.shape)
        return float(-np.mean(t * np.log(p) + (1 - t) * np.log(1 - p)))
    diff = output.reshape(len(y), -1) - np.asarray(y, dtype="float64").reshape(len(y), -1)
    return float(np.sqrt(np.nanmean(diff**2)))
