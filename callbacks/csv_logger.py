"""`csv_logger`: Keras's CSVLogger, writing the epoch logs into a CSV file in the run directory."""

from __future__ import annotations

from strata.callbacks._base import CallbackArgs, CallbackContext
from strata.registry import CALLBACKS


class CSVLoggerArgs(CallbackArgs):
    filename: str = "history.csv"
    separator: str = ","
    append: bool = True


@CALLBACKS.register("csv_logger", CSVLoggerArgs)
def csv_logger(ctx: CallbackContext, filename: str, separator: str, append: bool):
    import keras

    return keras.callbacks.CSVLogger(str(ctx.run.root / filename), separator=separator, append=append)
