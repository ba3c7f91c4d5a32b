"""Sums attributions at the split points back to the raw features a user knows.

A number's attribution is the sum over its imputed value and missing indicator; a category's,
the sum over its one-hot or embedding vector; an image's, a map over pixels (summed over
channels); a text's, one value per word (summed over the token's embedding, or for a bag of
n-grams, each n-gram's share given to the words in it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from strata.data.features import Feature

# the punctuation TextVectorization strips (standardize=*strip_punctuation), as the layer writes it
KERAS_PUNCTUATION = r'[!"#$%&()\*\+,-\./:;<=>?@\[\\\]^_`{|}~\']'


def reduce_to_features(
    features: list[Feature], split, attributions: list, raw: dict[str, np.ndarray], unsigned: bool = False
) -> tuple[dict[str, np.ndarray], dict[str, Any], dict[str, list[list[str]]]]:
    """Per-feature totals (n,), maps (images: (n, H, W); sequences: (n, T); texts: a list of
    per-word arrays) and the words of each text.

    Args:
        unsigned: combine a feature's dimensions by their L2 norm (for saliency) instead of
            their sum.
    """
    combine = _norm if unsigned else _sum
    totals: dict[str, np.ndarray] = {}
    maps: dict[str, Any] = {}
    tokens: dict[str, list[list[str]]] = {}
    n = len(next(iter(raw.values())))
    for f in features:
        point = split.points.get(f.name)
        a = None if point is None else attributions[point.index]
        if a is None:
            totals[f.name] = np.full(n, np.nan, dtype="float32")
            continue
        a = np.asarray(a, dtype="float32")
        if f.kind == "image":
            per_pixel = combine(a, axis=-1) if a.ndim == 4 else a
            maps[f.name] = per_pixel
            totals[f.name] = _sum(per_pixel.reshape(n, -1), axis=-1) if not unsigned else _norm(a.reshape(n, -1), -1)
        elif f.kind == "text":
            words, per_word = text_attributions(point, a, raw[f.name], combine)
            tokens[f.name], maps[f.name] = words, per_word
            totals[f.name] = np.array([w.sum() if not unsigned else np.sqrt((w**2).sum()) for w in per_word], "float32")
        elif f.kind == "sequence" and a.ndim == 3:
            maps[f.name] = combine(a, axis=-1)
            totals[f.name] = combine(a.reshape(n, -1), axis=-1)
        else:
            totals[f.name] = combine(a.reshape(n, -1), axis=-1)
    return totals, maps, tokens


def text_attributions(point, a: np.ndarray, raw: np.ndarray, combine) -> tuple[list[list[str]], list[np.ndarray]]:
    """The words of each text and one attribution per word."""
    vectorizer = point.layer_of_type("TextVectorization")
    texts = [str(t) for t in np.asarray(raw).reshape(len(a), -1)[:, 0]]
    if vectorizer is None:  # not a strata text input: one value per position
        per_position = combine(a, axis=-1) if a.ndim == 3 else a.reshape(len(a), -1)
        return [[str(i) for i in range(per_position.shape[1])] for _ in texts], list(per_position)
    cfg = vectorizer.get_config()
    words = words_of(texts, cfg)
    if cfg.get("output_mode") == "int":
        per_position = combine(a, axis=-1) if a.ndim == 3 else a
        out_words, out_attr = [], []
        for row, ws in enumerate(words):
            length = min(len(ws), per_position.shape[1])
            out_words.append([w for w, _ in ws[:length]])
            out_attr.append(per_position[row, :length].astype("float32"))
        return out_words, out_attr
    return _bag_to_words(vectorizer, a, words, cfg)


def words_of(texts: list[str], cfg: dict) -> list[list[tuple[str, str]]]:
    """(original word, token) pairs of each text, in the order a `TextVectorization` layer of
    config `cfg` sees them, by the very string ops the layer runs (its `standardize`, then its
    whitespace split): `tf.strings.lower` lower-cases only ASCII letters ('École' stays 'École'
    where Python's lower() gives 'école') and `tf.strings.split` splits at ASCII white space only.
    A word that standardizes to nothing is dropped, as the layer drops it."""
    import tensorflow as tf

    standardize = cfg.get("standardize", "lower_and_strip_punctuation")
    words = tf.strings.split(tf.constant([str(t) for t in texts], dtype=tf.string))  # the layer's split
    tokens = words
    if standardize in ("lower", "lower_and_strip_punctuation"):
        tokens = tf.strings.lower(tokens)
    if standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
        tokens = tf.strings.regex_replace(tokens, KERAS_PUNCTUATION, "")
    out = []
    for row_words, row_tokens in zip(words.to_list(), tokens.to_list()):
        out.append([(w.decode("utf-8", "replace"), t.decode("utf-8", "replace")) for w, t in zip(row_words, row_tokens) if t])
    return out


def _bag_to_words(vectorizer, a: np.ndarray, words: list[list[tuple[str, str]]], cfg: dict):
    """A bag of n-grams: each n-gram's attribution is shared equally among the words in it."""
    vocab = vectorizer.get_vocabulary()
    index = {t: i for i, t in enumerate(vocab)}
    oov = 1 if cfg.get("output_mode") in ("int",) else 0
    ngrams = cfg.get("ngrams") or 1
    orders = list(range(1, ngrams + 1)) if isinstance(ngrams, int) else list(ngrams)
    out_words, out_attr = [], []
    for row, ws in enumerate(words):
        tokens = [t for _, t in ws]
        per_word = np.zeros(len(tokens), dtype="float32")
        grams: dict[int, list[int]] = {}
        for order in orders:
            for start in range(len(tokens) - order + 1):
                gram = " ".join(tokens[start : start + order])
                grams.setdefault(index.get(gram, oov), []).append(start * 16 + order)
        for slot, occurrences in grams.items():
            if slot >= a.shape[-1]:
                continue
            share = a[row, slot] / len(occurrences)
            for code in occurrences:
                start, order = divmod(code, 16)
                per_word[start : start + order] += share / order
        out_words.append([w for w, _ in ws])
        out_attr.append(per_word)
    return out_words, out_attr


def _sum(a: np.ndarray, axis: int) -> np.ndarray:
    return a.sum(axis=axis)


def _norm(a: np.ndarray, axis: int) -> np.ndarray:
    return np.sqrt((a.astype("float64") ** 2).sum(axis=axis)).astype("float32")
