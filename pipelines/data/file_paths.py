"""Resolves the data paths of a config (a file, a folder or a glob) into existing files,
with one clear error when nothing is there."""

from __future__ import annotations

import glob
from pathlib import Path

from strata.errors import DataError, suggestion

GLOB_CHARS = set("*?[")


def resolve(path: str, base_dir: str | None) -> Path:
    """`path` made absolute: relative paths are read from `base_dir` (default: the current folder)."""
    p = Path(path).expanduser()
    if not p.is_absolute():
        p = Path(base_dir or ".") / p
    return Path(str(p.absolute()))


def matching_files(path: str, base_dir: str | None, key: str = "data.path", kind: str = "file") -> list[Path]:
    """The files `path` names: one file, or every file a glob matches, sorted.

    Raises `DataError` naming `key` when the path is missing, a glob matches nothing, or a file
    is empty.
    """
    full = resolve(path, base_dir)
    if GLOB_CHARS & set(str(path)):
        files = sorted(Path(f) for f in glob.glob(str(full), recursive=True) if Path(f).is_file())
        if not files:
            raise DataError(f"{key}={path}: no {kind} matches the pattern {full}.")
    else:
        if not full.exists():
            raise DataError(f"{key}={path}: no such {kind} ({full}).{_nearby(full)}")
        if full.is_dir():
            raise DataError(f"{key}={path}: {full} is a folder; expected a {kind} (or a glob such as {path}/*.csv).")
        files = [full]
    for f in files:
        if f.stat().st_size == 0:
            raise DataError(f"{key}={path}: {f} is empty.")
    return files


def existing_folder(path: str, base_dir: str | None, key: str = "data.path") -> Path:
    """The folder `path` names, or a `DataError`."""
    full = resolve(path, base_dir)
    if not full.exists():
        raise DataError(f"{key}={path}: no such folder ({full}).{_nearby(full)}")
    if not full.is_dir():
        raise DataError(f"{key}={path}: {full} is a file; expected a folder.")
    return full


def _nearby(full: Path) -> str:
    """' Did you mean ...?' from the names in the parent folder."""
    parent = full.parent
    if not parent.is_dir():
        return f" The folder {parent} does not exist either."
    names = [p.name for p in parent.iterdir() if not p.name.startswith(".")]
    hint = suggestion(full.name, names)
    return hint.replace("Did you mean '", f"Did you mean '{parent}/") if hint else ""
