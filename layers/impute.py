"""Fills missing numeric values (NaN) with a constant learned from the training split."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="strata")
class Impute(keras.layers.Layer):
    """Replaces NaN entries by `value`, and optionally appends a missing-value indicator.

    Args:
        value: float or list of floats (one per last-axis entry), the fill value, usually
            the training split's mean.
        add_indicator: bool, default False. If True, the output gains one 0/1 column per
            input column that says whether the value was missing.

    Example:

    >>> layer = Impute(value=2.0)
    >>> layer(keras.ops.convert_to_tensor([[float("nan")], [5.0]])).numpy().tolist()
    [[2.0], [5.0]]
    """

    def __init__(self, value=0.0, add_indicator: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.value = value if isinstance(value, (int, float)) else [float(v) for v in value]
        self.add_indicator = bool(add_indicator)

    def call(self, inputs):
        inputs = ops.cast(inputs, self.compute_dtype)
        missing = ops.isnan(inputs)
        fill = ops.cast(ops.convert_to_tensor(self.value), self.compute_dtype)
        filled = ops.where(missing, fill * ops.ones_like(inputs), inputs)
        if self.add_indicator:
            return ops.concatenate([filled, ops.cast(missing, self.compute_dtype)], axis=-1)
        return filled

    def compute_output_shape(self, input_shape):
        if self.add_indicator:
            return (*input_shape[:-1], None if input_shape[-1] is None else input_shape[-1] * 2)
        return input_shape

    def get_config(self):
        return {**super().get_config(), "value": self.value, "add_indicator": self.add_indicator}
