"""Hand-written baseline: the Keras script a competent user writes for strata's
`data=text model=transformer`.

The same network as conf/model/transformer.yaml: TextVectorization (20,000 tokens, 64 steps)
inside the model, a 64-wide token embedding (padding masked) plus a learned position
embedding, dropout 0.1, two post-norm encoder blocks (4 heads, feed-forward 128), average
pooling, a sigmoid output; Adam 1e-3, binary cross-entropy, accuracy and AUC; the same splits,
batch size and epochs. tf.data: from_tensor_slices, cache, shuffle, batch, prefetch. Like
`strata train` it validates every epoch, writes TensorBoard logs and the best weights, stops
early, evaluates the test split, saves model.keras and exports a SavedModel.

Data: `--tsv <file>` of `sentence<TAB>label` lines. `--probe <file>` adds benchmarks/probe.py's
timing callback.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import pandas as pd  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

EMBED, HEADS, FF, BLOCKS, STEPS, TOKENS, DROPOUT = 64, 4, 128, 2, 64, 20_000, 0.1


class PositionEmbedding(keras.layers.Layer):
    def __init__(self, steps, **kwargs):
        super().__init__(**kwargs)
        self.steps = steps
        self.supports_masking = True

    def build(self, input_shape):
        self.table = self.add_weight(
            shape=(self.steps, input_shape[-1]), initializer=keras.initializers.RandomNormal(stddev=0.02), name="table"
        )

    def call(self, x):
        return x + self.table[None, : ops.shape(x)[1], :]


class EncoderBlock(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.attention = keras.layers.MultiHeadAttention(HEADS, EMBED // HEADS, dropout=DROPOUT)
        self.ff_hidden = keras.layers.Dense(FF, activation="relu")
        self.ff_output = keras.layers.Dense(EMBED)
        self.norm1 = keras.layers.LayerNormalization(epsilon=1e-6)
        self.norm2 = keras.layers.LayerNormalization(epsilon=1e-6)
        self.drop1 = keras.layers.Dropout(DROPOUT)
        self.drop2 = keras.layers.Dropout(DROPOUT)

    def call(self, x, mask=None, training=None):
        attention_mask = None
        if mask is not None:
            mask = ops.cast(mask, "bool")
            attention_mask = ops.logical_and(mask[:, :, None], mask[:, None, :])
        h = self.attention(x, x, attention_mask=attention_mask, training=training)
        x = self.norm1(x + self.drop1(h, training=training))
        h = self.ff_output(self.ff_hidden(x))
        return self.norm2(x + self.drop2(h, training=training))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tsv", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--probe")
    args = parser.parse_args()
    keras.utils.set_random_seed(42)

    frame = pd.read_csv(args.tsv, sep="\t", header=None, names=["sentence", "label"], quoting=csv.QUOTE_NONE)
    x = frame["sentence"].to_numpy(str).astype(object)
    y = frame["label"].to_numpy("int32")
    rest, x_test, rest_y, y_test = train_test_split(x, y, test_size=0.1, random_state=42, stratify=y)
    x_train, x_val, y_train, y_val = train_test_split(rest, rest_y, test_size=0.1 / 0.9, random_state=43, stratify=rest_y)
    print(f"data: train {len(x_train)}, validation {len(x_val)}, test {len(x_test)}", flush=True)

    def dataset(x, y, training=False):
        ds = tf.data.Dataset.from_tensor_slices((x, y)).cache()
        if training:
            ds = ds.shuffle(min(len(y), 10_000), seed=42)
        return ds.batch(args.batch_size).prefetch(tf.data.AUTOTUNE)

    vectorize = keras.layers.TextVectorization(max_tokens=TOKENS, output_mode="int", output_sequence_length=STEPS)
    vectorize.adapt(x_train)
    inputs = keras.Input(shape=(), dtype="string", name="sentence")
    h = keras.layers.Embedding(vectorize.vocabulary_size(), EMBED, mask_zero=True)(vectorize(inputs))
    h = keras.layers.Dropout(DROPOUT)(PositionEmbedding(STEPS)(h))
    for _ in range(BLOCKS):
        h = EncoderBlock()(h)
    h = keras.layers.GlobalAveragePooling1D()(h)
    outputs = keras.layers.Dense(1, activation="sigmoid")(h)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="binary_crossentropy",
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")],
    )

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
