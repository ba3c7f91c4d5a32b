"""`early_stopping`: Keras's EarlyStopping."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from strata.callbacks._base import CallbackArgs, CallbackContext
from strata.registry import CALLBACKS


class EarlyStoppingArgs(CallbackArgs):
    monitor: str = "val_loss"
    mode: Literal["auto", "min", "max"] = "auto"
    patience: int = Field(5, ge=0)
    min_delta: float = Field(0.0, ge=0)
    restore_best_weights: bool = True
    start_from_epoch: int = Field(0, ge=0)


@CALLBACKS.register("early_stopping", EarlyStoppingArgs)
def early_stopping(ctx: CallbackContext, **args):
    import keras

    return keras.callbacks.EarlyStopping(**args)
