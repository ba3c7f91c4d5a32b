"""`metrics.json`: the final metrics of a run, and a classifier's metrics from its predictions.

```
{"train": {"loss": ..., "accuracy": ..., "balanced_accuracy": ..., "macro_f1": ...},
 "validation": {...}, "test": {...},
 "per_class": {"validation": {"<class>": {"precision": ..., "recall": ..., "f1": ..., "support": ...}}, "test": {...}}}
```

Each split maps metric names to numbers (what Keras's `evaluate` reports, and for classifiers
balanced accuracy and macro F1); `per_class` (classifiers only) holds a table per split, by the
class's label. `scalar_metrics` is the `{split: {name: number}}` part, for whatever shows or picks
single values (the summary, the report's table, the HParams dashboard, a sweep's
`optimized_metric`).
"""

from __future__ import annotations

import warnings

import numpy as np

SPLITS = ("train", "validation", "test")
PER_CLASS = "per_class"
# sections of metrics.json that are not splits: each is shown on its own
# "evaluated_rows": the rows behind each split's metrics (the training split's can be a sample)
EVALUATED = "evaluated_rows"
NOT_SPLITS = (PER_CLASS, "cross_validation", "retrieval_curve", EVALUATED)
CLASSIFICATION = ("binary", "multiclass")


def scalar_metrics(metrics: dict) -> dict[str, dict[str, float]]:
    """The splits of `metrics` (train, validation, test first) and their single-number metrics."""
    order = sorted(metrics, key=lambda s: SPLITS.index(s) if s in SPLITS else len(SPLITS))
    return {
        split: {name: value for name, value in metrics[split].items() if isinstance(value, (int, float))}
        for split in order
        if split not in NOT_SPLITS and isinstance(metrics[split], dict)
    }


def add_class_metrics(metrics: dict, split: str, model, dataset, task, steps: int | None = None) -> None:
    """For a classifier: balanced accuracy and macro F1 into `metrics[split]`, and the split's
    per-class precision, recall, F1 and support into `metrics["per_class"][split]`, from one
    prediction pass over `dataset` (batches of (features, target); at most `steps` of them).
    Other tasks are left as they are."""
    if task.kind not in CLASSIFICATION:
        return
    truth, predicted = predicted_classes(model, dataset, steps, task.kind)
    scalars, per_class = class_metrics(truth, predicted, [str(c) for c in task.classes])
    metrics.setdefault(split, {}).update(scalars)
    metrics.setdefault(PER_CLASS, {})[split] = per_class


def predicted_classes(model, dataset, steps: int | None, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(true class, predicted class) of every example of `dataset`, in one pass: a binary
    model's probability at 0.5, a multiclass model's most probable class."""
    import tensorflow as tf

    forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    truth, predicted = [], []
    batches = dataset.take(steps) if steps else dataset
    for x, y, *_ in batches:
        out = np.asarray(forward(x), dtype="float32")
        out = out.reshape(len(out), -1)
        if kind == "binary" and out.shape[1] == 1:
            predicted.append((out[:, 0] >= 0.5).astype("int64"))
        else:
            predicted.append(out.argmax(axis=1))
        truth.append(np.asarray(y).astype("int64").reshape(-1))
    if not truth:
        return np.zeros(0, "int64"), np.zeros(0, "int64")
    return np.concatenate(truth), np.concatenate(predicted)


def class_metrics(truth: np.ndarray, predicted: np.ndarray, classes: list[str]) -> tuple[dict, dict]:
    """scikit-learn's metrics of predicted classes: ({balanced_accuracy, macro_f1}, {class label:
    {precision, recall, f1, support}}). Balanced accuracy is the mean recall over the classes the
    split holds; macro F1 the mean F1 over the classes it holds or the model predicts; a class
    without examples (or predictions) has precision (recall) 0."""
    from sklearn.metrics import balanced_accuracy_score, f1_score, precision_recall_fscore_support

    labels = list(range(len(classes)))
    if len(truth) == 0:
        return {}, {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "y_pred contains classes not in y_true", ill-defined precision
        precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, labels=labels, zero_division=0)
        scalars = {
            "balanced_accuracy": float(balanced_accuracy_score(truth, predicted)),
            "macro_f1": float(f1_score(truth, predicted, average="macro", zero_division=0)),
        }
    per_class = {
        c: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for c, p, r, f, s in zip(classes, precision, recall, f1, support)
    }
    return scalars, per_class
