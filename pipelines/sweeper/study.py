"""Where a sweep's study lives, and how a trial's process finds it again.

- `hydra.sweeper.storage: null` with trials run in the sweeping process (Hydra's basic launcher):
  the study is in memory, and trials find it in `LIVE`.
- `storage: null` with trials in other processes (`hydra/launcher=joblib`): the study is kept in
  `<sweep dir>/optuna.db` (SQLite), so those processes can report epoch values and be pruned.
- `storage: <URL>` (`sqlite:///study.db`, `postgresql://...`, `mysql://...`): the study outlives
  the command. The same command again continues it; commands on several machines share it.

`<sweep dir>/study.json` names the study and its storage: trials read it, and so does
`strata sweep-report sweep=<sweep dir>`.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from strata.errors import ConfigError
from strata.run.atomic import write_json_atomic

log = logging.getLogger("strata.sweeper")

RECORD = "study.json"
IMPLICIT_DB = "optuna.db"
SQLITE_TIMEOUT = 60  # seconds a process waits for another's write to a SQLite study
LIVE: dict[str, Any] = {}  # sweep dir -> the in-memory study of this process's sweep


def storage_url(configured: str | None, sweep_dir: Path, in_process: bool) -> str | None:
    """The storage a sweep uses: the configured one, else memory (in-process trials) or the
    sweep folder's SQLite file (trials in other processes)."""
    if configured:
        return str(configured)
    if in_process:
        return None
    return f"sqlite:///{Path(sweep_dir).resolve() / IMPLICIT_DB}"


def open_storage(url: str | None, attempts: int = 5, key: str = "hydra.sweeper.storage"):
    """An Optuna storage for `url` (None: in memory). SQLite waits up to SQLITE_TIMEOUT s for a
    lock; two processes that create one database at the same moment retry. A URL that cannot be
    opened is the user's error, named by `key` (its password hidden)."""
    import optuna

    if url is None:
        return optuna.storages.InMemoryStorage()
    engine_kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT}} if url.startswith("sqlite") else {}
    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
        except ImportError as ex:
            raise ConfigError(f"{key}: '{shown_url(url)}' needs a database driver that is not installed ({ex})") from None
        except Exception as ex:  # a concurrent creation of the same schema, or a URL nothing answers
            if attempt == attempts - 1:
                reason = str(ex).strip().splitlines()[0] if str(ex).strip() else ""
                raise ConfigError(f"{key}: Optuna cannot open '{shown_url(url)}': {type(ex).__name__}: {reason}") from None
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def shown_url(url: str) -> str:
    """A storage URL as printed: without its password."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def create_study(name: str | None, storage, sampler, pruner, directions: list[str], attempts: int = 5):
    """`optuna.create_study(load_if_exists=True)`, retried when another process creates the same
    study at the same moment."""
    import optuna

    for attempt in range(attempts):
        try:
            return optuna.create_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner,
                                       directions=directions, load_if_exists=True)
        except ValueError as ex:  # directions differ from the stored study's
            raise ConfigError(f"hydra.sweeper.direction: {ex}") from None
        except Exception:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def write_record(sweep_dir: Path, study_name: str, storage: str | None, metric: str | None, directions: list[str]) -> None:
    write_json_atomic(Path(sweep_dir) / RECORD, {"study_name": study_name, "storage": storage, "metric": metric,
                                                 "direction": directions[0] if len(directions) == 1 else directions})


def read_record(sweep_dir: Path) -> dict | None:
    try:
        return json.loads((Path(sweep_dir) / RECORD).read_text())
    except (OSError, ValueError):
        return None
