"""Logs one line per epoch through Python's logging, so it lands in the console and train.log."""

from __future__ import annotations

import logging
import time

from strata.callbacks._base import Callback, CallbackArgs
from strata.formatting import metric_value
from strata.registry import CALLBACKS

log = logging.getLogger("strata.train")


@CALLBACKS.register("epoch_logger", CallbackArgs)
class EpochLogger(Callback):
    """Logs each epoch's metrics and duration as one line.

    Args:
        epochs: int, the planned number of epochs (for the `epoch 3/20` prefix).

    Example:

    >>> model.fit(x, y, epochs=5, verbose=0, callbacks=[EpochLogger(epochs=5)])
    """

    def __init__(self, epochs: int | None = None):
        super().__init__()
        self.epochs = epochs
        self._start = 0.0

    @classmethod
    def from_context(cls, ctx) -> EpochLogger:
        return cls(epochs=ctx.config.trainer.epochs + ctx.config.trainer.fine_tune.epochs)

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        total = f"/{self.epochs}" if self.epochs else ""
        values = " - ".join(f"{k} {metric_value(v)}" for k, v in (logs or {}).items() if _is_scalar(v))
        log.info("epoch %d%s - %s (%.1f s)", epoch + 1, total, values, time.perf_counter() - self._start)


def _is_scalar(value) -> bool:
    try:
        float(value)
        return True
    except (TypeError, ValueError):
        return False
