"""A Keras callback that times a training run the same way for strata and for the baselines.

strata loads it by name (`+callbacks.bench_probe._target_=probe.BenchProbe`, with `benchmarks/`
on PYTHONPATH); a baseline script adds it to its own `fit`. Both therefore measure with the very
same code: the wall-clock time of the first training batch, and the duration of the training
phase of every epoch (from `on_epoch_begin` to the start of validation, or to the end of the
epoch when there is none), in wall-clock and in process CPU time (all threads; steadier than
wall time on a shared machine). It writes them as JSON to `path` when training ends.
"""

from __future__ import annotations

import json
import os
import time

import keras


class BenchProbe(keras.callbacks.Callback):
    """Records when the first training batch starts and how long each epoch's training takes.

    Args:
        path: str, the JSON file to write when training ends.

    Example:

    >>> model.fit(ds, epochs=3, callbacks=[BenchProbe("probe.json")])
    """

    def __init__(self, path: str):
        super().__init__()
        self.path = path
        self.first_batch_time: float | None = None
        self.epoch_seconds: list[float] = []
        self.epoch_cpu_seconds: list[float] = []
        self.epoch_batches: list[int] = []
        self._start = 0.0
        self._cpu_start = 0.0
        self._batches = 0
        self._open = False

    def on_train_batch_begin(self, batch, logs=None):
        if self.first_batch_time is None:
            self.first_batch_time = time.time()
        self._batches += 1

    def on_epoch_begin(self, epoch, logs=None):
        self._batches = 0
        self._open = True
        self._start = time.perf_counter()
        self._cpu_start = time.process_time()

    def on_test_begin(self, logs=None):
        self._close()

    def on_epoch_end(self, epoch, logs=None):
        self._close()

    def on_train_end(self, logs=None):
        self._write()

    def _close(self) -> None:
        if self._open:
            self.epoch_seconds.append(time.perf_counter() - self._start)
            self.epoch_cpu_seconds.append(time.process_time() - self._cpu_start)
            self.epoch_batches.append(self._batches)
            self._open = False

    def _write(self) -> None:
        record = {
            "first_batch_time": self.first_batch_time,
            "epoch_seconds": self.epoch_seconds,
            "epoch_cpu_seconds": self.epoch_cpu_seconds,
            "epoch_batches": self.epoch_batches,
        }
        tmp = f"{self.path}.tmp"
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.replace(tmp, self.path)
