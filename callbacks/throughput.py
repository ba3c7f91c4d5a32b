"""Adds training throughput (examples per second) to each epoch's logs."""

from __future__ import annotations

import time

from strata.callbacks._base import Callback, CallbackArgs
from strata.registry import CALLBACKS


@CALLBACKS.register("throughput", CallbackArgs)
class Throughput(Callback):
    """Puts `examples_per_second` into the epoch logs: training examples over the time from the
    epoch's start to its last training batch (validation excluded).

    Args:
        batch_size: int, the global batch size.
        epoch_examples: int or None, examples in one full epoch (caps the last, partial batch).

    Example:

    >>> model.fit(x, y, batch_size=32, callbacks=[Throughput(batch_size=32, epoch_examples=len(x))])
    """

    adds_logs = True  # runs before the callbacks that read the logs

    def __init__(self, batch_size: int, epoch_examples: int | None = None):
        super().__init__()
        self.batch_size = batch_size
        self.epoch_examples = epoch_examples
        self._start = 0.0
        self._end = 0.0
        self._steps = 0

    @classmethod
    def from_context(cls, ctx) -> Throughput:
        trainer = ctx.config.trainer
        full = None if trainer.steps_per_epoch else ctx.bundle.size("train")
        return cls(batch_size=trainer.batch_size, epoch_examples=full)

    def on_epoch_begin(self, epoch, logs=None):
        self._start = self._end = time.perf_counter()
        self._steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self._end = time.perf_counter()
        self._steps = batch + 1  # with steps_per_execution, `batch` is the last step of the call

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or self._end <= self._start:
            return
        examples = self._steps * self.batch_size
        if self.epoch_examples:
            examples = min(examples, self.epoch_examples)
        logs["examples_per_second"] = examples / (self._end - self._start)
