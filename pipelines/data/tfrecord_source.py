"""TFRecord files of `tf.train.Example`s, read with a feature spec from the config.

strata train data=tfrecord model=mlp data.path='records/*.tfrecord' \\
    '++data.features={age: {kind: numeric}, city: {kind: categorical}}' data.target=label

Each feature names its kind and, for fixed-size values, its shape; images are stored either as
encoded bytes (PNG/JPEG, `encoded: true`) or as a flat float list of height*width*channels.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
from pydantic import Field

from strata.config.schema import StrictModel
from strata.data import file_paths
from strata.data.arrays import task_for
from strata.data.bundle import DataBundle, Split
from strata.data.features import Feature, input_name
from strata.data.schema import ClassWeightConfig, FileDataConfig
from strata.data.splits import separate_files, split_rows
from strata.errors import ConfigError, DataError, suggestion
from strata.registry import SOURCES

log = logging.getLogger(__name__)


class RecordFeature(StrictModel):
    """How one record feature is parsed and what kind of model input it is."""

    kind: Literal["numeric", "categorical", "text", "image"] = "numeric"
    shape: list[int] = Field(default_factory=lambda: [1])
    encoded: bool = False
    rescale: float | None = None


class TFRecordConfig(FileDataConfig, ClassWeightConfig):
    """The `tfrecord` source's keys; conf/data/tfrecord.yaml documents each one."""

    source: Literal["tfrecord"] = "tfrecord"
    name: str = "tfrecord"
    features: dict[str, RecordFeature] = Field(default_factory=dict)
    target: str = "label"
    target_kind: Literal["auto", "label", "string", "number"] = "auto"
    classes: list[str] | None = None
    max_classes: int = Field(100, ge=2)
    compression: Literal["", "GZIP", "ZLIB"] = ""


def _spec(cfg: TFRecordConfig):
    import tensorflow as tf

    spec = {}
    for name, f in cfg.features.items():
        if f.kind in ("categorical", "text") or (f.kind == "image" and f.encoded):
            spec[name] = tf.io.FixedLenFeature([], tf.string, default_value="")
        else:
            size = int(np.prod(f.shape))
            spec[name] = tf.io.FixedLenFeature([size], tf.float32, default_value=[float("nan")] * size)
    kind = cfg.target_kind
    spec[cfg.target] = tf.io.FixedLenFeature([], tf.string if kind == "string" else (tf.int64 if kind == "label" else tf.float32))
    return spec


def _read(cfg: TFRecordConfig, path: str, key: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
    import tensorflow as tf

    files = file_paths.matching_files(path, cfg.base_dir, key=key)
    spec = _spec(cfg)
    if cfg.target_kind == "auto":  # the first record says whether the target is a number or a label
        first = next(iter(tf.data.TFRecordDataset([str(f) for f in files], cfg.compression).take(1)), None)
        if first is None:
            raise DataError(f"{key}={path}: the files hold no records.")
        example = tf.train.Example.FromString(first.numpy())
        if cfg.target not in example.features.feature:
            names = list(example.features.feature)
            raise DataError(f"data.target={cfg.target}: the records have no feature '{cfg.target}'.{suggestion(cfg.target, names)} "
                            f"Features: {', '.join(names)}.")
        which = example.features.feature[cfg.target].WhichOneof("kind")
        dtype = {"bytes_list": tf.string, "int64_list": tf.int64}.get(which, tf.float32)
        spec[cfg.target] = tf.io.FixedLenFeature([], dtype)
    ds = tf.data.TFRecordDataset([str(f) for f in files], cfg.compression).batch(4096)
    ds = ds.map(lambda batch: tf.io.parse_example(batch, spec))
    parts: dict[str, list] = {k: [] for k in spec}
    try:
        for batch in ds:
            for k, v in batch.items():
                parts[k].append(v.numpy())
    except tf.errors.InvalidArgumentError as ex:
        raise DataError(f"{key}={path}: the records do not fit data.features: {ex.message.splitlines()[0]}") from None
    except tf.errors.DataLossError:
        raise DataError(f"{key}={path}: corrupt TFRecord file (check data.compression).") from None
    if not parts[cfg.target]:
        raise DataError(f"{key}={path}: the files hold no records.")
    arrays = {k: np.concatenate(v) for k, v in parts.items()}
    y = arrays.pop(cfg.target)
    if y.dtype.kind == "O":
        y = y.astype(str)
    return arrays, y


def _features(cfg: TFRecordConfig, arrays: dict[str, np.ndarray]) -> tuple[list[Feature], dict[str, np.ndarray]]:
    import tensorflow as tf

    features, x = [], {}
    for name, f in cfg.features.items():
        values = arrays[name]
        if f.kind in ("categorical", "text"):
            feature = Feature(input_name(name), f.kind, (1,), "string", column=name)
            values = np.array([v.decode("utf-8", "replace") for v in values], dtype=object).reshape(-1, 1)
        elif f.kind == "image":
            shape = tuple(f.shape)
            if f.encoded:
                values = np.stack([tf.image.resize(tf.io.decode_image(v, channels=shape[-1], expand_animations=False),
                                                   shape[:2]).numpy() for v in values]).astype("float32")
            values = values.reshape((-1, *shape)).astype("float32")
            feature = Feature(input_name(name), "image", shape, "float32", column=name, options={"rescale": f.rescale})
        else:
            feature = Feature(input_name(name), "numeric", (int(np.prod(f.shape)),), "float32", column=name)
        features.append(feature)
        x[feature.name] = values
    return features, x


@SOURCES.register("tfrecord", TFRecordConfig)
def load(cfg: TFRecordConfig, seed: int) -> DataBundle:
    if not cfg.features:
        raise ConfigError(
            "data.features: name the record features the model reads, e.g. "
            "'++data.features={size: {kind: numeric}, color: {kind: categorical}}'."
        )
    arrays, raw_y = _read(cfg, cfg.path, "data.path")
    features, x = _features(cfg, arrays)
    task, y = task_for(raw_y, cfg.target, cfg.max_classes, cfg.classes)
    separate = {}
    for split, path, key in separate_files(cfg):
        sa, sy = _read(cfg, path, key)
        separate[split] = Split(_features(cfg, sa)[1], task_for(sy, cfg.target, cfg.max_classes, task.classes)[1])
    stratify = y if task.kind in ("binary", "multiclass") else None
    splits = split_rows(cfg, seed, Split(x, y), separate, stratify)
    return DataBundle(features, task, splits, cfg.pipeline, seed)
