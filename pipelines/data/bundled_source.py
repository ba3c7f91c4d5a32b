"""scikit-learn's bundled data sets (`digits`, `breast_cancer`, `diabetes`, `iris`, `wine`).

They ship inside scikit-learn, so they train offline. `digits` is served as 8x8 grayscale
images (raw pixel values 0..16); the others as tables of named numeric columns.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from strata.data.bundle import DataBundle, Split
from strata.data.features import Feature, Task, input_name
from strata.data.schema import ClassWeightConfig, DataConfig
from strata.data.splits import split_rows
from strata.registry import SOURCES

DATASETS = ("digits", "breast_cancer", "diabetes", "iris", "wine")


class BundledConfig(DataConfig, ClassWeightConfig):
    source: Literal["bundled"] = "bundled"
    name: Literal[DATASETS] = "digits"  # type: ignore[valid-type]
    as_images: bool = True


def _load_sklearn(name: str):
    from sklearn import datasets

    return getattr(datasets, f"load_{name}")()


@SOURCES.register("bundled", BundledConfig)
def load(cfg: BundledConfig, seed: int) -> DataBundle:
    raw = _load_sklearn(cfg.name)
    y = np.asarray(raw.target)
    if cfg.name == "digits" and cfg.as_images:
        images = raw.images.astype("float32")[..., None]
        features = [
            Feature("image", "image", shape=images.shape[1:], column="image", options={"rescale": 1 / 16})
        ]
        columns = {"image": images}
    else:
        columns = {input_name(n): raw.data[:, i : i + 1].astype("float32") for i, n in enumerate(raw.feature_names)}
        features = [Feature(name, "numeric", column=orig) for name, orig in zip(columns, raw.feature_names)]

    if cfg.name == "diabetes":
        task = Task("regression", target="target")
        y = y.astype("float32")
        stratify = None
    else:
        names = getattr(raw, "target_names", None)
        classes = [str(c) for c in (names if names is not None else np.unique(y))]
        task = Task("binary" if len(classes) == 2 else "multiclass", target="target", classes=classes)
        y = y.astype("int32")
        stratify = y

    splits = split_rows(cfg, seed, Split(columns, y), stratify=stratify)
    return DataBundle(features, task, splits, cfg.pipeline, seed)
