"""Feed-forward networks over all features flattened into one vector."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from strata.models.schema import ModelConfig
from strata.registry import FAMILIES


class MLPConfig(ModelConfig):
    family: Literal["mlp"] = "mlp"
    units: list[int] = Field(default_factory=lambda: [64, 32])
    activation: str = "relu"
    dropout: float = Field(0.1, ge=0, lt=1)
    batch_norm: bool = False
    l1: float = Field(0.0, ge=0)
    l2: float = Field(0.0, ge=0)


@FAMILIES.register("mlp", MLPConfig)
def build(ctx):
    import keras

    from strata.models.activations import activation_layer

    cfg: MLPConfig = ctx.cfg
    x = ctx.flat()
    regularizer = keras.regularizers.L1L2(cfg.l1, cfg.l2) if (cfg.l1 or cfg.l2) else None
    for i, units in enumerate(cfg.units):
        x = keras.layers.Dense(units, kernel_regularizer=regularizer, use_bias=not cfg.batch_norm, name=f"dense{i}")(x)
        if cfg.batch_norm:
            x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
        x = activation_layer(cfg.activation, "model.activation", f"act{i}")(x)
        if cfg.dropout:
            x = keras.layers.Dropout(cfg.dropout, name=f"dropout{i}")(x)
    return ctx.supervised(x)
