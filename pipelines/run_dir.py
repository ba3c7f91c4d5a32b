"""The run directory's layout, its lock, and atomic writes of what readers depend on.

A reader (a user, `strata evaluate`, a serving system) finds either the complete `model.keras`,
SavedModel or `metrics.json`, or none: each is written beside its final name, then renamed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from strata.errors import DataError


class RunDir:
    """Paths inside one run directory (see DESIGN.md, "The run directory")."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()

    @property
    def config(self) -> Path:
        return self.root / ".hydra" / "config.yaml"

    @property
    def resolved_config(self) -> Path:
        return self.root / ".hydra" / "resolved.yaml"

    @property
    def overrides(self) -> Path:
        return self.root / ".hydra" / "overrides.yaml"

    @property
    def log(self) -> Path:
        return self.root / "train.log"

    @property
    def tensorboard(self) -> Path:
        return self.root / "tensorboard"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def backup(self) -> Path:
        return self.checkpoints / "backup"

    @property
    def model(self) -> Path:
        return self.root / "model.keras"

    @property
    def export_dir(self) -> Path:
        return self.root / "export"

    @property
    def saved_model(self) -> Path:
        return self.export_dir / "saved_model"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.json"

    @property
    def task(self) -> Path:
        return self.root / "task.json"

    @classmethod
    def existing(cls, path: str, key: str = "run") -> RunDir:
        """A finished run's directory, or a `DataError` that says what is missing."""
        run = cls(path)
        if not run.root.is_dir():
            raise DataError(f"{key}={path}: no such run directory.")
        if not run.config.is_file():
            raise DataError(f"{key}={path}: not a strata run directory (no .hydra/config.yaml).")
        return run

    def remove_stale_temporaries(self) -> None:
        """Removes what a killed process left of its atomic writes (`.<name>.*.tmp`)."""
        for folder in (self.root, self.export_dir, self.checkpoints / "backup"):
            if folder.is_dir():
                for leftover in folder.glob(".*.tmp*"):
                    if leftover.is_dir():
                        shutil.rmtree(leftover, ignore_errors=True)
                    else:
                        leftover.unlink(missing_ok=True)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Holds an exclusive lock on the run directory for the life of a training process."""
        self.root.mkdir(parents=True, exist_ok=True)
        handle = open(self.root / ".lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise DataError(f"hydra.run.dir={self.root}: another strata process is training in this run directory.") from None
        try:
            handle.write(str(os.getpid()))
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()


def write_json_atomic(path: Path, data: Any) -> None:
    """Writes JSON to a temporary file beside `path`, fsyncs it, then renames it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path: Path, directory: bool = False) -> Iterator[Path]:
    """Yields a temporary path beside `path`; on success it replaces `path` in one rename.

    For a directory the old one is first moved aside, then removed once the new one is in
    place, so a reader sees the old or the new tree, never a mix.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    target = tmp / path.name if not directory else tmp / "out"
    try:
        yield target
        if directory:
            old = None
            if path.exists():
                old = path.parent / f".{path.name}.old"
                shutil.rmtree(old, ignore_errors=True)
                os.replace(path, old)
            os.replace(target, path)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        else:
            with open(target, "rb") as f:
                os.fsync(f.fileno())
            os.replace(target, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
