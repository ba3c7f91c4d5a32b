"""A folder of images with one sub-folder per class (`cats/`, `dogs/`, ...).

Images are decoded with Pillow (`image_files`), converted to the colour mode and, when
`image_size` is set, resized; the model takes the raw pixel array and rescales and augments it
with its own layers (augmentation is active in training only). Decoded sets are held in memory
as 8-bit pixels; sets larger than `in_memory_max_mb` are streamed from their files through
tf.data's parallel map, decoded by TensorFlow's own ops where those give Pillow's pixels
exactly (PNG and JPEG at the model's size) and by Pillow otherwise.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
from pydantic import Field

from strata.config.schema import StrictModel
from strata.data import file_paths, image_files
from strata.data.bundle import DataBundle, Split
from strata.data.features import Feature, Task
from strata.data.schema import ClassWeightConfig, FileDataConfig
from strata.data.splits import separate_files, split_rows
from strata.errors import DataError
from strata.registry import SOURCES

log = logging.getLogger(__name__)


class AugmentConfig(StrictModel):
    """Random augmentation of training images (identity in evaluation and serving)."""

    flip: Literal["none", "horizontal", "vertical", "horizontal_and_vertical"] = "none"
    rotation: float = Field(0.0, ge=0, le=1)
    zoom: float = Field(0.0, ge=0, lt=1)
    contrast: float = Field(0.0, ge=0, lt=1)


class ImagesConfig(FileDataConfig, ClassWeightConfig):
    """The `images` source's keys; conf/data/images.yaml documents each one."""

    source: Literal["images"] = "images"
    name: str = "images"
    image_size: tuple[int, int] | None = None
    color_mode: Literal["grayscale", "rgb", "rgba"] = "rgb"
    rescale: float | None = 1 / 255
    augment: AugmentConfig = Field(default_factory=AugmentConfig)


def _classes(folder, key: str) -> list[str]:
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"{key}: {folder} has no sub-folders; expected one sub-folder of images per class.")
    return classes


def _scan(folder, key: str) -> tuple[list, np.ndarray, list[str]]:
    classes = _classes(folder, key)
    paths, labels = [], []
    for i, name in enumerate(classes):
        files = image_files.image_files(folder / name)
        paths += files
        labels += [i] * len(files)
    if not paths:
        raise DataError(f"{key}: no image files ({', '.join(image_files_suffixes())}) in the class folders of {folder}.")
    empty = [c for i, c in enumerate(classes) if i not in set(labels)]
    if empty:
        log.warning("data: class folder(s) %s hold no images", ", ".join(empty))
    return paths, np.asarray(labels, dtype="int32"), classes


def image_files_suffixes() -> tuple[str, ...]:
    return tuple(s.lstrip(".") for s in image_files.IMAGE_SUFFIXES)


def _headers(cfg: ImagesConfig, paths: list, key: str) -> list:
    """Every file's header, after decoding it once (so a broken file is named now, not in the
    middle of training); checks that the images have one size when resizing is off. For
    streamed sets: one held in memory is checked by `read_images` as it decodes."""
    headers = []
    for p in paths:
        header = image_files.probe(p, key, decode=True)
        if headers and cfg.image_size is None and header.size != headers[0].size:
            raise DataError(_mixed_sizes(key, p, header.size, paths[0], headers[0].size))
        headers.append(header)
    return headers


def _mixed_sizes(key: str, path, size: tuple[int, int], first, first_size: tuple[int, int]) -> str:
    return (
        f"{key}: the image {path} is {size[1]}x{size[0]} pixels (width x height) but {first} is "
        f"{first_size[1]}x{first_size[0]}; images of mixed sizes need data.image_size=[height,width] to resize them."
    )


