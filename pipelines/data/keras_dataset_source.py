"""The data sets of `keras.datasets` (downloaded once into ~/.keras/datasets: needs a network).

Images arrive as raw pixel arrays (rescaled inside the model), IMDB and Reuters as raw text
(their word ids decoded back to words), the housing sets as tables of numbers. The data set's own
test part is the test split; the validation split comes out of its training part.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np

from strata.data.arrays import feature_for, task_for
from strata.data.bundle import DataBundle, Split
from strata.data.schema import ClassWeightConfig, DataConfig
from strata.data.splits import split_rows
from strata.errors import DataError
from strata.registry import SOURCES

log = logging.getLogger(__name__)

DATASETS = ("mnist", "fashion_mnist", "cifar10", "cifar100", "imdb", "reuters", "boston_housing", "california_housing")
IMAGES = ("mnist", "fashion_mnist", "cifar10", "cifar100")
TEXTS = ("imdb", "reuters")
CLASS_NAMES = {
    "fashion_mnist": ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"],
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
    "imdb": ["negative", "positive"],
}


class KerasDatasetConfig(DataConfig, ClassWeightConfig):
    """The `keras_dataset` source's keys; conf/data/keras_dataset.yaml documents each one."""

    source: Literal["keras_dataset"] = "keras_dataset"
    name: Literal[DATASETS] = "mnist"  # type: ignore[valid-type]
    num_words: int | None = 20_000


def _download(cfg: KerasDatasetConfig):
    import keras

    module = getattr(keras.datasets, cfg.name)
    kwargs = {"num_words": cfg.num_words} if cfg.name in TEXTS else {}
    try:
        return module.load_data(**kwargs), module
    except Exception as ex:  # urllib, ssl and socket errors differ by platform
        if isinstance(ex, (MemoryError, KeyboardInterrupt)):
            raise
        raise DataError(
            f"data.name={cfg.name}: cannot download keras.datasets.{cfg.name} ({type(ex).__name__}: "
            f"{str(ex).splitlines()[0] if str(ex) else ''}); it needs a network connection once, then it is "
            "cached in ~/.keras/datasets."
        ) from None


def _as_text(sequences, module) -> np.ndarray:
    words = {i + 3: w for w, i in module.get_word_index().items()}
    return np.array([" ".join(words.get(int(t), "?") for t in seq[1:]) for seq in sequences], dtype=object)


@SOURCES.register("keras_dataset", KerasDatasetConfig)
def load(cfg: KerasDatasetConfig, seed: int) -> DataBundle:
    ((x_train, y_train), (x_test, y_test)), module = _download(cfg)
    if cfg.name in TEXTS:
        x_train, x_test = _as_text(x_train, module), _as_text(x_test, module)
        name = "text"
    else:
        name = "image" if cfg.name in IMAGES else "x"
    feature, x_train = feature_for(name, np.asarray(x_train), rescale=1 / 255 if cfg.name in IMAGES else None)
    x_test = feature_for(name, np.asarray(x_test))[1]
    y_train, y_test = np.asarray(y_train).reshape(len(x_train), -1), np.asarray(y_test).reshape(len(x_test), -1)
    if y_train.shape[1] == 1:
        y_train, y_test = y_train[:, 0], y_test[:, 0]
    task, y_train = task_for(y_train, "label" if cfg.name not in ("boston_housing", "california_housing") else "price",
                             max_classes=100, classes=CLASS_NAMES.get(cfg.name))
    _, y_test = task_for(y_test, task.target, max_classes=100, classes=task.classes)

    stratify = y_train if task.kind in ("binary", "multiclass") else None
    # the data set's own test part is the test split (none with data.split.test=0)
    test = Split({feature.name: x_test}, y_test)
    splits = split_rows(cfg, seed, Split({feature.name: x_train}, y_train), {"test": test}, stratify)
    if cfg.split.test == 0:
        del splits["test"]
    return DataBundle([feature], task, splits, cfg.pipeline, seed)
