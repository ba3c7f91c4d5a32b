"""Autoencoders: a dense or convolutional encoder to a bottleneck, a mirrored decoder back.

The model maps raw inputs to their reconstruction in the same raw units; its reconstruction
loss lives inside the model (`layers.ReconstructionLoss`), so `model.fit` trains it from inputs
alone. With `noise > 0` it is a denoising autoencoder: Gaussian noise corrupts the (preprocessed)
inputs during training only, and the loss compares with the clean inputs. The bottleneck layer
is named `latent`; the export adds an `encoder` signature for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from strata.errors import ConfigError
from strata.models.schema import ModelConfig
from strata.registry import FAMILIES


class AutoencoderConfig(ModelConfig):
    family: Literal["autoencoder"] = "autoencoder"
    architecture: Literal["dense", "conv"] = "dense"
    units: list[int] = Field(default_factory=lambda: [128, 64])
    filters: list[int] = Field(default_factory=lambda: [16, 32], min_length=1)
    kernel_size: int = Field(3, ge=1)
    latent_dim: int = Field(16, ge=1)
    activation: str = "relu"
    noise: float = Field(0.0, ge=0)
    output_activation: Literal["auto", "sigmoid", "linear"] = "auto"


@dataclass
class Target:
    """What the autoencoder reconstructs: the preprocessed tensor and how to map it back."""

    tensor: Any
    shape: tuple[int, ...]
    is_image: bool
    to_raw: Any  # a layer from the preprocessed space back to raw units
    bounded: bool  # values lie in [0, 1] (rescaled images): a sigmoid output fits


def reconstruction_target(ctx) -> Target:
    """One image feature, or numeric features joined into one vector."""
    import keras

    from strata.layers import Denormalize

    features = ctx.bundle.features
    images = [f for f in features if f.kind == "image"]
    if len(images) == 1 and len(features) == 1:
        feature = images[0]
        x = ctx.encoded[feature.name]
        if len(x.shape) == 3:
            x = keras.layers.Reshape((*x.shape[1:], 1), name=f"{feature.name}_channels")(x)
        rescale = feature.options.get("rescale")
        if rescale:
            to_raw = keras.layers.Rescaling(1.0 / float(rescale), dtype="float32", name="reconstruction")
        else:
            to_raw = keras.layers.Identity(dtype="float32", name="reconstruction")
        return Target(x, tuple(x.shape[1:]), True, to_raw, bool(rescale))
    if all(f.kind == "numeric" for f in features):
        x = ctx.flat()
        # the features' normalization (one layer for a block of columns): its inverse gives raw units
        norm = getattr(x, "_keras_history", [None])[0]
        mean = getattr(norm, "input_mean", None) if isinstance(norm, keras.layers.Normalization) else None
        variance = getattr(norm, "input_variance", None) if mean is not None else None
        means = stds = None
        if mean is not None and variance is not None:
            means = [float(v) for v in keras.ops.convert_to_numpy(mean).ravel()]
            stds = [math.sqrt(max(float(v), 1e-12)) for v in keras.ops.convert_to_numpy(variance).ravel()]
        if means is not None and len(means) == x.shape[-1]:
            to_raw = Denormalize(means, stds, name="reconstruction")
        else:
            to_raw = keras.layers.Identity(dtype="float32", name="reconstruction")
        return Target(x, tuple(x.shape[1:]), False, to_raw, False)
    found = ", ".join(f"{f.name} ({f.kind})" for f in features)
    raise ConfigError(
        f"model={ctx.cfg.family} reconstructs one image or numeric columns; the data has: {found}."
    )


def output_activation(cfg, target: Target) -> str:
    if cfg.output_activation != "auto":
        return cfg.output_activation
    return "sigmoid" if target.bounded else "linear"


def encode(x, cfg, target: Target, prefix: str = "encoder"):
    """The encoder's hidden representation (before the bottleneck layer)."""
    import keras

    from strata.models.activations import activation_layer

    if cfg.architecture == "conv":
        if not target.is_image:
            raise ConfigError("model.architecture=conv needs an image input; use model.architecture=dense for tables.")
        for i, f in enumerate(cfg.filters):
            x = keras.layers.Conv2D(f, cfg.kernel_size, strides=2, padding="same", name=f"{prefix}_conv{i}")(x)
            x = activation_layer(cfg.activation, "model.activation", f"{prefix}_act{i}")(x)
        return keras.layers.Flatten(name=f"{prefix}_flatten")(x)
    if len(x.shape) > 2:
        x = keras.layers.Flatten(name=f"{prefix}_flatten")(x)
    for i, units in enumerate(cfg.units):
        x = keras.layers.Dense(units, name=f"{prefix}_dense{i}")(x)
        x = activation_layer(cfg.activation, "model.activation", f"{prefix}_act{i}")(x)
    return x