@SOURCES.register("images", ImagesConfig)
def load(cfg: ImagesConfig, seed: int) -> DataBundle:
    folder = file_paths.existing_folder(cfg.path, cfg.base_dir)
    paths, labels, classes = _scan(folder, "data.path")
    if len(classes) < 2:
        raise DataError(
            f"data.path={cfg.path}: {folder} has one class folder ('{classes[0]}'); a classifier needs at least two."
        )
    channels = image_files.MODES[cfg.color_mode][1]
    height, width = cfg.image_size if cfg.image_size is not None else image_files.probe(paths[0], "data.path", decode=False).size
    shape = (int(height), int(width), channels)
    options = {"rescale": cfg.rescale, "augment": cfg.augment.model_dump(), "color_mode": cfg.color_mode,
               "resize": cfg.image_size is not None}
    feature = Feature("image", "image", shape=shape, dtype="float32", column="image", options=options)
    task = Task("binary" if len(classes) == 2 else "multiclass", target="label", classes=classes)

    separate, split_keys = {}, {}  # split_keys: the config key each split's files came from, for messages
    for split, path, key in separate_files(cfg):
        sub = file_paths.existing_folder(path, cfg.base_dir, key)
        sub_paths, sub_labels, sub_classes = _scan(sub, key)
        unknown = sorted(set(sub_classes) - set(classes))
        if unknown:
            raise DataError(f"{key}: class folder '{unknown[0]}' in {sub} is not a class of data.path ({', '.join(classes)}).")
        remap = np.array([classes.index(c) for c in sub_classes], dtype="int32")
        separate[split] = Split({"image": np.array([str(p) for p in sub_paths], dtype=object)}, remap[sub_labels])
        split_keys[split] = key

    # split the files' paths, then read (or stream) each split's images
    everything = Split({"image": np.array([str(p) for p in paths], dtype=object)}, labels)
    parts = {name: (part.x["image"], part.y) for name, part in split_rows(cfg, seed, everything, separate, labels).items()}

    total = sum(len(p) for p, _ in parts.values())
    decoded_mb = total * int(np.prod(shape)) / 2**20  # held as 8-bit pixels
    resize = cfg.image_size is not None
    if decoded_mb <= cfg.in_memory_max_mb:
        # each file opened once, decoded to uint8 (a quarter of float32); the pipeline widens
        # one batch at a time
        first = (paths[0], shape[:2])
        splits = {
            name: Split({"image": _read_split(p, shape, resize, split_keys.get(name, "data.path"), first)}, y)
            for name, (p, y) in parts.items()
        }
        return DataBundle([feature], task, splits, cfg.pipeline, seed)
    log.info("data: %.3g MB of decoded images is above data.in_memory_max_mb=%s: streaming them from the files",
             decoded_mb, cfg.in_memory_max_mb)
    headers = [h for name, (files, _) in parts.items() for h in _headers(cfg, list(files), split_keys.get(name, "data.path"))]
    splits = {name: Split({"image": p}, y) for name, (p, y) in parts.items()}
    native = image_files.tensorflow_decodes_exactly(headers, *shape)
    return DataBundle([feature], task, splits, cfg.pipeline, seed, decoders={"image": _decoder(shape, resize, native)})


def _read_split(paths, shape: tuple[int, int, int], resize: bool, key: str, first) -> np.ndarray:
    """The pixels of a split's files; without resizing, a file of another size than the first
    image is the mixed-sizes error."""
    try:
        return image_files.read_images([*paths], shape, resize, key, dtype="uint8")
    except image_files.SizeMismatch as ex:
        raise DataError(_mixed_sizes(key, ex.path, ex.size, first[0], first[1])) from None


def _decoder(shape: tuple[int, int, int], resize: bool, native: bool):
    """A tf.data map function from a batch of image paths to their float32 pixels. With
    `native`, the files are read and decoded by TensorFlow's own ops (outside Python's lock),
    which give exactly `read_image`'s pixels for them (`image_files.tensorflow_decodes_exactly`);
    otherwise by `read_image` itself, through Pillow. One call per batch, not per file: for small
    images tf.data's cost per element is larger than the decoding."""

    def decode(paths):
        import tensorflow as tf

        if native:
            def read(path):
                return tf.ensure_shape(_decode_natively(tf, tf.io.read_file(path), shape[-1]), shape)

            pixels = tf.map_fn(read, paths, fn_output_signature=tf.TensorSpec(shape, tf.uint8))
        else:

            def read_all(batch):
                images = [image_files.read_image(p.decode(), *shape, resize, "data.path") for p in batch]
                return np.stack(images) if images else np.zeros((0, *shape), np.uint8)

            pixels = tf.ensure_shape(tf.numpy_function(read_all, [paths], tf.uint8, stateful=False), (None, *shape))
        return tf.cast(pixels, tf.float32)

    return decode


def _decode_natively(tf, data, channels: int):
    """A PNG's or JPEG's pixels by TensorFlow's decoders, set up as Pillow decodes: JPEG with
    libjpeg's accurate integer DCT, and an opaque alpha channel added when asked for."""

    def jpeg():
        pixels = tf.io.decode_jpeg(data, channels=min(channels, 3), dct_method="INTEGER_ACCURATE")
        if channels == 4:
            opaque = tf.fill(tf.concat([tf.shape(pixels)[:2], [1]], 0), tf.constant(255, tf.uint8))
            pixels = tf.concat([pixels, opaque], axis=-1)
        return pixels

    return tf.cond(tf.io.is_jpeg(data), jpeg, lambda: tf.io.decode_png(data, channels=channels))
