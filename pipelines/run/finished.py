"""A finished run, opened for `strata evaluate`, `predict`, `explain` and `report`: its validated
config, its description (`task.json`), its model and, when asked for, its data again."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from omegaconf import OmegaConf

from strata.errors import DataError
from strata.run.description import RunDescription
from strata.run.layout import RunDir


@dataclass
class FinishedRun:
    """A run directory that `strata train` completed.

    Args:
        run: the run directory.
        config: the run's validated config (`strata.config.schema.RootConfig`).
        description: the raw features and the task of its model.

    Example:

    >>> finished = FinishedRun.open("outputs/digits_cnn/2026-01-01_12-00-00-000000")
    >>> finished.task.kind, [f.name for f in finished.features]
    ('multiclass', ['image'])
    """

    run: RunDir
    config: Any
    description: RunDescription

    @classmethod
    def open(cls, path: str, key: str = "run") -> FinishedRun:
        """The run at `path`, or a `DataError` naming `key` and what is missing."""
        run = RunDir.existing(path, key=key)
        return cls(run, load_config(run), RunDescription.load(run))

    @property
    def task(self):
        return self.description.task

    @property
    def features(self):
        return self.description.features

    def model(self, compile: bool = True):
        """The run's `model.keras`, loaded in Keras's safe mode (no code runs from the file)."""
        return load_model(self.run, compile=compile)

    @cached_property
    def data(self):
        """The run's data, loaded and split again as in training (`DataBundle`)."""
        from strata.data.loading import load_data

        return load_data(self.config)


def load_config(run: RunDir):
    """The run's validated config (from the resolved copy the trainer wrote)."""
    from strata.config.validate import validate

    path = run.resolved_config
    if not path.is_file():
        raise DataError(f"run={run.root}: {path.name} is missing; was the run started by strata train?")
    return validate(OmegaConf.to_container(OmegaConf.load(path)))


def load_model(run: RunDir, compile: bool = True):
    """`model.keras` of `run`, loaded in Keras's safe mode, with strata's layers and losses
    registered (a file saved before strata had one import name loads too: Keras finds its
    layers by their registered names, `strata>Step`, not by module)."""
    if not run.model.is_file():
        raise DataError(f"run={run.root}: model.keras is missing; the run did not finish training.")
    from strata.tensorflow_import import import_tensorflow

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
