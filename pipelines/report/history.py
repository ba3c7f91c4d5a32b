"""Reads a run's per-epoch metrics back from its TensorBoard event files (or Keras's History)."""

from __future__ import annotations

from pathlib import Path

# metric -> split ("train", "validation") -> (epochs, values)
Curves = dict[str, dict[str, tuple[list[int], list[float]]]]


def read_history(tensorboard_dir: Path) -> Curves:
    """The `epoch_*` scalars of `tensorboard/train` and `tensorboard/validation`, by metric.

    A resumed run appends to the same files; for an epoch logged twice, the last value wins.
    """
    curves: Curves = {}
    for split in ("train", "validation"):
        folder = Path(tensorboard_dir) / split
        if not folder.is_dir() or not any(folder.glob("events.out.tfevents.*")):
            continue
        for tag, points in _epoch_scalars(folder).items():
            metric = tag.removeprefix("epoch_")
            steps = sorted(points)
            curves.setdefault(metric, {})[split] = (steps, [points[s] for s in steps])
    return curves


def from_keras_history(history: dict[str, list[float]]) -> Curves:
    """The same shape from `keras.callbacks.History.history` (`loss`, `val_loss`, ...)."""
    curves: Curves = {}
    for key, values in history.items():
        split, metric = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
        curves.setdefault(metric, {})[split] = (list(range(len(values))), [float(v) for v in values])
    return curves


def _epoch_scalars(folder: Path) -> dict[str, dict[int, float]]:
    import logging

    import numpy as np
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logging.getLogger("tensorboard").setLevel(logging.WARNING)  # its directory watcher chats at INFO
    accumulator = EventAccumulator(str(folder), size_guidance={"tensors": 0, "scalars": 0})
    accumulator.Reload()
    tags = accumulator.Tags()
    out: dict[str, dict[int, float]] = {}
    for tag in tags.get("tensors", []):
        if tag.startswith("epoch_"):
            for event in accumulator.Tensors(tag):
                value = np.asarray(_to_array(event.tensor_proto))
                if value.size == 1:
                    out.setdefault(tag, {})[int(event.step)] = float(value.reshape(-1)[0])
    for tag in tags.get("scalars", []):
        if tag.startswith("epoch_"):
            for event in accumulator.Scalars(tag):
                out.setdefault(tag, {})[int(event.step)] = float(event.value)
    return out


def _to_array(proto):
    from tensorboard.util import tensor_util

    return tensor_util.make_ndarray(proto)
