"""One training run: data -> model -> fit -> metrics, model.keras and the SavedModel."""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import logging
import math
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from omegaconf import OmegaConf

from strata.tensorflow_import import import_tensorflow

import_tensorflow()  # first: TensorFlow's native libraries print while they load

from strata.callbacks import CallbackContext
from strata.callbacks.config_text import ConfigText
from strata.callbacks.hparams import HParamsLogger
from strata.callbacks.terminate_on_nan import TrainingDiverged
from strata.config.schema import RootConfig
from strata.data import class_weights
from strata.data.bundle import DataBundle
from strata.data.loading import load_data
from strata.errors import ConfigError, WorkerLost
from strata.export.exporter import export_model
from strata.formatting import metric_value
from strata.models.builder import build_model, loss_and_metrics
from strata.report.builder import report_after_training
from strata.run import provenance
from strata.run.atomic import atomic_path, write_json_atomic
from strata.run.description import RunDescription
from strata.run.finished import FinishedRun
from strata.run.layout import RunDir
from strata.run.metrics import EVALUATED, add_class_metrics, scalar_metrics
from strata.run.retrieval_metrics import add_retrieval_metrics
from strata.training import cross_validation, environment, fine_tune, multi_worker
from strata.training.callbacks import build_callbacks
from strata.training.optimizers import build_optimizer
from strata.training.warm_start import warm_start

log = logging.getLogger("strata.train")


@dataclass
class TrainResult:
    run: RunDir
    metrics: dict[str, dict[str, float]]
    epochs: int
    seconds: float
    pruned: dict | None = None  # a sweep trial Optuna pruned: when (strata.sweeper.pruning)


def train(config: RootConfig, raw_config: Any = None) -> TrainResult:
    """Trains the model a validated config describes and writes the run directory.

    In a multi-worker cluster only the chief writes the run directory: every other worker trains
    in a temporary directory that is removed at the end (see `_train_as_worker`).
    """
    run = RunDir(config.paths.run_dir)
    if not _is_chief(config):
        with _worker_loss(run, config):
            return _train_as_worker(config, run, raw_config)
    with run.lock(), _worker_loss(run, config):
        run.remove_stale_temporaries()
        _write_resolved_config(run, raw_config)
        provenance.write(run, config.paths.root_dir)
        _announce_resume(config, run)
        recorder = _recorder(config, run)
        try:
            return _train(config, run, raw_config, recorder=recorder)
        except BaseException as ex:
            if recorder is not None:
                recorder.fail(ex)
            raise


@contextlib.contextmanager
def _worker_loss(run: RunDir, config: RootConfig):
    """A multi-worker job whose peer stopped answering (a collective failed or timed out) ends
    with `WorkerLost`: one line saying what was lost and where the job resumes from."""
    import tensorflow as tf

    lost = (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.CancelledError, tf.errors.DeadlineExceededError)
    try:
        yield
    except lost as ex:
        task = multi_worker.current()
        if task is None:
            raise
        done = json.loads(run.backup_metadata.read_text()).get("epoch", 0) if run.backup_metadata.is_file() else 0
        lines = [line.strip() for line in str(ex).splitlines() if line.strip()]
        first = next((line for line in lines if re.search(r"UNAVAILABLE|DEADLINE|ABORTED|CANCELLED|[Cc]onnection|[Ss]ocket|peer", line)),
                     lines[0] if lines else "")
        then = (f"the job resumes from its backup ({done} epochs done)" if "backup" in config.callbacks
                else "the job starts over (callbacks.backup is off)")
        raise WorkerLost(
            f"multi-worker job: worker {task.rank} of {task.workers} lost its peers ({type(ex).__name__}: {first[:200]}). "
            f"Start every worker again with hydra.run.dir={run.root}: {then}."
        ) from None


def _recorder(config: RootConfig, run: RunDir):
    """The run's MLflow recorder with `logger=mlflow` (`strata.tracking`), else None."""
    if config.logger is None:
        return None
    from strata.tracking.recorder import for_training

    return for_training(config, run)


