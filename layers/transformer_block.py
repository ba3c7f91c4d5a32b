"""One Transformer encoder block: self-attention and a feed-forward network, each residual."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="strata")
class TransformerEncoderBlock(keras.layers.Layer):
    """Multi-head self-attention then a two-layer feed-forward network, each with a residual
    connection, dropout and layer normalization (post-norm, or pre-norm with `norm_first`).

    Padding masks (from an `Embedding(mask_zero=True)`) are honoured: padded steps are not
    attended to.

    Args:
        num_heads: int, the attention heads.
        ff_dim: int, the hidden size of the feed-forward network.
        dropout: float, default 0.1. Dropout after attention and in the feed-forward network.
        activation: str, default "relu". Activation of the feed-forward hidden layer.
        norm_first: bool, default False. Normalize before each sub-layer (pre-norm).
        causal: bool, default False. Each step attends only to itself and earlier steps.

    Example:

    >>> block = TransformerEncoderBlock(num_heads=2, ff_dim=32)
    >>> tuple(block(keras.ops.zeros((2, 10, 16))).shape)
    (2, 10, 16)
    """

    def __init__(
        self,
        num_heads: int,
        ff_dim: int,
        dropout: float = 0.1,
        activation: str = "relu",
        norm_first: bool = False,
        causal: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.ff_dim = int(ff_dim)
        self.dropout = float(dropout)
        self.activation = activation
        self.norm_first = bool(norm_first)
        self.causal = bool(causal)
        self.supports_masking = True

    def build(self, input_shape):
        dim = int(input_shape[-1])
        if dim % self.num_heads:
            raise ValueError(
                f"TransformerEncoderBlock: the embedding size ({dim}) must be divisible by num_heads. "
                f"Received: num_heads={self.num_heads}"
            )
        self.attention = keras.layers.MultiHeadAttention(
            self.num_heads, dim // self.num_heads, dropout=self.dropout, dtype=self.dtype_policy, name="attention"
        )
        self.attention.build(input_shape, input_shape)
        self.ff_hidden = keras.layers.Dense(self.ff_dim, activation=self.activation, dtype=self.dtype_policy, name="ff_hidden")
        self.ff_hidden.build(input_shape)
        self.ff_output = keras.layers.Dense(dim, dtype=self.dtype_policy, name="ff_output")
        self.ff_output.build((*input_shape[:-1], self.ff_dim))
        self.norm1 = keras.layers.LayerNormalization(epsilon=1e-6, dtype=self.dtype_policy, name="norm1")
        self.norm1.build(input_shape)
        self.norm2 = keras.layers.LayerNormalization(epsilon=1e-6, dtype=self.dtype_policy, name="norm2")
        self.norm2.build(input_shape)
        self.drop1 = keras.layers.Dropout(self.dropout)
        self.drop2 = keras.layers.Dropout(self.dropout)
        self.built = True

    def call(self, inputs, mask=None, training=None):
        attention_mask = None
        if mask is not None:
            mask = ops.cast(mask, "bool")
            attention_mask = ops.logical_and(mask[:, :, None], mask[:, None, :])
        x = inputs
        h = self.norm1(x) if self.norm_first else x
        h = self.attention(h, h, attention_mask=attention_mask, use_causal_mask=self.causal, training=training)
        x = x + self.drop1(h, training=training)
        if not self.norm_first:
            x = self.norm1(x)
        h = self.norm2(x) if self.norm_first else x
        h = self.ff_output(self.ff_hidden(h))
        x = x + self.drop2(h, training=training)
        if not self.norm_first:
            x = self.norm2(x)
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "ff_dim": self.ff_dim,
            "dropout": self.dropout,
            "activation": self.activation,
            "norm_first": self.norm_first,
            "causal": self.causal,
        }
