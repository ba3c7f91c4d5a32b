"""CSV, TSV and Parquet tables: one row per example, one column per raw feature, one target.

Column types are inferred (numbers -> numeric, few distinct strings -> categorical, free text ->
text) unless `features` names them, and the task follows from the target unless the root `task`
key sets it. Files larger than `in_memory_max_mb` (null: a budget from the memory available, see
`strata.data.memory`) are streamed (see `csv_streaming`).
"""

from __future__ import annotations

import logging
from typing import Literal

from pydantic import Field

from strata.data import file_paths, memory, tables
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
    in_memory_max_mb: float | None = Field(None, gt=0)  # null: from the memory available (strata.data.memory)
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
    spill: bool = True  # a streamed CSV's decoded rows are written to spill_dir once, read from there every epoch
    spill_dir: str | None = None  # null: the system's temporary folder ($TMPDIR)


def _threshold(cfg: CsvConfig, size_mb: float) -> tuple[float, str]:
    """The largest CSV (MB) loaded whole, and why: `data.in_memory_max_mb`, or (null) the memory
    budget of `strata.data.memory`."""
    if cfg.in_memory_max_mb is not None:
        return cfg.in_memory_max_mb, f"data.in_memory_max_mb={cfg.in_memory_max_mb:g}"
    budget = memory.budget_mb()
    threshold = memory.csv_threshold_mb(budget)
    if budget is None:
        return threshold, f"{threshold:g} MB (the system does not report its available memory; set data.in_memory_max_mb)"
    return threshold, (f"{threshold:.3g} MB, the largest CSV whose loading (about {memory.LOAD_FACTOR:g}x its size) fits "
                       f"{memory.BUDGET_SHARE:.0%} of the {budget / memory.BUDGET_SHARE / 1024:.3g} GB available "
                       "(data.in_memory_max_mb=null)")


@SOURCES.register("csv", CsvConfig)
def load(cfg: CsvConfig, seed: int) -> DataBundle:
    files = file_paths.matching_files(cfg.path, cfg.base_dir)
    delimiter = tables.delimiter_of(cfg.delimiter, files)
    size_mb = sum(f.stat().st_size for f in files) / 2**20
    streamable = all(f.suffix.lower() not in (".parquet", ".pq") for f in files)
    if streamable and not (cfg.validation_path or cfg.test_path):
        threshold, why = _threshold(cfg, size_mb)
        if size_mb > threshold:
            if (cfg.split.folds or 1) > 1:
                raise DataError(
                    f"data.split.folds={cfg.split.folds}: cross-validation needs the rows in memory, but data.path "
                    f"({size_mb:.3g} MB) is above {why} and would be streamed; set data.in_memory_max_mb above "
                    f"{size_mb:.3g} if the table fits in memory, or train without data.split.folds."
                )
            from strata.data.csv_streaming import load_streaming

            log.info("data: %.3g MB of CSV is above %s: streaming it", size_mb, why)
            return load_streaming(cfg, files, delimiter, seed)
        log.info("data: %.3g MB of CSV is within %s: loading it whole", size_mb, why)

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


