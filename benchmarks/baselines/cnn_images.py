"""Hand-written baseline: the Keras script a competent user writes for strata's `model=cnn`.

The same network as conf/model/cnn.yaml (conv 32 and 64 with 3x3 kernels, max pooling, flatten,
dense 64, dropout 0.25, softmax), the same optimizer (Adam 1e-3), loss, batch size, splits and
epochs; the data read once into memory and fed by tf.data (from_tensor_slices, cache, shuffle,
batch, prefetch). Like `strata train` it validates every epoch, writes TensorBoard logs and the
best weights, stops early, evaluates the test split, saves model.keras and exports a SavedModel.

Data: `--images <folder>` (one sub-folder of image files per class) or, without it, scikit-learn's
8x8 digits. `--probe <file>` adds benchmarks/probe.py's timing callback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402


def load_images(folder: Path) -> tuple[np.ndarray, np.ndarray, float]:
    from PIL import Image

    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    images, labels = [], []
    for label, name in enumerate(classes):
        for path in sorted((folder / name).iterdir()):
            images.append(np.asarray(Image.open(path).convert("RGB"), dtype="uint8"))
            labels.append(label)
    return np.stack(images), np.asarray(labels, dtype="int32"), 1 / 255


def load_digits() -> tuple[np.ndarray, np.ndarray, float]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images.astype("float32")[..., None], digits.target.astype("int32"), 1 / 16


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=Path)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--probe")
    args = parser.parse_args()
    keras.utils.set_random_seed(42)

    x, y, scale = load_images(args.images) if args.images else load_digits()
    rest, x_test, rest_y, y_test = train_test_split(x, y, test_size=0.1, random_state=42, stratify=y)
    x_train, x_val, y_train, y_val = train_test_split(rest, rest_y, test_size=0.1 / 0.9, random_state=43, stratify=rest_y)
    print(f"data: train {len(x_train)}, validation {len(x_val)}, test {len(x_test)}", flush=True)

    def dataset(x, y, training=False):
        ds = tf.data.Dataset.from_tensor_slices((x, y)).cache()
        if training:
            ds = ds.shuffle(len(x), seed=42)
        return ds.batch(args.batch_size).prefetch(tf.data.AUTOTUNE)

    num_classes = int(y.max()) + 1
    inputs = keras.Input(shape=x.shape[1:], dtype="float32", name="image")
    h = keras.layers.Rescaling(scale)(inputs)
    for filters in (32, 64):
        h = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(h)
        h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dense(64, activation="relu")(h)
    h = keras.layers.Dropout(0.25)(h)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(h)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from probe import BenchProbe

    args.out.mkdir(parents=True, exist_ok=True)
    callbacks = [
        keras.callbacks.TensorBoard(str(args.out / "tensorboard")),
        keras.callbacks.ModelCheckpoint(str(args.out / "best.weights.h5"), save_best_only=True, save_weights_only=True),
        keras.callbacks.EarlyStopping(patience=5, restore_best_weights=True),
    ] + ([BenchProbe(args.probe)] if args.probe else [])
    model.fit(
        dataset(x_train, y_train, training=True),
        validation_data=dataset(x_val, y_val),
        epochs=args.epochs,
        callbacks=callbacks,
        verbose=0,
    )
    print(model.evaluate(dataset(x_test, y_test), verbose=0, return_dict=True), flush=True)
    model.save(args.out / "model.keras")
    model.export(str(args.out / "saved_model"), verbose=False)


if __name__ == "__main__":
    main()
