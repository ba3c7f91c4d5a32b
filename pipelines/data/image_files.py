"""Reads image files into raw pixel arrays, the same way for training and for `strata predict`.

One function decodes, converts the colour mode and resizes, so a served model sees exactly the
pixels it was trained on. Uses Pillow; no TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from strata.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
MODES = {"grayscale": ("L", 1), "rgb": ("RGB", 3), "rgba": ("RGBA", 4)}


def image_files(folder: Path) -> list[Path]:
    """Image files under `folder` (any depth), sorted, hidden files left out."""
    return sorted(
        p for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)  # hidden below `folder`, not above (~/.cache)
    )


class SizeMismatch(DataError):
    """An image of another size than expected, with resizing off."""

    def __init__(self, message: str, path, size: tuple[int, int]):
        super().__init__(message)
        self.path = path
        self.size = size


@dataclass(frozen=True)
class Header:
    """What an image file's header says: its size, Pillow's colour mode and the file format."""

    height: int
    width: int
    mode: str
    format: str | None

    @property
    def size(self) -> tuple[int, int]:
        return self.height, self.width


def probe(path: Path, key: str, decode: bool = True) -> Header:
    """The header of an image file, checking that the whole file decodes (or, with
    `decode=False`, only its header, for a caller that decodes every file next anyway)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            if decode:
                img.load()
            return Header(img.height, img.width, img.mode, img.format)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as ex:
        raise DataError(f"{key}: cannot read the image {path} ({_reason(ex)}).") from None


def read_image(path: Path | str, height: int, width: int, channels: int, resize: bool, key: str = "input") -> np.ndarray:
    """The image's pixels as uint8 (height, width, channels), values 0..255 (the modes L, RGB and
    RGBA are 8-bit, so uint8 holds them exactly in a quarter of float32's memory).

    Resized with bilinear interpolation when `resize`, otherwise a `DataError` if its size differs.
    """
    from PIL import Image, UnidentifiedImageError

    mode = {1: "L", 3: "RGB", 4: "RGBA"}[channels]
    try:
        with Image.open(path) as img:
            img = img.convert(mode)
            if (img.height, img.width) != (height, width):
                if not resize:
                    raise SizeMismatch(
                        f"{key}: the image {path} is {img.width}x{img.height} pixels (width x height), the model "
                        f"takes {width}x{height} (set data.image_size to resize).",
                        path,
                        (img.height, img.width),
                    )
                img = img.resize((width, height), Image.BILINEAR)
            return np.asarray(img, dtype="uint8").reshape(height, width, channels)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as ex:
        raise DataError(f"{key}: cannot read the image {path} ({_reason(ex)}).") from None


def read_images(paths: list[Path], shape: tuple[int, int, int], resize: bool, key: str, dtype: str = "float32") -> np.ndarray:
    """The pixels of every file, stacked: (n, height, width, channels) of `dtype`."""
    height, width, channels = shape
    out = np.empty((len(paths), height, width, channels), dtype=dtype)
    for i, p in enumerate(paths):
        out[i] = read_image(p, height, width, channels, resize, key)
    return out


# files TensorFlow's own decoders turn into exactly the pixels `read_image` gives, by the number
# of channels read (tests/test_data_sources.py checks each case): PNG, and JPEG decoded with
# libjpeg's accurate integer DCT as Pillow does, whose colour mode widens without arithmetic
# (grey to RGB copies the value; a missing alpha is opaque). RGB to grey weighs the channels,
# differently in each library, so it is not here.
EXACT_FORMATS = ("PNG", "JPEG")
EXACT_MODES = {1: ("L",), 3: ("L", "RGB", "RGBA"), 4: ("L", "RGB", "RGBA")}


def tensorflow_decodes_exactly(headers: list[Header], height: int, width: int, channels: int) -> bool:
    """True when TensorFlow's decoders give every one of these files the same pixels as
    `read_image`: no resizing, and formats and colour modes in the exact set above."""
    return all(
        h.format in EXACT_FORMATS and h.mode in EXACT_MODES[channels] and h.size == (height, width) for h in headers
    )


def _reason(ex: BaseException) -> str:
    text = str(ex).splitlines()[0] if str(ex) else type(ex).__name__
    return text.replace(" '", " ").replace("'", "") if "cannot identify" in text else text
