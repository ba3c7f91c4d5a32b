"""A long time series in a CSV: one or more numeric columns, one row per time step, windowed into
(the past `window` steps -> the next `horizon` steps of the target columns).

Splits are chronological (validation and test are the latest windows), gaps are filled by linear
interpolation, and scaling happens inside the model (a `Normalization` adapted on the training
windows), so the model takes raw values.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from strata.data import file_paths, tables
from strata.data.bundle import DataBundle, Split
from strata.data.features import Feature, Task
from strata.data.schema import FileDataConfig
from strata.data.splits import chronological
from strata.errors import ConfigError, DataError, suggestion
from strata.registry import SOURCES

log = logging.getLogger(__name__)


class TimeseriesConfig(FileDataConfig):
    """The `timeseries` source's keys; conf/data/timeseries.yaml documents each one."""

    source: Literal["timeseries"] = "timeseries"
    name: str = "timeseries"
    columns: list[str] | None = None
    targets: list[str] | None = None
    time_column: str | None = None
    window: int = Field(24, ge=1)
    horizon: int = Field(1, ge=1)
    stride: int = Field(1, ge=1)
    delimiter: str = ","
    header: bool = True
    column_names: list[str] | None = None
    missing_values: list[str] = Field(default_factory=lambda: list(tables.DEFAULT_MISSING))
    encoding: str = "utf-8"

    @model_validator(mode="after")
    def _targets_are_inputs(self) -> TimeseriesConfig:
        if self.columns and self.targets:
            extra = [t for t in self.targets if t not in self.columns]
            if extra:
                raise ValueError(f"targets: '{extra[0]}' is not one of columns {self.columns}")
        return self


def series_values(
    cfg, files, key: str, columns: list[str] | None = None, table: tables.Table | None = None
) -> tuple[np.ndarray, list[str]]:
    """The series as float32 (rows, columns), sorted by `time_column`, gaps interpolated; read from
    `files` with the config's delimiter and header, unless `table` is given (already read)."""
    import pandas as pd

    if table is None:
        table = tables.read_table(
            files, tables.delimiter_of(getattr(cfg, "delimiter", ","), files), cfg.header, cfg.column_names,
            key=key, encoding=cfg.encoding,
        )
    names = [str(c) for c in table.frame.columns]
    if cfg.time_column:
        tables.require_column(table, cfg.time_column, "data.time_column")
        stamps = table.frame[cfg.time_column].to_numpy(dtype=str)
        numbers, bad = tables.parse_numbers(stamps, np.zeros(len(stamps), bool))
        # numbers sort as numbers; dates and times in ISO form sort as text
        order = np.argsort(numbers if not bad.any() else stamps, kind="stable")
        lines = None if table.lines is None else [table.lines[i] for i in order]
        table = tables.Table(table.frame.iloc[order].reset_index(drop=True), table.files, table.starts, table.header, lines=lines)
    missing = set(cfg.missing_values)
    if columns is None:
        columns = cfg.columns
    if columns is None:
        columns = []
        for c in names:
            if c == cfg.time_column:
                continue
            if tables.column_kind(table, c, missing) == "numeric":
                columns.append(c)
        if not columns:
            raise DataError(f"{key}: {table.label} has no numeric columns to forecast.")
    for c in columns:
        if c not in names:
            raise DataError(f"{key}: no column '{c}' in {table.label}.{suggestion(c, names)} Columns: {', '.join(names)}.")
    data = np.stack([tables.numeric_column(table, c, missing, key) for c in columns], axis=1)
    if np.isnan(data).any():
        data = pd.DataFrame(data).interpolate(limit_direction="both").to_numpy(dtype="float32")
        if np.isnan(data).any():
            empty = columns[int(np.flatnonzero(np.isnan(data).all(axis=0))[0])]
            raise DataError(f"{key}: column '{empty}' of {table.label} holds no numbers.")
    return data.astype("float32"), columns


def windows_sharing_targets(cfg: TimeseriesConfig) -> int:
    """How many following windows predict some of a window's target steps (horizon > stride):
    cross-validation leaves that many out between a fold's training and validation windows."""
    return -(-cfg.horizon // cfg.stride) - 1


# chronological: cross-validation folds are expanding windows in time order, `fold_gap` apart
@SOURCES.register("timeseries", TimeseriesConfig, chronological=True, fold_gap=windows_sharing_targets)
def load(cfg: TimeseriesConfig, seed: int) -> DataBundle:
    files = file_paths.matching_files(cfg.path, cfg.base_dir)
    values, columns = series_values(cfg, files, "data.path")
    targets = cfg.targets or columns
    for t in targets:
        if t not in columns:
            raise ConfigError(f"data.targets: '{t}' is not an input column ({', '.join(columns)}).{suggestion(t, columns)}")
    target_index = [columns.index(t) for t in targets]
    starts = np.arange(0, len(values) - cfg.window - cfg.horizon + 1, cfg.stride)
    if len(starts) < 3:
        raise DataError(
            f"data.path={cfg.path}: {len(values)} rows make {len(starts)} windows of {cfg.window} + {cfg.horizon} "
            "steps; lower data.window or data.horizon."
        )
    x = np.stack([values[s : s + cfg.window] for s in starts])
    y = np.stack([values[s + cfg.window : s + cfg.window + cfg.horizon][:, target_index] for s in starts])
    target_shape = (cfg.horizon,) if len(targets) == 1 else (cfg.horizon, len(targets))
    y = y.reshape((len(starts), *target_shape)).astype("float32")

    feature = Feature("series", "sequence", (cfg.window, len(columns)), "float32", column=",".join(columns),
                      options={"columns": columns})
    task = Task("forecast", target=targets[0] if len(targets) == 1 else ",".join(targets), target_shape=target_shape)

    splits = chronological(cfg, Split({"series": x}, y))
    log.info("data: %d rows, %d columns -> %d windows (chronological split)", len(values), len(columns), len(starts))
    return DataBundle([feature], task, splits, cfg.pipeline, seed)
