"""Writes the report's PNGs as TensorBoard image summaries (`<run>/tensorboard/report`)."""

from __future__ import annotations

from pathlib import Path


def write_images(log_dir: Path, images: list[tuple[str, Path]], step: int = 0) -> None:
    """One image summary per (tag, PNG file)."""
    import tensorflow as tf

    writer = tf.summary.create_file_writer(str(log_dir))
    with writer.as_default():
        for tag, path in images:
            image = tf.io.decode_png(tf.io.read_file(str(path)), channels=4)
            tf.summary.image(tag, image[None], step=step)
    writer.flush()
    writer.close()
