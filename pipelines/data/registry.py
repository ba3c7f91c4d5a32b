"""Data sources by name: `data.source` in a config picks one.

A source is a module that defines a config schema (a subclass of `DataConfig`) and a loader
`load(cfg, seed) -> DataBundle`, and registers both with `@register_source`. Modules are imported
here by name so that the schema is known before TensorFlow is imported; loaders import
TensorFlow themselves when they run.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from strata.data.schema import DataConfig

SOURCE_MODULES = {
    "bundled": "strata.data.bundled_source",
    "csv": "strata.data.csv_source",
    "images": "strata.data.images_source",
    "text": "strata.data.text_source",
    "timeseries": "strata.data.timeseries_source",
    "npz": "strata.data.npz_source",
    "tfrecord": "strata.data.tfrecord_source",
    "keras_dataset": "strata.data.keras_dataset_source",
}


@dataclass(frozen=True)
class SourceEntry:
    name: str
    schema: type[DataConfig]
    load: Callable[..., Any]


SOURCES: dict[str, SourceEntry] = {}


def register_source(name: str, schema: type[DataConfig]) -> Callable:
    def decorator(load: Callable) -> Callable:
        SOURCES[name] = SourceEntry(name, schema, load)
        return load

    return decorator


def get_source(name: str) -> SourceEntry:
    if name not in SOURCES and name in SOURCE_MODULES:
        importlib.import_module(SOURCE_MODULES[name])
    if name not in SOURCES:
        raise KeyError(name)
    return SOURCES[name]


def source_names() -> list[str]:
    return sorted(SOURCE_MODULES)
