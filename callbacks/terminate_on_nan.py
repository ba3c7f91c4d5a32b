"""`terminate_on_nan`: stops training at the first non-finite loss, before any checkpoint or backup can
save it."""

from __future__ import annotations

import math

import numpy as np

from strata.callbacks._base import Callback, CallbackArgs
from strata.registry import CALLBACKS


class TrainingDiverged(RuntimeError):
    """Raised by `DivergenceGuard`: the training loss became NaN or infinite.

    Args:
        epoch: int, 0-based epoch of the batch that diverged.
        batch: int, the batch within the epoch.
        loss: float, the value seen.
    """

    def __init__(self, epoch: int, batch: int, loss: float):
        super().__init__(f"the training loss became {loss} at epoch {epoch + 1}, batch {batch + 1}")
        self.epoch = epoch
        self.batch = batch
        self.loss = loss


@CALLBACKS.register("terminate_on_nan", CallbackArgs)
class DivergenceGuard(Callback):
    """Raises `TrainingDiverged` at the first batch whose loss is NaN or infinite.

    Unlike `keras.callbacks.TerminateOnNaN` (which lets the epoch end, so the checkpoint and
    backup callbacks then save the broken weights), the exception leaves `fit` at once: the
    checkpoints keep the last good epoch.

    Example:

    >>> try:
    ...     model.fit(x, y, callbacks=[DivergenceGuard()])
    ... except TrainingDiverged as ex:
    ...     print(ex.epoch, ex.loss)
    """

    def __init__(self):
        super().__init__()
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        value = float(np.asarray(loss))
        if not math.isfinite(value):
            raise TrainingDiverged(self._epoch, batch, value)
