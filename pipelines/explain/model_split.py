"""Splits a strata model where gradients can start: after the string lookups, before the network.

A strata model takes raw inputs (numbers, category strings, sentences, pixels) and preprocesses
them inside the graph. Gradients cannot flow into a string, so attributions are computed at each
feature's first differentiable tensor: the one-hot or embedding output of a category, the token
embeddings of a text (or its bag of words, scaled to unit length when the model scales it), the
imputed value of a number, the raw pixels of an image. `front` maps raw inputs to those tensors,
`back` maps them to the prediction, and `back(front(x)) == model(x)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from strata import compat
from strata.run.inference import as_tensor

# float layers the split point moves past to their output: `Impute` stands for the raw value
# itself (identity on finite numbers); `UnitNormalization` (a text's bag scaled to unit length,
# `data.text.norm=l2`) makes the network blind to the bag's scale, so a path that scales the bag
# from zero would show it one point: attributions are taken on the scaled bag instead
_PASS_THROUGH_FLOAT = ("Impute", "UnitNormalization")


@dataclass
class SplitPoint:
    """Where one raw feature enters the differentiable part of the model.

    Args:
        feature: the raw input's name.
        index: position of this point among `SplitModel.front`'s outputs.
        differentiable: False when the feature only reaches the network as integers or strings
            (then it is held fixed and gets no gradient attribution).
        path: the layers between the raw input and this point, in order.
        held: positions among `front`'s outputs of integer tensors on the way that the network
            also reads directly (token ids that a padding mask is computed from); they are held
            at the example's values.
    """

    feature: str
    index: int
    differentiable: bool
    path: list[Any] = field(default_factory=list)
    held: list[int] = field(default_factory=list)

    def layer_of_type(self, *names: str):
        return next((layer for layer in self.path if type(layer).__name__ in names), None)


@dataclass
class SplitModel:
    """`front`: raw inputs -> split tensors; `back`: split tensors -> the model's output."""

    model: Any
    front: Any
    back: Any
    points: dict[str, SplitPoint]

    def encode(self, x: dict[str, np.ndarray]) -> tuple[list, list]:
        """The split tensors of raw inputs `x`, and the Keras masks they carry (or None)."""
        import tensorflow as tf

        raw = {name: as_tensor(values) for name, values in x.items() if name in self.front.input_names()}
        out = self.front(raw, training=False)
        out = out if isinstance(out, (list, tuple)) else [out]
        masks = [compat.keras_mask(t) for t in out]
        # a lookup can declare float32 one-hot output yet return integers: use the declared type
        dtypes = [str(t.dtype) for t in self.front.model.outputs]
        return [tf.cast(t, d) if "float" in d else tf.convert_to_tensor(t) for t, d in zip(out, dtypes)], masks

    def decode(self, tensors: list, masks: list | None = None):
        """The model's output from split tensors. Keras 3 builds padding masks as operations of
        the graph, so they come from the held token ids; `masks` is not needed to re-attach them."""
        return self.back(list(tensors), training=False)


def split_model(model) -> SplitModel:
    """Finds every raw input's first differentiable tensor and slices the model there.

    Raises:
        ValueError: when a raw input reaches the network through a path this cannot follow
            (a string or integer tensor used by several layers that are not all lookups).
    """
    import keras

    consumers = _consumers(model)
    inputs = _named_inputs(model)
    points: dict[str, SplitPoint] = {}
    tensors, held = [], []
    for name, tensor in inputs.items():
        path: list[Any] = []
        kept: list[Any] = []
        current = tensor
        while True:
            users = consumers.get(id(current), [])
            is_float = "float" in str(current.dtype)
            if is_float and not (len(users) == 1 and type(users[0][0]).__name__ in _PASS_THROUGH_FLOAT):
                break
            if len(users) > 1 and not is_float:
                # token ids read by an embedding and by a mask computation: follow the embedding,
                # keep the ids as a fixed input of the network
                floats = [u for u in users if len(u[1]) == 1 and "float" in str(u[1][0].dtype)]
                if len(floats) != 1:
                    break
                kept.append(current)
                users = floats
            if len(users) != 1:
                break
            layer, outputs = users[0]
            if len(outputs) != 1:
                break
            path.append(layer)
            current = outputs[0]
            if "float" in str(current.dtype) and type(layer).__name__ in _PASS_THROUGH_FLOAT:
                break
        points[name] = SplitPoint(name, len(tensors), "float" in str(current.dtype), path)
        tensors.append(current)
        held.append((name, kept))
    for name, kept in held:
        for tensor in kept:
            points[name].held.append(len(tensors))
            tensors.append(tensor)
    front = _NamedFront(keras.Model(inputs, tensors, name="explain_front"), list(inputs))
    back = keras.Model(tensors, model.outputs if len(model.outputs) > 1 else model.outputs[0], name="explain_back")
    return SplitModel(model, front, back, points)


class _NamedFront:
    """The front model, called with a dict of raw inputs by name."""

    def __init__(self, model, names: list[str]):
        self.model = model
        self.names = names

    def input_names(self) -> list[str]:
        return self.names

    def __call__(self, raw: dict, training: bool = False):
        return self.model(raw, training=training)


def _named_inputs(model) -> dict[str, Any]:
    struct = getattr(model, "_inputs_struct", None)
    if isinstance(struct, dict):
        return dict(struct)
    return {t.name: t for t in model.inputs}


def _consumers(model) -> dict[int, list[tuple[Any, list]]]:
    """For each symbolic tensor (by id), the layers of `model` that take it, with their outputs."""
    out: dict[int, list[tuple[Any, list]]] = {}
    for depth_nodes in model._nodes_by_depth.values():
        for node in depth_nodes:
            layer = node.operation
            if type(layer).__name__ == "InputLayer":
                continue
            for tensor in node.input_tensors:
                out.setdefault(id(tensor), []).append((layer, list(node.output_tensors)))
    return out


