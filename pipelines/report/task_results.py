"""What the model does on held-out data, per task: confusion matrix and per-class precision and
recall (classifiers), predicted against actual and residuals (regression), forecast against
actual (time series), inputs beside reconstructions (autoencoders), sample grids (generators),
recall@k over k against the popularity baseline (recommenders)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from strata.data.features import Task
from strata.formatting import metric_value
from strata.report import figures

# examples evaluated for the report: enough for stable plots, a second or two on a CPU
MAX_EXAMPLES = 2000


@dataclass
class Plot:
    name: str  # file stem, also the TensorBoard tag
    title: str
    figure: Any


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[Any]]
    kind: str = ""  # "per_class": a classifier's per-class table (the report prefers metrics.json's)


@dataclass
class TaskResults:
    split: str | None = None
    plots: list[Plot] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def task_results(model, bundle, task: Task, seed: int = 0) -> TaskResults:
    """The task's plots on the test split (or validation when there is no test split)."""
    from strata.explain.explainer import predict_raw

    kind = task.kind
    if kind == "generation":
        return _generation(model, seed)
    if kind == "retrieval":
        return _retrieval(model, bundle)
    split = next((s for s in ("test", "validation", "train") if s in bundle.splits), None)
    if split is None:
        return TaskResults(notes=["no data split to evaluate"])
    x, y = _examples(bundle, split)
    output = predict_raw(model, x)
    if kind in ("binary", "multiclass"):
        results = _classification(output, y, task)
    elif kind == "multilabel":
        results = _multilabel(output, y, task)
    elif kind == "regression":
        results = _regression(output, y, task)
    elif kind == "forecast":
        results = _forecast(output, y, x, bundle)
    elif kind == "reconstruction":
        results = _reconstruction(output, x, bundle)
    else:
        results = TaskResults(notes=[f"no plots for task {kind}"])
    results.split = split
    for plot in results.plots:
        plot.title = plot.title.replace("test split", f"{split} split")
        for ax in plot.figure.axes:
            ax.set_title(ax.get_title().replace("test split", f"{split} split"))
    return results


