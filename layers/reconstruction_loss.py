"""Adds an autoencoder's reconstruction error to the model's losses and passes the
reconstruction through."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="strata")
class ReconstructionLoss(keras.layers.Layer):
    """Takes `[target, reconstruction]`, adds `weight * loss(target, reconstruction)` to the
    model's losses and returns `reconstruction` unchanged.

    The loss is any element-wise Keras loss by name, computed per value, then averaged
    (`reduction="mean"`) or summed (`"sum"`, as a VAE's evidence bound wants) over each
    example's values, then averaged over the batch. An autoencoder whose loss lives in the
    model trains with `model.fit(x)` and needs no targets.

    Args:
        loss: str, default "mse". A Keras loss name: mse, mae, binary_crossentropy, huber, ...
        reduction: str, default "mean". `mean` or `sum` over the values of one example.
        weight: float, default 1.0. Factor applied to the loss.

    Example:

    >>> layer = ReconstructionLoss("mse")
    >>> out = layer([keras.ops.zeros((2, 3)), keras.ops.ones((2, 3))])
    >>> tuple(out.shape), float(layer.losses[0])
    ((2, 3), 1.0)
    """

    def __init__(self, loss: str = "mse", reduction: str = "mean", weight: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        if reduction not in ("mean", "sum"):
            raise ValueError(f"ReconstructionLoss: reduction must be 'mean' or 'sum'. Received: reduction={reduction}")
        self.loss = loss
        self.reduction = reduction
        self.weight = float(weight)
        self._loss_fn = keras.losses.get(loss)

    def call(self, inputs):
        target, reconstruction = inputs
        t = ops.reshape(ops.cast(target, "float32"), (ops.shape(target)[0], -1, 1))
        r = ops.reshape(ops.cast(reconstruction, "float32"), (ops.shape(reconstruction)[0], -1, 1))
        per_value = self._loss_fn(t, r)
        per_example = ops.mean(per_value, axis=-1) if self.reduction == "mean" else ops.sum(per_value, axis=-1)
        self.add_loss(self.weight * ops.mean(per_example))
        return reconstruction

    def compute_output_shape(self, input_shape):
        return input_shape[1]

    def get_config(self):
        return {**super().get_config(), "loss": self.loss, "reduction": self.reduction, "weight": self.weight}
