"""Every use of a framework's private API in strata, in one place, each with the version it was
written against and why no public API does the job. A framework upgrade that breaks one breaks
here; `tests/test_architecture.py` fails when private API is reached from anywhere else.

Pinned in pyproject.toml: Hydra 1.3, Keras 3.15 on TensorFlow 2.21.
"""

from __future__ import annotations

import logging
from typing import Any

# ============================================================================ Hydra 1.3
#
# Hydra 1.3 composes every command two times: `Hydra.get_mode` composes it (as for a sweep,
# swallowing any error) only to read `hydra.mode`, then `Hydra.run` composes it again. With
# strata's config tree a composition costs about a quarter of a second, paid before the first
# training step, and a config error costs both compositions before it is reported.
#
# `compose_once()` replaces `get_mode` for a plain run (no `-m`, no sweep syntax in the
# overrides): it composes the config the way `Hydra.run` will, lets an error through at once, and
# keeps the config for `Hydra.run`'s own composition of the same overrides. Anything else
# (sweeps, `--multirun`, a config whose `hydra.mode` asks for a sweep) takes Hydra's own path
# unchanged. tests/test_config_errors.py checks that a run composes its config once.

_installed = False


def compose_once(multirun: bool) -> None:
    """Patches `Hydra.get_mode` and `Hydra.compose_config` for this process (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    from hydra._internal.hydra import Hydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.types import RunMode

    original_get_mode = Hydra.get_mode
    original_compose = Hydra.compose_config
    kept: dict[tuple, Any] = {}

    def get_mode(self, config_name, overrides):
        try:
            sweep = multirun or any(o.is_sweep_override() for o in OverridesParser.create().parse_overrides(overrides))
        except Exception:  # a malformed override: Hydra's own path reports it
            sweep = True
        if sweep:
            return original_get_mode(self, config_name, overrides)
        cfg = original_compose(self, config_name, overrides, run_mode=RunMode.RUN, with_log_configuration=False)
        mode = cfg.hydra.mode
        if mode is None or mode == RunMode.RUN:
            cfg.hydra.mode = RunMode.RUN  # what Hydra's second composition would set
            kept[(config_name, tuple(overrides))] = cfg
            return RunMode.RUN
        return mode

    def compose_config(self, config_name, overrides, run_mode, with_log_configuration=False, **kwargs):
        cfg = kept.pop((config_name, tuple(overrides)), None) if run_mode == RunMode.RUN and not kwargs else None
        if cfg is None:
            return original_compose(self, config_name, overrides, run_mode, with_log_configuration, **kwargs)
        if with_log_configuration:
            import hydra._internal.hydra as hydra_module
            from hydra.core.utils import configure_log

            configure_log(cfg.hydra.hydra_logging, cfg.hydra.verbose)
            hydra_module.log = logging.getLogger(hydra_module.__name__)
            self._print_debug_info(config_name, overrides, run_mode)
        return cfg

    Hydra.get_mode = get_mode
    Hydra.compose_config = compose_config


def hydra_config_loader():
    """Hydra's config loader class (`hydra._internal`), for tests that count compositions."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    return ConfigLoaderImpl


# ============================================================================ Optuna 5.1
#
# A sweep trial runs as a Hydra job, often in another process than the sweeper that asked for it.
# It knows its trial *number* (`hydra.job.num`); `optuna.Trial(study, trial_id)` wants the trial's
# storage id. Storages have a public `get_trial_id_from_study_id_trial_number`, but a `Study`
# exposes its storage and id only as `_storage` and `_study_id`.


def optuna_trial_id(study, number: int) -> int:
    """The storage id of trial `number` of `study`."""
    return study._storage.get_trial_id_from_study_id_trial_number(study._study_id, number)


# ============================================================================ TensorFlow 2.21: SLURM
#
# `SlurmClusterResolver` needs the most tasks any node of the step runs (to give every task a
# GPU slot on CPU-only nodes, `strata.training.multi_worker`); TensorFlow parses SLURM's
# `SLURM_STEP_TASKS_PER_NODE` ("2(x3),1") only in its module's private `expand_tasks_per_node`.


def slurm_tasks_per_node(value: str) -> list[int]:
    """`SLURM_STEP_TASKS_PER_NODE` as one task count per node, parsed as the resolver parses it."""
    from tensorflow.python.distribute.cluster_resolver import slurm_cluster_resolver

    return slurm_cluster_resolver.expand_tasks_per_node(value)


# ============================================================================ Keras 3.15: tensors and export


def keras_mask(tensor) -> Any:
    """The Keras mask a layer attached to `tensor` (None without one). Keras 3.15 has no public
    accessor; `keras.src.backend.get_keras_mask` is what its own layers use."""
    from keras.src.backend import get_keras_mask

    return get_keras_mask(tensor)


def input_signature(model) -> Any:
    """The `tf.TensorSpec` structure of a model's inputs, as `Model.export` builds it for its own
    `serve` endpoint. Keras 3.15's `ExportArchive` needs it spelled out to add a second endpoint
    (the `encoder` of autoencoders), and has no public function that builds it."""
    from keras.src.export.export_utils import get_input_signature

    return get_input_signature(model)


