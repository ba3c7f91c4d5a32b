"""The step (threshold) activation: 1 where the input exceeds a threshold, else 0."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="strata")
class Step(keras.layers.Layer):
    """Outputs 1 where the input exceeds `threshold`, else 0 (a Heaviside step).

    Its gradient is zero almost everywhere, so it suits output and gating layers, or networks
    trained by other means; a model configured with `activation: step` names it by name.

    Args:
        threshold: float, default 0.5. Inputs strictly above it map to 1.

    Example:

    >>> layer = Step(threshold=0.5)
    >>> layer(keras.ops.convert_to_tensor([[0.2, 0.5, 0.9]])).numpy().tolist()
    [[0.0, 0.0, 1.0]]
    """

    def __init__(self, threshold: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        self.threshold = float(threshold)
        self.supports_masking = True

    def call(self, inputs):
        return ops.cast(ops.greater(inputs, self.threshold), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "threshold": self.threshold}


@keras.saving.register_keras_serializable(package="strata", name="step")
def step(x, threshold: float = 0.5):
    """The step activation as a function (`Dense(..., activation=step)`): `x > threshold` as 0/1.

    Example:

    >>> step(keras.ops.convert_to_tensor([0.1, 0.7])).numpy().tolist()
    [0.0, 1.0]
    """
    return ops.cast(ops.greater(x, threshold), x.dtype)
