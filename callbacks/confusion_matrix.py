"""Draws the validation split's confusion matrix into TensorBoard's Images tab every epoch."""

from __future__ import annotations

import logging

import numpy as np
from pydantic import Field

from strata.callbacks._base import Callback, CallbackArgs
from strata.callbacks._summary_writer import SummaryWriter
from strata.registry import CALLBACKS

log = logging.getLogger(__name__)


class ConfusionMatrixArgs(CallbackArgs):
    max_examples: int = Field(2000, ge=1)


@CALLBACKS.register("confusion_matrix", ConfusionMatrixArgs)
class ConfusionMatrix(Callback):
    """Predicts up to `max_examples` validation examples at each epoch's end and writes the
    confusion matrix (rows: true class, columns: predicted class) as the image `confusion_matrix`.

    The predictions call the model directly, batch by batch, so no distribution strategy has to
    take part.

    Args:
        dataset: a batched `tf.data.Dataset` of `(features, labels)`.
        class_names: list of str, in label-index order (two names for a binary classifier).
        log_dir: str, the TensorBoard run folder (strata uses `tensorboard/validation`).
        max_examples: int, default 2000, examples to predict per epoch.

    Example:

    >>> cb = ConfusionMatrix(val_ds, ["cat", "dog"], "logs/validation")
    >>> model.fit(train_ds, validation_data=val_ds, callbacks=[cb])
    """

    def __init__(self, dataset, class_names: list[str], log_dir: str, max_examples: int = 2000):
        super().__init__()
        self.dataset = dataset
        self.class_names = [str(c) for c in class_names]
        self.max_examples = max_examples
        self.writer = SummaryWriter(log_dir)
        self._predict = None

    @classmethod
    def from_context(cls, ctx, max_examples: int = 2000):
        task = ctx.bundle.task
        if task.kind not in ("binary", "multiclass") or "validation" not in ctx.bundle.splits:
            log.info("strata.callbacks.confusion_matrix: skipped (needs a binary or multiclass task with a validation split; "
                     "this run's task is %s)", task.kind)
            return None
        dataset = ctx.bundle.dataset("validation", ctx.config.trainer.batch_size)
        return cls(dataset, task.classes or ["0", "1"], str(ctx.run.tensorboard / "validation"), max_examples)

    def compute(self) -> np.ndarray:
        """The confusion matrix of the current model: counts, shape (classes, classes)."""
        n = len(self.class_names)
        matrix = np.zeros((n, n), dtype=np.int64)
        seen = 0
        if self._predict is None:
            import tensorflow as tf

            self._predict = tf.function(lambda x: self.model(x, training=False), reduce_retracing=True)
        for x, y in self.dataset:
            probs = np.asarray(self._predict(x)).astype("float32")
            predicted = (probs.reshape(len(probs), -1)[:, 0] > 0.5).astype(int) if probs.shape[-1] == 1 \
                else probs.argmax(axis=-1)
            truth = np.asarray(y).reshape(len(predicted), -1)[:, 0].astype(int)
            take = min(len(truth), self.max_examples - seen)
            np.add.at(matrix, (truth[:take], predicted[:take]), 1)
            seen += take
            if seen >= self.max_examples:
                break
        return matrix

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf

        image = render(self.compute(), self.class_names, title=f"epoch {epoch + 1}")
        with self.writer.as_default():
            tf.summary.image("confusion_matrix", image[None], step=epoch)

    def on_train_end(self, logs=None):
        self.writer.close()


def render(matrix: np.ndarray, class_names: list[str], title: str = "") -> np.ndarray:
    """The matrix as an RGB uint8 image (height, width, 3): rows are true classes, columns
    predicted ones, darker cells hold more examples, counts written in the cells.

    Drawn with PIL rather than matplotlib: a few milliseconds per epoch instead of a second.
    """
    from PIL import Image, ImageDraw, ImageFont

    n = len(class_names)
    cell = 30
    names = [c if len(c) <= 10 else c[:9] + "~" for c in class_names]
    left = 12 + 6 * max(len(c) for c in names)
    top = 34
    heading = f"{title}  rows: true, columns: predicted".strip()
    width, height = max(left + n * cell + 8, 8 + 6 * len(heading)), top + n * cell + 24
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    draw.text((4, 2), heading, fill="black", font=font)
    peak = max(int(matrix.max()), 1)
    light, dark = np.array([247, 251, 255]), np.array([8, 48, 107])  # matplotlib's "Blues" ends
    for i in range(n):
        draw.text((4, top + i * cell + cell // 2 - 5), names[i], fill="black", font=font)
        draw.text((left + i * cell + 2, top - 14), names[i][:4], fill="black", font=font)
        for j in range(n):
            share = matrix[i, j] / peak
            color = tuple(int(v) for v in light + (dark - light) * share)
            x0, y0 = left + j * cell, top + i * cell
            draw.rectangle((x0, y0, x0 + cell - 1, y0 + cell - 1), fill=color, outline=(200, 200, 200))
            text = str(int(matrix[i, j]))
            draw.text((x0 + cell // 2 - 3 * len(text), y0 + cell // 2 - 5), text,
                      fill="white" if share > 0.5 else "black", font=font)
    return np.asarray(image)
