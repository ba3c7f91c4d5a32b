"""Tiles a batch of images into one grid image for TensorBoard's Images tab."""

from __future__ import annotations

import math

import numpy as np


def to_unit_range(images: np.ndarray, rescale: float | None) -> np.ndarray:
    """Raw pixel values -> [0, 1]: by the input's rescale factor if known, else by min and max."""
    images = np.asarray(images, dtype="float32")
    if rescale:
        return np.clip(images * float(rescale), 0.0, 1.0)
    low, high = float(np.min(images)), float(np.max(images))
    return (images - low) / (high - low) if high > low else np.zeros_like(images)


def grid(images: np.ndarray, columns: int | None = None, zoom: int = 1, pad: int = 1) -> np.ndarray:
    """`(n, h, w, c)` images in [0, 1] -> one `(1, H, W, c)` image, `columns` per row, each
    pixel repeated `zoom` times, `pad` pixels of white between tiles.

    Example:

    >>> grid(np.zeros((4, 8, 8, 1)), zoom=2).shape
    (1, 35, 35, 1)
    """
    n, h, w, c = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    if zoom > 1:
        images = images.repeat(zoom, axis=1).repeat(zoom, axis=2)
        h, w = h * zoom, w * zoom
    out = np.ones((rows * (h + pad) + pad, columns * (w + pad) + pad, c), dtype="float32")
    for i in range(n):
        r, col = divmod(i, columns)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + col * (w + pad): pad + col * (w + pad) + w] = images[i]
    return out[None]


def zoom_for(height: int) -> int:
    """A zoom that makes small images (8x8 digits) big enough to see."""
    return max(1, 64 // max(height, 1))


def image_feature(bundle):
    """The bundle's single image feature, or None."""
    features = [f for f in bundle.features if f.kind == "image"]
    if len(features) == 1 and len(features[0].shape) == 3 and features[0].shape[-1] in (1, 3, 4):
        return features[0]
    return None
