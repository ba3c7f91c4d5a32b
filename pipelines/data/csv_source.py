"""CSV, TSV and Parquet tables: one row per example, one column per raw feature, one target.

Column types are inferred (numbers -> numeric, few distinct strings -> categorical, free text ->
text) unless `features` names them, and the task follows from the target unless the root `task`
key sets it. Files larger than `in_memory_max_mb` are streamed (see `csv_streaming`).
"""

from __future__ import annotations

import logging
from typing import Literal

from pydantic import Field

from strata.data import file_paths, tables
from strata.data.bundle import DataBundle, Split
from strata.data.columns import TextOptions, plan_columns, read_options, typed_columns
from strata.data.schema import ClassWeightConfig, FileDataConfig
from strata.data.splits import separate_files, split_rows
from strata.errors import DataError
from strata.registry import SOURCES

log = logging.getLogger(__name__)

ColumnKind = Literal["numeric", "categorical", "text", "ignore"]


class CsvConfig(FileDataConfig, ClassWeightConfig):
    """The `csv` source's keys; conf/data/csv.yaml documents each one."""

    source: Literal["csv"] = "csv"
    name: str = "csv"
    in_memory_max_mb: float = Field(100.0, gt=0)
    target: str = Field(min_length=1)
    delimiter: str = ","
    header: bool = True
    column_names: list[str] | None = None
    features: dict[str, ColumnKind] = Field(default_factory=dict)
    missing_values: list[str] = Field(default_factory=lambda: list(tables.DEFAULT_MISSING))
    id_column: str | None = "auto"
    encoding: str = "utf-8"
    max_classes: int = Field(20, ge=2)
    max_categories: int = Field(10_000, ge=1)
    min_category_count: int = Field(1, ge=1)
    text: TextOptions = Field(default_factory=TextOptions)
    sample_rows: int = Field(100_000, ge=100)


@SOURCES.register("csv", CsvConfig)
def load(cfg: CsvConfig, seed: int) -> DataBundle:
    files = file_paths.matching_files(cfg.path, cfg.base_dir)
    delimiter = tables.delimiter_of(cfg.delimiter, files)
    size_mb = sum(f.stat().st_size for f in files) / 2**20
    streamable = all(f.suffix.lower() not in (".parquet", ".pq") for f in files)
    if size_mb > cfg.in_memory_max_mb and streamable and not (cfg.validation_path or cfg.test_path):
        if (cfg.split.folds or 1) > 1:
            raise DataError(
                f"data.split.folds={cfg.split.folds}: cross-validation needs the rows in memory, but data.path "
                f"({size_mb:.3g} MB) is above data.in_memory_max_mb={cfg.in_memory_max_mb:g} and would be streamed; "
                "raise data.in_memory_max_mb if the table fits in memory, or train without data.split.folds."
            )
        from strata.data.csv_streaming import load_streaming

        log.info("data: %.3g MB of CSV is above data.in_memory_max_mb=%s: streaming it", size_mb, cfg.in_memory_max_mb)
        return load_streaming(cfg, files, delimiter, seed)

    table = tables.read_table(files, delimiter, key="data.path", **read_options(cfg))
    layout = plan_columns(cfg, table)
    x, y, task = typed_columns(cfg, table, layout, key="data.path")
    features = layout.features(cfg)

    separate = {}
    for split, path, key in separate_files(cfg):
        extra_files = file_paths.matching_files(path, cfg.base_dir, key=key)
        extra = tables.read_table(extra_files, tables.delimiter_of(cfg.delimiter, extra_files), key=key, **read_options(cfg))
        ex, ey, _ = typed_columns(cfg, extra, layout, key=key, classes=task.classes)
        separate[split] = Split(ex, ey)
    stratify = y if task.kind in ("binary", "multiclass") else None
    splits = split_rows(cfg, seed, Split(x, y), separate, stratify)
    return DataBundle(features, task, splits, cfg.pipeline, seed)


