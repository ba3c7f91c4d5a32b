"""One run folder as one MLflow run (`logger=mlflow`, `strata log`).

While a run trains, `RunRecorder.start` opens (or, for a resumed run, reopens) its MLflow run with
tags and params, and `EpochMetrics` logs each epoch's metrics with the epoch as step. When it ends,
`finish` uploads from the run folder what MLflow does not have yet: the per-epoch history
(TensorBoard's event files), the final metrics (`metrics.json`), the artifacts and the model.
`strata log` runs the same `sync` on a finished folder. Every step checks what the MLflow run
already holds, so an upload after an outage fills the gaps and a second one adds nothing.

`<run>/mlflow.json` records where the run went and whether all of it arrived:

```json
{"tracking_uri": "http://127.0.0.1:5000", "experiment_id": "1", "run_id": "3f2a...",
 "parent_run_id": null, "model_uri": "models:/m-7c1d...", "complete": true, "not_logged": []}
```
"""

from __future__ import annotations

import getpass
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from strata.callbacks._base import Callback
from strata.config.schema import LoggerConfig
from strata.run import provenance
from strata.run.atomic import write_json_atomic
from strata.run.layout import RunDir
from strata.tracking.connection import Connection, metric_key

log = logging.getLogger("strata.tracking")

# MLflow's limits: a param value's length (MLflow 3), params and metrics per log_batch call
PARAM_VALUE_LIMIT = 6000
PARAMS_PER_CALL = 100
METRICS_PER_CALL = 1000
# run folder entries uploaded as artifacts (folders keep their name as the artifact path)
ARTIFACT_FILES = ("report.html", "metrics.json", "task.json", "provenance.json", "train.log")
ARTIFACT_FOLDERS = ("report", ".hydra")


