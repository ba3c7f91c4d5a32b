"""The output layer, loss and metrics that follow from the task, unless the config names them."""

from __future__ import annotations

import keras

from strata.data.features import Task
from strata.layers import Denormalize, EnsembleMean
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


def ensemble_head(members, task: Task):
    """The output layer for `task` over an ensemble's members (batch, k, units): each member gets
    its own output layer, and the model predicts their mean (`strata.layers.EnsembleMean`, which
    also trains every member on its own prediction). Same output names as `head`."""
    k = members.shape[1]
    if task.kind in ("regression", "forecast"):
        units, kind = int(_prod(task.target_shape)), "regression"
    elif task.kind in ("binary", "multilabel"):
        units, kind = (1 if task.kind == "binary" else task.num_classes), "sigmoid"
    elif task.kind == "multiclass":
        units, kind = task.num_classes, "softmax"
    else:
        raise ValueError(f"no supervised head for task {task.kind!r}")
    outputs = keras.layers.EinsumDense(
        "bkd,kdo->bko", output_shape=(k, units), bias_axes="ko", dtype="float32", name="member_outputs"
    )(members)
    mean = EnsembleMean(kind, dtype="float32", name="ensemble_mean")(outputs)
    if kind == "regression":
        if tuple(task.target_shape) != (units,):
            mean = keras.layers.Reshape(tuple(task.target_shape), dtype="float32")(mean)
        return Denormalize(task.target_mean or [0.0], task.target_std or [1.0], name="prediction")(mean)
    name = "probability" if task.kind == "binary" else "probabilities"
    return keras.layers.Activation("sigmoid" if kind == "sigmoid" else "softmax", dtype="float32", name=name)(mean)


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
