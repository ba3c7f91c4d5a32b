"""The output layer, loss and metrics that follow from the task, unless the config names them."""

from __future__ import annotations

import keras

from strata.data.features import Task
from strata.layers import Denormalize
from strata.models.losses import StandardizedMeanSquaredError


def head(x, task: Task):
    """The output layer(s) for `task`, in float32 whatever the compute precision."""
    if task.kind in ("regression", "forecast"):
        units = int(_prod(task.target_shape))
        out = keras.layers.Dense(units, dtype="float32", name="standardized_output")(x)
        if tuple(task.target_shape) != (units,):
            out = keras.layers.Reshape(tuple(task.target_shape), dtype="float32")(out)
        return Denormalize(task.target_mean or [0.0], task.target_std or [1.0], name="prediction")(out)
    if task.kind == "binary":
        return keras.layers.Dense(1, activation="sigmoid", dtype="float32", name="probability")(x)
    if task.kind == "multiclass":
        return keras.layers.Dense(task.num_classes, activation="softmax", dtype="float32", name="probabilities")(x)
    if task.kind == "multilabel":
        return keras.layers.Dense(task.num_classes, activation="sigmoid", dtype="float32", name="probabilities")(x)
    raise ValueError(f"no supervised head for task {task.kind!r}")


def default_loss(task: Task):
    if task.kind in ("regression", "forecast"):
        return StandardizedMeanSquaredError(std=task.target_std or [1.0])
    if task.kind in ("binary", "multilabel"):
        return "binary_crossentropy"
    if task.kind == "multiclass":
        return "sparse_categorical_crossentropy"
    return "mse"


def default_metrics(task: Task) -> list:
    if task.kind in ("regression", "forecast"):
        return [keras.metrics.MeanAbsoluteError(name="mae"), keras.metrics.RootMeanSquaredError(name="rmse")]
    if task.kind == "binary":
        return [keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")]
    if task.kind == "multiclass":
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    if task.kind == "multilabel":
        return [keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc", multi_label=True)]
    return []


def _prod(shape) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n
