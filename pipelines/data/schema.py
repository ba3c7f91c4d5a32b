"""Config keys every data source shares: splits, the tf.data pipeline and limits."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from strata.config.schema import StrictModel


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
