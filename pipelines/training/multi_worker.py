"""Multi-worker training: `MultiWorkerMirroredStrategy` from `TF_CONFIG`, who the chief is, and
two small work-arounds for Keras's own trainer.

Measured on TensorFlow 2.21 / Keras 3.15, `model.fit` under `MultiWorkerMirroredStrategy` fails
before its first step, twice:

1. `TensorFlowTrainer._maybe_symbolic_build` calls `strategy.reduce("MEAN", batch, axis=None)` on
   the whole `(x, y)` structure of per-replica values, which raises
   `Attempt to convert a value (PerReplica...)`. The symbolic build only needs shapes and dtypes,
   so one local replica's batch does the same job.
2. `reduce_per_replica` (multi-worker branch) calls `strategy.reduce("MEAN", v, axis=0)` on scalar
   metric values, which raises `Invalid reduction dimension 0 for input with 0 dimensions`.
   Scalars are reduced with `axis=None` instead (the mean over replicas, what axis=0 means for them).

`patch_keras()` installs both; they change nothing outside multi-worker mode, and
`unpatch_keras()` removes them. `tests/test_training_multi_worker.py` runs unpatched Keras on two workers and
fails once upstream has fixed either bug, so this module can then be deleted.
"""

from __future__ import annotations

import json
import logging
import os

log = logging.getLogger(__name__)

_ORIGINALS: dict[str, object] = {}


def cluster() -> dict:
    """The parsed `TF_CONFIG` (`{}` when unset)."""
    raw = os.environ.get("TF_CONFIG", "")
    return json.loads(raw) if raw.strip() else {}


def is_multi_worker() -> bool:
    """True when `TF_CONFIG` describes a cluster of more than one worker."""
    spec = cluster().get("cluster", {})
    return sum(len(v) for k, v in spec.items() if k in ("chief", "worker")) > 1


def is_chief() -> bool:
    """True for the process that writes the run directory: the `chief` task, or worker 0 of a
    cluster without one (Keras's and TensorFlow's own rule). True outside a cluster."""
    config = cluster()
    task = config.get("task", {})
    kind, index = task.get("type"), int(task.get("index", 0))
    if kind is None:
        return True
    if kind == "chief":
        return True
    return kind == "worker" and index == 0 and "chief" not in config.get("cluster", {})


def strategy():
    """A `MultiWorkerMirroredStrategy` for the cluster in `TF_CONFIG`, with Keras patched for it."""
    import tensorflow as tf

    try:
        config = cluster()
    except json.JSONDecodeError as ex:
        from strata.errors import ConfigError

        raise ConfigError(f"TF_CONFIG: not valid JSON ({ex}).") from None
    if "cluster" not in config or "task" not in config:
        from strata.errors import ConfigError

        raise ConfigError('TF_CONFIG: needs "cluster" and "task" keys, e.g. '
                          '{"cluster": {"worker": ["host1:port", "host2:port"]}, "task": {"type": "worker", "index": 0}}')
    made = tf.distribute.MultiWorkerMirroredStrategy()
    patch_keras()
    task = config["task"]
    log.info("MultiWorkerMirroredStrategy: %s %s of %d workers, %d replicas in sync%s",
             task.get("type"), task.get("index"), sum(len(v) for v in config["cluster"].values()),
             made.num_replicas_in_sync, " (chief)" if is_chief() else "")
    return made


def _in_multi_worker_mode(strategy) -> bool:
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and strategy.extended._in_multi_worker_mode()


WORKAROUNDS = ("symbolic_build", "reduce_per_replica")
"""The names of the work-arounds, for `patch_keras(only=...)`."""


def patch_keras(only: tuple[str, ...] = WORKAROUNDS) -> None:
    """Installs the work-arounds (all of them unless `only` names some); idempotent."""
    from keras.src.backend.tensorflow import trainer as tf_trainer

    if "symbolic_build" in only and "symbolic_build" not in _ORIGINALS:
        _ORIGINALS["symbolic_build"] = tf_trainer.TensorFlowTrainer._maybe_symbolic_build
        tf_trainer.TensorFlowTrainer._maybe_symbolic_build = _maybe_symbolic_build
    if "reduce_per_replica" in only and "reduce_per_replica" not in _ORIGINALS:
        _ORIGINALS["reduce_per_replica"] = tf_trainer.reduce_per_replica
        tf_trainer.reduce_per_replica = _reduce_per_replica


def unpatch_keras() -> None:
    """Restores Keras's own functions."""
    from keras.src.backend.tensorflow import trainer as tf_trainer

    if "symbolic_build" in _ORIGINALS:
        tf_trainer.TensorFlowTrainer._maybe_symbolic_build = _ORIGINALS.pop("symbolic_build")
    if "reduce_per_replica" in _ORIGINALS:
        tf_trainer.reduce_per_replica = _ORIGINALS.pop("reduce_per_replica")


def _maybe_symbolic_build(self, iterator=None, data_batch=None):
    """Work-around 1: build from one local replica's batch instead of a reduced structure."""
    import tensorflow as tf
    from keras.src import tree

    strategy = self._distribute_strategy
    if strategy is None or iterator is None or not _in_multi_worker_mode(strategy):
        return _ORIGINALS["symbolic_build"](self, iterator=iterator, data_batch=data_batch)
    for _, _, it in iterator:
        batch = next(it)
        data_batch = tree.map_structure(
            lambda x: strategy.experimental_local_results(x)[0]
            if isinstance(x, tf.distribute.DistributedValues) else x,
            batch,
        )
        break
    with strategy.scope():
        self._symbolic_build(data_batch=data_batch)


def _reduce_per_replica(values, strategy, reduction):
    """Work-around 2: reduce scalar values over workers with `axis=None`."""
    import tensorflow as tf
    from keras.src import tree

    original = _ORIGINALS["reduce_per_replica"]
    if reduction not in ("auto", "mean") or not _in_multi_worker_mode(strategy):
        return original(values, strategy, reduction)

    def _reduce(v):
        local = strategy.experimental_local_results(v)[0] if isinstance(v, tf.distribute.DistributedValues) else v
        if getattr(local, "shape", None) is not None and local.shape.rank == 0:
            return strategy.reduce("MEAN", v, axis=None)
        return original(v, strategy, reduction)

    return tree.map_structure(_reduce, values)
