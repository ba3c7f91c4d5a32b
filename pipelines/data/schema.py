"""Config keys every data source shares: splits, the tf.data pipeline and limits."""

from __future__ import annotations

from pydantic import Field, model_validator

from pipelines.config.schema import StrictModel


class SplitConfig(StrictModel):
    validation: float = Field(0.1, ge=0, lt=1)
    test: float = Field(0.1, ge=0, lt=1)
    stratify: bool = True
    seed: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _fractions_leave_training_data(self) -> SplitConfig:
        if self.validation + self.test >= 1:
            raise ValueError(
                f"validation + test must be below 1 (got {self.validation} + {self.test})"
            )
        return self


class PipelineConfig(StrictModel):
    cache: bool = True
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
