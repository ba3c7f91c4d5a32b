"""Transformer encoders over token sequences (text) or numeric time steps."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from strata.models.schema import ModelConfig
from strata.registry import FAMILIES


class TransformerConfig(ModelConfig):
    family: Literal["transformer"] = "transformer"
    embed_dim: int = Field(64, ge=1)
    num_heads: int = Field(4, ge=1)
    num_blocks: int = Field(2, ge=1)
    ff_dim: int = Field(128, ge=1)
    dropout: float = Field(0.1, ge=0, lt=1)
    positional: Literal["learned", "sinusoidal", "none"] = "learned"
    norm_first: bool = False
    causal: bool = False
    pooling: Literal["avg", "max", "flatten"] = "avg"
    dense_units: list[int] = Field(default_factory=list)
    activation: str = "relu"

    @model_validator(mode="after")
    def _heads_divide_embedding(self) -> TransformerConfig:
        if self.embed_dim % self.num_heads:
            raise ValueError(
                f"embed_dim ({self.embed_dim}) must be divisible by num_heads ({self.num_heads}), "
                "e.g. model.embed_dim=64 model.num_heads=4"
            )
        return self


@FAMILIES.register("transformer", TransformerConfig, sequence_inputs=True)
def build(ctx):
    import keras

    from strata.layers import PositionalEmbedding, TransformerEncoderBlock
    from strata.models import sequences
    from strata.models.activations import check_activation

    cfg: TransformerConfig = ctx.cfg
    check_activation(cfg.activation, "model.activation")
    seq = sequences.sequence_input(ctx)
    if seq.kind == "text":
        x = sequences.embed_tokens(ctx, seq, cfg.embed_dim)
    else:
        x = keras.layers.Dense(cfg.embed_dim, name="step_projection")(seq.tensor)
    if cfg.positional != "none":
        x = PositionalEmbedding(seq.steps, kind=cfg.positional, name="positional_embedding")(x)
    if cfg.dropout:
        x = keras.layers.Dropout(cfg.dropout, name="embedding_dropout")(x)
    for i in range(cfg.num_blocks):
        x = TransformerEncoderBlock(
            cfg.num_heads, cfg.ff_dim, dropout=cfg.dropout, activation=cfg.activation,
            norm_first=cfg.norm_first, causal=cfg.causal, name=f"block{i}",
        )(x)
    if cfg.norm_first:
        x = keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")(x)
    x = {
        "avg": keras.layers.GlobalAveragePooling1D,
        "max": keras.layers.GlobalMaxPooling1D,
        "flatten": keras.layers.Flatten,
    }[cfg.pooling](name="pooling")(x)
    x = sequences.join_extras(x, seq)
    x = sequences.dense_stack(x, cfg.dense_units, cfg.activation, cfg.dropout, "model")
    return ctx.supervised(x)
