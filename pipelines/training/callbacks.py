"""Keras callbacks from the `callbacks:` config: Keras's own, strata's (`callbacks/`), or any
class named by `_target_`."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import keras
from strata.errors import ConfigError, suggestion
from strata.run_dir import RunDir

# strata's own callbacks, by config name: "module:Class" in the `callbacks` package
CUSTOM = {
    "epoch_logger": "strata.callbacks.epoch_logger:EpochLogger",
    "terminate_on_nan": "strata.callbacks.divergence_guard:DivergenceGuard",
    "config_text": "strata.callbacks.config_text:ConfigText",
    "hparams": "strata.callbacks.hparams_logger:HParamsLogger",
    "confusion_matrix": "strata.callbacks.confusion_matrix:ConfusionMatrix",
    "learning_rate_logger": "strata.callbacks.learning_rate_logger:LearningRateLogger",
    "throughput": "strata.callbacks.throughput:Throughput",
    "generated_samples": "strata.callbacks.generated_samples:GeneratedSamples",
    "reconstructions": "strata.callbacks.reconstructions:Reconstructions",
}


@dataclass
class CallbackContext:
    """What a callback factory may use: the run, the config, the model, the data."""

    config: Any
    run: RunDir
    model: Any
    bundle: Any
    raw_config: Any = None


def build_callbacks(ctx: CallbackContext, metric_names: list[str]) -> list[keras.callbacks.Callback]:
    out: list[keras.callbacks.Callback] = []
    for name, args in ctx.config.callbacks.items():
        if isinstance(args, dict):  # `_target_` entry: any importable callback class
            out.append(_instantiate(name, args))
            continue
        for field in ("monitor",):
            monitor = getattr(args, field, None)
            if monitor is not None and monitor not in metric_names:
                raise ConfigError(
                    f"callbacks.{name}.{field}: '{monitor}' is not logged by this model; "
                    f"logged: {', '.join(metric_names)}.{suggestion(monitor, metric_names)}"
                )
        out.extend(cb for cb in _build(name, args, ctx) if cb is not None)
    # callbacks that add values to the epoch logs run first, so the log line, CSV and TensorBoard see them
    return sorted(out, key=lambda cb: not getattr(cb, "adds_logs", False))


def _build(name: str, args, ctx: CallbackContext) -> list:
    run = ctx.run
    cb = keras.callbacks
    if name == "tensorboard":
        return [cb.TensorBoard(log_dir=str(run.tensorboard), **args.model_dump())]
    if name == "checkpoint":
        run.checkpoints.mkdir(parents=True, exist_ok=True)
        made = []
        if args.save_best:
            made.append(cb.ModelCheckpoint(
                str(run.checkpoints / "best.weights.h5"), monitor=args.monitor, mode=args.mode,
                save_best_only=True, save_weights_only=True,
            ))
        if args.save_last:
            made.append(cb.ModelCheckpoint(str(run.checkpoints / "last.weights.h5"), save_weights_only=True))
        return made
    if name == "early_stopping":
        return [cb.EarlyStopping(**args.model_dump())]
    if name == "reduce_lr_on_plateau":
        return [cb.ReduceLROnPlateau(**args.model_dump())]
    if name == "csv_logger":
        return [cb.CSVLogger(str(run.root / args.filename), separator=args.separator, append=args.append)]
    if name == "backup":
        from strata.callbacks.atomic_backup import AtomicBackupAndRestore

        return [AtomicBackupAndRestore(str(run.backup), **args.model_dump())]
    if name in CUSTOM:
        module, cls = CUSTOM[name].split(":")
        factory = getattr(importlib.import_module(module), cls)
        if hasattr(factory, "from_context"):
            return [factory.from_context(ctx, **args.model_dump())]
        return [factory(**args.model_dump())]
    raise ConfigError(f"callbacks.{name}: no such callback.{suggestion(name, CUSTOM)}")


def _instantiate(name: str, args: dict):
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    try:
        return instantiate(args)
    except InstantiationException as ex:
        raise ConfigError(f"callbacks.{name}._target_: {str(ex).splitlines()[0]}") from None
