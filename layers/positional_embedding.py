"""Adds a position embedding to a sequence of vectors (token embeddings or projected time steps)."""

from __future__ import annotations

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="strata")
class PositionalEmbedding(keras.layers.Layer):
    """Adds an embedding of each step's position to a `(batch, steps, dim)` sequence.

    Transformers see their inputs as a set; the position embedding tells them the order. Use it
    after a token `Embedding` (text) or after a `Dense` projection of numeric time steps.

    Args:
        sequence_length: int, the largest number of steps the layer accepts.
        kind: str, default "learned". `learned` (a trainable table, one vector per position)
            or `sinusoidal` (the fixed sines and cosines of "Attention Is All You Need").
        scale: bool, default False. If True, multiply the inputs by sqrt(dim) before adding,
            as the original Transformer does for token embeddings.

    Example:

    >>> layer = PositionalEmbedding(sequence_length=10)
    >>> tuple(layer(keras.ops.zeros((2, 10, 8))).shape)
    (2, 10, 8)
    """

    def __init__(self, sequence_length: int, kind: str = "learned", scale: bool = False, **kwargs):
        super().__init__(**kwargs)
        if kind not in ("learned", "sinusoidal"):
            raise ValueError(f"PositionalEmbedding: kind must be 'learned' or 'sinusoidal'. Received: kind={kind}")
        self.sequence_length = int(sequence_length)
        self.kind = kind
        self.scale = bool(scale)
        self.supports_masking = True

    def build(self, input_shape):
        dim = int(input_shape[-1])
        if self.kind == "learned":
            self.position_embeddings = self.add_weight(
                name="position_embeddings",
                shape=(self.sequence_length, dim),
                initializer=keras.initializers.RandomNormal(stddev=0.02),
            )
        else:
            position = ops.arange(self.sequence_length, dtype="float32")[:, None]
            rate = ops.exp(ops.arange(0, dim, 2, dtype="float32") * (-math.log(10000.0) / dim))
            angles = position * rate[None, :]
            table = ops.reshape(ops.stack([ops.sin(angles), ops.cos(angles)], axis=-1), (self.sequence_length, -1))
            self.position_embeddings = table[:, :dim]
        self.built = True

    def call(self, inputs):
        steps = ops.shape(inputs)[-2]
        positions = ops.cast(self.position_embeddings[:steps], self.compute_dtype)
        if self.scale:
            inputs = inputs * ops.cast(ops.sqrt(float(inputs.shape[-1])), self.compute_dtype)
        return inputs + positions[None, :, :]

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        return {
            **super().get_config(),
            "sequence_length": self.sequence_length,
            "kind": self.kind,
            "scale": self.scale,
        }
