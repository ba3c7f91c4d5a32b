"""An autoencoder's inputs and reconstructions side by side, one TensorBoard image per epoch."""

from __future__ import annotations

import logging

import numpy as np
from pydantic import Field

from strata.callbacks._base import Callback, CallbackArgs
from strata.callbacks._image_grid import grid, image_feature, to_unit_range, zoom_for
from strata.callbacks._summary_writer import SummaryWriter
from strata.registry import CALLBACKS

log = logging.getLogger(__name__)


class ReconstructionsArgs(CallbackArgs):
    num_images: int = Field(8, ge=1, le=64)


@CALLBACKS.register("reconstructions", ReconstructionsArgs)
class Reconstructions(Callback):
    """At each epoch's end, reconstructs `num_images` fixed validation images and writes the
    image `reconstructions`: the inputs in the top row, their reconstructions below.

    Args:
        images: array `(n, h, w, c)` of raw input images (the model's input values).
        input_name: str, the model's input name for them.
        log_dir: str, the TensorBoard run folder (strata uses `tensorboard/validation`).
        rescale: float or None, default None. The input's rescale factor (raw values * rescale
            lie in [0, 1]); None scales each grid by its minimum and maximum.

    Example:

    >>> cb = Reconstructions(x_val[:8], "image", "logs/validation", rescale=1 / 255)
    >>> autoencoder.fit(x_train, epochs=10, callbacks=[cb])
    """

    def __init__(self, images: np.ndarray, input_name: str, log_dir: str, rescale: float | None = None):
        super().__init__()
        self.images = np.asarray(images, dtype="float32")
        self.input_name = input_name
        self.rescale = rescale
        self.writer = SummaryWriter(log_dir)

    @classmethod
    def from_context(cls, ctx, num_images: int = 8):
        feature = image_feature(ctx.bundle)
        if ctx.bundle.task.kind != "reconstruction" or feature is None or len(ctx.bundle.features) != 1:
            log.info("strata.callbacks.reconstructions: skipped (needs model=autoencoder or vae on image data)")
            return None
        split = "validation" if "validation" in ctx.bundle.splits else "train"
        images = ctx.bundle.splits[split].x[feature.name][:num_images]
        return cls(images, feature.name, str(ctx.run.tensorboard / "validation"), feature.options.get("rescale"))

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf

        output = self.model({self.input_name: self.images}, training=False)
        reconstructed = np.asarray(output).reshape(self.images.shape)
        pairs = to_unit_range(np.concatenate([self.images, reconstructed]), self.rescale)
        image = grid(pairs, columns=len(self.images), zoom=zoom_for(self.images.shape[1]))
        with self.writer.as_default():
            tf.summary.image("reconstructions", image, step=epoch)

    def on_train_end(self, logs=None):
        self.writer.close()
