"""Features and task from NumPy arrays (the `npz`, `tfrecord` and `keras_dataset` sources).

An array's shape per example says what it is: a number per example or a vector of numbers is
numeric, (height, width) or (height, width, channels) is an image, strings are text. The targets
say the task: integer labels are classes, 0/1 rows are multilabel, other numbers are regression.
"""

from __future__ import annotations

import numpy as np

from strata.data.features import Feature, Task, input_name
from strata.errors import DataError


def feature_for(name: str, array: np.ndarray, column: str | None = None, rescale: float | None = None) -> tuple[Feature, np.ndarray]:
    """The `Feature` an array of examples is, and the array in the feature's shape."""
    if array.dtype.kind in "USO":
        values = array.astype(str).astype(object).reshape(len(array), -1)
        kind = "text" if np.mean([len(str(v).split()) for v in values[:1000, 0]]) >= 3 else "categorical"
        return Feature(input_name(name), kind, (values.shape[1],), "string", column=column or name), values
    values = array.astype("float32")
    if values.ndim == 1:
        values = values.reshape(-1, 1)
    if values.ndim == 3:  # (n, height, width): one channel
        values = values[..., None]
    if values.ndim == 4:
        options = {"rescale": rescale} if rescale else {}
        return Feature(input_name(name), "image", tuple(values.shape[1:]), "float32", column=column or name, options=options), values
    if values.ndim == 2:
        return Feature(input_name(name), "numeric", (values.shape[1],), "float32", column=column or name), values
    raise DataError(f"array '{name}' has shape {array.shape}; expected (n,), (n, d), (n, h, w) or (n, h, w, c).")


def task_for(y: np.ndarray, target: str, max_classes: int = 20, classes: list[str] | None = None) -> tuple[Task, np.ndarray]:
    """The task the targets imply, and the targets as class indices or floats."""
    if y.dtype.kind in "USO":
        labels = y.astype(str).ravel()
        names = classes or sorted(set(labels.tolist()))
        index = {c: i for i, c in enumerate(names)}
        return _classes(target, names), np.array([index[v] for v in labels], dtype="int32")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 1 and y.dtype.kind in "iubf" and np.all(y == np.round(y)):
        distinct = np.unique(y)
        if len(distinct) <= max_classes and distinct.min() >= 0:  # labels are class indices
            names = classes or [str(i) for i in range(int(distinct.max()) + 1)]
            if len(distinct) < 2:
                names = names[:1]
            return _classes(target, names), y.astype("int32")
    if y.ndim == 2 and set(np.unique(y).tolist()) <= {0, 1} and y.shape[1] > 1:
        names = classes or [str(i) for i in range(y.shape[1])]
        return Task("multilabel", target=target, classes=names), y.astype("float32")
    shape = tuple(y.shape[1:]) or (1,)
    return Task("regression", target=target, target_shape=shape), y.astype("float32")


def _classes(target: str, names: list[str]) -> Task:
    if len(names) < 2:
        raise DataError(f"data.target={target}: every example has the same label ({names[0]!r}); a classifier needs two classes.")
    return Task("binary" if len(names) == 2 else "multiclass", target=target, classes=list(names))
