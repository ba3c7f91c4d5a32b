"""A GAN's generated samples, as one image grid in TensorBoard per epoch."""

from __future__ import annotations

import logging

import numpy as np
from pydantic import Field

from strata.callbacks._base import Callback, CallbackArgs
from strata.callbacks._image_grid import grid, image_feature, to_unit_range, zoom_for
from strata.callbacks._summary_writer import SummaryWriter
from strata.registry import CALLBACKS

log = logging.getLogger(__name__)


class GeneratedSamplesArgs(CallbackArgs):
    num_images: int = Field(16, ge=1, le=256)
    seed: int = Field(0, ge=0)


@CALLBACKS.register("generated_samples", GeneratedSamplesArgs)
class GeneratedSamples(Callback):
    """At each epoch's end, generates `num_images` samples from fixed latent vectors and writes
    them as the image `generated_samples` (the same vectors every epoch, so the grid shows
    the generator's progress).

    Args:
        log_dir: str, the TensorBoard run folder (strata uses `tensorboard/train`).
        num_images: int, default 16.
        rescale: float or None, default None. The input's rescale factor (raw values * rescale
            lie in [0, 1]); None scales each grid by its minimum and maximum.
        seed: int, default 0. Seed of the fixed latent vectors.

    Example:

    >>> gan.fit(images, epochs=10, callbacks=[GeneratedSamples("logs/train", num_images=16)])
    """

    def __init__(self, log_dir: str, num_images: int = 16, rescale: float | None = None, seed: int = 0):
        super().__init__()
        self.writer = SummaryWriter(log_dir)
        self.num_images = num_images
        self.rescale = rescale
        self.seed = seed
        self._latent = None

    @classmethod
    def from_context(cls, ctx, num_images: int = 16, seed: int = 0):
        feature = image_feature(ctx.bundle)
        if getattr(ctx.model, "generator", None) is None or feature is None:
            log.info("strata.callbacks.generated_samples: skipped (needs model=gan on image data)")
            return None
        return cls(str(ctx.run.tensorboard / "train"), num_images, feature.options.get("rescale"), seed)

    def samples(self) -> np.ndarray:
        if self._latent is None:
            rng = np.random.default_rng(self.seed)
            self._latent = rng.standard_normal((self.num_images, self.model.latent_dim)).astype("float32")
        return np.asarray(self.model.generator(self._latent, training=False))

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf

        images = to_unit_range(self.samples(), self.rescale)
        with self.writer.as_default():
            tf.summary.image("generated_samples", grid(images, zoom=zoom_for(images.shape[1])), step=epoch)

    def on_train_end(self, logs=None):
        self.writer.close()