def _is_chief(config: RootConfig) -> bool:
    task = multi_worker.current()
    if task is not None and not task.is_chief and config.trainer.strategy not in ("auto", "multi_worker"):
        raise ConfigError(
            f"trainer.strategy={config.trainer.strategy}: this process is worker {task.rank} of a {task.workers}-worker "
            f"job ({task.source}), which trains one model over all workers only with trainer.strategy=multi_worker "
            "(or auto); run one process instead to train alone."
        )
    return multi_worker.is_chief()


def _train_as_worker(config: RootConfig, hydra_run: RunDir, raw_config: Any) -> TrainResult:
    """A worker other than the chief: it trains in step with the chief, but everything it would
    write goes to a temporary directory, removed at the end. That directory starts as a copy of
    the run directory's backup (shared with the chief in a job restarted after a failure), so
    every worker resumes from the same epoch. The worker's own folder is removed afterwards
    when it holds nothing but this worker's log (a run directory not shared with the chief)."""
    scratch = RunDir(tempfile.mkdtemp(prefix="strata-worker-"))
    if hydra_run.backup_metadata.is_file():  # before the strategy starts: the chief cannot write it yet
        shutil.copytree(hydra_run.backup, scratch.backup, ignore=shutil.ignore_patterns(".*.tmp*"))
        log.info("resuming from the chief's backup in %s: %d epochs done", hydra_run.backup,
                 json.loads(scratch.backup_metadata.read_text()).get("epoch", 0))
    try:
        result = _train(config, scratch, raw_config, chief=False)
    finally:
        shutil.rmtree(scratch.root, ignore_errors=True)
        root = hydra_run.root
        if root.is_dir() and {p.name for p in root.iterdir()} <= {".hydra", "train.log", "workers"}:
            logging.shutdown()
            shutil.rmtree(root, ignore_errors=True)
    return TrainResult(hydra_run, result.metrics, result.epochs, result.seconds)


def _announce_resume(config: RootConfig, run: RunDir) -> None:
    """Says which epoch a run continues from, or why it cannot (for `resume=<run dir>`)."""
    if "backup" not in config.callbacks:
        if config.resume:
            raise ConfigError("resume: this config has no backup to resume from (callbacks.backup is off); "
                              "keep callbacks.backup on to make runs resumable.")
        return
    if cross_validation.fold_count(config):
        return  # its folds and its final model each say where they resume (strata.training.cross_validation)
    metadata = run.backup_metadata
    if metadata.is_file():
        done = json.loads(metadata.read_text()).get("epoch", 0)
        total = config.trainer.epochs + config.trainer.fine_tune.epochs
        log.info("resuming %s from its backup: %d of %d epochs done", run.root, done, total)
    elif config.resume:
        log.warning("resume: no backup in %s yet (the run stopped before its first epoch ended); starting over",
                    run.backup)


def _write_resolved_config(run: RunDir, raw_config: Any) -> None:
    """`.hydra/resolved.yaml`: the config with every interpolation resolved, for the run commands."""
    if raw_config is None:
        return
    container = OmegaConf.to_container(raw_config, resolve=True)
    container.pop("hydra", None)
    with atomic_path(run.resolved_config) as tmp:
        tmp.write_text(OmegaConf.to_yaml(OmegaConf.create(container)))


# `trainer.steps_per_execution: auto` runs this many batches per call into TensorFlow at most:
# a call costs Python a fixed time (about a millisecond on a CPU), a small model's batch less
AUTO_STEPS_PER_EXECUTION = 16


