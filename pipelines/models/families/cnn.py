"""Convolutional networks for images: conv blocks, pooling, a dense head."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from strata.models.schema import ModelConfig
from strata.registry import FAMILIES


class CNNConfig(ModelConfig):
    family: Literal["cnn"] = "cnn"
    filters: list[int] = Field(default_factory=lambda: [32, 64], min_length=1)
    kernel_size: int = Field(3, ge=1)
    convs_per_block: int = Field(1, ge=1)
    pool: Literal["max", "avg", "none"] = "max"
    batch_norm: bool = False
    activation: str = "relu"
    global_pool: Literal["flatten", "avg", "max"] = "flatten"
    dense_units: list[int] = Field(default_factory=lambda: [64])
    dropout: float = Field(0.25, ge=0, lt=1)


@FAMILIES.register("cnn", CNNConfig)
def build(ctx):
    import keras

    from strata.models.activations import activation_layer, check_activation

    cfg: CNNConfig = ctx.cfg
    x = ctx.single(("image",))
    if len(x.shape) == 3:  # grayscale without a channel axis
        x = keras.layers.Reshape((*x.shape[1:], 1))(x)
    for block, filters in enumerate(cfg.filters):
        for i in range(cfg.convs_per_block):
            x = keras.layers.Conv2D(
                filters, cfg.kernel_size, padding="same", use_bias=not cfg.batch_norm,
                name=f"block{block}_conv{i}",
            )(x)
            if cfg.batch_norm:
                x = keras.layers.BatchNormalization(name=f"block{block}_bn{i}")(x)
            x = activation_layer(cfg.activation, "model.activation", f"block{block}_act{i}")(x)
        if cfg.pool != "none" and min(x.shape[1:3]) >= 2:
            pool = keras.layers.MaxPooling2D if cfg.pool == "max" else keras.layers.AveragePooling2D
            x = pool(name=f"block{block}_pool")(x)
    x = {
        "flatten": keras.layers.Flatten,
        "avg": keras.layers.GlobalAveragePooling2D,
        "max": keras.layers.GlobalMaxPooling2D,
    }[cfg.global_pool](name="features")(x)
    for i, units in enumerate(cfg.dense_units):
        x = keras.layers.Dense(units, activation=check_activation(cfg.activation, "model.activation"), name=f"dense{i}")(x)
        if cfg.dropout:
            x = keras.layers.Dropout(cfg.dropout, name=f"dropout{i}")(x)
    return ctx.supervised(x)
