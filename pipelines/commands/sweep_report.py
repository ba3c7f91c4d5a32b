"""`strata sweep-report`: (re)writes a sweep's `sweep_report.html`, its PNGs and `sweep_results.json`.

- `strata sweep-report sweep=<sweep dir>`: the study named by the sweep's `study.json`, report
  written into the sweep folder, each trial linked to its run folder.
- `strata sweep-report study=<name> storage=<url> [output=<dir>]`: any study in an Optuna storage,
  report written into `output` (default: the current folder).

See `strata.sweeper.report` for what the page shows.
"""

from __future__ import annotations

import json
from pathlib import Path

from strata.commands import args as cli_args
from strata.errors import ConfigError, suggestion

COMMAND = "sweep-report"
USAGE = "strata sweep-report sweep=<sweep dir>, or strata sweep-report study=<name> storage=<url> [output=<dir>]"


def main(argv: list[str]) -> Path:
    opts = cli_args.parse(argv, COMMAND, {"sweep": None, "study": None, "storage": None, "output": None})
    sweep_dir = Path(opts["sweep"]) if opts["sweep"] else None
    name, storage, metric = opts["study"], opts["storage"], None
    if sweep_dir is not None:
        record = _record(sweep_dir, given=bool(name and storage))
        name = name or record.get("study_name")
        storage = storage or record.get("storage")
        metric = record.get("metric")
    if not name or not storage:
        missing = "study" if not name else "storage"
        raise ConfigError(f"strata {COMMAND}: missing {missing}=... ({USAGE}).")
    out_dir = Path(opts["output"]) if opts["output"] else (sweep_dir if sweep_dir is not None else Path.cwd())

    study = _load(name, storage)
    from strata.sweeper.report import write_sweep_report

    page = write_sweep_report(study, out_dir, metric=metric, sweep_dir=sweep_dir)
    print(f"wrote {page}")
    return page


def _record(sweep_dir: Path, given: bool) -> dict:
    """The sweep's `study.json`; {} when it is missing but study= and storage= name the study."""
    from strata.sweeper.study import RECORD

    hint = "name it with study=<name> storage=<url>"
    if not sweep_dir.is_dir():
        raise ConfigError(f"sweep: {sweep_dir} is not a folder (expected the folder of a sweep, holding {RECORD}); "
                          f"or {hint}")
    path = sweep_dir / RECORD
    if not path.is_file():
        if given:
            return {}
        raise ConfigError(f"sweep: {sweep_dir} has no {RECORD} (not a sweep of hparams_search, or its study was kept in memory); {hint}")
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as ex:
        raise ConfigError(f"sweep: {path} is not readable JSON ({ex}); {hint}") from None
    if not isinstance(record, dict):
        raise ConfigError(f"sweep: {path} is not a JSON object; {hint}")
    if not record.get("storage") and not given:
        raise ConfigError(f"sweep: the study of {sweep_dir} was kept in memory ({RECORD} names no storage), "
                          f"so it ended with its command; {hint}")
    return record


def _sqlite_file(url: str) -> Path | None:
    """The database file of a `sqlite:///` URL (None for other databases and in-memory SQLite)."""
    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///"):].split("?", 1)[0]
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return Path(path)


def _load(name: str, url: str):
    """The study `name` of the storage at `url`; user errors name the key and the closest choice."""
    import optuna

    from strata.sweeper.study import open_storage, shown_url

    shown = shown_url(url)
    file = _sqlite_file(url)
    if file is not None and not file.is_file():  # Optuna would create an empty database there
        raise ConfigError(f"storage: no SQLite database {file} (from '{shown}'); expected the storage the sweep wrote its study to.")
    storage = open_storage(url, attempts=1, key="storage")
    try:
        names = optuna.get_all_study_names(storage)
    except Exception as ex:
        reason = str(ex).strip().splitlines()[0] if str(ex).strip() else ""
        raise ConfigError(f"storage: Optuna cannot open '{shown}': {type(ex).__name__}: {reason}") from None
    if not names:
        raise ConfigError(f"storage: '{shown}' holds no study (no sweep has written to it yet).")
    if name not in names:
        listed = ", ".join(sorted(names)[:20]) + (", ..." if len(names) > 20 else "")
        raise ConfigError(f"study: no study '{name}' in '{shown}'.{suggestion(name, names)} Studies there: {listed}.")
    return optuna.load_study(study_name=name, storage=storage)
