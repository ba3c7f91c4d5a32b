"""The sequence a recurrent or attention network reads: text as embedded tokens, a numeric
series as its time steps, an image as its rows. Other features join after the sequence part."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras

SEQUENCE_KINDS = ("text", "sequence", "image")


@dataclass
class SequenceInput:
    """A `(batch, steps, dim)` tensor, whether it holds token ids, and the other features."""

    name: str
    kind: str
    tensor: Any
    steps: int
    extras: list[Any]


def sequence_input(ctx) -> SequenceInput:
    """The one text, sequence or image feature of the data, as a sequence of steps (token ids
    for text, still to be embedded)."""
    feature = ctx.single_feature(SEQUENCE_KINDS)
    x = ctx.encoded[feature.name]
    if feature.kind == "image":
        x = keras.layers.Reshape((x.shape[1], -1), name=f"{feature.name}_rows")(x)
    elif feature.kind == "sequence" and len(x.shape) == 2:
        x = keras.layers.Reshape((x.shape[1], 1), name=f"{feature.name}_steps")(x)
    extras = []
    for name, tensor in ctx.encoded.items():
        if name == feature.name:
            continue
        if len(tensor.shape) > 2:
            tensor = keras.layers.Flatten(name=f"{name}_flatten")(tensor)
        extras.append(tensor)
    return SequenceInput(feature.name, feature.kind, x, int(x.shape[1]), extras)


def vocabulary_size(ctx, name: str) -> int:
    """The token vocabulary of a text feature (its TextVectorization layer's, else the limit)."""
    tensor = ctx.encoded[name]
    layer = getattr(tensor, "_keras_history", [None])[0]
    if layer is not None and hasattr(layer, "vocabulary_size"):
        return int(layer.vocabulary_size())
    return int(ctx.bundle.feature(name).options.get("max_tokens", 20_000))


def embed_tokens(ctx, seq: SequenceInput, dim: int):
    """Token ids -> vectors (padding id 0 masked); other sequences pass through."""
    if seq.kind != "text":
        return seq.tensor
    return keras.layers.Embedding(
        vocabulary_size(ctx, seq.name), dim, mask_zero=True, name=f"{seq.name}_embedding"
    )(seq.tensor)


def join_extras(x, seq: SequenceInput):
    """The pooled sequence vector, concatenated with the other features' vectors."""
    if not seq.extras:
        return x
    return keras.layers.Concatenate(name="features")([x, *seq.extras])


def dense_stack(x, units: list[int], activation: str, dropout: float, key: str):
    from strata.models.activations import activation_layer

    for i, n in enumerate(units):
        x = keras.layers.Dense(n, name=f"dense{i}")(x)
        x = activation_layer(activation, f"{key}.activation", f"dense{i}_act")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dense{i}_dropout")(x)
    return x
