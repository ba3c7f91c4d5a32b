"""Table columns as model inputs: which column is the target, which the identifier, the kind of
every other one (numeric, categorical, text), and their typed values and the task, from a table
read as strings. Shared by the `csv` source (in memory and streamed) and the `text` source.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np
from pydantic import Field

from strata.config.schema import StrictModel
from strata.data import tables
from strata.data.features import Feature, Task, input_name
from strata.errors import ConfigError, DataError, suggestion

log = logging.getLogger(__name__)


class TextOptions(StrictModel):
    """How a text column becomes model input (see `strata.models.preprocessing`)."""

    max_tokens: int = Field(20_000, ge=2)
    ngrams: int = Field(2, ge=1, le=5)
    bag_mode: Literal["tf_idf", "count", "multi_hot"] = "tf_idf"
    norm: Literal["l2", "none"] = "l2"
    sequence_length: int = Field(64, ge=1)
    standardize: Literal["lower_and_strip_punctuation", "lower", "strip_punctuation", "none"] = (
        "lower_and_strip_punctuation"
    )


def read_options(cfg) -> dict:
    return {"header": cfg.header, "column_names": cfg.column_names, "encoding": cfg.encoding}


def feature_options(cfg: Any, kind: str) -> dict:
    if kind == "text":
        return cfg.text.model_dump()
    if kind == "categorical":
        return {"max_tokens": cfg.max_categories, "min_count": cfg.min_category_count}
    return {}


class ColumnLayout:
    """Which column is the target, which the identifier, and the kind of every other column."""

    def __init__(self, target: str, id_column: str | None, kinds: dict[str, str]):
        self.target = target
        self.id_column = id_column
        self.kinds = kinds  # column -> numeric | categorical | text (ignored columns left out)

    def features(self, cfg: Any) -> list[Feature]:
        out, names = [], set()
        for column, kind in self.kinds.items():
            name = input_name(column)
            while name in names:
                name += "_"
            names.add(name)
            dtype = "float32" if kind == "numeric" else "string"
            out.append(Feature(name, kind, (1,), dtype, column=column, options=feature_options(cfg, kind)))
        return out


def plan_columns(cfg: Any, table: tables.Table) -> ColumnLayout:
    """Settles the target, the identifier column and each feature column's kind."""
    tables.require_column(table, cfg.target, "data.target")
    columns = [str(c) for c in table.frame.columns]
    for column in cfg.features:
        if column not in columns:
            raise ConfigError(
                f"data.features.{column}: no column '{column}' in {table.label}.{suggestion(column, columns)}"
            )
    id_column = _id_column(cfg, table)
    missing = set(cfg.missing_values)
    kinds: dict[str, str] = {}
    for column in columns:
        if column in (cfg.target, id_column):
            continue
        kind = cfg.features.get(column)
        if kind is None:
            kind = tables.column_kind(table, column, missing)
            if kind == "ignore":
                log.info("data: column '%s' is empty in every row; it is ignored", column)
        if kind != "ignore":
            kinds[column] = kind
    if not kinds:
        raise DataError(f"data.path: {table.label} has no feature columns besides the target '{cfg.target}'.")
    log.info(
        "data: columns %s",
        ", ".join(f"{k} {sum(v == k for v in kinds.values())}" for k in ("numeric", "categorical", "text") if k in kinds.values()),
    )
    return ColumnLayout(cfg.target, id_column, kinds)


def _id_column(cfg: Any, table: tables.Table) -> str | None:
    columns = [str(c) for c in table.frame.columns]
    if cfg.id_column is None:
        return None
    if cfg.id_column != "auto":
        if cfg.id_column not in columns:
            raise ConfigError(f"data.id_column: no column '{cfg.id_column}' in {table.label}.{suggestion(cfg.id_column, columns)}")
        return cfg.id_column
    for column in columns:
        if column.lower() == "id" and column != cfg.target and column not in cfg.features:
            values = table.frame[column]
            if values.nunique() >= 0.9 * len(values):  # (a few repeated rows happen in exports)
                return column
    return None


def typed_columns(cfg: Any, table: tables.Table, layout: ColumnLayout, key: str, classes: list[str] | None = None):
    """Raw feature arrays by input name, the targets and the task, from a table of strings."""
    missing = set(cfg.missing_values)
    tables.require_column(table, layout.target, "data.target")
    table, target = tables.labelled_rows(table, layout.target, missing)

    x = {}
    features = layout.features(cfg)
    for feature in features:
        if feature.column not in table.frame.columns:
            tables.require_column(table, feature.column, key)
    # the first bad number in file order, as the streamed path's checking pass meets it
    tables.check_numbers(table, [f.column for f in features if f.kind == "numeric"], missing, key)
    for feature in features:
        column = feature.column
        if feature.kind == "numeric":
            x[feature.name] = tables.numeric_column(table, column, missing, key).reshape(-1, 1)
        else:
            x[feature.name] = tables.string_column(table, column, missing).reshape(-1, 1)

    y, task = target_values(target, layout.target, cfg.max_classes, table, classes)
    return x, y, task


def target_values(target: np.ndarray, column: str, max_classes: int, table: tables.Table, classes=None):
    """Targets as class indices (classification) or floats (regression), and the task."""
    if classes is not None:
        labels = tables.canonical_labels(target)  # a separate split file: the training file's classes
        index = {c: i for i, c in enumerate(classes)}
        unknown = [i for i, v in enumerate(labels) if v not in index]
        if unknown:
            raise DataError(
                f"data.target={column}: {table.where(unknown[0])} holds class {labels[unknown[0]]!r}, "
                f"which the training data does not have ({', '.join(classes[:20])})."
            )
        kind = "binary" if len(classes) == 2 else "multiclass"
        return np.array([index[v] for v in labels], dtype="int32"), Task(kind, target=column, classes=list(classes))
    kind = tables.infer_task(target, max_classes)
    if kind == "regression":
        numbers, bad = tables.parse_numbers(target, np.zeros(len(target), bool))
        return numbers.astype("float32"), Task("regression", target=column)
    labels = tables.canonical_labels(target)
    classes = tables.class_order(labels)
    if len(classes) < 2:
        raise DataError(
            f"data.target={column}: every row of {table.label} holds the same value ({classes[0]!r}); "
            "a classifier needs at least two classes."
        )
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[v] for v in labels], dtype="int32")
    return y, Task(kind, target=column, classes=classes)
