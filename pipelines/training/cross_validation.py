"""Cross-validation, `data.split.folds=K`: K models on folds of the non-test rows, then the final
model on all of them.

The non-test rows (the ordinary split's train and validation rows, those of `data.validation_path`
included) are divided into K folds by `strata.data.splits.fold_indices`: stratified by class for
classifiers (with `data.split.stratify`), expanding windows in time order for chronological
sources (`timeseries`), shuffled by the split's seed otherwise. Fold i trains a fresh model with
the run's config on its training rows and is measured on its validation rows. The test split is
never part of a fold.

The final model then trains on every non-test row. No rows are left to validate it, so it trains
for a fixed number of epochs, the mean over the folds of the epochs each fold's model ended with
(its best epoch when early stopping restored that epoch's weights, else every epoch it trained),
and the callbacks that watch a validation metric (early_stopping, reduce_lr_on_plateau, the
checkpoint's best weights) are off for it.

```
<run>/folds/<i>/tensorboard/     fold i's train/ and validation/ curves (side by side in TensorBoard)
<run>/folds/<i>/checkpoints/     its best and last weights, and its backup
<run>/folds/<i>/fold.json        its rows and state; once it is done, its validation metrics and epochs
<run>/metrics.json               the final model's train and test metrics, and "cross_validation"
```

Resuming (with `callbacks.backup`): folds done in an earlier process are kept (their fold.json),
an interrupted fold continues from its own backup, and the final model from the run's backup
unless a fold trained again in this process (then the final model starts afresh: its number of
epochs follows from the folds).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from strata.data.bundle import DataBundle, Split
from strata.data.loading import set_target_statistics
from strata.data.splits import fold_indices, split_seed
from strata.errors import DataError
from strata.formatting import metric_value
from strata.registry import SOURCES
from strata.run.atomic import write_json_atomic
from strata.run.layout import RunDir
from strata.training import environment

log = logging.getLogger("strata.train")

# the section's key in metrics.json
SECTION = "cross_validation"
# callbacks that describe the whole run (the HParams trial, the config text): not repeated per fold
RUN_ONLY_CALLBACKS = ("hparams", "config_text")

# (the fold's config, its run directory, its data) -> (its validation metrics, the epochs its model ended with)
FitFold = Callable[[Any, RunDir, DataBundle], tuple[dict[str, float], int]]


def fold_count(config) -> int:
    """K of `data.split.folds`, or 0 when cross-validation is off (null or 1)."""
    k = config.data.split.folds
    return k if k is not None and k >= 2 else 0


@dataclass
class CrossValidation:
    """The folds' results, and what the final model trains with.

    Args:
        k: the number of folds.
        records: each fold's fold.json (rows, validation `metrics`, `epochs`).
        final_epochs: the epochs the final model trains for.
        final_config: the run's config for the final model (those epochs; no callbacks that watch
            a validation metric).
        final_bundle: the data of the final model: every non-test row to train on, the test split.
    """

    k: int
    records: list[dict]
    final_epochs: int
    final_config: Any
    final_bundle: DataBundle

    def section(self) -> dict:
        """metrics.json's `cross_validation` section: per-fold validation metrics, their mean and
        standard deviation, the epochs of each fold's model and of the final one."""
        folds = [record["metrics"] for record in self.records]
        mean, std = aggregate(folds)
        epochs = [record["epochs"] for record in self.records]
        return {"k": self.k, "folds": folds, "mean": mean, "std": std, "epochs": epochs, "final_epochs": self.final_epochs}


def aggregate(folds: list[dict]) -> tuple[dict[str, float], dict[str, float]]:
    """The mean and the standard deviation (over the folds, NumPy's default ddof=0) of every metric
    that is a number in every fold.

    Example:

    >>> aggregate([{"rmse": 1.0}, {"rmse": 3.0}])
    ({'rmse': 2.0}, {'rmse': 1.0})
    """
    names = [name for name in folds[0] if all(_is_number(fold.get(name)) for fold in folds)]
    mean = {name: float(np.mean([fold[name] for fold in folds])) for name in names}
    std = {name: float(np.std([fold[name] for fold in folds])) for name in names}
    return mean, std


def summary(section: dict) -> str:
    """The section in one line: `rmse 25,010 ± 1,312, ... (mean ± std of 5 folds)`."""
    shown = ", ".join(f"{name} {metric_value(value)} ± {metric_value(section['std'][name])}" for name, value in section["mean"].items())
    return f"{shown} (mean ± std of {section['k']} folds)"


