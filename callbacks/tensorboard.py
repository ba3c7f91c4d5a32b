"""`tensorboard`: Keras's TensorBoard callback, writing into the run's `tensorboard/` folder."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from strata.callbacks._base import CallbackArgs, CallbackContext
from strata.registry import CALLBACKS


class TensorBoardArgs(CallbackArgs):
    update_freq: Literal["epoch", "batch"] | int = "epoch"
    histogram_freq: int = Field(0, ge=0)
    write_graph: bool = True
    write_images: bool = False
    write_steps_per_second: bool = False
    profile_batch: int | list[int] | str = 0
    embeddings_freq: int = Field(0, ge=0)


@CALLBACKS.register("tensorboard", TensorBoardArgs)
def tensorboard(ctx: CallbackContext, **args):
    import keras

    return keras.callbacks.TensorBoard(log_dir=str(ctx.run.tensorboard), **args)
