"""Adds the optimizer's current learning rate to each epoch's logs."""

from __future__ import annotations

from strata.callbacks._base import Callback, CallbackArgs
from strata.registry import CALLBACKS


@CALLBACKS.register("learning_rate_logger", CallbackArgs)
class LearningRateLogger(Callback):
    """Puts `learning_rate` (the schedule's value at the end of the epoch) into the epoch logs,
    so the log line, `history.csv`, `history` and TensorBoard (`epoch_learning_rate`) show it.

    Example:

    >>> model.fit(x, y, epochs=3, callbacks=[LearningRateLogger()])
    >>> history.history["learning_rate"]
    """

    adds_logs = True  # runs before the callbacks that read the logs

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        import keras

        optimizer = self.model.optimizer
        optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
