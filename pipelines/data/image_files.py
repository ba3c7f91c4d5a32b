"""Reads image files into raw pixel arrays, the same way for training and for `strata predict`.

One function decodes, converts the colour mode and resizes, so a served model sees exactly the
pixels it was trained on. Uses Pillow; no TensorFlow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipelines.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
MODES = {"grayscale": ("L", 1), "rgb": ("RGB", 3), "rgba": ("RGBA", 4)}


def image_files(folder: Path) -> list[Path]:
    """Image files under `folder` (any depth), sorted, hidden files left out."""
    return sorted(
        p for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not any(part.startswith(".") for part in p.parts)
    )


def probe(path: Path, key: str) -> tuple[int, int]:
    """(height, width) of an image file, checking that the whole file decodes."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            return img.height, img.width
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as ex:
        raise DataError(f"{key}: cannot read the image {path} ({_reason(ex)}).") from None


def read_image(path: Path | str, height: int, width: int, channels: int, resize: bool, key: str = "input") -> np.ndarray:
    """The image's pixels as float32 (height, width, channels), values 0..255.

    Resized with bilinear interpolation when `resize`, otherwise a `DataError` if its size differs.
    """
    from PIL import Image, UnidentifiedImageError

    mode = {1: "L", 3: "RGB", 4: "RGBA"}[channels]
    try:
        with Image.open(path) as img:
            img = img.convert(mode)
            if (img.height, img.width) != (height, width):
                if not resize:
                    raise DataError(
                        f"{key}: the image {path} is {img.width}x{img.height} pixels (width x height), the model "
                        f"takes {width}x{height} (set data.image_size to resize)."
                    )
                img = img.resize((width, height), Image.BILINEAR)
            return np.asarray(img, dtype="float32").reshape(height, width, channels)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as ex:
        raise DataError(f"{key}: cannot read the image {path} ({_reason(ex)}).") from None


def read_images(paths: list[Path], shape: tuple[int, int, int], resize: bool, key: str) -> np.ndarray:
    height, width, channels = shape
    out = np.empty((len(paths), height, width, channels), dtype="float32")
    for i, p in enumerate(paths):
        out[i] = read_image(p, height, width, channels, resize, key)
    return out


def _reason(ex: BaseException) -> str:
    text = str(ex).splitlines()[0] if str(ex) else type(ex).__name__
    return text.replace(" '", " ").replace("'", "") if "cannot identify" in text else text
