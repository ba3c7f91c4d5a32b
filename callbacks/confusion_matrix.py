"""Draws the validation split's confusion matrix into TensorBoard's Images tab every epoch."""

from __future__ import annotations

import io
import logging

import keras
import numpy as np

from callbacks.tensorboard_writer import SummaryWriter

log = logging.getLogger(__name__)


class ConfusionMatrix(keras.callbacks.Callback):
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

    @classmethod
    def from_context(cls, ctx, max_examples: int = 2000):
        task = ctx.bundle.task
        if task.kind not in ("binary", "multiclass") or "validation" not in ctx.bundle.splits:
            log.info("callbacks.confusion_matrix: skipped (needs a binary or multiclass task with a validation split; "
                     "this run's task is %s)", task.kind)
            return None
        dataset = ctx.bundle.dataset("validation", ctx.config.trainer.batch_size)
        return cls(dataset, task.classes or ["0", "1"], str(ctx.run.tensorboard / "validation"), max_examples)

    def compute(self) -> np.ndarray:
        """The confusion matrix of the current model: counts, shape (classes, classes)."""
        n = len(self.class_names)
        matrix = np.zeros((n, n), dtype=np.int64)
        seen = 0
        for x, y in self.dataset:
            probs = keras.ops.convert_to_numpy(self.model(x, training=False)).astype("float32")
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
    """The matrix as an RGBA uint8 image (height, width, 4), counts written in the cells."""
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    n = len(class_names)
    size = max(3.0, 0.45 * n + 1.5)
    fig = Figure(figsize=(size, size), dpi=80)
    ax = fig.add_subplot()
    ax.imshow(matrix, cmap="Blues")
    ax.set(xticks=range(n), yticks=range(n), xlabel="predicted", ylabel="true", title=title)
    ax.set_xticklabels(class_names, rotation=45, ha="right")
    ax.set_yticklabels(class_names)
    if n <= 30:
        threshold = matrix.max() / 2 if matrix.size else 0
        for i in range(n):
            for j in range(n):
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if matrix[i, j] > threshold else "black")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGBA"))
