"""Raw model inputs and the preprocessing layers behind them, adapted on the training split.

Every feature becomes a named `keras.Input` of its raw form; the layers that normalize, look up,
vectorize or rescale it live inside the model, so training, evaluation and the exported
SavedModel all see the same raw values.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from strata.data.bundle import DataBundle, sample_rows
from strata.data.features import Feature
from strata.layers import Impute, SignedLog
from strata.layers.signed_log import heavy_tailed, signed_log


def raw_inputs(features: list[Feature]) -> dict[str, Any]:
    """One `keras.Input` per feature, named after it."""
    return {f.name: keras.Input(shape=f.shape, dtype=f.dtype, name=f.name) for f in features}


class Encoded(dict):
    """Encoded tensors by feature name (what `encode` returns), and of each numeric feature its
    imputed tensor before normalization with the normalization's statistics (`numeric`: name ->
    (tensor, mean, variance)), from which `numeric_block` joins the scalar columns."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.numeric: dict[str, tuple[Any, np.ndarray, np.ndarray]] = {}


def encode(bundle: DataBundle, inputs: dict[str, Any], model_cfg, sequences: bool, raw: tuple[str, ...] = ()) -> Encoded:
    """Preprocesses every raw input; returns encoded tensors by feature name.

    Args:
        bundle: the data, whose training split adapts the layers.
        inputs: raw inputs from `raw_inputs`.
        model_cfg: the model config (embedding size, one-hot limit).
        sequences: True when the network reads text as token sequences (RNN, Transformer),
            False for a bag of n-grams.
        raw: kinds of features the network takes as they are (a pretrained text backbone
            tokenizes its own text).
    """
    encoded = Encoded()
    for feature in bundle.features:
        x = inputs[feature.name]
        if feature.kind in raw:
            encoded[feature.name] = x
            continue
        values = bundle.train_values(feature.name)
        if feature.kind == "numeric":
            imputed, mean, variance = _numeric(x, values, feature, getattr(model_cfg, "numeric_transform", "none"))
            encoded.numeric[feature.name] = (imputed, mean, variance)
            norm = keras.layers.Normalization(mean=mean.tolist(), variance=variance.tolist(), name=f"{feature.name}_norm")
            encoded[feature.name] = norm(imputed)
        elif feature.kind == "categorical":
            encoded[feature.name] = _categorical(x, values, feature, model_cfg)
        elif feature.kind == "text":
            encoded[feature.name] = _text(x, values, feature, sequences)
        elif feature.kind == "image":
            encoded[feature.name] = _image(x, feature)
        elif feature.kind == "sequence":
            encoded[feature.name] = _sequence(x, values, feature)
        else:
            raise ValueError(f"feature {feature.name!r} has unknown kind {feature.kind!r}")
    return encoded


