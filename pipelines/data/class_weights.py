"""`data.class_weight`: per-class weights of a classifier's training loss.

`none` trains unweighted; `balanced` weighs class c by n / (k * n_c), scikit-learn's formula, with
the counts of the training split (k: the classes present in it); a mapping `{class: weight}` names
classes by their raw label (`{yes: 5}`, `{1: 10}`), and the classes it leaves out weigh 1. The
weights reach the loss as per-example sample weights, added to the batches of the training
pipeline (`weighted`), which works for every data source (in memory, streamed, file-cached), every
distribution strategy and any `steps_per_execution`. Validation and test pipelines stay unweighted,
and so do the compiled metrics (Keras weighs `weighted_metrics` only).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from strata.data.tables import canonical_label
from strata.errors import ConfigError, suggestion

log = logging.getLogger("strata.train")

KEY = "data.class_weight"
CLASSIFICATION = ("binary", "multiclass")
# how YAML 1.1 reads a bare yes/no/on/off/true/false key: the class labels a boolean key can mean
_BOOLEAN_LABELS = {True: ("true", "yes", "on", "y", "1"), False: ("false", "no", "off", "n", "0")}


def setting(data_config) -> Any:
    """The config's `class_weight` (`none` for a source without the key)."""
    return getattr(data_config, "class_weight", "none")


def resolve(data_config, bundle) -> np.ndarray | None:
    """The weight of each class, in label-index order, or None to train unweighted. A
    `ConfigError` naming `data.class_weight` for a task that is not a classifier's or a class the
    data does not have."""
    value = setting(data_config)
    if value in (None, "none"):
        return None
    task = bundle.task
    if task.kind not in CLASSIFICATION:
        raise ConfigError(
            f"{KEY}={_shown(value)}: class weights apply to classification (binary, multiclass), but this run's task is "
            f"{task.kind}{f' (target {task.target!r})' if task.target else ''}. Set {KEY}=none, or task=binary|multiclass."
        )
    classes = [str(c) for c in task.classes]
    if value == "balanced":
        return balanced(bundle.class_counts())
    weights = np.ones(len(classes))
    for label, weight in value.items():
        weights[class_index(label, classes, task.target)] = float(weight)
    return weights


def balanced(counts: np.ndarray) -> np.ndarray:
    """n / (k * n_c) for each class c present in `counts` (k of them); an absent class (no
    training example, so no weight to carry) gets 1."""
    counts = np.asarray(counts, dtype="float64")
    present = counts > 0
    weights = np.ones(len(counts))
    weights[present] = counts.sum() / (present.sum() * counts[present])
    return weights


def class_index(label: Any, classes: list[str], target: str | None = None) -> int:
    """The index of the class a mapping key names: its raw label as the data holds it (`1`, `1.0`
    and `'1'` name one class; a YAML boolean key, from a bare `yes`, names the class `yes` or
    `true`), or a `ConfigError` naming the closest class."""
    if isinstance(label, bool):
        lowered = {c.lower(): i for i, c in enumerate(classes)}
        for name in _BOOLEAN_LABELS[label]:
            if name in lowered:
                return lowered[name]
        name = str(label).lower()
    else:
        name = canonical_label(str(label))
    if name in classes:
        return classes.index(name)
    listed = ", ".join(classes[:20]) + (f", ... ({len(classes)} classes)" if len(classes) > 20 else "")
    where = f"target {target!r}" if target else "the data"
    raise ConfigError(f"{KEY}: no class {name!r} in {where}; its classes are {listed}.{suggestion(name, classes)}")


def check(data_config, bundle) -> None:
    """Refuses a `class_weight` that does not fit the loaded data, before the model is built."""
    resolve(data_config, bundle)


def weighted(ds, data_config, bundle):
    """The training pipeline `ds` of (features, target) batches, with each example's class weight
    as its sample weight: (features, target, weight). Unchanged for `class_weight: none`. Logs the
    weights used."""
    weights = resolve(data_config, bundle)
    if weights is None:
        return ds
    import tensorflow as tf

    shown = ", ".join(f"{c} {w:.4g}" for c, w in zip(bundle.task.classes, weights))
    log.info("class weights (%s): %s", "balanced" if setting(data_config) == "balanced" else "from data.class_weight", shown)
    table = tf.constant(weights, dtype=tf.float32)

    def add_weights(x, y):
        # binary targets are (batch,) or (batch, 1) 0/1, multiclass ones sparse class indices
        return x, y, tf.gather(table, tf.reshape(tf.cast(y, tf.int32), [-1]))

    return ds.map(add_weights, num_parallel_calls=tf.data.AUTOTUNE)


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v:g}" for k, v in value.items()) + "}"
    return str(value)
