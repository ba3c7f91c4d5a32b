"""Recurrent networks (SimpleRNN, LSTM, GRU) over text, time series or image rows."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from strata.models.schema import ModelConfig
from strata.registry import FAMILIES


class RNNConfig(ModelConfig):
    family: Literal["rnn"] = "rnn"
    cell: Literal["simple", "lstm", "gru"] = "lstm"
    units: list[int] = Field(default_factory=lambda: [64], min_length=1)
    bidirectional: bool = False
    return_sequences: bool = False
    dropout: float = Field(0.0, ge=0, lt=1)
    recurrent_dropout: float = Field(0.0, ge=0, lt=1)
    dense_units: list[int] = Field(default_factory=list)
    activation: str = "relu"
    head_dropout: float = Field(0.0, ge=0, lt=1)


@FAMILIES.register("rnn", RNNConfig, sequence_inputs=True)
def build(ctx):
    import keras

    from strata.models import sequences

    cfg: RNNConfig = ctx.cfg
    seq = sequences.sequence_input(ctx)
    x = sequences.embed_tokens(ctx, seq, cfg.embedding_dim)
    cell = {"simple": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[cfg.cell]
    for i, units in enumerate(cfg.units):
        last = i == len(cfg.units) - 1
        layer = cell(
            units,
            return_sequences=not last or cfg.return_sequences,
            dropout=cfg.dropout,
            recurrent_dropout=cfg.recurrent_dropout,
            name=f"{cfg.cell}{i}",
        )
        if cfg.bidirectional:
            layer = keras.layers.Bidirectional(layer, name=f"bidirectional{i}")
        x = layer(x)
    if cfg.return_sequences:
        x = keras.layers.Flatten(name="sequence_flatten")(x)
    x = sequences.join_extras(x, seq)
    x = sequences.dense_stack(x, cfg.dense_units, cfg.activation, cfg.head_dropout, "model")
    return ctx.supervised(x)
