"""Two-tower retrieval (`model=two_tower`): a user tower and an item tower over raw ids, trained
with an in-batch softmax (logQ-corrected, accidental hits removed, from KerasRS), ranking every
item by brute force (`strata.layers.TwoTowerRetrieval`).

The data is interactions (`data=interactions`): the model's vocabularies are the training
split's users and items, its popularity counts and each user's seen items come from the same
split. User and item feature tables (`data.user_features`, `data.item_features`) join each
tower's id embedding; the model keeps them by id. The export's `serving_default` takes a raw
user id and returns the top-k item ids.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from strata.errors import ConfigError
from strata.models.schema import ModelConfig
from strata.registry import FAMILIES


class TwoTowerConfig(ModelConfig):
    family: Literal["two_tower"] = "two_tower"
    name: str = "two_tower"
    embedding_dim: int = Field(32, ge=1)
    tower_units: list[int] = Field(default_factory=list)
    temperature: float = Field(0.1, gt=0)
    logq_correction: bool = True
    remove_accidental_hits: bool = True
    top_k: int = Field(10, ge=1)
    loss: None = None  # type: ignore[assignment]
    metrics: None = None  # type: ignore[assignment]


def training_interactions(bundle):
    """The training split's raw user and item ids, one pair per interaction (`data=interactions`)."""
    names = {f.name for f in bundle.features}
    if bundle.task.kind != "retrieval" or not {"user", "item"} <= names:
        found = ", ".join(f"{f.name} ({f.kind})" for f in bundle.features[:8])
        raise ConfigError(f"model=two_tower learns from user-item interactions (data=interactions); the data has: {found}.")
    train = bundle.splits["train"]
    return train.x["user"].reshape(-1).astype(str), train.x["item"].reshape(-1).astype(str)


def side_features(bundle, users: list[str], items: list[str]) -> tuple[dict, dict]:
    """The towers' feature specs (`user_features`, `item_features` of the model) and their
    tables aligned to the vocabularies (`kind -> (numeric, categorical)`, row 0: unknown)."""
    specs, tables = {}, {}
    for kind, vocabulary in (("user", users), ("item", items)):
        table = bundle.side_features.get(kind)
        if table is None:
            continue
        numeric, categorical, sizes = table.aligned(vocabulary)
        specs[f"{kind}_features"] = {"numeric": list(table.numeric), "categorical": sizes}
        tables[kind] = (numeric, categorical)
    return specs, tables


def with_side_features(model, tables: dict):
    for kind, (numeric, categorical) in tables.items():
        model.set_features(kind, numeric, categorical)
    return model


@FAMILIES.register("two_tower", TwoTowerConfig, task="retrieval", raw_inputs=("categorical",))
def build(ctx):
    import numpy as np

    from strata.layers import TwoTowerRetrieval

    cfg: TwoTowerConfig = ctx.cfg
    users, items = training_interactions(ctx.bundle)
    unique_users, unique_items = np.unique(users).tolist(), np.unique(items).tolist()
    seen = len(np.unique(np.stack([users, items], axis=1), axis=0))
    specs, tables = side_features(ctx.bundle, unique_users, unique_items)
    model = TwoTowerRetrieval(
        unique_users,
        unique_items,
        embedding_dim=cfg.embedding_dim,
        tower_units=cfg.tower_units,
        temperature=cfg.temperature,
        logq_correction=cfg.logq_correction,
        remove_accidental_hits=cfg.remove_accidental_hits,
        top_k=min(cfg.top_k, len(unique_items)),
        seen_count=seen,
        name=cfg.name,
        **specs,
    )
    model.set_training_interactions(users, items)
    return with_side_features(model, tables)