def _examples(bundle, split: str):
    """Up to MAX_EXAMPLES raw inputs and targets of a split; inputs stored as file paths (streamed
    images) are decoded by the bundle's own tf.data pipeline."""
    part = bundle.splits[split]
    n = min(len(part), MAX_EXAMPLES)
    if not getattr(bundle, "decoders", None):
        return bundle.examples(split, n)
    xs, ys = [], []
    for batch in bundle.dataset(split, 256).take(-(-n // 256)):
        features, *target = batch if isinstance(batch, tuple) else (batch,)
        xs.append({k: v.numpy() for k, v in features.items()})
        ys.extend(t.numpy() for t in target)
    x = {k: np.concatenate([b[k] for b in xs])[:n] for k in xs[0]}
    return x, (np.concatenate(ys)[:n] if ys else None)


def _classification(output, y, task) -> TaskResults:
    classes = [str(c) for c in task.classes]
    k = len(classes)
    if task.kind == "binary":
        predicted = (output.reshape(-1) >= 0.5).astype(int)
    else:
        predicted = output.reshape(len(output), -1).argmax(axis=1)
    truth = np.asarray(y).astype(int).reshape(-1)
    matrix = np.zeros((k, k), dtype="int64")
    np.add.at(matrix, (truth, predicted), 1)
    tp = np.diag(matrix).astype("float64")
    precision = np.divide(tp, matrix.sum(axis=0), out=np.zeros(k), where=matrix.sum(axis=0) > 0)
    recall = np.divide(tp, matrix.sum(axis=1), out=np.zeros(k), where=matrix.sum(axis=1) > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(k), where=(precision + recall) > 0)
    rows = [[c, f"{p:.3f}", f"{r:.3f}", f"{f:.3f}", int(s)]
            for c, p, r, f, s in zip(classes, precision, recall, f1, matrix.sum(axis=1))]
    accuracy = float(tp.sum() / max(1, matrix.sum()))
    return TaskResults(
        plots=[
            Plot("confusion_matrix", "Confusion matrix (test split)", figures.confusion_matrix(matrix, classes)),
            Plot("precision_recall", "Precision and recall per class (test split)",
                 figures.precision_recall(classes, precision, recall)),
        ],
        tables=[Table(f"Per class (accuracy {accuracy:.3f} over {int(matrix.sum())} examples)",
                      ["class", "precision", "recall", "F1", "support"], rows, kind="per_class")],
    )


def _multilabel(output, y, task) -> TaskResults:
    classes = [str(c) for c in task.classes]
    predicted = output.reshape(len(output), -1) >= 0.5
    truth = np.asarray(y).reshape(predicted.shape) >= 0.5
    tp = (predicted & truth).sum(axis=0).astype("float64")
    precision = np.divide(tp, predicted.sum(axis=0), out=np.zeros(len(classes)), where=predicted.sum(axis=0) > 0)
    recall = np.divide(tp, truth.sum(axis=0), out=np.zeros(len(classes)), where=truth.sum(axis=0) > 0)
    rows = [[c, f"{p:.3f}", f"{r:.3f}", int(s)] for c, p, r, s in zip(classes, precision, recall, truth.sum(axis=0))]
    return TaskResults(
        plots=[Plot("precision_recall", "Precision and recall per label (test split)",
                    figures.precision_recall(classes, precision, recall))],
        tables=[Table("Per label (threshold 0.5)", ["label", "precision", "recall", "support"], rows)],
    )


def _regression(output, y, task) -> TaskResults:
    name = task.target or "target"
    predicted = output.reshape(len(output), -1)[:, 0].astype("float64")
    actual = np.asarray(y, dtype="float64").reshape(len(output), -1)[:, 0]
    residuals = predicted - actual
    ok = np.isfinite(residuals)
    rmse = float(np.sqrt(np.mean(residuals[ok] ** 2))) if ok.any() else float("nan")
    mae = float(np.mean(np.abs(residuals[ok]))) if ok.any() else float("nan")
    variance = float(np.var(actual[ok])) if ok.any() else 0.0
    r2 = 1 - rmse**2 / variance if variance > 0 else float("nan")
    return TaskResults(
        plots=[
            Plot("predicted_vs_actual", "Predicted vs actual (test split)", figures.predicted_vs_actual(actual, predicted, name)),
            Plot("residuals", "Residuals (test split)", figures.residual_histogram(residuals, name)),
        ],
        tables=[Table(f"Errors in {name} units", ["examples", "RMSE", "MAE", "R²"],
                      [[int(ok.sum()), metric_value(rmse), metric_value(mae), f"{r2:.3f}"]])],
    )


def _forecast(output, y, x, bundle) -> TaskResults:
    history = next((f.name for f in bundle.features if f.kind == "sequence"), None)
    # four windows spread over the split (neighbouring windows overlap almost entirely)
    picked = np.unique(np.linspace(0, len(output) - 1, min(4, len(output))).astype(int))
    pairs = [(np.asarray(y[i])[..., 0] if np.ndim(y[i]) > 1 else y[i],
              np.asarray(output[i])[..., 0] if np.ndim(output[i]) > 1 else output[i]) for i in picked]
    context = None
    if history is not None:
        context = [np.asarray(x[history][i])[..., 0] if np.ndim(x[history][i]) > 1 else x[history][i] for i in picked]
    return TaskResults(plots=[Plot("forecast", "Forecast vs actual (test split)",
                                   figures.series_pairs(pairs, ("actual", "forecast"), "forecast vs actual (test split)", context))])


def _reconstruction(output, x, bundle) -> TaskResults:
    count = min(8, len(output))
    images = [f.name for f in bundle.features if f.kind == "image"]
    if len(images) == 1:
        inputs = np.asarray(x[images[0]])
        rows = [[inputs[i] for i in range(count)], [np.asarray(output[i]) for i in range(count)]]
        return TaskResults(plots=[Plot("reconstructions", "Inputs and reconstructions (test split)",
                                       figures.image_grid(rows, ["input", "reconstruction"], "inputs and reconstructions (test split)"))])
    flat = np.concatenate([np.asarray(x[f.name], dtype="float64").reshape(len(output), -1)
                           for f in bundle.features if f.dtype != "string"], axis=1)
    pairs = [(flat[i], np.asarray(output[i])) for i in range(min(4, count))]
    return TaskResults(plots=[Plot("reconstructions", "Inputs and reconstructions (test split)",
                                   figures.series_pairs(pairs, ("input", "reconstruction"), "inputs and reconstructions (test split)"))])


def _retrieval(model, bundle) -> TaskResults:
    """A recommender's recall@k over k on its held-out users, against the popularity baseline."""
    from strata.run.retrieval_metrics import CURVE, add_retrieval_metrics

    results: dict = {}
    add_retrieval_metrics(results, model, bundle)
    split = next((s for s in ("test", "validation") if s in results.get(CURVE, {})), None)
    if split is None:
        return TaskResults(notes=["no held-out interactions to rank"])
    curve = results[CURVE][split]
    rows = [[k, f"{r:.3f}", f"{p:.3f}"] for k, r, p in zip(curve["k"], curve["recall"], curve["popularity_recall"])]
    return TaskResults(
        split=split,
        plots=[Plot("recall_at_k", "recall@k, model and popularity (test split)",
                    figures.recall_at_k(curve["k"], curve["recall"], curve["popularity_recall"], split))],
        tables=[Table(f"recall@k of {results[split]['users']:,} held-out users (their training items excluded)",
                      ["k", "model", "popularity"], rows)],
    )


def _generation(model, seed: int) -> TaskResults:
    """Samples from the model's generator: a sub-model or layer named `generator` that maps a
    noise vector to an image (GAN and VAE decoders)."""
    generator = next((layer for layer in _all_layers(model) if "generator" in layer.name or "decoder" in layer.name), None)
    if generator is None or not hasattr(generator, "inputs") or not generator.inputs:
        return TaskResults(notes=["no sample grid: the model has no sub-model named generator or decoder"])
    shape = tuple(generator.inputs[0].shape[1:])
    noise = np.random.default_rng(seed).normal(size=(16, *shape)).astype("float32")
    samples = np.asarray(generator(noise, training=False))
    rows = [list(samples[i : i + 8]) for i in (0, 8)]
    return TaskResults(plots=[Plot("samples", "Generated samples", figures.image_grid(rows, ["", ""], "samples from noise"))])


def _all_layers(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)
