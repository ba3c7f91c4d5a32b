"""`terminate_on_nan`: stops training at the first non-finite loss, before any checkpoint or backup can
save it."""

from __future__ import annotations

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
    """`keras.callbacks.TerminateOnNaN(raise_error=True)`, raising `TrainingDiverged` (with the
    epoch, the batch and the loss) at the first batch whose loss is NaN or infinite.

    Keras's default (`raise_error=False`) lets the epoch end, so the checkpoint and backup
    callbacks would then save the broken weights; raising leaves `fit` at once, and the
    checkpoints keep the last good epoch.

    Example:

    >>> try:
    ...     model.fit(x, y, callbacks=[DivergenceGuard()])
    ... except TrainingDiverged as ex:
    ...     print(ex.epoch, ex.loss)
    """

    keras_base = "TerminateOnNaN"

    def __init__(self):
        super().__init__(raise_error=True)
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_batch_end(self, batch, logs=None):
        try:
            super().on_batch_end(batch, logs)
        except RuntimeError:  # Keras's own check found the loss NaN or infinite
            raise TrainingDiverged(self._epoch, batch, float(np.asarray(logs["loss"]))) from None
