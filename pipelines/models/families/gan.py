"""Generative adversarial networks: a generator from latent vectors to samples of the data,
a discriminator that tells them from real examples, trained by `layers.GAN`'s own train step.

The generator outputs raw values (pixel values in the data's own units); the discriminator
takes raw values through the same preprocessing as real examples. The export's
`serving_default` is the generator: `latent` vectors in, samples out.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from strata.config.schema import StrictModel
from strata.errors import ConfigError
from strata.models.schema import ModelConfig
from strata.registry import FAMILIES


class GeneratorConfig(StrictModel):
    architecture: Literal["dense", "conv"] = "dense"
    units: list[int] = Field(default_factory=lambda: [128, 256])
    filters: list[int] = Field(default_factory=lambda: [64, 32], min_length=1)
    kernel_size: int = Field(3, ge=1)
    activation: str = "relu"
    batch_norm: bool = True


class DiscriminatorConfig(StrictModel):
    architecture: Literal["dense", "conv"] = "dense"
    units: list[int] = Field(default_factory=lambda: [256, 128])
    filters: list[int] = Field(default_factory=lambda: [32, 64], min_length=1)
    kernel_size: int = Field(3, ge=1)
    activation: str = "leaky_relu"
    dropout: float = Field(0.3, ge=0, lt=1)


class GANConfig(ModelConfig):
    family: Literal["gan"] = "gan"
    latent_dim: int = Field(32, ge=1)
    generator: GeneratorConfig = Field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = Field(default_factory=DiscriminatorConfig)
    discriminator_steps: int = Field(1, ge=1, le=10)
    discriminator_learning_rate: float | None = Field(None, gt=0)
    label_smoothing: float = Field(0.0, ge=0, lt=0.5)
    loss: Literal["binary_crossentropy", "mse", "hinge"] | None = None  # type: ignore[assignment]


def _sample_feature(ctx):
    features = ctx.bundle.features
    if len(features) != 1 or features[0].kind not in ("image", "numeric", "sequence"):
        found = ", ".join(f"{f.name} ({f.kind})" for f in features)
        raise ConfigError(
            f"model=gan generates one image (or one numeric array) per example; the data has: {found}. "
            "For tables, try data.as_images=true or one array-valued input."
        )
    return features[0]


def _generator(cfg: GANConfig, feature, bounded: bool, rescale: float | None):
    import keras

    from strata.models.activations import activation_layer

    g = cfg.generator
    shape = tuple(int(s) for s in feature.shape)
    z = keras.Input((cfg.latent_dim,), name="latent")
    out_activation = "sigmoid" if bounded else "linear"
    key = "model.generator.activation"
    if g.architecture == "conv":
        if len(shape) != 3:
            raise ConfigError("model.generator.architecture=conv needs an image input (height, width, channels).")
        height, width, channels = shape
        n = len(g.filters)
        h0, w0 = math.ceil(height / 2**n), math.ceil(width / 2**n)
        x = keras.layers.Dense(h0 * w0 * g.filters[0], use_bias=not g.batch_norm, name="g_dense")(z)
        if g.batch_norm:
            x = keras.layers.BatchNormalization(name="g_dense_bn")(x)
        x = activation_layer(g.activation, key, "g_dense_act")(x)
        x = keras.layers.Reshape((h0, w0, g.filters[0]), name="g_reshape")(x)
        for i, f in enumerate(g.filters):
            x = keras.layers.Conv2DTranspose(
                f, g.kernel_size, strides=2, padding="same", use_bias=not g.batch_norm, name=f"g_deconv{i}"
            )(x)
            if g.batch_norm:
                x = keras.layers.BatchNormalization(name=f"g_bn{i}")(x)
            x = activation_layer(g.activation, key, f"g_act{i}")(x)
        x = keras.layers.Conv2D(
            channels, g.kernel_size, padding="same", activation=out_activation, dtype="float32", name="g_output"
        )(x)
        if (h0 * 2**n, w0 * 2**n) != (height, width):
            x = keras.layers.Cropping2D(((0, h0 * 2**n - height), (0, w0 * 2**n - width)), name="g_crop")(x)
    else:
        x = z
        for i, units in enumerate(g.units):
            x = keras.layers.Dense(units, use_bias=not g.batch_norm, name=f"g_dense{i}")(x)
            if g.batch_norm:
                x = keras.layers.BatchNormalization(name=f"g_bn{i}")(x)
            x = activation_layer(g.activation, key, f"g_act{i}")(x)
        x = keras.layers.Dense(math.prod(shape), activation=out_activation, dtype="float32", name="g_output")(x)
        x = keras.layers.Reshape(shape, dtype="float32", name="g_reshape")(x)
    # back to the data's raw units (the inverse of the input's rescaling)
    if rescale:
        x = keras.layers.Rescaling(1.0 / rescale, dtype="float32", name="sample")(x)
    else:
        x = keras.layers.Identity(dtype="float32", name="sample")(x)
    return keras.Model(z, x, name="generator")


def _discriminator(ctx, cfg: GANConfig, feature):
    import keras

    from strata.models.activations import activation_layer

    d = cfg.discriminator
    key = "model.discriminator.activation"
    x = ctx.encoded[feature.name]
    if d.architecture == "conv":
        if len(x.shape) != 4:
            raise ConfigError("model.discriminator.architecture=conv needs an image input (height, width, channels).")
        for i, f in enumerate(d.filters):
            x = keras.layers.Conv2D(f, d.kernel_size, strides=2, padding="same", name=f"d_conv{i}")(x)
            x = activation_layer(d.activation, key, f"d_act{i}")(x)
            if d.dropout:
                x = keras.layers.Dropout(d.dropout, name=f"d_dropout{i}")(x)
        x = keras.layers.Flatten(name="d_flatten")(x)
    else:
        if len(x.shape) > 2:
            x = keras.layers.Flatten(name="d_flatten")(x)
        for i, units in enumerate(d.units):
            x = keras.layers.Dense(units, name=f"d_dense{i}")(x)
            x = activation_layer(d.activation, key, f"d_act{i}")(x)
            if d.dropout:
                x = keras.layers.Dropout(d.dropout, name=f"d_dropout{i}")(x)
    logit = keras.layers.Dense(1, dtype="float32", name="d_logit")(x)
    return keras.Model({feature.name: ctx.inputs[feature.name]}, logit, name="discriminator")


@FAMILIES.register("gan", GANConfig, task="generation")
def build(ctx):
    from strata.layers import GAN

    cfg: GANConfig = ctx.cfg
    feature = _sample_feature(ctx)
    rescale = feature.options.get("rescale") if feature.kind == "image" else None
    generator = _generator(cfg, feature, bounded=bool(rescale), rescale=float(rescale) if rescale else None)
    discriminator = _discriminator(ctx, cfg, feature)
    return GAN(
        generator,
        discriminator,
        latent_dim=cfg.latent_dim,
        input_name=feature.name,
        discriminator_steps=cfg.discriminator_steps,
        loss=cfg.loss or "binary_crossentropy",
        discriminator_learning_rate=cfg.discriminator_learning_rate,
        label_smoothing=cfg.label_smoothing,
        name=cfg.name,
    )
