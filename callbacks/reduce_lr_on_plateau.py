"""`reduce_lr_on_plateau`: Keras's ReduceLROnPlateau."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from strata.callbacks._base import CallbackArgs, CallbackContext
from strata.registry import CALLBACKS


class ReduceLROnPlateauArgs(CallbackArgs):
    monitor: str = "val_loss"
    mode: Literal["auto", "min", "max"] = "auto"
    factor: float = Field(0.5, gt=0, lt=1)
    patience: int = Field(3, ge=0)
    min_delta: float = Field(1e-4, ge=0)
    cooldown: int = Field(0, ge=0)
    min_lr: float = Field(0.0, ge=0)


@CALLBACKS.register("reduce_lr_on_plateau", ReduceLROnPlateauArgs)
def reduce_lr_on_plateau(ctx: CallbackContext, **args):
    import keras

    return keras.callbacks.ReduceLROnPlateau(**args)