def cross_validate(config, run: RunDir, bundle: DataBundle, fit_fold: FitFold) -> CrossValidation:
    """Trains and measures the K folds of `bundle`'s non-test rows (each through `fit_fold`, in
    `run`'s `folds/<i>/`), and prepares the final model's config and data."""
    k = fold_count(config)
    if type(bundle).dataset is not DataBundle.dataset:
        raise DataError(f"data.split.folds={k}: this data is streamed from its files; cross-validation needs its rows in memory.")
    pool = _concatenate([bundle.splits[name] for name in ("train", "validation") if name in bundle.splits])
    description, folds = _folds(config, bundle, pool, k)
    log.info(
        "cross-validation: %d folds of the %d non-test rows (%s)%s",
        k,
        len(pool),
        description,
        f"; the {bundle.size('test')} test rows are not part of them" if "test" in bundle.splits else "",
    )
    _remove_folds_beyond(run, k)
    resumable = "backup" in config.callbacks
    fold_config = config.model_copy(
        update={"callbacks": {name: args for name, args in config.callbacks.items() if name not in RUN_ONLY_CALLBACKS}}
    )
    records, trained = [], False
    for i, (train_index, validation_index) in enumerate(folds, start=1):
        fold_run = run.fold(i)
        splits = {"train": pool.take(train_index), "validation": pool.take(validation_index)}
        identity = _identity(k, pool, validation_index)
        record = _finished_record(fold_run, identity, config.trainer.epochs, resumable)
        if record is not None:
            log.info("fold %d/%d: done in an earlier process; its metrics are kept", i, k)
        else:
            trained = True
            record = {
                "fold": i,
                "k": k,
                "identity": identity,
                "state": "training",
                "planned_epochs": config.trainer.epochs,
                "train_rows": len(train_index),
                "validation_rows": len(validation_index),
                **_class_counts(bundle, splits["validation"]),
            }
            _announce_fold(fold_run, i, k, record, config.trainer.epochs)
            write_json_atomic(fold_run.fold_record, record)
            environment.restart(config.trainer, config.seed)
            started = time.perf_counter()
            metrics, epochs = fit_fold(fold_config, fold_run, _bundle_with(bundle, splits, f"fold{i}"))
            record.update(state="done", metrics=metrics, epochs=int(epochs), seconds=round(time.perf_counter() - started, 2))
            write_json_atomic(fold_run.fold_record, record)
        shown = " - ".join(f"{name} {metric_value(v)}" for name, v in record["metrics"].items() if _is_number(v))
        log.info(
            "fold %d/%d: validation %s (trained on %d rows, validated on %d; its model ended at epoch %d)",
            i,
            k,
            shown,
            record["train_rows"],
            record["validation_rows"],
            record["epochs"],
        )
        records.append(record)

    epochs = [record["epochs"] for record in records]
    final_epochs = max(1, int(np.floor(np.mean(epochs) + 0.5)))
    final_config, off = _final_config(config, final_epochs)
    result = CrossValidation(k, records, final_epochs, final_config, None)
    log.info("cross-validation: %s", summary(result.section()))
    log.info(
        "final model: trains on all %d non-test rows for %d epochs, the mean of the folds' %s%s",
        len(pool),
        final_epochs,
        epochs,
        f"; with no validation split to watch, these are off: {', '.join(off)}" if off else "",
    )
    _prepare_final_backup(run, trained, final_epochs)
    environment.restart(config.trainer, config.seed)
    final_splits = {"train": pool, **({"test": bundle.splits["test"]} if "test" in bundle.splits else {})}
    result.final_bundle = _bundle_with(bundle, final_splits, "all")
    return result


def chosen_epochs(callbacks: list, trained: int) -> int:
    """The epochs behind the weights a fold's model ended with: early stopping's best epoch when
    it restored that epoch's weights, else every epoch trained."""
    import keras

    for callback in callbacks:
        if isinstance(callback, keras.callbacks.EarlyStopping) and callback.restore_best_weights and callback.best_weights is not None:
            return callback.best_epoch + 1
    return max(1, trained)


def validation_only(bundle: DataBundle) -> DataBundle:
    """The bundle with its validation split alone (a fold's model is measured on it)."""
    return dataclasses.replace(bundle, splits={"validation": bundle.splits["validation"]})


def _folds(config, bundle: DataBundle, pool: Split, k: int) -> tuple[str, list[tuple[np.ndarray, np.ndarray]]]:
    """How the pool is divided (for the log), and the folds' (training, validation) indices."""
    source = SOURCES.get(config.data.source).info
    if source.get("chronological"):
        gap = source["fold_gap"](config.data) if "fold_gap" in source else 0
        apart = f"; the {gap} examples before each validation block are left out: their targets overlap its first ones" if gap else ""
        return f"expanding windows in time order{apart}", fold_indices(len(pool), k, 0, chronological=True, gap=gap)
    task, stratify = bundle.task, None
    if task.kind in ("binary", "multiclass") and config.data.split.stratify and pool.y is not None:
        stratify = _class_names(task)[_labels(pool)]
    seed = split_seed(config.data, config.seed)
    return ("stratified by class" if stratify is not None else "shuffled"), fold_indices(len(pool), k, seed, stratify)


