"""Losses strata adds to Keras's own."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="strata")
class StandardizedMeanSquaredError(keras.losses.Loss):
    """Mean squared error measured in standard deviations of the training targets.

    The model outputs original units (dollars, degrees); dividing the error by the targets'
    standard deviation gives the loss of a standardized target, so optimizer settings work
    whatever the unit.

    Args:
        std: float or list of floats, the training targets' standard deviation per output.
        name: str, default "standardized_mse".

    Example:

    >>> loss = StandardizedMeanSquaredError(std=10.0)
    >>> float(loss(keras.ops.zeros((2, 1)), keras.ops.full((2, 1), 10.0)))
    1.0
    """

    def __init__(self, std=1.0, name: str = "standardized_mse", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.std = [float(s) for s in (std if isinstance(std, (list, tuple)) else [std])]

    def call(self, y_true, y_pred):
        y_pred = ops.cast(y_pred, "float32")
        y_true = ops.reshape(ops.cast(y_true, "float32"), ops.shape(y_pred))
        scaled = (y_true - y_pred) / ops.convert_to_tensor(self.std)
        return ops.mean(ops.square(scaled), axis=-1)

    def get_config(self):
        return {"std": self.std, "name": self.name, "reduction": self.reduction}


def loss_names() -> list[str]:
    """Every loss Keras knows by name (for `model.loss` suggestions)."""
    return [n for n in dir(keras.losses) if not n.startswith("_") and n[0].islower()]


def metric_names() -> list[str]:
    """Every metric Keras knows by name, short forms first (for `model.metrics` suggestions)."""
    return ["accuracy", "auc", "mae", "mse", "rmse"] + [
        n for n in dir(keras.metrics) if not n.startswith("_") and n[0].islower()
    ]
