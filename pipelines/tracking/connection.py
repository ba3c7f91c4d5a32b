"""An MLflow tracking URI seen through a client whose failures never stop a run.

Every call goes through `Connection.call`: the first one that fails (a server that is down,
refuses, or dies mid-run) is logged once as a warning, and every later call is skipped and
remembered as not logged, so training does not wait on a dead server epoch after epoch. What was
not logged is in the run's `mlflow.json`; `strata log run=<dir>` uploads it later.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from strata.config.schema import LoggerConfig
from strata.errors import ConfigError

log = logging.getLogger("strata.tracking")

# MLflow's HTTP client retries a failed request 7 times with a growing wait (minutes in all) and
# waits 120 s for an answer; a training run asks for less (a user's own settings win)
HTTP_SETTINGS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}


def import_mlflow():
    """MLflow, with strata's HTTP settings and its INFO chatter off (warnings stay)."""
    for key, value in HTTP_SETTINGS.items():
        os.environ.setdefault(key, value)
    try:
        import mlflow
    except ImportError:
        raise ConfigError(
            "logger=mlflow: mlflow is not installed in this environment; install it with: pip install 'strata[mlflow]'"
        ) from None
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)  # each retry; the failure is strata's one warning
    return mlflow


def metric_key(name: str) -> str:
    """`name` with the characters MLflow refuses in param and metric keys replaced by `_`."""
    return "".join(c if c.isalnum() or c in "_-./ :" else "_" for c in str(name))


def sqlite_file(uri: str) -> Path | None:
    """The database file of a `sqlite:///<file>` URI (None for other URIs)."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///"):])


class Connection:
    """MLflow at `settings.tracking_uri`; `call` runs one request unless an earlier one failed.

    Attributes:
        failed: the first failure ("ConnectionError: ..."), None while every call succeeded.
        missed: what was not logged, in order (e.g. "metrics of epoch 3").
    """

    def __init__(self, settings: LoggerConfig, hint: str = ""):
        self.settings = settings
        self.uri = settings.tracking_uri
        self.hint = hint
        self.failed: str | None = None
        self.missed: list[str] = []
        self.mlflow = import_mlflow()
        database = sqlite_file(self.uri)
        if database is not None:
            database.parent.mkdir(parents=True, exist_ok=True)
        from mlflow import MlflowClient

        self.client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    def call(self, what: str, func, *args, **kwargs) -> Any:
        """`func(*args, **kwargs)`, or None when it fails or an earlier call failed (`what` is
        then remembered as not logged)."""
        if self.failed is not None:
            if what not in self.missed:
                self.missed.append(what)
            return None
        try:
            return func(*args, **kwargs)
        except Exception as ex:  # any failure of the tracking side: the run goes on without it
            self.failed = f"{type(ex).__name__}: {_first_line(ex)}"
            if what not in self.missed:
                self.missed.append(what)
            log.warning("MLflow at %s failed while logging %s (%s); training goes on without it%s",
                        self.uri, what, self.failed, self.hint)
            return None

    def retry(self) -> None:
        """Tries the tracking server again after a failure (at the end of a run, say)."""
        self.failed = None

    def experiment_id(self, name: str) -> str | None:
        """The id of the experiment `name`, created if missing (with `artifact_location`, or
        mlartifacts/ beside a SQLite database)."""

        def find_or_create() -> str:
            found = self.client.get_experiment_by_name(name)
            if found is not None:
                if found.lifecycle_stage == "deleted":
                    self.client.restore_experiment(found.experiment_id)
                return found.experiment_id
            try:
                return self.client.create_experiment(name, artifact_location=self._artifact_location(name))
            except self.mlflow.exceptions.MlflowException:  # made meanwhile by another trial of a sweep
                found = self.client.get_experiment_by_name(name)
                if found is None:
                    raise
                return found.experiment_id

        return self.call(f"experiment '{name}'", find_or_create)

    def _artifact_location(self, name: str) -> str | None:
        if self.settings.artifact_location:
            return self.settings.artifact_location
        database = sqlite_file(self.uri)
        if database is None:
            return None  # the server's own --default-artifact-root
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        return (database.resolve().parent / "mlartifacts" / safe).as_uri()


def _first_line(ex: BaseException) -> str:
    text = str(ex).strip()
    return text.splitlines()[0][:300] if text else ""
