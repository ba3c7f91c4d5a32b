"""Reads back what a training run wrote: its config, task description and model."""

from __future__ import annotations

import json
from typing import Any

from omegaconf import OmegaConf

from strata.errors import DataError
from strata.run_dir import RunDir


def load_config(run: RunDir):
    """The run's validated config (from the resolved copy the trainer wrote)."""
    from strata.config.validate import validate

    path = run.resolved_config
    if not path.is_file():
        raise DataError(f"run={run.root}: {path.name} is missing; was the run started by strata train?")
    return validate(OmegaConf.to_container(OmegaConf.load(path)))


def load_task(run: RunDir) -> dict[str, Any]:
    if not run.task.is_file():
        raise DataError(f"run={run.root}: task.json is missing; the run did not finish training.")
    return json.loads(run.task.read_text())


def load_model(run: RunDir, compile: bool = True):
    """The run's `model.keras`, loaded in Keras's safe mode (no code runs from the file)."""
    if not run.model.is_file():
        raise DataError(f"run={run.root}: model.keras is missing; the run did not finish training.")
    from strata.training.environment import import_tensorflow

    import_tensorflow()
    import keras

    import strata.layers  # noqa: F401  (registers strata's layers)
    import strata.models.losses  # noqa: F401  (registers strata's losses)

    try:
        return keras.saving.load_model(run.model, compile=compile, safe_mode=True)
    except ValueError as ex:
        if "safe_mode" in str(ex) or "unsafe" in str(ex).lower():
            raise DataError(
                f"run={run.root}: model.keras holds code (e.g. a Lambda layer) and safe mode refuses to run it; "
                "only load model files you trust, with keras.saving.load_model(..., safe_mode=False)."
            ) from None
        raise
