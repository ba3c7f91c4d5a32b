"""One training run: data -> model -> fit -> metrics, model.keras and the SavedModel."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from pipelines.config.schema import RootConfig
from pipelines.errors import ConfigError
from pipelines.run_dir import RunDir, atomic_path, write_json_atomic

log = logging.getLogger("strata.train")


@dataclass
class TrainResult:
    run: RunDir
    metrics: dict[str, dict[str, float]]
    epochs: int
    seconds: float


def train(config: RootConfig, raw_config: Any = None) -> TrainResult:
    """Trains the model a validated config describes and writes the run directory."""
    run = RunDir(config.paths.run_dir)
    with run.lock():
        _write_resolved_config(run, raw_config)
        return _train(config, run, raw_config)


def _write_resolved_config(run: RunDir, raw_config: Any) -> None:
    """`.hydra/resolved.yaml`: the config with every interpolation resolved, for the run commands."""
    if raw_config is None:
        return
    from omegaconf import OmegaConf

    container = OmegaConf.to_container(raw_config, resolve=True)
    container.pop("hydra", None)
    with atomic_path(run.resolved_config) as tmp:
        tmp.write_text(OmegaConf.to_yaml(OmegaConf.create(container)))


def _train(config: RootConfig, run: RunDir, raw_config: Any) -> TrainResult:
    from pipelines.training import environment

    started = time.perf_counter()
    strategy = environment.configure(config.trainer, config.seed)

    import keras

    import layers  # noqa: F401  (registers strata's layers for saving)
    from pipelines.data.loading import load_data
    from pipelines.export.exporter import export_model
    from pipelines.models.builder import build_model, loss_and_metrics
    from pipelines.training.callbacks import CallbackContext, build_callbacks
    from pipelines.training.optimizers import build_optimizer

    bundle = load_data(config)
    trainer = config.trainer
    batch = trainer.batch_size
    steps = trainer.steps_per_epoch or max(1, math.ceil(bundle.size("train") / batch))

    with strategy.scope():
        try:
            model = build_model(config.model, bundle)
        except (ValueError, TypeError) as ex:
            raise ConfigError(f"model: cannot build '{config.model.name}' from the config: {str(ex).splitlines()[0]}") from None
        loss, metrics = loss_and_metrics(config.model, bundle.task)
        model.compile(
            optimizer=build_optimizer(config.optimizer, steps * trainer.epochs),
            loss=loss,
            metrics=metrics,
            jit_compile=trainer.jit_compile,
            steps_per_execution=trainer.steps_per_execution,
        )
    log.info("model: %s (%s), %s parameters", config.model.name, config.model.family, f"{model.count_params():,}")

    names = ["loss"] + [m if isinstance(m, str) else m.name for m in metrics]
    logged = names + [f"val_{n}" for n in names]
    callbacks = build_callbacks(CallbackContext(config, run, model, bundle, raw_config), logged)

    train_ds = bundle.dataset("train", batch, training=True)
    val_ds = bundle.dataset("validation", batch) if "validation" in bundle.splits else None
    history = model.fit(
        train_ds,
        epochs=trainer.epochs,
        steps_per_epoch=trainer.steps_per_epoch,
        validation_data=val_ds,
        validation_steps=trainer.validation_steps if val_ds is not None else None,
        validation_freq=trainer.validation_freq,
        callbacks=callbacks,
        verbose=trainer.verbose,
        shuffle=False,  # tf.data shuffles
    )
    epochs_run = len(history.epoch)

    results: dict[str, dict[str, float]] = {}
    for split in ("train", "validation", "test"):
        if split not in bundle.splits or (split == "test" and not trainer.evaluate_test):
            continue
        limit = trainer.steps_per_epoch if split == "train" else trainer.validation_steps
        values = model.evaluate(bundle.dataset(split, batch), steps=limit, verbose=0, return_dict=True)
        results[split] = {k: float(v) for k, v in values.items()}

    with atomic_path(run.model) as tmp:
        model.save(tmp)
    write_json_atomic(run.task, {"task": bundle.task.to_dict(), "features": [_feature_dict(f) for f in bundle.features]})
    export_path = export_model(model, run, config.export)
    write_json_atomic(run.metrics, results)

    seconds = time.perf_counter() - started
    _summary(run, results, export_path, epochs_run, seconds)
    return TrainResult(run, results, epochs_run, seconds)


def _feature_dict(feature) -> dict:
    return {
        "name": feature.name,
        "kind": feature.kind,
        "shape": list(feature.shape),
        "dtype": feature.dtype,
        "column": feature.column,
        "options": feature.options,
    }


def _summary(run: RunDir, results: dict, export_path, epochs: int, seconds: float) -> None:
    lines = [f"run finished: {epochs} epochs in {seconds:.1f} s", f"  run directory: {run.root}"]
    for split, values in results.items():
        shown = ", ".join(f"{k} {v:.4g}" for k, v in values.items())
        lines.append(f"  {split:<10} {shown}")
    lines.append(f"  model:         {run.model}")
    if export_path is not None:
        lines.append(f"  SavedModel:    {export_path}")
    lines.append(f"  TensorBoard:   tensorboard --logdir {run.root.parent}")
    log.info("\n".join(lines))
