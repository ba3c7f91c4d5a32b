"""Multi-worker training: `MultiWorkerMirroredStrategy` from `TF_CONFIG`, and who the chief is.
Keras 3.15's trainer needs two work-arounds under it; they live in `strata.compat`."""

from __future__ import annotations

import json
import logging
import os

from strata import compat

log = logging.getLogger(__name__)

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
    compat.patch_keras()
    task = config["task"]
    log.info("MultiWorkerMirroredStrategy: %s %s of %d workers, %d replicas in sync%s",
             task.get("type"), task.get("index"), sum(len(v) for v in config["cluster"].values()),
             made.num_replicas_in_sync, " (chief)" if is_chief() else "")
    return made
