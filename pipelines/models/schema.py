"""Config keys every model family shares."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from strata.config.schema import StrictModel


class ModelConfig(StrictModel):
    family: str
    name: str = Field(min_length=1)
    loss: str | None = None
    metrics: list[str] | None = None
    embedding_dim: int = Field(16, ge=1)
    max_one_hot: int = Field(64, ge=2)
    numeric_transform: Literal["auto", "log", "none"] = "auto"
