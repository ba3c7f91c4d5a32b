"""Multi-worker training: `MultiWorkerMirroredStrategy` over a cluster the scheduler describes,
who the chief is, and how a job notices that one of its workers died.

The cluster comes from, in this order:
- `TF_CONFIG` (set by hand, by Kubeflow's TFJob on Kubernetes, by Vertex AI, ...);
- SLURM's variables of a job step with more than one task (`srun`), through TensorFlow's
  `SlurmClusterResolver`: worker ports are `trainer.port_base` plus the task's index on its node.

Everything that decides *who* a process is (`current()`, `is_chief()`) reads the environment
only, without TensorFlow, so the command line can place a worker's log before Hydra starts.
Keras 3.15's trainer needs two work-arounds under the strategy; they live in `strata.compat`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass

from strata import compat
from strata.errors import ConfigError

log = logging.getLogger(__name__)

# A collective that waits this long for a peer ends the job: a worker that died mid-step
# (preempted, killed, out of memory) brings every other one down instead of leaving it hung.
# It must exceed the slowest step and the first step's tracing (XLA compiles included).
COLLECTIVE_TIMEOUT_SECONDS = 60


@dataclass(frozen=True)
class Task:
    """This process's place in a multi-worker job."""

    source: str  # "TF_CONFIG" or "SLURM"
    kind: str  # "chief" or "worker"
    index: int  # within its kind
    rank: int  # 0 .. workers-1, the chief (or worker 0) first
    workers: int

    @property
    def is_chief(self) -> bool:
        return self.rank == 0


def cluster() -> dict:
    """The parsed `TF_CONFIG` (`{}` when unset)."""
    raw = os.environ.get("TF_CONFIG", "")
    try:
        return json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as ex:
        raise ConfigError(f"TF_CONFIG: not valid JSON ({ex}).") from None


def _slurm_tasks() -> int:
    """The number of tasks of the SLURM job step this process is one of (0 outside SLURM)."""
    value = os.environ.get("SLURM_STEP_NUM_TASKS") or os.environ.get("SLURM_NTASKS") or ""
    return int(value) if value.strip().isdigit() and "SLURM_PROCID" in os.environ else 0


def current() -> Task | None:
    """This process's task in a job of more than one worker, or None (one process trains alone)."""
    config = cluster()
    if config:
        spec = config.get("cluster", {})
        task = config.get("task", {})
        chiefs, workers = len(spec.get("chief", [])), len(spec.get("worker", []))
        if chiefs + workers <= 1 or task.get("type") not in ("chief", "worker"):
            return None
        kind, index = task["type"], int(task.get("index", 0))
        rank = index if kind == "chief" else chiefs + index
        return Task("TF_CONFIG", kind, index, rank, chiefs + workers)
    tasks = _slurm_tasks()
    if tasks > 1:
        rank = int(os.environ["SLURM_PROCID"])
        return Task("SLURM", "worker", rank, rank, tasks)
    return None


def is_multi_worker() -> bool:
    """True when the environment describes a job of more than one worker."""
    return current() is not None


def is_chief() -> bool:
    """True for the process that writes the run directory: the `chief` task, or worker 0 of a
    cluster without one (Keras's and TensorFlow's own rule; SLURM's task 0). True outside a cluster."""
    task = current()
    return task is None or task.is_chief


def strategy(trainer):
    """A `MultiWorkerMirroredStrategy` for the cluster in the environment, with Keras patched for it."""
    import tensorflow as tf

    task = current()
    if task is None:
        config = cluster()
        if config and ("cluster" not in config or "task" not in config):
            raise ConfigError('TF_CONFIG: needs "cluster" and "task" keys, e.g. '
                              '{"cluster": {"worker": ["host1:port", "host2:port"]}, "task": {"type": "worker", "index": 0}}')
        raise ConfigError("trainer.strategy=multi_worker needs a cluster of two or more workers: the TF_CONFIG "
                          "environment variable (cluster and task), or a SLURM job step of several tasks (srun).")
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=COLLECTIVE_TIMEOUT_SECONDS)
    resolver = _slurm_resolver(trainer.port_base) if task.source == "SLURM" else None
    made = tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=resolver, communication_options=options)
    compat.patch_keras()
    log.info("MultiWorkerMirroredStrategy (%s): %s %d, rank %d of %d workers, %d replicas in sync%s",
             task.source, task.kind, task.index, task.rank, task.workers, made.num_replicas_in_sync,
             " (chief)" if task.is_chief else "")
    log.info("input: each global batch of %d is split by row among the %d workers (strata.data.bundle.shard_policy)",
             trainer.batch_size, task.workers)
    return made


def _slurm_resolver(port_base: int):
    """TensorFlow's `SlurmClusterResolver` for this job step. It counts GPUs with nvidia-smi and
    splits them among a node's tasks; on CPU-only nodes (no GPU to split) each task is given
    none, and where SLURM already gave each task its own GPUs (`--gpus-per-task`) they are kept."""
    import tensorflow as tf

    base = tf.distribute.cluster_resolver.SlurmClusterResolver
    try:
        per_node = max(compat.slurm_tasks_per_node(os.environ["SLURM_STEP_TASKS_PER_NODE"]))
    except KeyError as ex:
        raise ConfigError(f"SLURM: {ex.args[0]} is not set; run strata under srun (a job step), "
                          "or set TF_CONFIG instead.") from None
    gpus = _visible_gpus()
    if gpus == 0:

        class CpuSlurmClusterResolver(base):
            def num_accelerators(self, task_type=None, task_id=None, config_proto=None):
                return {}

        # one (unused) slot per task, so the resolver places every task; CUDA is left alone
        return CpuSlurmClusterResolver(port_base=port_base, gpus_per_node=per_node, gpus_per_task=1, auto_set_gpu=False)
    if os.environ.get("SLURM_GPUS_PER_TASK") or gpus < per_node:  # SLURM bound each task to its GPUs
        return base(port_base=port_base, gpus_per_node=gpus * per_node, gpus_per_task=gpus, auto_set_gpu=False)
    return base(port_base=port_base, gpus_per_node=gpus, auto_set_gpu=True)


def _visible_gpus() -> int:
    """GPUs this task may use, counted without starting CUDA (the resolver may still assign them):
    `CUDA_VISIBLE_DEVICES` when set, else nvidia-smi's list, else none."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    if shutil.which("nvidia-smi") is None:
        return 0
    try:
        out = subprocess.run(["nvidia-smi", "--list-gpus"], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in out.splitlines() if line.startswith("GPU "))
