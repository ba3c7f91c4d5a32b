"""A multirun recorded in MLflow as one parent run with a child run per trial (`logger=mlflow`).

`SweepRecorder` is a Hydra callback (conf/hydra/default.yaml): when a multirun starts it opens the
parent run and writes `<sweep dir>/mlflow_sweep.json`; each trial's recorder
(`strata.tracking.recorder.for_training`) reads it and becomes a child (`mlflow.parentRunId`).
When the multirun ends, the parent gets the best trial's value of `optimized_metric`
(`best/<metric>`), the number of trials and the best trial's run id, and is ended. Without
`logger=mlflow` it does nothing; a tracking server that fails costs the sweep nothing.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from hydra.experimental.callback import Callback as HydraCallback
from omegaconf import DictConfig, OmegaConf

from strata.config.schema import LoggerConfig
from strata.run.atomic import write_json_atomic

log = logging.getLogger("strata.tracking")

RECORD = "mlflow_sweep.json"
# metric names (substrings) that a sweep without a `direction` minimizes; others it maximizes
LOWER_IS_BETTER = ("loss", "error", "mae", "mse", "rmse", "mape", "crossentropy")


class SweepRecorder(HydraCallback):
    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        settings = _settings(config)
        if settings is None:
            return
        from strata.tracking.connection import Connection

        sweep_dir = Path(str(config.hydra.sweep.dir)).resolve()
        conn = Connection(settings, hint="; the trials are recorded without a parent run")
        experiment_id = conn.experiment_id(settings.experiment_name)
        if experiment_id is None:
            return
        overrides = list(config.hydra.overrides.task)
        tags = {"mlflow.source.name": "strata train -m", "mlflow.source.type": "LOCAL", "strata.sweep_dir": str(sweep_dir),
                "strata.overrides": " ".join(overrides) or "(none)"}
        name = settings.run_name or f"sweep {sweep_dir.name}"
        run = conn.call("the sweep's run", conn.client.create_run, experiment_id, run_name=name, tags=tags)
        if run is None:
            return
        for key, value in _sweep_params(config).items():
            conn.call("the sweep's params", conn.client.log_param, run.info.run_id, key, value)
        record = {"tracking_uri": settings.tracking_uri, "experiment_id": experiment_id, "run_id": run.info.run_id}
        write_json_atomic(sweep_dir / RECORD, record)
        log.info("MLflow: sweep run %s in experiment '%s' at %s", run.info.run_id, settings.experiment_name, settings.tracking_uri)

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        settings = _settings(config)
        if settings is None:
            return
        sweep_dir = Path(str(config.hydra.sweep.dir)).resolve()
        record = parent_run(sweep_dir, settings)
        if record is None:
            return
        from strata.tracking.connection import Connection, metric_key

        conn = Connection(settings)
        run_id = record["run_id"]
        children = conn.call("the sweep's trials", conn.client.search_runs, [record["experiment_id"]],
                             filter_string=f"tags.mlflow.parentRunId = '{run_id}'", max_results=10_000) or []
        conn.call("the sweep's trial count", conn.client.log_metric, run_id, "trials", float(len(children)))
        name = config.get("optimized_metric")
        if name:
            key = metric_key(name if "/" in name else f"validation/{name}")
            scored = [(r.data.metrics[key], r.info.run_id) for r in children if key in r.data.metrics]
            scored = [(v, i) for v, i in scored if v == v]  # NaN: a failed trial
            if scored:
                value, best = (min if _minimizes(config, key) else max)(scored)
                conn.call("the sweep's best value", conn.client.log_metric, run_id, f"best/{key}", value)
                conn.call("the sweep's best trial", conn.client.set_tag, run_id, "strata.best_run_id", best)
        conn.call("the sweep's status", conn.client.set_terminated, run_id, "FINISHED")


def parent_run(sweep_dir: Path, settings: LoggerConfig) -> dict | None:
    """The sweep's parent run ({"run_id", "experiment_id"}) when it was opened at the same URI."""
    try:
        record = json.loads((sweep_dir / RECORD).read_text())
    except (OSError, ValueError):
        return None
    return record if record.get("tracking_uri") == settings.tracking_uri and record.get("run_id") else None


def _settings(config: DictConfig) -> LoggerConfig | None:
    """The sweep's `logger` settings, None without logger=mlflow (or with settings the trials
    will refuse: each trial says why)."""
    node = config.get("logger")
    if not node:
        return None
    try:
        return LoggerConfig.model_validate(OmegaConf.to_container(node, resolve=True))
    except Exception:  # the trials validate the config and name the key
        return None


def _sweep_params(config: DictConfig) -> dict[str, str]:
    """What was swept: the sweeper's search space (`hydra.sweeper.params`) and its settings."""
    sweeper = config.hydra.get("sweeper") or {}
    out = {}
    for key in ("direction", "n_trials", "n_jobs", "study_name", "storage"):
        if key in sweeper and sweeper[key] is not None:
            out[f"sweeper.{key}"] = str(OmegaConf.to_container(sweeper, resolve=True)[key])[:6000]
    params = sweeper.get("params") or {}
    for key, value in params.items():
        out[f"search.{key}"] = str(value)[:6000]
    return out


def _minimizes(config: DictConfig, key: str) -> bool:
    direction = (config.hydra.get("sweeper") or {}).get("direction")
    if isinstance(direction, str):
        return direction.lower().startswith("min")
    if direction:  # several objectives: the first one's
        return str(list(direction)[0]).lower().startswith("min")
    return any(word in key.lower() for word in LOWER_IS_BETTER)
