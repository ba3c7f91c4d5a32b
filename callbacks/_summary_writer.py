"""A TensorBoard event writer for strata's own callbacks, created on first use."""

from __future__ import annotations

from pathlib import Path


class SummaryWriter:
    """Opens a `tf.summary` file writer in `log_dir` when first asked for, and closes it.

    Args:
        log_dir: str or Path, the folder of the event files (a TensorBoard "run").

    Example:

    >>> writer = SummaryWriter("outputs/run/tensorboard/validation")
    >>> with writer.as_default():
    ...     tf.summary.scalar("x", 1.0, step=0)
    """

    def __init__(self, log_dir: str | Path):
        self.log_dir = str(log_dir)
        self._writer = None

    def as_default(self):
        import tensorflow as tf

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        return self._writer.as_default()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()
            self._writer = None
