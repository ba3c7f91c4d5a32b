"""How strata describes data: each raw model input (`Feature`) and what the model predicts
(`Task`), by their raw form (what a user has: a number, a category string, a sentence, an image
array), so that the model built from them takes raw values and the exported model serves them
unchanged. A finished run keeps both in `task.json` (`strata.run.description`).
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field
from typing import Any

FEATURE_KINDS = ("numeric", "categorical", "text", "image", "sequence")


def input_name(column: str) -> str:
    """The model input name for a raw column: a Python identifier of letters, digits and `_`,
    so that the SavedModel's signature keeps it unchanged (`1stFlrSF` -> `col_1stFlrSF`)."""
    name = re.sub(r"[^A-Za-z0-9_]+", "_", str(column)).strip("_")
    if not name:
        return "feature"
    if name[0].isdigit():
        name = f"col_{name}"
    if keyword.iskeyword(name):
        name += "_"
    return name


@dataclass
class Feature:
    """One raw model input.

    Args:
        name: input name in the model and the SavedModel signature.
        kind: `numeric`, `categorical`, `text`, `image` or `sequence`.
        shape: shape of one example (`(1,)` for a table cell, `(H, W, C)` for an image).
        dtype: `float32`, `int64` or `string`.
        column: the column or array this feature was read from.
        options: kind-specific preprocessing options (rescale factor, vocabulary size, ...).
    """

    name: str
    kind: str
    shape: tuple[int, ...] = (1,)
    dtype: str = "float32"
    column: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def source_column(self) -> str:
        """The column (or array) a user's file holds this input under: `column`, else `name`."""
        return self.column or self.name

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "column": self.column,
            "options": self.options,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Feature:
        return cls(
            name=values["name"],
            kind=values["kind"],
            shape=tuple(values.get("shape") or (1,)),
            dtype=values.get("dtype", "float32"),
            column=values.get("column"),
            options=dict(values.get("options") or {}),
        )


@dataclass
class Task:
    """What the model predicts.

    Args:
        kind: `regression`, `binary`, `multiclass`, `multilabel`, `forecast`, `reconstruction`,
            `generation` or `retrieval` (user-item interactions: `strata.data.interactions_source`).
        target: the target column's name, if there is one.
        classes: class names for classifiers, in label-index order.
        target_shape: shape of one target (regression and forecast).
        target_mean, target_std: statistics of the training targets (regression), used to
            standardize them for training while the model outputs original units.
    """

    kind: str
    target: str | None = None
    classes: list[str] | None = None
    target_shape: tuple[int, ...] = (1,)
    target_mean: list[float] | None = None
    target_std: list[float] | None = None

    @property
    def num_classes(self) -> int:
        return len(self.classes or [])

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "target": self.target,
            "classes": self.classes,
            "target_shape": list(self.target_shape),
            "target_mean": self.target_mean,
            "target_std": self.target_std,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Task:
        return cls(
            kind=values["kind"],
            target=values.get("target"),
            classes=values.get("classes"),
            target_shape=tuple(values.get("target_shape") or (1,)),
            target_mean=values.get("target_mean"),
            target_std=values.get("target_std"),
        )
