"""`backup`: Keras's BackupAndRestore in `checkpoints/backup/`, with backups that a crash cannot leave
half-written; `strata train resume=<run dir>` continues from it."""

from __future__ import annotations

import json
import os
from typing import Literal

from strata.callbacks._base import Callback, CallbackArgs
from strata.registry import CALLBACKS


class BackupArgs(CallbackArgs):
    save_freq: Literal["epoch"] | int = "epoch"
    delete_checkpoint: bool = False


@CALLBACKS.register("backup", BackupArgs)
class AtomicBackupAndRestore(Callback):
    """`keras.callbacks.BackupAndRestore` whose weights and metadata are written aside, then
    renamed into place.

    Keras writes `latest.weights.h5` in place, so a process killed while writing it leaves a
    truncated file that the next run cannot load. Here the weights are written to a temporary
    file first, then renamed, then the epoch counter is renamed into place: a backup on disk is
    always a complete one. (A kill between the two renames leaves new weights with the previous
    epoch number: the resumed run repeats one epoch, and loses nothing.)

    Args:
        backup_dir: str, the folder of the backup.
        save_freq: `"epoch"` or an int (a backup every N batches), default `"epoch"`.
        delete_checkpoint: bool, default True; remove the backup when training ends.

    Example:

    >>> model.fit(x, y, epochs=10, callbacks=[AtomicBackupAndRestore("/tmp/backup")])
    """

    keras_base = "BackupAndRestore"

    @classmethod
    def from_context(cls, ctx, **args) -> AtomicBackupAndRestore:
        return cls(str(ctx.run.backup), **args)

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        weights_tmp = os.path.join(self.backup_dir, ".latest.tmp.weights.h5")
        self.model.save_weights(filepath=weights_tmp, overwrite=True)
        _fsync(weights_tmp)
        os.replace(weights_tmp, self._weights_path)
        metadata_tmp = os.path.join(self.backup_dir, ".training_metadata.tmp.json")
        with open(metadata_tmp, "w") as f:
            f.write(json.dumps({"epoch": self._current_epoch, "batch": self._last_batch_seen}))
        _fsync(metadata_tmp)
        os.replace(metadata_tmp, self._training_metadata_path)


def _fsync(path: str) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())
