"""`strata log run=<run dir> [logger.tracking_uri=...] [logger.experiment_name=...] ...`: uploads a
finished run folder to MLflow.

The same upload `strata train logger=mlflow` does when a run ends (`strata.tracking.recorder`):
after a tracking outage it fills in what the MLflow run lacks; for a run made without
`logger=mlflow` (or before strata had it) it creates the MLflow run. The settings are the run's
own `logger` config, else conf/logger/mlflow.yaml's defaults resolved for the run (a SQLite
database beside its run folders, its task name as the experiment); `logger.*` arguments override
them. A run already uploaded in full to the same URI is left as it is.
"""

from __future__ import annotations

import json
import logging
import sys
from importlib.resources import files

from omegaconf import OmegaConf

from strata.commands import args as cli_args
from strata.config.schema import LoggerConfig
from strata.config.validate import check_section
from strata.errors import DataError
from strata.run.finished import FinishedRun

KEYS = ("tracking_uri", "experiment_name", "run_name", "registered_model_name", "log_model", "artifact_location")


def main(argv: list[str]) -> str | None:
    opts = cli_args.parse(argv, "log", {"run": None, **{f"logger.{k}": None for k in KEYS}}, required=("run",))
    finished = FinishedRun.open(opts["run"])
    given = {k.removeprefix("logger."): v for k, v in opts.items() if k.startswith("logger.") and v is not None}
    settings = logger_settings(finished, given)
    _console_logging()
    from strata.tracking.recorder import RunRecorder

    recorder = RunRecorder(settings, finished.run)
    if recorder.is_complete():
        print(f"{finished.run.root} is already recorded in full as MLflow run {recorder.run_id} at {settings.tracking_uri}")
        return recorder.run_id
    metrics = json.loads(finished.run.metrics.read_text()) if finished.run.metrics.is_file() else {}
    complete = recorder.sync(metrics, examples=lambda: _examples(finished))
    if recorder.run_id is None or not complete:
        raise DataError(
            f"logger.tracking_uri={settings.tracking_uri}: MLflow did not take the run ({recorder.conn.failed}); "
            "nothing in the run folder changed, run strata log again when the tracking server answers."
        )
    where = f"experiment '{settings.experiment_name}' at {settings.tracking_uri}"
    model = f"; model {recorder.model_uri}" if recorder.model_uri else ""
    print(f"uploaded {finished.run.root} as MLflow run {recorder.run_id} in {where}{model}")
    return recorder.run_id


def logger_settings(finished: FinishedRun, overrides: dict[str, str]) -> LoggerConfig:
    """The run's own `logger` settings, else the preset's defaults for this run, with `overrides`."""
    own = finished.config.logger
    if own is not None:
        values = own.model_dump()
    else:
        resolved = OmegaConf.load(finished.run.resolved_config)
        preset = OmegaConf.create((files("strata.conf") / "logger" / "mlflow.yaml").read_text())
        context = OmegaConf.create({"paths": resolved.paths, "task_name": resolved.task_name, "logger": preset})
        values = OmegaConf.to_container(context.logger, resolve=True)
    for key, value in overrides.items():
        values[key] = None if value in ("null", "None", "~") else value
    return check_section(LoggerConfig, values, ("logger",))


def _examples(finished: FinishedRun) -> dict:
    bundle = finished.data
    split = next(s for s in ("test", "validation", "train") if s in bundle.splits)
    return bundle.examples(split, 5)[0]


def _console_logging() -> None:
    """strata's own INFO and warning lines on stderr (the command's result goes to stdout)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in ("strata.tracking",):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
