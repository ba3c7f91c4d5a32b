"""`checkpoint`: the best weights (by `monitor`) and the last epoch's weights in `checkpoints/`."""

from __future__ import annotations

from typing import Literal

from strata.callbacks._base import CallbackArgs, CallbackContext
from strata.registry import CALLBACKS


class CheckpointArgs(CallbackArgs):
    monitor: str = "val_loss"
    mode: Literal["auto", "min", "max"] = "auto"
    save_best: bool = True
    save_last: bool = True


@CALLBACKS.register("checkpoint", CheckpointArgs)
def checkpoint(ctx: CallbackContext, monitor: str, mode: str, save_best: bool, save_last: bool) -> list:
    """Keras's `ModelCheckpoint`, once for `best.weights.h5` and once for `last.weights.h5`."""
    import keras

    folder = ctx.run.checkpoints
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    if save_best:
        made.append(keras.callbacks.ModelCheckpoint(
            str(folder / "best.weights.h5"), monitor=monitor, mode=mode, save_best_only=True, save_weights_only=True,
        ))
    if save_last:
        made.append(keras.callbacks.ModelCheckpoint(str(folder / "last.weights.h5"), save_weights_only=True))
    return made
