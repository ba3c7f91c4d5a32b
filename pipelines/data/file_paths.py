"""Resolves the data paths of a config (a file, a folder or a glob) into existing files,
with one clear error when nothing is there. An `s3://` or `gs://` URL resolves to its local
copy in strata's cache (`strata.storage.local_copy`), so every source reads object storage."""

from __future__ import annotations

import glob
from pathlib import Path

from strata import storage
from strata.errors import DataError, suggestion

GLOB_CHARS = set("*?[")


def resolve(path: str, base_dir: str | None, key: str = "data.path") -> Path:
    """`path` made absolute: relative paths are read from `base_dir` (default: the current folder);
    a remote URL is downloaded (or found unchanged in the cache) and its local copy returned."""
    if storage.is_remote(path):
        return storage.local_copy(str(path), key)
    p = Path(path).expanduser()
    if not p.is_absolute():
        p = Path(base_dir or ".") / p
    return Path(str(p.absolute()))


def matching_files(path: str, base_dir: str | None, key: str = "data.path", kind: str = "file") -> list[Path]:
    """The files `path` names: one file, or every file a glob matches, sorted.

    Raises `DataError` naming `key` when the path is missing, a glob matches nothing, or a file
    is empty.
    """
    full = resolve(path, base_dir, key)
    remote = storage.is_remote(path)
    if GLOB_CHARS & set(str(path)):
        files = sorted(Path(f) for f in glob.glob(str(full), recursive=True) if Path(f).is_file())
        if not files:
            raise DataError(f"{key}={path}: no {kind} matches the pattern {full}.")
    else:
        if not full.exists():
            raise DataError(f"{key}={path}: no such {kind} ({full}).{_nearby(full)}")
        if full.is_dir():
            where = "a prefix (a folder), not an object" if remote else f"{full} is a folder"
            raise DataError(f"{key}={path}: {where}; expected a {kind} (or a glob such as {str(path).rstrip('/')}/*.csv).")
        files = [full]
    for f in files:
        if f.stat().st_size == 0:
            raise DataError(f"{key}={path}: {f} is empty.")
    return files


def existing_folder(path: str, base_dir: str | None, key: str = "data.path") -> Path:
    """The folder `path` names (a remote prefix: its local copy), or a `DataError`."""
    full = resolve(path, base_dir, key)
    if not full.exists():
        raise DataError(f"{key}={path}: no such folder ({full}).{_nearby(full)}")
    if not full.is_dir():
        where = "an object, not a prefix" if storage.is_remote(path) else f"{full} is a file"
        raise DataError(f"{key}={path}: {where}; expected a folder.")
    return full


def _nearby(full: Path) -> str:
    """' Did you mean ...?' from the names in the parent folder."""
    parent = full.parent
    if not parent.is_dir():
        return f" The folder {parent} does not exist either."
    names = [p.name for p in parent.iterdir() if not p.name.startswith(".")]
    hint = suggestion(full.name, names)
    return hint.replace("Did you mean '", f"Did you mean '{parent}/") if hint else ""
