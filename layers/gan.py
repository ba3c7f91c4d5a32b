"""A generative adversarial network as one Keras model: its own train step, two optimizers."""

from __future__ import annotations

import keras
from keras import ops

LOSSES = ("binary_crossentropy", "mse", "hinge")


@keras.saving.register_keras_serializable(package="strata")
class GAN(keras.Model):
    """A generator and a discriminator trained against each other under `model.fit`.

    `fit(x)` reads real examples from `x` (labels, if any, are ignored). Each step trains the
    discriminator `discriminator_steps` times on real and generated examples, then the generator
    once; each has its own optimizer (the generator the one given to `compile`, the
    discriminator a copy of it, at `discriminator_learning_rate` if set). Calling the model, or
    `predict`, maps latent vectors to samples. Runs with every callback, mixed precision (loss
    scaling per optimizer) and distribution strategies.

    Logs `d_loss`, `g_loss` and `loss` (the generator's loss, so `val_loss` exists for the
    usual checkpoint and early-stopping monitors).

    Args:
        generator: keras.Model, latent vectors `(batch, latent_dim)` -> samples.
        discriminator: keras.Model, samples -> one logit per example (real > 0). It takes the
            raw inputs as a dict when `input_name` is set.
        latent_dim: int, the size of the latent vectors.
        input_name: str or None, default None. The name of the real examples' input in `x`.
        discriminator_steps: int, default 1. Discriminator updates per generator update.
        loss: str, default "binary_crossentropy". `binary_crossentropy` (the non-saturating
            GAN), `mse` (least-squares GAN) or `hinge`.
        discriminator_learning_rate: float or None, default None (the generator's).
        label_smoothing: float, default 0.0. One-sided: real examples' target is 1 - this.
        seed: int, default 0. Seed of the latent vectors drawn in training.

    Example:

    >>> g = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    >>> d = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> gan = GAN(g, d, latent_dim=4)
    >>> gan.compile(optimizer="adam")
    >>> history = gan.fit(keras.ops.ones((32, 2)), epochs=1, batch_size=8, verbose=0)
    >>> sorted(history.history)
    ['d_loss', 'g_loss', 'loss']
    """

    def __init__(
        self,
        generator,
        discriminator,
        latent_dim: int,
        input_name: str | None = None,
        discriminator_steps: int = 1,
        loss: str = "binary_crossentropy",
        discriminator_learning_rate: float | None = None,
        label_smoothing: float = 0.0,
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if loss not in LOSSES:
            raise ValueError(f"GAN: loss must be one of {', '.join(LOSSES)}. Received: loss={loss}")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim)
        self.input_name = input_name
        self.discriminator_steps = int(discriminator_steps)
        self.gan_loss = loss
        self.discriminator_learning_rate = discriminator_learning_rate
        self.label_smoothing = float(label_smoothing)
        self.seed = int(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.discriminator_optimizer = None
        self.built = True

    # ------------------------------------------------------------------ inference

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    def sample(self, n: int, seed: int = 0):
        """`n` samples from latent vectors drawn with `seed`."""
        z = keras.random.normal((n, self.latent_dim), seed=seed)
        return self.generator(z, training=False)

    # ------------------------------------------------------------------ training

    def compile(self, optimizer="adam", loss=None, metrics=None, **kwargs):
        """Compiles with `optimizer` for the generator and a copy for the discriminator;
        `loss` and `metrics` are ignored (the GAN has its own)."""
        super().compile(optimizer=optimizer, **kwargs)
        base = self.optimizer
        scaled = isinstance(base, keras.optimizers.LossScaleOptimizer)
        if scaled:
            base = base.inner_optimizer
        config = base.get_config()
        config["name"] = "discriminator_optimizer"
        if self.discriminator_learning_rate is not None:
            config["learning_rate"] = float(self.discriminator_learning_rate)
        d_optimizer = base.__class__.from_config(config)
        if scaled:
            d_optimizer = keras.optimizers.LossScaleOptimizer(d_optimizer)
        self.discriminator_optimizer = d_optimizer
        self.optimizer.build(self.generator.trainable_variables)
        self.discriminator_optimizer.build(self.discriminator.trainable_variables)

    def compile_from_config(self, config):
        """Recompiles a reloaded GAN (both optimizers) from its saved compile config."""
        self.compile(**keras.saving.deserialize_keras_object(config))

    @property
    def metrics(self):
        return [self.loss_tracker, self.d_loss_tracker, self.g_loss_tracker]

    def _real(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        if isinstance(x, dict):
            return x[self.input_name] if self.input_name else next(iter(x.values()))
        return x

    def _discriminate(self, samples, training):
        inputs = {self.input_name: samples} if self.input_name else samples
        return ops.cast(self.discriminator(inputs, training=training), "float32")

    def _latent(self, batch, salt: int):
        import tensorflow as tf

        replica = tf.distribute.get_replica_context()
        replica_id = tf.cast(replica.replica_id_in_sync_group, "int64") if replica is not None else 0
        step = ops.cast(self.optimizer.iterations, "int64")
        seed = ops.stack([ops.cast(self.seed * 1_000_003 + salt, "int64") + replica_id * 7919, step])
        return tf.random.stateless_normal((batch, self.latent_dim), seed=seed, dtype=self.compute_dtype)

    def _adversarial_losses(self, real_logits, fake_logits):
        smooth = self.label_smoothing
        if self.gan_loss == "binary_crossentropy":
            # softplus(-l) = -log(sigmoid(l)), softplus(l) = -log(1 - sigmoid(l))
            d_real = (1 - smooth) * ops.softplus(-real_logits) + smooth * ops.softplus(real_logits)
            d_loss = ops.mean(d_real) + ops.mean(ops.softplus(fake_logits))
            g_loss = ops.mean(ops.softplus(-fake_logits))
        elif self.gan_loss == "mse":
            d_loss = ops.mean(ops.square(real_logits - (1 - smooth))) + ops.mean(ops.square(fake_logits))
            g_loss = ops.mean(ops.square(fake_logits - 1))
        else:
            d_loss = ops.mean(ops.relu(1 - real_logits)) + ops.mean(ops.relu(1 + fake_logits))
            g_loss = -ops.mean(fake_logits)
        return d_loss, g_loss

    def train_step(self, data):
        import tensorflow as tf

        real = self._real(data)
        batch = ops.shape(real)[0]
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        for i in range(self.discriminator_steps):
            z = self._latent(batch, salt=i)
            with tf.GradientTape() as tape:
                fake = self.generator(z, training=True)
                d_loss, _ = self._adversarial_losses(self._discriminate(real, True), self._discriminate(fake, True))
                scaled = self.discriminator_optimizer.scale_loss(d_loss / replicas)
            variables = self.discriminator.trainable_variables
            self.discriminator_optimizer.apply(tape.gradient(scaled, variables), variables)
        z = self._latent(batch, salt=1000)
        with tf.GradientTape() as tape:
            fake = self.generator(z, training=True)
            _, g_loss = self._adversarial_losses(ops.zeros((1, 1)), self._discriminate(fake, True))
            scaled = self.optimizer.scale_loss(g_loss / replicas)
        variables = self.generator.trainable_variables
        self.optimizer.apply(tape.gradient(scaled, variables), variables)
        return self._track(d_loss, g_loss)

    def test_step(self, data):
        real = self._real(data)
        z = self._latent(ops.shape(real)[0], salt=2000)
        fake = self.generator(z, training=False)
        d_loss, g_loss = self._adversarial_losses(self._discriminate(real, False), self._discriminate(fake, False))
        return self._track(d_loss, g_loss)

    def _track(self, d_loss, g_loss):
        self.loss_tracker.update_state(g_loss)
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {m.name: m.result() for m in self.metrics}

    # ------------------------------------------------------------------ saving

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "latent_dim": self.latent_dim,
            "input_name": self.input_name,
            "discriminator_steps": self.discriminator_steps,
            "loss": self.gan_loss,
            "discriminator_learning_rate": self.discriminator_learning_rate,
            "label_smoothing": self.label_smoothing,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        generator = keras.saving.deserialize_keras_object(config.pop("generator"), custom_objects=custom_objects)
        discriminator = keras.saving.deserialize_keras_object(config.pop("discriminator"), custom_objects=custom_objects)
        return cls(generator=generator, discriminator=discriminator, **config)
