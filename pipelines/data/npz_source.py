"""NumPy `.npz` archives: inputs `x` and targets `y`, or several named input arrays.

strata train data=npz data.path=arrays.npz                      # arrays x and y
strata train data=npz data.path=arrays.npz data.inputs=[age,scan] data.target=label
"""

from __future__ import annotations

import zipfile
from typing import Literal

import numpy as np
from pydantic import Field

from strata.data import file_paths
from strata.data.arrays import feature_for, task_for
from strata.data.bundle import DataBundle, Split
from strata.data.schema import ClassWeightConfig, FileDataConfig
from strata.data.splits import separate_files, split_rows
from strata.errors import DataError, suggestion
from strata.registry import SOURCES


class NpzConfig(FileDataConfig, ClassWeightConfig):
    """The `npz` source's keys; conf/data/npz.yaml documents each one."""

    source: Literal["npz"] = "npz"
    name: str = "npz"
    inputs: list[str] = Field(default_factory=lambda: ["x"], min_length=1)
    target: str = "y"
    classes: list[str] | None = None
    max_classes: int = Field(20, ge=2)
    rescale: float | None = None


def _read(path: str, cfg: NpzConfig, key: str) -> dict[str, np.ndarray]:
    files = file_paths.matching_files(path, cfg.base_dir, key=key)
    if len(files) != 1:
        raise DataError(f"{key}={path}: matches {len(files)} files; name one .npz file.")
    try:
        with np.load(files[0], allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
    except (ValueError, OSError, zipfile.BadZipFile) as ex:
        raise DataError(f"{key}={path}: cannot read {files[0]} as a NumPy .npz archive ({str(ex).splitlines()[0]}).") from None
    for name in [*cfg.inputs, cfg.target]:
        if name not in arrays:
            key_name = "data.target" if name == cfg.target else "data.inputs"
            raise DataError(
                f"{key_name}: no array '{name}' in {files[0]}.{suggestion(name, arrays)} Arrays: {', '.join(arrays)}."
            )
    n = {name: len(arrays[name]) for name in [*cfg.inputs, cfg.target]}
    if len(set(n.values())) != 1:
        raise DataError(f"{key}={path}: the arrays hold different numbers of examples: {n}.")
    return arrays


@SOURCES.register("npz", NpzConfig)
def load(cfg: NpzConfig, seed: int) -> DataBundle:
    arrays = _read(cfg.path, cfg, "data.path")
    features, x = [], {}
    for name in cfg.inputs:
        feature, values = feature_for(name, arrays[name], rescale=cfg.rescale)
        features.append(feature)
        x[feature.name] = values
    task, y = task_for(arrays[cfg.target], cfg.target, cfg.max_classes, cfg.classes)

    separate = {}
    for split, path, key in separate_files(cfg):
        extra = _read(path, cfg, key)
        sx = {f.name: feature_for(name, extra[name])[1] for f, name in zip(features, cfg.inputs)}
        _, sy = task_for(extra[cfg.target], cfg.target, cfg.max_classes, task.classes)
        separate[split] = Split(sx, sy)
    stratify = y if task.kind in ("binary", "multiclass") else None
    splits = split_rows(cfg, seed, Split(x, y), separate, stratify)
    return DataBundle(features, task, splits, cfg.pipeline, seed)
