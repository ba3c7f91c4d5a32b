"""The model's layers as table rows: name, type, output shape, parameters."""

from __future__ import annotations

from typing import Any


def layer_rows(model) -> list[list[Any]]:
    rows = []
    for layer in model.layers:
        try:
            shape = layer.output.shape
            shape = str(tuple(shape)) if not isinstance(shape, list) else ", ".join(str(tuple(s)) for s in shape)
        except (AttributeError, ValueError):
            shape = "?"
        try:
            params = int(layer.count_params())
        except ValueError:  # an unbuilt layer
            params = 0
        rows.append([layer.name, type(layer).__name__, shape.replace("None", "batch", 1), f"{params:,}"])
    return rows


def parameter_counts(model) -> dict[str, int]:
    trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
    total = sum(int(w.numpy().size) for w in model.weights)
    return {"total": total, "trainable": trainable, "non-trainable": total - trainable}
