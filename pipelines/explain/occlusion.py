"""Occlusion: how much the explained output drops when one part of the raw input is taken away.

A number or category is set to its baseline (training mean, most frequent category); a word is
removed from its text; a square patch of an image is set to the baseline value. Works on the raw
model, so it needs no gradient and no split.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from strata.data.features import Feature
from strata.explain.baselines import raw_baseline
from strata.explain.raw_features import words_of


def occlusion(
    predict, features: list[Feature], x: dict[str, np.ndarray], targets: np.ndarray,
    reference: dict[str, np.ndarray] | None, choice: str | float, text_configs: dict[str, dict],
) -> tuple[dict[str, np.ndarray], dict[str, Any], dict[str, list[list[str]]]]:
    """Totals per feature, maps (image patches, words) and words, like `reduce_to_features`.

    Args:
        predict: raw inputs (dict of arrays) -> the explained output per example, given targets.
        text_configs: each text feature's TextVectorization config (for splitting words).
    """
    n = len(targets)
    base = raw_baseline(features, reference, choice)
    full = predict(x, targets)
    totals: dict[str, np.ndarray] = {}
    maps: dict[str, Any] = {}
    tokens: dict[str, list[list[str]]] = {}
    for f in features:
        name = f.name
        if f.kind == "image":
            maps[name] = _image_occlusion(predict, x, name, base[name], targets, full)
            totals[name] = maps[name].reshape(n, -1).sum(axis=1)
        elif f.kind == "text":
            tokens[name], maps[name] = _word_occlusion(predict, x, name, targets, full, text_configs.get(name, {}))
            totals[name] = np.array([w.sum() for w in maps[name]], dtype="float32")
        else:
            occluded = dict(x)
            occluded[name] = np.repeat(base[name], n, axis=0)
            totals[name] = full - predict(occluded, targets)
    return totals, maps, tokens


def _image_occlusion(predict, x, name, base, targets, full) -> np.ndarray:
    images = x[name]
    n, height, width = images.shape[:3]
    patch = max(1, min(height, width) // 4)
    stride = max(1, patch // 2)
    heat = np.zeros((n, height, width), dtype="float32")
    hits = np.zeros((height, width), dtype="float32")
    corners = [(r, c) for r in range(0, max(1, height - patch + 1), stride) for c in range(0, max(1, width - patch + 1), stride)]
    # several patches per forward pass: about 2,000 occluded images (or 64 MB of pixels) at a time
    per_pass = max(1, min(2048, 16_000_000 // max(1, images[0].size)) // n)
    for first in range(0, len(corners), per_pass):
        group = corners[first : first + per_pass]
        occluded = np.repeat(images[None], len(group), axis=0)
        for k, (r, c) in enumerate(group):
            occluded[k, :, r : r + patch, c : c + patch] = base[0, r : r + patch, c : c + patch]
        others = {key: np.concatenate([np.asarray(v)] * len(group)) for key, v in x.items() if key != name}
        batch = {**others, name: occluded.reshape((-1, *images.shape[1:]))}
        drops = (np.tile(full, len(group)) - predict(batch, np.tile(targets, len(group)))).reshape(len(group), n)
        for k, (r, c) in enumerate(group):
            heat[:, r : r + patch, c : c + patch] += drops[k][:, None, None] / (patch * patch)
            hits[r : r + patch, c : c + patch] += 1
    return heat / np.maximum(hits, 1)


def _word_occlusion(predict, x, name, targets, full, cfg):
    texts = [str(t) for t in np.asarray(x[name]).reshape(len(targets), -1)[:, 0]]
    words_per_text = [[w for w, _ in ws] for ws in words_of(texts, cfg)]
    variants, owners = [], []
    for row, words in enumerate(words_per_text):
        for i in range(len(words)):
            variants.append(" ".join(words[:i] + words[i + 1 :]))
            owners.append(row)
    attributions = [np.zeros(len(w), dtype="float32") for w in words_per_text]
    if variants:
        owners_arr = np.array(owners)
        batch = {k: np.asarray(v)[owners_arr] for k, v in x.items()}
        batch[name] = np.array(variants, dtype=object).reshape(-1, 1)
        drops = full[owners_arr] - predict(batch, targets[owners_arr])
        position = 0
        for row, words in enumerate(words_per_text):
            attributions[row][:] = drops[position : position + len(words)]
            position += len(words)
    return words_per_text, attributions