def decode(z, cfg, target: Target, prefix: str = "decoder"):
    """From the latent code back to the target's shape, in the preprocessed space (float32)."""
    import keras

    from strata.models.activations import activation_layer

    out_activation = output_activation(cfg, target)
    shape = target.shape
    if cfg.architecture == "conv":
        height, width, channels = shape
        n = len(cfg.filters)
        h0, w0 = math.ceil(height / 2**n), math.ceil(width / 2**n)
        x = keras.layers.Dense(h0 * w0 * cfg.filters[-1], name=f"{prefix}_dense")(z)
        x = activation_layer(cfg.activation, "model.activation", f"{prefix}_dense_act")(x)
        x = keras.layers.Reshape((h0, w0, cfg.filters[-1]), name=f"{prefix}_reshape")(x)
        for i, f in enumerate(reversed(cfg.filters)):
            x = keras.layers.Conv2DTranspose(f, cfg.kernel_size, strides=2, padding="same", name=f"{prefix}_deconv{i}")(x)
            x = activation_layer(cfg.activation, "model.activation", f"{prefix}_act{i}")(x)
        x = keras.layers.Conv2D(
            channels, cfg.kernel_size, padding="same", activation=out_activation, dtype="float32", name=f"{prefix}_output"
        )(x)
        if (h0 * 2**n, w0 * 2**n) != (height, width):
            x = keras.layers.Cropping2D(((0, h0 * 2**n - height), (0, w0 * 2**n - width)), name=f"{prefix}_crop")(x)
        return x
    x = z
    for i, units in enumerate(reversed(cfg.units)):
        x = keras.layers.Dense(units, name=f"{prefix}_dense{i}")(x)
        x = activation_layer(cfg.activation, "model.activation", f"{prefix}_act{i}")(x)
    x = keras.layers.Dense(math.prod(shape), activation=out_activation, dtype="float32", name=f"{prefix}_output")(x)
    if len(shape) > 1:
        x = keras.layers.Reshape(shape, dtype="float32", name=f"{prefix}_reshape")(x)
    return x


def reconstruction_loss(cfg, reduction: str):
    """strata's ReconstructionLoss layer for `model.loss` (null: mse), the name checked."""
    from strata.errors import suggestion
    from strata.layers import ReconstructionLoss
    from strata.models.losses import loss_names

    name = cfg.loss or "mse"
    try:
        return ReconstructionLoss(name, reduction=reduction, name="reconstruction_loss")
    except (ValueError, TypeError):
        raise ConfigError(f"model.loss: unknown loss '{name}'.{suggestion(name, loss_names())}") from None


@FAMILIES.register("autoencoder", AutoencoderConfig, task="reconstruction")
def build(ctx):
    import keras

    cfg: AutoencoderConfig = ctx.cfg
    target = reconstruction_target(ctx)
    x = target.tensor
    if cfg.noise:
        x = keras.layers.GaussianNoise(cfg.noise, name="denoising_noise")(x)
    h = encode(x, cfg, target)
    z = keras.layers.Dense(cfg.latent_dim, name="latent")(h)
    reconstruction = decode(z, cfg, target)
    reconstruction = reconstruction_loss(cfg, "mean")([target.tensor, reconstruction])
    return keras.Model(ctx.inputs, target.to_raw(reconstruction), name=cfg.name)
