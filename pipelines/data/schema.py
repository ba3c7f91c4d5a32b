"""Config keys every data source shares: splits, the tf.data pipeline and limits; and the key
of the sources that can feed a classifier (`class_weight`)."""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field, field_validator, model_validator

from strata.config.schema import StrictModel
from strata.errors import suggestion


class SplitConfig(StrictModel):
    validation: float = Field(0.1, ge=0, lt=1)
    test: float = Field(0.1, ge=0, lt=1)
    stratify: bool = True
    seed: int | None = Field(None, ge=0)
    # cross-validation: null or 1 off, K >= 2 trains K models on folds of the non-test rows, then
    # the final model on all of them (strata.training.cross_validation)
    folds: int | None = None

    @field_validator("folds", mode="before")
    @classmethod
    def _folds_count(cls, value):
        if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            return value
        raise ValueError(f"got {value!r}; expected null or 1 (no cross-validation) or a number of folds >= 2")

    @model_validator(mode="after")
    def _fractions_leave_training_data(self) -> SplitConfig:
        if self.validation + self.test >= 1:
            raise ValueError(
                f"validation + test must be below 1 (got {self.validation} + {self.test})"
            )
        return self


class PipelineConfig(StrictModel):
    # True: data held in memory stays there; a path: streamed examples are cached in that file
    cache: bool | str = True
    shuffle_buffer: int = Field(10_000, ge=0)
    num_parallel_calls: int = Field(-1, ge=-1)
    prefetch: bool = True
    deterministic: bool | None = None


class DataConfig(StrictModel):
    source: str
    name: str = Field(min_length=1)
    split: SplitConfig = Field(default_factory=SplitConfig)
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)
    limit: int | None = Field(None, ge=1)


class FileDataConfig(DataConfig):
    """Keys of the sources that read the user's files: where they are, and separate split files.

    `path` is a file, a folder or a glob; a relative path is read from `base_dir` (the folder
    strata was started from, recorded in the run's config so that `strata evaluate` and
    `strata predict` find the same files from anywhere).
    """

    path: str = Field(min_length=1)
    base_dir: str | None = None
    validation_path: str | None = None
    test_path: str | None = None
    in_memory_max_mb: float = Field(512.0, gt=0)


# `class_weight` names: none, or sklearn's n_samples / (n_classes * count) from the training split
CLASS_WEIGHT_MODES = ("none", "balanced")


class ClassWeightConfig(StrictModel):
    """`class_weight` of the sources that can feed a classifier (every source but time series):
    `none`, `balanced`, or a mapping from the raw class label to its weight. The mapping's labels
    are checked against the data's classes when it loads (`strata.data.class_weights`)."""

    class_weight: str | dict[str | int | float | bool, float] = "none"

    @field_validator("class_weight", mode="before")
    @classmethod
    def _mode_or_positive_weights(cls, value: Any) -> Any:
        if value is None:
            return "none"
        if isinstance(value, str):
            if value in CLASS_WEIGHT_MODES:
                return value
            raise ValueError(
                f"got {value!r}, expected none, balanced or a mapping {{class: weight}}.{suggestion(value, CLASS_WEIGHT_MODES)}"
            )
        if not isinstance(value, dict) or not value:
            raise ValueError(f"got {value!r}, expected none, balanced or a mapping {{class: weight}} (e.g. {{yes: 5, no: 1}}).")
        for label, weight in value.items():
            number = weight if isinstance(weight, (int, float)) and not isinstance(weight, bool) else None
            if number is None or not math.isfinite(number) or number <= 0:
                raise ValueError(f"the weight of class {label!r} is {weight!r}; weights must be positive numbers.")
        return value