# ============================================================================ Keras 3.15: weights files
#
# A `.weights.h5` file names its groups by Keras's walk over the model, not by layer name: the
# layers of a Functional or Sequential model as `layers/<snake_case class>[_<n>]/vars`, n counting
# that class within its list (`dense`, `dense_1`, ...: an inserted layer renames the later ones of
# its class), and what a subclassed model or a layer holds by attribute name
# (`generator/layers/dense/vars`, `layers/transformer_encoder_block/attention/key_dense/vars`),
# each optimizer too (`optimizer/vars`, a GAN's `discriminator_optimizer/vars`). Every object gets a
# group, empty without variables. `trainer.init_from` needs to know which group is whose:
# `saving_lib._save_state` walks the model with `_walk_saveable` and `_get_unique_name`, and no
# public API tells where an object's group is. `weights_file_paths` repeats that walk, writing
# nothing; tests/test_warm_start.py loads a `.weights.h5` file through it.


def weights_file_paths(model) -> dict[int, str]:
    """The group path in `model.save_weights`'s file (without `/vars`) of every object the walk
    reaches, by `id` (an object reached twice keeps its first path, as Keras writes it once)."""
    from keras.src.saving import saving_lib
    from keras.src.saving.keras_saveable import KerasSaveable
    from keras.src.utils.naming import to_snake_case

    paths: dict[int, str] = {}

    def saveable(obj, path: str) -> None:
        if id(obj) in paths:
            return
        paths[id(obj)] = path
        for attr, child in saving_lib._walk_saveable(obj):
            child_path = f"{path}/{attr}" if path else attr
            if isinstance(child, KerasSaveable):
                saveable(child, child_path)
            elif isinstance(child, (list, dict, tuple)):
                container(child, child_path, set())

    def container(items, path: str, seen: set) -> None:
        if id(items) in seen:
            return
        seen.add(id(items))
        used: dict[str, int] = {}
        for item in items.values() if isinstance(items, dict) else items:
            if isinstance(item, KerasSaveable):
                saveable(item, f"{path}/{saving_lib._get_unique_name(to_snake_case(item.__class__.__name__), used)}")
            elif isinstance(item, (list, dict, tuple)):
                container(item, f"{path}/{saving_lib._get_unique_name('container', used)}", seen)

    saveable(model, "")
    return paths


# ============================================================================ Keras 3.15: multi-worker training
#
# Measured on TensorFlow 2.21 / Keras 3.15, `model.fit` under `MultiWorkerMirroredStrategy` fails
# before its first step, twice:
#
# 1. `TensorFlowTrainer._maybe_symbolic_build` calls `strategy.reduce("MEAN", batch, axis=None)` on
#    the whole `(x, y)` structure of per-replica values, which raises
#    `Attempt to convert a value (PerReplica...)`. The symbolic build only needs shapes and dtypes,
#    so one local replica's batch does the same job.
# 2. `reduce_per_replica` (multi-worker branch) calls `strategy.reduce("MEAN", v, axis=0)` on scalar
#    metric values, which raises `Invalid reduction dimension 0 for input with 0 dimensions`.
#    Scalars are reduced with `axis=None` instead (the mean over replicas, what axis=0 means for them).
#
# `patch_keras()` (called by `strata.training.multi_worker.strategy`) installs both; they change
# nothing outside multi-worker mode, and `unpatch_keras()` removes them.
# `tests/test_training_multi_worker.py` runs unpatched Keras on two workers and fails once upstream
# has fixed either bug, so this section can then be deleted.

_ORIGINALS: dict[str, object] = {}


def _in_multi_worker_mode(strategy) -> bool:
    """True under a MultiWorkerMirroredStrategy of more than one worker (TensorFlow 2.21 exposes
    the check only as `extended._in_multi_worker_mode`)."""
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
    import keras
    import tensorflow as tf

    strategy = self._distribute_strategy
    if strategy is None or iterator is None or not _in_multi_worker_mode(strategy):
        return _ORIGINALS["symbolic_build"](self, iterator=iterator, data_batch=data_batch)
    for _, _, it in iterator:
        batch = next(it)
        data_batch = keras.tree.map_structure(
            lambda x: strategy.experimental_local_results(x)[0]
            if isinstance(x, tf.distribute.DistributedValues) else x,
            batch,
        )
        break
    with strategy.scope():
        self._symbolic_build(data_batch=data_batch)


def _reduce_per_replica(values, strategy, reduction):
    """Work-around 2: reduce scalar values over workers with `axis=None`."""
    import keras
    import tensorflow as tf

    original = _ORIGINALS["reduce_per_replica"]
    if reduction not in ("auto", "mean") or not _in_multi_worker_mode(strategy):
        return original(values, strategy, reduction)

    def _reduce(v):
        local = strategy.experimental_local_results(v)[0] if isinstance(v, tf.distribute.DistributedValues) else v
        if getattr(local, "shape", None) is not None and local.shape.rank == 0:
            return strategy.reduce("MEAN", v, axis=None)
        return original(v, strategy, reduction)

    return keras.tree.map_structure(_reduce, values)