class RunRecorder:
    """The MLflow run of one run folder.

    Args:
        settings: the `logger` config (tracking URI, experiment, run name, registry name, log_model).
        run: the run folder.
        parent: a sweep's parent run (`strata.tracking.sweep`): {"run_id", "experiment_id"}.
    """

    def __init__(self, settings: LoggerConfig, run: RunDir, parent: dict | None = None, run_name: str | None = None):
        self.settings = settings
        self.run = run
        self.conn = Connection(settings, hint=f"; the run folder stays complete, and `strata log run={run.root}` uploads it later")
        record = self.record()
        same_place = record.get("tracking_uri") == settings.tracking_uri
        self.run_id: str | None = record.get("run_id") if same_place else None
        self.model_uri: str | None = record.get("model_uri") if same_place else None
        self.parent = parent or ({"run_id": record["parent_run_id"]} if same_place and record.get("parent_run_id") else None)
        self.experiment_id: str | None = (parent or {}).get("experiment_id") or (record.get("experiment_id") if same_place else None)
        self.run_name = settings.run_name or run_name or run.root.name

    # ------------------------------------------------------------------ the record

    def record(self) -> dict:
        try:
            return json.loads(self.run.mlflow_record.read_text())
        except (OSError, ValueError):
            return {}

    def write_record(self, complete: bool) -> None:
        write_json_atomic(self.run.mlflow_record, {
            "tracking_uri": self.settings.tracking_uri,
            "experiment_id": self.experiment_id,
            "run_id": self.run_id,
            "parent_run_id": (self.parent or {}).get("run_id"),
            "model_uri": self.model_uri,
            "complete": complete,
            "not_logged": list(self.conn.missed),
        })

    def is_complete(self) -> bool:
        record = self.record()
        return bool(record.get("complete")) and record.get("tracking_uri") == self.settings.tracking_uri

    # ------------------------------------------------------------------ while training

    def start(self) -> None:
        """Opens the MLflow run (a new one, or the recorded one of a resumed run) with its tags
        and params; never raises for MLflow's sake."""
        self._open_run()
        if self.run_id is not None:
            self._log_tags()
            self._log_params()
        self.write_record(complete=False)
        if self.run_id is not None:
            log.info("MLflow: run %s in experiment '%s' at %s", self.run_id, self.settings.experiment_name, self.settings.tracking_uri)

    def callback(self):
        return EpochMetrics(self)

    def log_epoch(self, step: int, logs: dict) -> None:
        metrics = _metrics(logs, step)
        if not metrics:
            return
        if self.run_id is None:  # the run could not be opened: the upload at the end tries again
            self.conn.missed.append(f"metrics of epoch {step}")
            return
        self.conn.call(f"metrics of epoch {step}", self.conn.client.log_batch, self.run_id, metrics=metrics)

    def finish(self, metrics: dict, history: dict | None = None, examples: Callable[[], dict | None] | None = None) -> bool:
        """Uploads what the MLflow run does not hold yet and ends it (FINISHED); returns whether
        all of it arrived. A server that failed earlier is tried once more."""
        self.conn.retry()
        return self.sync(metrics, history, examples)

    def fail(self, error: BaseException) -> None:
        """Training failed: the MLflow run ends FAILED, with the error as a tag."""
        if self.run_id is not None:
            error_text = f"{type(error).__name__}: {error}"[:5000]
            self.conn.call("the run's error", self.conn.client.set_tag, self.run_id, "strata.error", error_text)
            self.conn.call("the run's status", self.conn.client.set_terminated, self.run_id, "FAILED")
        self.write_record(complete=False)

    # ------------------------------------------------------------------ the upload

    def sync(self, metrics: dict, history: dict | None = None, examples: Callable[[], dict | None] | None = None) -> bool:
        """Everything from the run folder that the MLflow run lacks; returns whether all arrived."""
        self._open_run()
        if self.run_id is not None:
            self._log_tags()
            self._log_params()
            steps = self._log_history(history)
            self._log_final(metrics, steps)
            self._log_artifacts()
            if self.settings.log_model and self.model_uri is None:
                self._log_model(examples)
            self.conn.call("the run's status", self.conn.client.set_terminated, self.run_id, "FINISHED")
        complete = self.conn.failed is None and self.run_id is not None
        self.write_record(complete=complete)
        if not complete:
            shown = ", ".join(self.conn.missed[:4]) + (f" and {len(self.conn.missed) - 4} more" if len(self.conn.missed) > 4 else "")
            log.warning("MLflow: not logged to %s: %s; the run folder is complete: `strata log run=%s` uploads it",
                        self.settings.tracking_uri, shown or "the run", self.run.root)
        return complete

    def _open_run(self) -> None:
        client = self.conn.client
        if self.run_id is not None:
            found = self.conn.call("the run", client.get_run, self.run_id)
            if found is not None and found.info.lifecycle_stage != "deleted":
                self.experiment_id = found.info.experiment_id
                if found.info.status != "RUNNING":
                    self.conn.call("the run's status", client.update_run, self.run_id, "RUNNING")
                return
            if self.conn.failed is not None:
                return  # unreachable: keep the recorded id for the next try
            self.run_id = self.model_uri = None  # deleted, or not on this server: a new run
        if self.experiment_id is None:
            self.experiment_id = self.conn.experiment_id(self.settings.experiment_name)
            if self.experiment_id is None:
                return
        tags = {"mlflow.user": _user(), "mlflow.source.name": "strata train", "mlflow.source.type": "LOCAL"}
        if self.parent:
            tags["mlflow.parentRunId"] = self.parent["run_id"]
        created = self.conn.call("the run", client.create_run, self.experiment_id, run_name=self.run_name, tags=tags,
                                 start_time=_started_ms(self.run))
        if created is not None:
            self.run_id = created.info.run_id

    def _log_tags(self) -> None:
        self.conn.call("tags", self.conn.client.log_batch, self.run_id, tags=_tags(self.run))

    def _log_params(self) -> None:
        from mlflow.entities import Param

        params = flat_params(self.run)
        run = self.conn.call("params", self.conn.client.get_run, self.run_id)
        if run is None:
            return
        held = run.data.params
        changed = sorted(k for k, v in params.items() if k in held and held[k] != v)
        if changed:  # a resumed run with other overrides: MLflow's params are fixed at the start
            log.info("MLflow keeps the params the run started with; changed since: %s (see the strata.overrides tag)", ", ".join(changed))
        new = [Param(k, v) for k, v in params.items() if k not in held]
        for i in range(0, len(new), PARAMS_PER_CALL):
            self.conn.call("params", self.conn.client.log_batch, self.run_id, params=new[i:i + PARAMS_PER_CALL])

    def _log_history(self, history: dict | None) -> int:
        """The per-epoch metrics MLflow lacks (from TensorBoard's event files, else Keras's
        History); returns the last epoch."""
        from mlflow.entities import Metric

        curves = _curves(self.run, history)
        last, missing = 0, []
        now = int(time.time() * 1000)
        for key, points in curves.items():
            last = max([last, *points])
            held = self.conn.call(f"the history of {key}", self.conn.client.get_metric_history, self.run_id, key)
            if held is None:
                continue
            steps = {m.step for m in held}
            missing += [Metric(key, value, now, step) for step, value in sorted(points.items()) if step not in steps]
        self._log_metrics(missing, "per-epoch metrics")
        return last

    def _log_final(self, metrics: dict, step: int) -> None:
        from mlflow.entities import Metric

        run = self.conn.call("final metrics", self.conn.client.get_run, self.run_id)
        if run is None:
            return
        now = int(time.time() * 1000)
        final = [Metric(k, v, now, step) for k, v in final_metrics(metrics).items() if k not in run.data.metrics]
        self._log_metrics(final, "final metrics")

    def _log_metrics(self, metrics: list, what: str) -> None:
        for i in range(0, len(metrics), METRICS_PER_CALL):
            self.conn.call(what, self.conn.client.log_batch, self.run_id, metrics=metrics[i:i + METRICS_PER_CALL])

    def _log_artifacts(self) -> None:
        client = self.conn.client
        for name in ARTIFACT_FILES:
            path = self.run.root / name
            if path.is_file():
                self.conn.call(name, client.log_artifact, self.run_id, str(path))
        for name in ARTIFACT_FOLDERS:
            path = self.run.root / name
            if path.is_dir():
                self.conn.call(f"{name}/", client.log_artifacts, self.run_id, str(path), name)

    def _log_model(self, examples) -> None:
        from strata.tracking import mlflow_model

        self.model_uri = self.conn.call(
            "the model", mlflow_model.log_model, self.conn.mlflow, self.settings.tracking_uri, self.run_id, self.run,
            self.settings.registered_model_name, examples,
        )
        if self.model_uri and self.settings.registered_model_name:
            log.info("MLflow: registered a new version of '%s'", self.settings.registered_model_name)


