"""The default network of table data: numeric feature embeddings and a TabM-mini ensemble.

- Each scalar numeric column is embedded (Gorishniy et al. 2022): `piecewise_linear` encodes it
  by the quantile bins of its training values (a quantile transform, so skewed columns and
  outliers need no care), `periodic` by trainable sine/cosine frequencies; then one linear map
  and ReLU per column. `auto` embeds by quantile bins from 1,000 training rows on and feeds
  smaller tables' normalized values as they are. Categories, text bags and wider numeric inputs join as in `model=mlp`.
- The network is an ensemble of `ensemble_size` members (TabM-mini, Gorishniy et al. 2024): each
  member scales the input by its own vector, all share the MLP, each has its own output layer;
  each member is trained on its own loss and the model predicts their mean.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from strata.config.schema import auto_or_at_least
from strata.data.bundle import sample_index
from strata.models.schema import ModelConfig
from strata.registry import FAMILIES


class TabularConfig(ModelConfig):
    family: Literal["tabular"] = "tabular"
    units: list[int] = Field(default_factory=lambda: [256, 256, 256])
    activation: str = "relu"
    dropout: float = Field(0.1, ge=0, lt=1)
    ensemble_size: int = Field(16, ge=1)
    numeric_embedding: Literal["auto", "piecewise_linear", "periodic", "none"] = "auto"
    bins: int | Literal["auto"] = "auto"
    frequencies: int = Field(16, ge=1)
    frequency_scale: float = Field(0.1, gt=0)
    numeric_embedding_dim: int = Field(16, ge=1)

    @field_validator("bins", mode="before")
    @classmethod
    def _auto_or_two_or_more(cls, value):
        return auto_or_at_least(value, 2)


# `numeric_embedding: auto` embeds numeric columns by their quantile bins from this many training
# rows on; below it, each bin's parameters see too few rows, and the plain normalized values
# generalize better (measured with benchmarks/quality.py on tables of 128 to 1,300 training rows)
MIN_ROWS_FOR_EMBEDDINGS = 1000

# `bins: auto` follows the Rice rule for histograms, 2 * n^(1/3) bins for n training rows (about
# 14 for 300 rows, 20 for 1,000, 54 for 20,000), at most this many
MAX_AUTO_BINS = 48


def auto_bins(rows: int) -> int:
    """The number of quantile bins of a numeric column with `rows` training values."""
    return int(min(MAX_AUTO_BINS, max(2, math.ceil(2 * rows ** (1 / 3)))))


@FAMILIES.register("tabular", TabularConfig)
def build(ctx):
    import keras

    from strata.layers import EnsembleInputs
    from strata.models.activations import activation_layer
    from strata.models.heads import ensemble_head

    cfg: TabularConfig = ctx.cfg
    x = _features(ctx, cfg)
    if cfg.ensemble_size > 1:
        x = EnsembleInputs(cfg.ensemble_size, seed=ctx.bundle.seed, name="ensemble_inputs")(x)
    else:
        x = keras.layers.Reshape((1, x.shape[-1]), name="single_member")(x)
    for i, units in enumerate(cfg.units):
        x = keras.layers.Dense(units, name=f"dense{i}")(x)
        x = activation_layer(cfg.activation, "model.activation", f"act{i}")(x)
        if cfg.dropout:
            x = keras.layers.Dropout(cfg.dropout, name=f"dropout{i}")(x)
    return keras.Model(ctx.inputs, ensemble_head(x, ctx.task), name=cfg.name)


def _features(ctx, cfg: TabularConfig):
    """One vector per example: the embedded numeric block, then every other encoded feature."""
    import keras

    from strata.layers import PeriodicEncoding, PiecewiseLinearEncoding
    from strata.layers.tabular import quantile_edges
    from strata.models import preprocessing

    block, joined = preprocessing.numeric_block(ctx.bundle, ctx.encoded)
    if block is None:
        scalar = [f.name for f in ctx.bundle.features if f.kind == "numeric" and tuple(f.shape) == (1,)]
        block, joined = (ctx.encoded[scalar[0]], scalar) if scalar else (None, [])
    rest = ctx.flattened(exclude=joined)
    embedded = block
    kind = cfg.numeric_embedding
    if kind == "auto":
        kind = "piecewise_linear" if ctx.bundle.size("train") >= MIN_ROWS_FOR_EMBEDDINGS else "none"
    if block is not None and kind != "none":
        if kind == "piecewise_linear":
            values = _training_values(ctx, joined, block)
            bins = auto_bins(len(values)) if cfg.bins == "auto" else cfg.bins
            edges = [quantile_edges(values[:, j], bins) for j in range(values.shape[1])]
            encoded = PiecewiseLinearEncoding(edges, name="numeric_bins")(block)
        else:
            encoded = PeriodicEncoding(cfg.frequencies, cfg.frequency_scale, name="numeric_periodic")(block)
        embedded = keras.layers.EinsumDense(
            "bft,ftd->bfd",
            output_shape=(encoded.shape[1], cfg.numeric_embedding_dim),
            bias_axes="fd",
            activation="relu",
            name="numeric_embedding",
        )(encoded)
        embedded = keras.layers.Flatten(name="numeric_embedding_flat")(embedded)
    return ctx.joined(([embedded] if block is not None else []) + rest)


def _training_values(ctx, columns: list[str], block) -> np.ndarray:
    """The numeric block's values on the training split (imputed, transformed, normalized as the
    model does; a uniform sample of `strata.data.bundle.SAMPLE_ROWS` of a larger split), for the
    bins' quantiles."""
    import keras

    inputs = {name: ctx.inputs[name] for name in columns}
    values = {name: ctx.bundle.train_values(name) for name in columns}
    keep = sample_index(len(next(iter(values.values()))), seed=ctx.bundle.seed)
    values = {name: v[keep] for name, v in values.items()}
    return np.asarray(keras.Model(inputs, block).predict(values, batch_size=8192, verbose=0), dtype="float64")
