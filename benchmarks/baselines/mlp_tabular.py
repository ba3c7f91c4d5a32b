"""Hand-written baseline: the Keras script a competent user writes for strata's `data=csv model=mlp`.

The same network as conf/model/mlp.yaml (dense 64 and 32, relu, dropout 0.1, softmax), the same
optimizer (Adam 1e-3), loss, batch size, splits and epochs. The table is read with pandas; the
numeric columns go in as one vector through one Normalization layer, each categorical column
through a one-hot StringLookup, both adapted on the training split and inside the model. tf.data:
from_tensor_slices, cache, shuffle, batch, prefetch. Like `strata train` it validates every
epoch, writes TensorBoard logs and the best weights, stops early, evaluates the test split, saves
model.keras and exports a SavedModel.

`--probe <file>` adds benchmarks/probe.py's timing callback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--csv", type=Path, required=True)
    parser.add_argument("--target", default="label")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--probe")
    args = parser.parse_args()
    keras.utils.set_random_seed(42)

    frame = pd.read_csv(args.csv)
    classes = sorted(frame[args.target].unique())
    y = frame.pop(args.target).map({c: i for i, c in enumerate(classes)}).to_numpy("int32")
    categorical = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    numeric = [c for c in frame.columns if c not in categorical]

    def columns(rows: pd.DataFrame) -> dict[str, np.ndarray]:
        x = {"numeric": rows[numeric].to_numpy("float32")}
        x.update({c: rows[[c]].to_numpy(str) for c in categorical})
        return x

    rest, test, rest_y, y_test = train_test_split(frame, y, test_size=0.1, random_state=42, stratify=y)
    train, val, y_train, y_val = train_test_split(rest, rest_y, test_size=0.1 / 0.9, random_state=43, stratify=rest_y)
    x_train, x_val, x_test = columns(train), columns(val), columns(test)
    print(f"data: train {len(y_train)}, validation {len(y_val)}, test {len(y_test)}", flush=True)

    def dataset(x, y, training=False):
        ds = tf.data.Dataset.from_tensor_slices((x, y)).cache()
        if training:
            ds = ds.shuffle(min(len(y), 10_000), seed=42)
        return ds.batch(args.batch_size).prefetch(tf.data.AUTOTUNE)

    inputs = {"numeric": keras.Input(shape=(len(numeric),), name="numeric")}
    norm = keras.layers.Normalization()
    norm.adapt(x_train["numeric"])
    encoded = [norm(inputs["numeric"])]
    for c in categorical:
        inputs[c] = keras.Input(shape=(1,), dtype="string", name=c)
        encoded.append(keras.layers.StringLookup(vocabulary=sorted(set(train[c])), output_mode="one_hot")(inputs[c]))
    h = keras.layers.Concatenate()(encoded)
    for units in (64, 32):
        h = keras.layers.Dense(units, activation="relu")(h)
        h = keras.layers.Dropout(0.1)(h)
    outputs = keras.layers.Dense(len(classes), activation="softmax")(h)
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