def steps_per_execution(trainer, steps: int, strategy=None) -> int:
    """Batches per call into TensorFlow: the config's number, or for `auto` one sixteenth of an
    epoch up to AUTO_STEPS_PER_EXECUTION (so batch-level callbacks still run 16 times an epoch),
    and 1 across several machines and under MirroredStrategy (see `_mirrored_steps`)."""
    if trainer.steps_per_execution != "auto":
        wanted = int(trainer.steps_per_execution)
    elif multi_worker.is_multi_worker():
        return 1
    else:
        wanted = max(1, min(AUTO_STEPS_PER_EXECUTION, steps // 16))
    return _mirrored_steps(wanted, trainer, strategy)


def _mirrored_steps(wanted: int, trainer, strategy) -> int:
    """Keras 3.15 cannot run more than one step per call over a MirroredStrategy's dataset: its
    multi-step loop fails with "You must feed a value for placeholder tensor" (the loop's
    `get_next_as_optional` over a distributed iterator). One step per call there;
    `tests/test_training_hardware.py` fails once Keras runs it, and then this goes."""
    if wanted <= 1 or strategy is None:
        return wanted
    import tensorflow as tf

    if not isinstance(strategy, tf.distribute.MirroredStrategy):
        return wanted
    if trainer.steps_per_execution != "auto":
        log.warning("trainer.steps_per_execution=%d under MirroredStrategy: Keras 3.15 runs one step per call there "
                    "(its multi-step loop fails over mirrored datasets); running 1", wanted)
    return 1


def _train(config: RootConfig, run: RunDir, raw_config: Any, chief: bool = True, recorder=None) -> TrainResult:
    """One run's steps: set up TensorFlow, load the data, build and compile the model, fit it,
    measure it, save and export it, and (the chief) write its report and summary, and upload the
    run to MLflow with a `recorder` (`strata.tracking.recorder.RunRecorder`)."""
    started = time.perf_counter()
    strategy = environment.configure(config.trainer, config.seed)
    bundle = load_data(config)
    class_weights.check(config.data, bundle)
    folds = None
    if cross_validation.fold_count(config):  # K models on folds, then this one on every non-test row
        fit_fold = functools.partial(_fit_fold, strategy=strategy, raw_config=raw_config)
        folds = cross_validation.cross_validate(config, run, bundle, fit_fold)
        config, bundle = folds.final_config, folds.final_bundle
    model, logged = _compiled_model(config, bundle, strategy, run)
    callbacks = build_callbacks(CallbackContext(config, run, model, bundle, raw_config), logged)
    if recorder is not None:
        callbacks.append(recorder.callback())
    pruning = _pruning(config) if chief and not multi_worker.is_multi_worker() else None
    if pruning is not None:
        callbacks.append(pruning)
    history = _fit_phases(model, bundle, config, run, callbacks, strategy)
    metrics = _final_metrics(model, bundle, config.trainer)
    pruned = pruning.pruned if pruning is not None else None
    if pruned is not None:
        write_json_atomic(run.pruned, pruned)
    if folds is not None:
        metrics[cross_validation.SECTION] = folds.section()
    finished = FinishedRun(run, config, RunDescription(bundle.task, bundle.features))
    export_path = _save(model, finished, metrics, callbacks)
    epochs = _epochs_trained(model, history)
    if chief:
        _report(finished, model, bundle, history)
    seconds = time.perf_counter() - started
    if chief:
        _summary(run, metrics, export_path, epochs, seconds)
    if recorder is not None:
        recorder.finish(metrics, history.history, examples=functools.partial(_raw_examples, bundle))
    if not chief:
        log.info("worker finished: %d epochs in %.1f s (the chief writes the run directory)", epochs, seconds)
    return TrainResult(run, metrics, epochs, seconds, pruned)


def _pruning(config: RootConfig):
    """The callback that reports a sweep trial's epochs to Optuna and stops it when pruned
    (`strata.sweeper.pruning`); None outside a trial of strata's Optuna sweeper."""
    if cross_validation.fold_count(config):
        return None  # folds restart their epochs: no one sequence to compare with other trials
    from strata.sweeper.pruning import callback

    return callback(config.optimized_metric)


def _raw_examples(bundle, n: int = 5) -> dict:
    """A few raw inputs of the run's data (the MLflow model's input example): test ones if any."""
    split = next(s for s in ("test", "validation", "train") if s in bundle.splits)
    return bundle.examples(split, n)[0]


def _fit_fold(config: RootConfig, run: RunDir, bundle, strategy, raw_config: Any) -> tuple[dict[str, float], int]:
    """One cross-validation fold: a fresh model fitted on the fold's training rows, its metrics on
    the fold's validation rows and the epochs behind its final weights."""
    model, logged = _compiled_model(config, bundle, strategy, run)
    callbacks = build_callbacks(CallbackContext(config, run, model, bundle, raw_config), logged)
    history = _fit_phases(model, bundle, config, run, callbacks, strategy)
    metrics = _final_metrics(model, cross_validation.validation_only(bundle), config.trainer)["validation"]
    return metrics, cross_validation.chosen_epochs(callbacks, _epochs_trained(model, history))


def _compiled_model(config: RootConfig, bundle, strategy, run: RunDir) -> tuple[Any, list[str]]:
    """The model, built and compiled in the strategy's scope (its backbone frozen for phase 1 when
    it has one, its weights from `trainer.init_from` where they fit), and the names of what `fit`
    logs."""
    with strategy.scope():
        try:
            model = build_model(config.model, bundle)
        except (ValueError, TypeError) as ex:
            raise ConfigError(f"model: cannot build '{config.model.name}' from the config: {str(ex).splitlines()[0]}") from None
        fine_tune.freeze(model, config)
    metrics = _compile(model, config, bundle, strategy, config.optimizer, config.trainer.epochs)
    warm_start(model, config, run)
    log.info("model: %s (%s), %s parameters", config.model.name, config.model.family, f"{model.count_params():,}")
    names = ["loss"] + [m if isinstance(m, str) else m.name for m in metrics]
    return model, names + [f"val_{n}" for n in names]


def _compile(model, config: RootConfig, bundle, strategy, optimizer_cfg, epochs: int) -> list:
    """Compiles `model` in the strategy's scope with the optimizer `optimizer_cfg` describes, its
    schedule spread over `epochs`; returns the metrics."""
    trainer = config.trainer
    steps = steps_per_epoch(trainer, bundle)
    with strategy.scope():
        loss, metrics = loss_and_metrics(config.model, bundle.task)
        model.compile(
            optimizer=build_optimizer(optimizer_cfg, steps * epochs),
            loss=loss,
            metrics=metrics,
            jit_compile=trainer.jit_compile,
            steps_per_execution=steps_per_execution(trainer, steps, strategy),
        )
    return metrics


def _fit_phases(model, bundle, config: RootConfig, run: RunDir, callbacks: list, strategy):
    """`_fit` for `trainer.epochs`, then, with `trainer.fine_tune.epochs`, phase 2 with the backbone
    unfrozen (`strata.training.fine_tune`); a run that stopped in phase 2 resumes there. Returns
    the History of the last phase, its `history` dict holding both phases' epochs."""
    if not fine_tune.has_second_phase(config):
        return _fit(model, bundle, config, run, callbacks)
    phase2 = fine_tune.resumed_phase2(run)
    first = None
    if phase2 is None:
        first = _fit(model, bundle, config, run, callbacks)
        if any(getattr(c, "pruned", None) for c in callbacks):
            return first  # a sweep trial pruned in phase 1 is not fine-tuned
        start = _epochs_trained(model, first)
    else:
        start = phase2.start
        log.info("resuming in phase 2 (fine-tuning): epochs %d to %d", phase2.start + 1, phase2.end)
    tuning = config.trainer.fine_tune
    fine_tune.unfreeze(model, config)
    optimizer_cfg = config.optimizer.model_copy(update={"learning_rate": tuning.learning_rate})
    _compile(model, config, bundle, strategy, optimizer_cfg, tuning.epochs)
    with strategy.scope():
        model.optimizer.build(model.trainable_variables)
    if phase2 is None:
        phase2 = fine_tune.begin_phase2(run, start, tuning.epochs, callbacks)
    model._initial_epoch = None  # the backup (or `initial_epoch`) says where phase 2 starts
    second = _fit(model, bundle, config, run, callbacks, initial_epoch=phase2.start, epochs=phase2.end)
    if first is not None:
        second.history = {k: list(first.history.get(k, [])) + list(v) for k, v in second.history.items()}
    return second


def steps_per_epoch(trainer, bundle) -> int:
    """Training batches per epoch: the config's number, or every training example once."""
    return trainer.steps_per_epoch or max(1, math.ceil(bundle.size("train") / trainer.batch_size))


def _fit(model, bundle, config: RootConfig, run: RunDir, callbacks: list, initial_epoch: int = 0, epochs: int | None = None):
    """`model.fit` over the bundle's training (and validation) pipelines, for epochs
    `initial_epoch` to `epochs` (default: `trainer.epochs`); a loss that diverges becomes the
    user's error, with what was kept and what to try."""
    trainer = config.trainer
    train_ds = class_weights.weighted(bundle.dataset("train", trainer.batch_size, training=True), config.data, bundle)
    val_ds = bundle.dataset("validation", trainer.batch_size) if "validation" in bundle.splits else None
    # with a fixed number of steps, Keras keeps one iterator across epochs: repeat, or it runs dry
    if trainer.steps_per_epoch:
        train_ds = train_ds.repeat()
    if trainer.validation_steps and val_ds is not None:
        val_ds = val_ds.repeat()
    try:
        return model.fit(
            train_ds,
            epochs=epochs or trainer.epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=trainer.steps_per_epoch,
            validation_data=val_ds,
            validation_steps=trainer.validation_steps if val_ds is not None else None,
            validation_freq=trainer.validation_freq,
            callbacks=callbacks,
            verbose=trainer.verbose,
            shuffle=False,  # tf.data shuffles
        )
    except TrainingDiverged as ex:
        for callback in callbacks:  # what describes the run (its hyperparameters, its config) stays recorded
            if isinstance(callback, (ConfigText, HParamsLogger)):
                callback.write()
        raise _diverged(ex, config, run) from None


def _epochs_trained(model, history) -> int:
    """The epochs this run directory has trained, a resumed run's earlier ones included."""
    return history.epoch[-1] + 1 if history.epoch else (getattr(model, "_initial_epoch", None) or 0)


def _final_metrics(model, bundle, trainer) -> dict[str, dict]:
    """The trained model's metrics on each split, and a classifier's per-class ones (`metrics.json`).

    The training split is evaluated on a bounded uniform sample of its rows by default
    (`trainer.evaluate_train=sample`): a second pass over every training row would cost as much
    as an epoch, to measure what its sample measures within noise. `evaluated_rows` says how
    many rows each split's metrics come from."""
    results: dict[str, dict] = {}
    evaluated: dict[str, str] = {}
    for split in ("train", "validation", "test"):
        if split not in bundle.splits or (split == "test" and not trainer.evaluate_test):
            continue
        if split == "train" and trainer.evaluate_train == "none":
            continue
        source, limit = bundle, trainer.validation_steps
        if split == "train":
            source, evaluated[split] = _training_rows(bundle, trainer)
            limit = trainer.steps_per_epoch
        values = model.evaluate(source.dataset(split, trainer.batch_size), steps=limit, verbose=0, return_dict=True)
        results[split] = {k: float(v) for k, v in values.items()}
        add_class_metrics(results, split, model, source.dataset(split, trainer.batch_size), bundle.task, limit)
        rows = evaluated.get(split, f"{bundle.size(split):,} rows")
        if limit and limit * trainer.batch_size < source.size(split):  # trainer.validation_steps / steps_per_epoch cap the batches
            key = "steps_per_epoch" if split == "train" else "validation_steps"
            rows = f"{limit * trainer.batch_size:,} rows in the first {limit:,} batches (trainer.{key}={limit}) of {rows}"
        evaluated[split] = rows
    if evaluated:
        results[EVALUATED] = evaluated
    if bundle.task.kind == "retrieval":  # recall@k and NDCG@k, beside the popularity baseline's
        add_retrieval_metrics(results, model, bundle)
    return results


def _training_rows(bundle, trainer):
    """The bundle to evaluate the training split from, and what it holds: `bundle` itself
    (`evaluate_train=full`, or a training split no larger than `evaluate_train_rows`), else a
    bundle of a uniform sample of the training rows held in memory (seeded by the run's seed;
    a streamed CSV's sample is the one its checking pass kept)."""
    import numpy as np

    total = bundle.size("train")
    held = bundle.splits["train"]
    if trainer.evaluate_train == "full" or (total <= trainer.evaluate_train_rows and len(held) == total):
        return bundle, f"{total:,} rows"
    rows = min(trainer.evaluate_train_rows, len(held))
    if rows < len(held):
        chosen = np.sort(np.random.default_rng(bundle.seed).choice(len(held), rows, replace=False))
        held = held.take(chosen)
    sample = DataBundle(bundle.features, bundle.task, {"train": held}, bundle.pipeline.model_copy(update={"cache": False}),
                        bundle.seed, decoders=bundle.decoders, side_features=bundle.side_features)
    return sample, f"a uniform sample of {rows:,} of {total:,} rows (trainer.evaluate_train=sample)"


def _save(model, finished: FinishedRun, metrics: dict, callbacks: list):
    """`model.keras`, `task.json`, the export and `metrics.json`, each written atomically, then the
    final metrics to the callbacks that show them (the HParams dashboard's columns). Returns the
    export's path (None without one)."""
    run = finished.run
    with atomic_path(run.model) as tmp:
        model.save(tmp)
    finished.description.save(run)
    export_path = export_model(model, run, finished.config.export)
    write_json_atomic(run.metrics, metrics)
    for callback in callbacks:
        if hasattr(callback, "write_final_metrics"):
            callback.write_final_metrics(metrics)
    return export_path


def _report(finished: FinishedRun, model, bundle, history) -> None:
    """report.html with the run's plots; never fails the run (a problem is a warning). Training is
    over: the report's predictions reuse the memory of the traced training and evaluation
    functions rather than add to it."""
    model.train_function = model.test_function = None
    gc.collect()
    report_after_training(finished, model, bundle, history.history)


def _diverged(ex, config: RootConfig, run: RunDir) -> ConfigError:
    """The message for a loss that became NaN or infinite: what happened, what was kept, what to try."""
    opt = config.optimizer
    kept = [str(p) for p in (run.checkpoints / "last.weights.h5", run.backup) if p.exists()]
    kept_text = f"The last good epoch's weights are kept in {' and '.join(kept)}. " if kept and ex.epoch > 0 else ""
    hints = [f"a lower optimizer.learning_rate (now {opt.learning_rate:g})"]
    if not (opt.clipnorm or opt.global_clipnorm or opt.clipvalue):
        hints.append("gradient clipping (optimizer.global_clipnorm=1.0)")
    if config.trainer.precision == "mixed_float16":
        hints.append("trainer.precision=mixed_bfloat16 or float32")
    return ConfigError(f"training diverged: {ex}. Training stopped. {kept_text}Try {', or '.join(hints)}.")


def _summary(run: RunDir, results: dict, export_path, epochs: int, seconds: float) -> None:
    lines = [f"run finished: {epochs} epochs in {seconds:.1f} s", f"  run directory: {run.root}"]
    for split, values in scalar_metrics(results).items():
        shown = ", ".join(f"{k} {metric_value(v)}" for k, v in values.items())
        lines.append(f"  {split:<10} {shown}")
    if cross_validation.SECTION in results:
        lines.append(f"  {'folds':<10} {cross_validation.summary(results[cross_validation.SECTION])}")
    if "sample" in results.get(EVALUATED, {}).get("train", ""):
        lines.append(f"  (train: {results[EVALUATED]['train']})")
    lines.append(f"  model:         {run.model}")
    if export_path is not None:
        lines.append(f"  SavedModel:    {export_path}")
    lines.append(f"  TensorBoard:   tensorboard --logdir {run.root.parent}")
    log.info("\n".join(lines))