def _final_config(config, epochs: int) -> tuple[Any, list[str]]:
    """The config of the final model: `epochs` epochs, and without the callbacks that watch a
    validation metric (a checkpoint keeps its last weights); also what was switched off."""
    callbacks, off = {}, []
    for name, args in config.callbacks.items():
        monitor = args.get("monitor") if isinstance(args, dict) else getattr(args, "monitor", None)
        if isinstance(monitor, str) and monitor.startswith("val_"):
            if getattr(args, "save_best", False):
                args = args.model_copy(update={"save_best": False})
                off.append(f"{name}'s best weights")
            elif not hasattr(args, "save_best"):
                off.append(name)
                continue
        callbacks[name] = args
    trainer = config.trainer.model_copy(update={"epochs": epochs})
    return config.model_copy(update={"trainer": trainer, "callbacks": callbacks}), off


def _bundle_with(bundle: DataBundle, splits: dict[str, Split], name: str) -> DataBundle:
    """`bundle` with other splits, its task's target statistics taken from their training split
    (so no fold sees its validation rows' targets), and a file cache of its own."""
    task = dataclasses.replace(bundle.task)
    set_target_statistics(task, splits["train"])
    pipeline = bundle.pipeline
    if isinstance(pipeline.cache, str) and pipeline.cache:  # decoded examples cached per split name
        pipeline = pipeline.model_copy(update={"cache": f"{pipeline.cache}.{name}"})
    return dataclasses.replace(bundle, task=task, splits=splits, pipeline=pipeline)


def _concatenate(parts: list[Split]) -> Split:
    if len(parts) == 1:
        return parts[0]
    x = {name: np.concatenate([part.x[name] for part in parts]) for name in parts[0].x}
    y = None if parts[0].y is None else np.concatenate([part.y for part in parts])
    return Split(x, y)


def _class_names(task) -> np.ndarray:
    return np.asarray([str(c) for c in (task.classes or ["0", "1"])], dtype=object)


def _labels(part: Split) -> np.ndarray:
    return np.asarray(part.y).reshape(len(part), -1)[:, 0].astype(int)


def _class_counts(bundle: DataBundle, part: Split) -> dict:
    """`validation_classes`: a classifier's validation rows per class (in fold.json)."""
    if bundle.task.kind not in ("binary", "multiclass") or part.y is None:
        return {}
    names = _class_names(bundle.task)
    counts = np.bincount(_labels(part), minlength=len(names))
    return {"validation_classes": {str(names[i]): int(c) for i, c in enumerate(counts)}}


def _identity(k: int, pool: Split, validation: np.ndarray) -> str:
    """A digest of a fold's rows: its validation indices and targets among the pool's."""
    digest = hashlib.sha1(f"{k}/{len(pool)}/".encode())
    digest.update(np.ascontiguousarray(validation, dtype=np.int64).tobytes())
    if pool.y is not None and pool.y.dtype != object:
        digest.update(np.ascontiguousarray(pool.y[validation]).tobytes())
    return digest.hexdigest()


def _finished_record(fold_run: RunDir, identity: str, planned_epochs: int, resumable: bool) -> dict | None:
    """A fold's record when an earlier process finished it (the same rows, the same planned
    epochs). Otherwise None, and the fold's folder is kept for its backup to resume from (the
    same rows) or removed (other rows, or no backup to resume from)."""
    record = _read_json(fold_run.fold_record)
    same_rows = resumable and record is not None and record.get("identity") == identity
    if same_rows and record.get("state") == "done" and record.get("planned_epochs") == planned_epochs:
        return record
    if not same_rows and fold_run.root.exists():
        shutil.rmtree(fold_run.root)
    return None


def _announce_fold(fold_run: RunDir, i: int, k: int, record: dict, epochs: int) -> None:
    metadata = _read_json(fold_run.backup_metadata)
    if metadata is not None:
        log.info("fold %d/%d: resuming from its backup: %d of %d epochs done", i, k, metadata.get("epoch", 0), epochs)
    else:
        log.info("fold %d/%d: training on %d rows, validating on %d", i, k, record["train_rows"], record["validation_rows"])


def _prepare_final_backup(run: RunDir, folds_trained: bool, epochs: int) -> None:
    """The final model resumes from the run's backup when the folds are those of the process that
    wrote it; after folds trained again, it starts afresh."""
    metadata = _read_json(run.backup_metadata)
    if metadata is None:
        return
    if folds_trained:
        log.info("final model: the backup in %s is from before these folds trained; the final model starts afresh", run.backup)
        shutil.rmtree(run.backup, ignore_errors=True)
    else:
        log.info("final model: resuming from its backup: %d of %d epochs done", metadata.get("epoch", 0), epochs)


def _remove_folds_beyond(run: RunDir, k: int) -> None:
    """Removes the folders of folds above k (an earlier run in this directory had more folds)."""
    if run.folds.is_dir():
        for folder in run.folds.iterdir():
            if folder.is_dir() and folder.name.isdigit() and int(folder.name) > k:
                shutil.rmtree(folder, ignore_errors=True)


def _read_json(path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
