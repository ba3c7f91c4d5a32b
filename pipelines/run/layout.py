"""The run directory's layout and its lock (see the README, "What a run leaves behind")."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

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
    def backup_metadata(self) -> Path:
        """The epoch counter Keras's BackupAndRestore writes with each backup: a run whose backup
        has it resumes from it."""
        return self.backup / "training_metadata.json"

    @property
    def folds(self) -> Path:
        """The cross-validation folds' own run directories (`data.split.folds`)."""
        return self.root / "folds"

    def fold(self, index: int) -> RunDir:
        """Fold `index` (from 1) of a cross-validated run: its tensorboard/, checkpoints/, fold.json."""
        return RunDir(self.folds / str(index))

    @property
    def fold_record(self) -> Path:
        """In a fold's directory: the fold's rows, state and, once done, its validation metrics."""
        return self.root / "fold.json"

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

    @property
    def provenance(self) -> Path:
        """strata's version and the git commit the run was started from (`strata.run.provenance`)."""
        return self.root / "provenance.json"

    @property
    def mlflow_record(self) -> Path:
        """Where the run is recorded in MLflow and what reached it (`strata.tracking`)."""
        return self.root / "mlflow.json"

    @property
    def pruned(self) -> Path:
        """A sweep trial that Optuna pruned: the epoch it stopped at, and its value (`strata.sweeper`)."""
        return self.root / "pruned.json"

    @classmethod
    def existing(cls, path: str, key: str = "run") -> RunDir:
        """A finished run's directory, or a `DataError` that says what is missing. An `s3://` or
        `gs://` run folder is downloaded into strata's cache first (`strata.storage`), and its
        local copy is the run directory the commands read and write."""
        run = cls(_local_run_folder(str(path), key))
        if not run.root.is_dir():
            raise DataError(f"{key}={path}: no such run directory.")
        if not run.config.is_file():
            raise DataError(f"{key}={path}: not a strata run directory (no .hydra/config.yaml).")
        return run

    def remove_stale_temporaries(self) -> None:
        """Removes what a killed process left of its atomic writes (`.<name>.*.tmp`)."""
        fold_backups = sorted(self.folds.glob("*/checkpoints/backup")) if self.folds.is_dir() else []
        for folder in (self.root, self.export_dir, self.checkpoints / "backup", *fold_backups):
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


def _local_run_folder(path: str, key: str) -> str:
    """`path`, or for a run folder in object storage, its local copy in strata's cache (what the
    run commands write there, predictions/ for one, stays: only changed objects are downloaded again)."""
    from strata import storage

    if not storage.is_remote(path):
        return path
    return str(storage.local_copy(path.rstrip("/"), key, prune=False))
