"""Explains a strata model's predictions for raw inputs with one attribution method.

Example:

    explanation = explain(model, features, x, task, method="integrated_gradients", reference=train_x)
    explanation.frame()          # one row per example: prediction, baseline, one column per feature
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from strata.data.features import Feature, Task
from strata.errors import ConfigError, suggestion
from strata.run.inference import predict_raw

METHODS = ("integrated_gradients", "saliency", "occlusion", "permutation")


@dataclass
class Explanation:
    """Attributions of a batch of examples, by raw feature.

    Args:
        method: the attribution method.
        ids: one identifier per example.
        targets: the output each example's attributions explain (a class name or the target).
        prediction: the explained output per example.
        baseline_prediction: the same output for the baseline (integrated gradients, occlusion).
        totals: feature name -> attribution per example (n,).
        maps: image -> (n, H, W) per-pixel attributions; text -> per-word arrays; sequence -> (n, T).
        tokens: text feature -> the words of each example.
        inputs: the raw inputs explained.
    """

    method: str
    ids: list[str]
    targets: list[str]
    prediction: np.ndarray
    baseline_prediction: np.ndarray | None
    totals: dict[str, np.ndarray]
    maps: dict[str, Any] = field(default_factory=dict)
    tokens: dict[str, list[list[str]]] = field(default_factory=dict)
    inputs: dict[str, np.ndarray] = field(default_factory=dict)

    def frame(self):
        """One row per example: id, target, prediction, baseline prediction, the gap that the
        attributions leave unexplained (completeness), then one column per feature."""
        import pandas as pd

        frame = pd.DataFrame({"id": self.ids, "target": self.targets, "prediction": self.prediction})
        total = np.zeros(len(self.ids), dtype="float64")
        for values in self.totals.values():
            total += np.nan_to_num(np.asarray(values, dtype="float64"))
        if self.baseline_prediction is not None:
            frame["baseline_prediction"] = self.baseline_prediction
            if self.method == "integrated_gradients":
                frame["completeness_gap"] = self.prediction - self.baseline_prediction - total
        for name, values in self.totals.items():
            frame[name] = values
        return frame

    def mean_abs(self):
        """Mean |attribution| per feature over the examples, largest first (a pandas Series)."""
        import pandas as pd

        values = {k: float(np.nanmean(np.abs(v))) for k, v in self.totals.items() if np.isfinite(v).any()}
        return pd.Series(values, dtype="float64").sort_values(ascending=False)


def explain(
    model,
    features: list[Feature],
    x: dict[str, np.ndarray],
    task: Task,
    method: str = "integrated_gradients",
    ids: list[str] | None = None,
    baseline: str | float = "mean",
    steps: int = 64,
    target: str | None = None,
    reference: dict[str, np.ndarray] | None = None,
    batch_size: int = 256,
) -> Explanation:
    """Attributions of `model`'s predictions for raw inputs `x`.

    Args:
        model: a strata model (raw named inputs -> preprocessing -> network -> head).
        features: the raw inputs' descriptions (`name`, `kind`, `shape`, `dtype`; task.json).
        x: raw arrays by input name.
        task: the task description (`kind`, `classes`, `target`).
        method: `integrated_gradients`, `saliency` or `occlusion`.
        baseline: `mean`, `zero` or a number (see `strata.explain.baselines`).
        steps: integration steps of integrated gradients.
        target: the class (or output index) to explain; default: the predicted class.
        reference: raw training examples, for the mean baseline.
    """
    from strata.explain.baselines import parse_baseline, split_baselines

    if method not in METHODS or method == "permutation":
        choices = [m for m in METHODS if m != "permutation"]
        raise ConfigError(f"method={method}: expected one of {', '.join(choices)}.{suggestion(method, choices)}")
    baseline = parse_baseline(baseline)
    n = len(next(iter(x.values())))
    ids = ids if ids is not None else [str(i) for i in range(n)]
    outputs = predict_raw(model, x, batch_size)
    indices, names = resolve_targets(outputs, task, target)
    chosen = outputs.reshape(n, -1)[np.arange(n), indices]

    if method == "occlusion":
        from strata.explain.occlusion import occlusion

        def predict(raw, targets):
            return predict_raw(model, raw, batch_size).reshape(len(targets), -1)[np.arange(len(targets)), targets]

        totals, maps, tokens = occlusion(predict, features, x, indices, reference, baseline, _text_configs(model, features))
        base_raw = _baseline_prediction(model, features, reference, baseline, indices, batch_size)
        return Explanation(method, ids, names, chosen, base_raw, totals, maps, tokens, x)

    from strata.explain import gradients
    from strata.explain.model_split import split_model
    from strata.explain.raw_features import reduce_to_features

    split = split_model(model)
    xs, masks = split.encode(x)
    xs = [np.asarray(t) for t in xs]
    masks = [None if m is None else np.asarray(m) for m in masks]
    if method == "saliency":
        attributions = gradients.saliency(split, xs, masks, indices)
        totals, maps, tokens = reduce_to_features(features, split, attributions, x, unsigned=True)
        return Explanation(method, ids, names, chosen, None, totals, maps, tokens, x)
    bases = split_baselines(split, features, reference, baseline)
    attributions = gradients.integrated_gradients(split, xs, masks, bases, indices, steps)
    # the path's start: baselines where gradients flow, the example's own values elsewhere (token
    # ids a padding mask is read from, integer inputs); masks stay the example's
    moving = {p.index for p in split.points.values() if p.differentiable}
    starts = [np.repeat(b, n, axis=0) if i in moving else xs[i] for i, b in enumerate(bases)]
    base_pred = gradients.predict_split(split, starts, masks, indices)
    totals, maps, tokens = reduce_to_features(features, split, attributions, x)
    return Explanation(method, ids, names, chosen, base_pred, totals, maps, tokens, x)


def resolve_targets(outputs: np.ndarray, task: Task, target: str | None) -> tuple[np.ndarray, list[str]]:
    """The flattened output index each example's attribution explains, and its name."""
    n = len(outputs)
    flat = outputs.reshape(n, -1)
    kind, classes = task.kind, list(task.classes or [])
    if kind == "binary":
        if target not in (None, "", *classes[1:]):
            raise ConfigError(
                f"target={target}: a binary model's output is the probability of '{classes[1]}'; "
                f"use target={classes[1]} or leave target out."
            )
        return np.zeros(n, dtype="int64"), [f"P({classes[1] if len(classes) > 1 else 1})"] * n
    if kind in ("multiclass", "multilabel") and classes:
        if target in (None, ""):
            index = flat.argmax(axis=1)
        elif str(target) in classes:
            index = np.full(n, classes.index(str(target)))
        else:
            raise ConfigError(f"target={target}: not one of the classes ({', '.join(classes)}).{suggestion(str(target), classes)}")
        return index.astype("int64"), [f"P({classes[i]})" for i in index]
    name = task.target or "prediction"
    if target in (None, ""):
        return np.zeros(n, dtype="int64"), [name] * n
    try:
        index = int(target)
    except ValueError:
        raise ConfigError(f"target={target}: expected the index of an output (0..{flat.shape[1] - 1}).") from None
    if not 0 <= index < flat.shape[1]:
        raise ConfigError(f"target={target}: expected the index of an output (0..{flat.shape[1] - 1}).")
    return np.full(n, index, dtype="int64"), [f"{name}[{index}]"] * n


def _baseline_prediction(model, features, reference, baseline, indices, batch_size) -> np.ndarray:
    from strata.explain.baselines import raw_baseline

    out = predict_raw(model, raw_baseline(features, reference, baseline), batch_size).reshape(1, -1)
    return out[0, indices]


def _text_configs(model, features) -> dict[str, dict]:
    out = {}
    try:
        from strata.explain.model_split import split_model

        split = split_model(model)
    except ValueError:
        return out
    for f in features:
        point = split.points.get(f.name)
        layer = None if point is None else point.layer_of_type("TextVectorization")
        if layer is not None:
            out[f.name] = layer.get_config()
    return out
