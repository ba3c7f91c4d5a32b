"""The table of predictions that `strata predict` writes and strata's MLflow model returns.

This module imports nothing but NumPy and pandas, and nothing from strata: the MLflow model
(`strata.tracking.served_model`) carries a copy of it, so a server that loads the model needs no
strata installed.
"""

from __future__ import annotations

import numpy as np


def to_frame(predictions: np.ndarray, ids: list[str] | None, kind: str, classes: list | None, target: str | None):
    """The model's outputs as columns: a classifier's label and each class's probability
    (`prob_<class>`), a multilabel model's probabilities and labels, otherwise the prediction in
    the target's units (one column per value). `ids` (the inputs' row numbers or file names)
    come first when given."""
    import pandas as pd

    predictions = np.asarray(predictions)
    n = len(predictions)
    frame = pd.DataFrame({"id": ids}) if ids is not None else pd.DataFrame(index=range(n))
    classes = list(classes or [])
    if kind == "binary":
        p = predictions.reshape(-1)
        frame["label"] = np.where(p >= 0.5, classes[1], classes[0])
        frame[f"prob_{classes[0]}"] = 1 - p
        frame[f"prob_{classes[1]}"] = p
    elif kind == "multiclass":
        frame["label"] = np.asarray(classes)[predictions.argmax(axis=-1)]
        for i, c in enumerate(classes):
            frame[f"prob_{c}"] = predictions[:, i]
    elif kind == "multilabel":
        for i, c in enumerate(classes):
            frame[f"prob_{c}"] = predictions[:, i]
        frame["labels"] = [" ".join(str(c) for c, on in zip(classes, row >= 0.5) if on) for row in predictions]
    else:
        flat = predictions.reshape(n, -1)
        name = target or {"reconstruction": "reconstruction", "generation": "sample"}.get(kind, "prediction")
        if flat.shape[1] == 1:
            frame[name] = flat[:, 0]
        else:
            for i in range(flat.shape[1]):
                frame[f"{name}_{i + 1}"] = flat[:, i]
    return frame
