"""Variational autoencoders: the autoencoder's encoder and decoder around a sampled latent code.

The encoder predicts a mean (`latent`) and a log-variance (`latent_log_var`) per latent
dimension; `layers.VAESampling` draws the code during training and adds the KL divergence to
the loss; the reconstruction error is summed over each example's values (the evidence bound).
Inference uses the mean, so predictions and the exported `encoder` signature are deterministic.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from strata.models.families.autoencoder import AutoencoderConfig, decode, encode, reconstruction_loss, reconstruction_target
from strata.registry import FAMILIES


class VAEConfig(AutoencoderConfig):
    family: Literal["vae"] = "vae"  # type: ignore[assignment]
    latent_dim: int = Field(8, ge=1)
    beta: float = Field(1.0, ge=0)


@FAMILIES.register("vae", VAEConfig, task="reconstruction")
def build(ctx):
    import keras

    from strata.layers import VAESampling

    cfg: VAEConfig = ctx.cfg
    target = reconstruction_target(ctx)
    x = target.tensor
    if cfg.noise:
        x = keras.layers.GaussianNoise(cfg.noise, name="denoising_noise")(x)
    h = encode(x, cfg, target)
    mean = keras.layers.Dense(cfg.latent_dim, name="latent")(h)
    log_var = keras.layers.Dense(cfg.latent_dim, name="latent_log_var")(h)
    z = VAESampling(beta=cfg.beta, name="sampling")([mean, log_var])
    reconstruction = decode(z, cfg, target)
    reconstruction = reconstruction_loss(cfg, "sum")([target.tensor, reconstruction])
    return keras.Model(ctx.inputs, target.to_raw(reconstruction), name=cfg.name)
