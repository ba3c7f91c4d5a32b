"""Matrix factorization of explicit ratings (`model=matrix_factorization`): rating = mean + user
bias + item bias + <user vector, item vector>, trained on the squared error (RMSE in
metrics.json), ranking items by predicted rating (`strata.layers.MatrixFactorization`).

The data is interactions with ratings (`data=interactions data.rating_column=rating`); the
export, `strata predict` and recall@k / NDCG@k are the two-tower model's.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from strata.errors import ConfigError
from strata.models.families.two_tower import side_features, training_interactions, with_side_features
from strata.models.schema import ModelConfig
from strata.registry import FAMILIES


class MatrixFactorizationConfig(ModelConfig):
    family: Literal["matrix_factorization"] = "matrix_factorization"
    name: str = "matrix_factorization"
    embedding_dim: int = Field(32, ge=1)
    tower_units: list[int] = Field(default_factory=list)
    l2: float = Field(1e-4, ge=0)
    top_k: int = Field(10, ge=1)
    loss: None = None  # type: ignore[assignment]
    metrics: None = None  # type: ignore[assignment]


@FAMILIES.register("matrix_factorization", MatrixFactorizationConfig, task="retrieval", raw_inputs=("categorical",))
def build(ctx):
    import numpy as np

    from strata.layers import MatrixFactorization

    cfg: MatrixFactorizationConfig = ctx.cfg
    users, items = training_interactions(ctx.bundle)
    ratings = ctx.bundle.splits["train"].y
    if ratings is None:
        raise ConfigError("model=matrix_factorization learns explicit ratings; set data.rating_column (e.g. rating), "
                          "or use model=two_tower for implicit feedback.")
    unique_users, unique_items = np.unique(users).tolist(), np.unique(items).tolist()
    specs, tables = side_features(ctx.bundle, unique_users, unique_items)
    model = MatrixFactorization(
        unique_users,
        unique_items,
        embedding_dim=cfg.embedding_dim,
        tower_units=cfg.tower_units,
        l2=cfg.l2,
        rating_mean=float(np.mean(ratings)),
        top_k=min(cfg.top_k, len(unique_items)),
        seen_count=len(np.unique(np.stack([users, items], axis=1), axis=0)),
        name=cfg.name,
        **specs,
    )
    model.set_training_interactions(users, items)
    return with_side_features(model, tables)
