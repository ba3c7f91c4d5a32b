"""The VAE's reparameterized sampling of the latent code, with its KL divergence as a loss."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="strata")
class VAESampling(keras.layers.Layer):
    """Draws `z = mean + exp(log_var / 2) * eps` and adds `beta * KL(q(z|x) || N(0, I))` to the
    model's losses (summed over latent dimensions, averaged over the batch).

    Training samples `z`; inference returns `mean` unless `sample_at_inference`, so predictions
    and the exported encoder are deterministic.

    Args:
        beta: float, default 1.0. Weight of the KL term (beta-VAE).
        sample_at_inference: bool, default False. Sample also outside training.
        seed: int or None, default None. Seed of the noise.

    Example:

    >>> sampling = VAESampling()
    >>> z = sampling([keras.ops.zeros((4, 2)), keras.ops.zeros((4, 2))])
    >>> tuple(z.shape)
    (4, 2)
    """

    def __init__(self, beta: float = 1.0, sample_at_inference: bool = False, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.beta = float(beta)
        self.sample_at_inference = bool(sample_at_inference)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        mean, log_var = inputs
        mean32 = ops.cast(mean, "float32")
        log_var32 = ops.cast(log_var, "float32")
        kl = -0.5 * ops.sum(1.0 + log_var32 - ops.square(mean32) - ops.exp(log_var32), axis=-1)
        self.add_loss(self.beta * ops.mean(kl))
        if not training and not self.sample_at_inference:
            return mean
        eps = keras.random.normal(ops.shape(mean), dtype=mean.dtype, seed=self.seed_generator)
        return mean + ops.exp(0.5 * log_var) * eps

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {
            **super().get_config(),
            "beta": self.beta,
            "sample_at_inference": self.sample_at_inference,
            "seed": self.seed,
        }
