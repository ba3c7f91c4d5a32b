"""Maps standardized predictions back to the target's original units."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="strata")
class Denormalize(keras.layers.Layer):
    """Computes `inputs * std + mean`, the inverse of standardizing a regression target.

    The network learns standardized targets (so a learning rate suits any unit), while the
    model, and every export of it, outputs values in the target's own units.

    Args:
        mean: float or list of floats, the training targets' mean per output.
        std: float or list of floats, the training targets' standard deviation per output.

    Example:

    >>> layer = Denormalize(mean=[100.0], std=[10.0])
    >>> float(layer(keras.ops.ones((1, 1)))[0, 0])
    110.0
    """

    def __init__(self, mean, std, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.mean = [float(m) for m in (mean if isinstance(mean, (list, tuple)) else [mean])]
        self.std = [float(s) for s in (std if isinstance(std, (list, tuple)) else [std])]

    def call(self, inputs):
        inputs = ops.cast(inputs, "float32")
        return inputs * ops.convert_to_tensor(self.std) + ops.convert_to_tensor(self.mean)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "std": self.std}