def for_training(config, run: RunDir) -> RunRecorder:
    """The recorder of a run `strata train` starts with `logger=mlflow`: a sweep's trial becomes a
    child of the sweep's parent run (`strata.tracking.sweep`), named by its overrides."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    parent, name = None, None
    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        from strata.tracking import sweep

        hydra = HydraConfig.get()
        parent = sweep.parent_run(Path(hydra.sweep.dir), config.logger)
        name = f"trial {hydra.job.num}" + (f": {hydra.job.override_dirname}" if hydra.job.override_dirname else "")
    recorder = RunRecorder(config.logger, run, parent=parent, run_name=name)
    recorder.start()
    return recorder


class EpochMetrics(Callback):
    """Logs each epoch's metrics to the run's MLflow run, the epoch (from 1) as step."""

    def __init__(self, recorder: RunRecorder):
        super().__init__()
        self.recorder = recorder

    def on_epoch_end(self, epoch, logs=None):
        self.recorder.log_epoch(epoch + 1, logs or {})


# ---------------------------------------------------------------------- what a run records


def flat_params(run: RunDir) -> dict[str, str]:
    """The resolved config flattened to `optimizer.learning_rate`-style keys (MLflow params)."""
    if not run.resolved_config.is_file():
        return {}
    container = OmegaConf.to_container(OmegaConf.load(run.resolved_config), resolve=False)
    out: dict[str, str] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict) and node:
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
            return
        text = node if isinstance(node, str) else json.dumps(node)
        out[metric_key(prefix[:-1])] = text[:PARAM_VALUE_LIMIT]

    walk(container, "")
    return out


def final_metrics(metrics: dict) -> dict[str, float]:
    """`metrics.json`'s single numbers as `<split>/<metric>` (e.g. `test/accuracy`), the names
    `optimized_metric` uses; a cross-validated run's fold means as `cross_validation/<metric>`."""
    from strata.run.metrics import scalar_metrics

    out = {f"{split}/{name}": float(v) for split, values in scalar_metrics(metrics).items() for name, v in values.items()}
    folds = metrics.get("cross_validation", {})
    for name, value in (folds.get("mean") or {}).items():
        if isinstance(value, (int, float)):
            out[f"cross_validation/{name}"] = float(value)
    return {metric_key(k): v for k, v in out.items()}


def _metrics(logs: dict, step: int) -> list:
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    out = []
    for key, value in logs.items():
        try:
            out.append(Metric(metric_key(key), float(value), now, step))
        except (TypeError, ValueError):
            continue
    return out


def _curves(run: RunDir, history: dict | None) -> dict[str, dict[int, float]]:
    """key (`loss`, `val_loss`, ...) -> {epoch from 1: value}."""
    from strata.report.history import from_keras_history, read_history

    curves = read_history(run.tensorboard) if run.tensorboard.is_dir() else {}
    if not curves and history:
        curves = from_keras_history(history)
    out: dict[str, dict[int, float]] = {}
    for metric, splits in curves.items():
        for split, (steps, values) in splits.items():
            key = metric_key(metric if split == "train" else f"val_{metric}")
            out[key] = {int(s) + 1: float(v) for s, v in zip(steps, values)}
    return out


def _tags(run: RunDir) -> list:
    from mlflow.entities import RunTag

    made = provenance.read(run)
    tags = {"strata.run_dir": str(run.root), "strata.version": made.get("strata_version", "unknown")}
    if run.overrides.is_file():
        tags["strata.overrides"] = " ".join(str(o) for o in OmegaConf.load(run.overrides)) or "(none)"
    git = made.get("git")
    if git:
        tags.update({"strata.git.commit": git["commit"], "strata.git.dirty": str(git["dirty"]).lower(),
                     "mlflow.source.git.commit": git["commit"]})
    task = _task(run)
    if task:
        tags["strata.task"] = task
    return [RunTag(k, v[:5000]) for k, v in tags.items()]


def _task(run: RunDir) -> str | None:
    try:
        return json.loads(run.task.read_text())["task"]["kind"]
    except (OSError, ValueError, KeyError):
        return None


def _started_ms(run: RunDir) -> int:
    """When the run folder was started (its config's time), in ms."""
    try:
        return int(Path(run.config).stat().st_mtime * 1000)
    except OSError:
        return int(time.time() * 1000)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