def numeric_stats(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column of the training values: the mean and variance of the present values (the
    mean fills the missing ones), and the fraction missing."""
    values = values.astype("float64")
    mean = np.nanmean(values, axis=0) if np.isfinite(values).any() else np.zeros(values.shape[1:])
    mean = np.nan_to_num(mean)
    filled = np.where(np.isnan(values), mean, values)
    variance = np.maximum(filled.var(axis=0), 1e-12)
    return mean, variance, np.isnan(values).mean(axis=0)


def _impute(x, mean: np.ndarray, missing: np.ndarray, name: str):
    """Fills NaN with the training mean and, when the feature had missing values in training,
    adds a 0/1 indicator per column; returns the tensor and the statistics of its columns."""
    has_missing = bool((missing > 0).any())
    x = Impute(value=mean.tolist(), add_indicator=has_missing, name=f"{name}_impute")(x)
    return x, has_missing


def _with_indicators(mean: np.ndarray, variance: np.ndarray, missing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalization statistics of an imputed feature followed by its missing-value indicators."""
    return np.concatenate([mean, missing]), np.concatenate([variance, np.maximum(missing * (1 - missing), 1e-12)])


def log_columns(values: np.ndarray, transform: str) -> np.ndarray:
    """Per column of a numeric feature's training values: whether the model takes its signed log
    (`model.numeric_transform`: `log` every column, `none` no column, `auto` the heavy-tailed
    ones, `strata.layers.signed_log.heavy_tailed`)."""
    columns = values.reshape(len(values), -1)
    if transform == "log":
        return np.ones(columns.shape[1], dtype=bool)
    if transform == "auto":
        # a long column is judged on a uniform sample (`strata.data.bundle.SAMPLE_ROWS`, the same every run)
        return heavy_tailed(sample_rows(columns).astype("float64"))
    return np.zeros(columns.shape[1], dtype=bool)


def _numeric(x, values: np.ndarray, feature: Feature, transform: str = "none"):
    """The feature imputed (and signed-logged where `transform` says), with the mean and variance
    its normalization takes."""
    logged = log_columns(values, transform)
    if logged.any() and tuple(feature.shape) == (logged.size,):
        # statistics of the logged columns; a missing value is filled with the raw value whose
        # log is their mean
        mean, variance, missing = numeric_stats(np.where(logged, signed_log(values.astype("float64")), values))
        fill = np.where(logged, np.sign(mean) * np.expm1(np.abs(mean)), mean)
        x, has_missing = _impute(x, fill, missing, feature.name)
        columns = [*logged.tolist(), *([False] * logged.size if has_missing else [])]
        x = SignedLog(columns, name=f"{feature.name}_log")(x)
    else:
        mean, variance, missing = numeric_stats(values)
        x, has_missing = _impute(x, mean, missing, feature.name)
    if has_missing:
        mean, variance = _with_indicators(mean, variance, missing)
    return x, np.asarray(mean, dtype="float64"), np.asarray(variance, dtype="float64")


def numeric_block(bundle: DataBundle, encoded: Encoded):
    """The scalar numeric columns, each imputed, joined into one vector and normalized as one:
    the same values `encode` gives column by column, with one normalization instead of one per
    column (a wide table's per-step cost on a CPU is mostly its op count). It reuses each
    column's imputation from `encoded` and that column's statistics. Returns the tensor and the
    features it holds; (None, []) when fewer than two columns qualify."""
    columns = [f.name for f in bundle.features if f.kind == "numeric" and tuple(f.shape) == (1,)]
    if len(columns) < 2:
        return None, []
    imputed, means, variances = [], [], []
    for name in columns:
        tensor, mean, variance = encoded.numeric[name]
        imputed.append(tensor)
        means.append(mean.ravel())
        variances.append(variance.ravel())
    # '-' never occurs in a feature's name (`input_name`), so these names cannot clash with one
    joined = keras.layers.Concatenate(name="numeric-block")(imputed)
    norm = keras.layers.Normalization(
        mean=np.concatenate(means).tolist(), variance=np.concatenate(variances).tolist(), name="numeric-block_norm"
    )
    return norm(joined), columns


def _categorical(x, values: np.ndarray, feature: Feature, model_cfg):
    # most frequent first; a missing value ('') is a category of its own when training has it,
    # values seen fewer than `min_count` times and unseen ones share the OOV bucket
    vocab, counts = np.unique(values.astype(str).ravel(), return_counts=True)
    min_count = int(feature.options.get("min_count", 1))
    vocab = [v for v, c in sorted(zip(vocab, counts), key=lambda vc: (-vc[1], vc[0])) if c >= min_count]
    max_tokens = feature.options.get("max_tokens")
    if max_tokens:
        vocab = vocab[: int(max_tokens)]
    if len(vocab) + 1 <= model_cfg.max_one_hot:
        lookup = keras.layers.StringLookup(
            vocabulary=vocab, num_oov_indices=1, output_mode="one_hot", name=f"{feature.name}_lookup"
        )
        return lookup(x)
    lookup = keras.layers.StringLookup(vocabulary=vocab, num_oov_indices=1, name=f"{feature.name}_lookup")
    emb = keras.layers.Embedding(len(vocab) + 1, model_cfg.embedding_dim, name=f"{feature.name}_embedding")
    return keras.layers.Flatten(name=f"{feature.name}_flat")(emb(lookup(x)))


def _text(x, values: np.ndarray, feature: Feature, sequences: bool):
    opts = feature.options
    flat = keras.layers.Reshape((), name=f"{feature.name}_squeeze")(x) if tuple(feature.shape) == (1,) else x
    standardize = opts.get("standardize", "lower_and_strip_punctuation")
    standardize = None if standardize == "none" else standardize
    if sequences:
        vectorizer = keras.layers.TextVectorization(
            max_tokens=opts.get("max_tokens", 20_000),
            standardize=standardize,
            output_mode="int",
            output_sequence_length=opts.get("sequence_length", 64),
            name=f"{feature.name}_vectorize",
        )
    else:
        vectorizer = keras.layers.TextVectorization(
            max_tokens=opts.get("max_tokens", 20_000),
            standardize=standardize,
            output_mode=opts.get("bag_mode", "tf_idf"),
            ngrams=opts.get("ngrams", 2),
            name=f"{feature.name}_vectorize",
        )
    vectorizer.adapt(values.astype(str).ravel())
    bag = vectorizer(flat)
    if not sequences and opts.get("norm", "none") == "l2":
        # every text's bag scaled to unit length, as scikit-learn's TfidfVectorizer does: a long
        # text weighs no more than a short one
        bag = keras.layers.UnitNormalization(name=f"{feature.name}_l2")(bag)
    return bag


def _image(x, feature: Feature):
    rescale = feature.options.get("rescale")
    if rescale:
        x = keras.layers.Rescaling(float(rescale), name=f"{feature.name}_rescale")(x)
    # random augmentation layers are active in training only: identity in evaluation and serving
    augment = feature.options.get("augment") or {}
    if augment.get("flip") and augment["flip"] != "none":
        x = keras.layers.RandomFlip(augment["flip"], name=f"{feature.name}_flip")(x)
    if augment.get("rotation"):
        x = keras.layers.RandomRotation(float(augment["rotation"]), name=f"{feature.name}_rotation")(x)
    if augment.get("zoom"):
        x = keras.layers.RandomZoom(float(augment["zoom"]), name=f"{feature.name}_zoom")(x)
    if augment.get("contrast"):
        x = keras.layers.RandomContrast(float(augment["contrast"]), name=f"{feature.name}_contrast")(x)
    return x


def _sequence(x, values: np.ndarray, feature: Feature):
    flat = values.reshape(-1, values.shape[-1]).astype("float64")
    norm = keras.layers.Normalization(
        mean=np.nanmean(flat, axis=0).tolist(),
        variance=np.maximum(np.nanvar(flat, axis=0), 1e-12).tolist(),
        name=f"{feature.name}_norm",
    )
    return norm(x)
