"""Pruning: a sweep trial reports its `optimized_metric` after every epoch and stops when Optuna's
pruner (`hydra.sweeper.pruner`) says the trial is behind the study's others at that epoch.

A pruned trial is not an error: training stops at the end of that epoch, and the run folder is
completed as for any run (the model, `metrics.json` measured at that epoch, the export, the
report), plus `pruned.json` saying when and why. The sweeper records it PRUNED.

Optuna's own Keras callback (optuna-integration) raises `TrialPruned` out of `model.fit`, which
would cost the trial's folder its metrics; this one stops training the way EarlyStopping does.
"""

from __future__ import annotations

import logging

import keras

log = logging.getLogger("strata.sweeper")


def epoch_log_key(metric: str) -> str | None:
    """The key of Keras's epoch logs that holds `<split>/<metric>`: `val_<metric>` for the
    validation split, `<metric>` for train; None for splits not measured every epoch."""
    split, _, name = metric.partition("/")
    if not name:
        split, name = "validation", metric
    return {"validation": f"val_{name}", "train": name}.get(split)


class OptunaPruning(keras.callbacks.Callback):
    """Reports `logs[key]` as the trial's intermediate value at step `epoch + 1`, and stops
    training when the trial should be pruned; `pruned` then describes when."""

    def __init__(self, trial, metric: str, key: str):
        super().__init__()
        self.trial, self.metric, self.key = trial, metric, key
        self.pruned: dict | None = None
        self._warned = False

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.key)
        if value is None:
            if not self._warned:
                self._warned = True
                known = ", ".join(sorted(logs or {})) or "none"
                log.warning("pruning: optimized_metric %s is not measured every epoch (epoch values: %s); "
                            "this trial is not pruned", self.metric, known)
            return
        step = epoch + 1
        try:
            self.trial.report(float(value), step)
            prune = self.trial.should_prune()
        except Exception as ex:  # the study's storage failed: the trial trains on, unpruned
            log.warning("pruning: could not report epoch %d to the study (%s: %s)", step, type(ex).__name__, ex)
            return
        if prune:
            self.pruned = {"trial": self.trial.number, "epoch": step, "metric": self.metric, "value": float(value)}
            log.info("trial %d pruned after epoch %d: %s %.4g is behind the study's other trials at that epoch",
                     self.trial.number, step, self.metric, float(value))
            self.model.stop_training = True


def callback(optimized_metric: str | None) -> OptunaPruning | None:
    """The pruning callback of this sweep trial, or None: not a trial of strata's Optuna sweeper,
    a multi-objective study (Optuna prunes single objectives), or no `optimized_metric`."""
    from strata.sweeper.trial import current_trial

    if not optimized_metric:
        return None
    trial = current_trial()
    if trial is None or len(trial.study.directions) > 1:
        return None
    key = epoch_log_key(optimized_metric)
    if key is None:
        log.warning("pruning: optimized_metric %s is not measured during training; trials are not pruned", optimized_metric)
        return None
    return OptunaPruning(trial, optimized_metric, key)
