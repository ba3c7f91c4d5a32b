"""A recommender's metrics on held-out interactions: recall@k and NDCG@k, beside those of the
popularity baseline (the k most popular training items a user has not interacted with).

Each held-out split's users are ranked every item, their training items excluded (as the export
does with `export.exclude_seen`); a user's relevant items are their interactions in that split.
Per user, recall@k is the share of their held-out items in the top k, NDCG@k the discounted
gain of those hits over the best possible; both are averaged over users. In `metrics.json`:

```
{"validation": {"loss": ..., "recall_at_10": ..., "ndcg_at_10": ..., "popularity_recall_at_10": ..., ...},
 "retrieval_curve": {"validation": {"k": [1, 5, 10, 20, 50], "recall": [...], "popularity_recall": [...]}, "test": ...}}
```
"""

from __future__ import annotations

import numpy as np

CURVE = "retrieval_curve"
CURVE_K = (1, 5, 10, 20, 50)
BATCH_USERS = 512


def add_retrieval_metrics(results: dict, model, bundle, k: int | None = None, splits=("validation", "test")) -> None:
    """recall@k, NDCG@k and the popularity baseline's into `results[split]` for every held-out
    split of `bundle` (those of `splits`), and recall at several k into `results["retrieval_curve"]`."""
    k = int(k or model.top_k)
    for split in splits:
        if split not in bundle.splits or bundle.size(split) == 0:
            continue
        part = bundle.splits[split]
        users, held = held_out(part.x["user"].reshape(-1).astype(str), part.x["item"].reshape(-1).astype(str))
        depth = min(max(max(CURVE_K), k), len(model.items))
        ks = sorted({c for c in CURVE_K if c <= depth} | {min(k, depth)})
        values = results.setdefault(split, {})
        curve = {"k": ks}
        for prefix, popularity in (("", False), ("popularity_", True)):
            ranked = ranked_items(model, users, depth, popularity)
            recall, ndcg = ranking_scores(ranked, held, ks)
            values[f"{prefix}recall_at_{k}"] = recall[ks.index(min(k, depth))]
            values[f"{prefix}ndcg_at_{k}"] = ndcg[ks.index(min(k, depth))]
            curve[f"{prefix}recall"] = recall
        values["users"] = len(users)
        results.setdefault(CURVE, {})[split] = curve


def held_out(users: np.ndarray, items: np.ndarray) -> tuple[list[str], list[set[str]]]:
    """Each user of a split, and the set of items they interacted with in it."""
    by_user: dict[str, set[str]] = {}
    for user, item in zip(users.tolist(), items.tolist()):
        by_user.setdefault(user, set()).add(item)
    names = sorted(by_user)
    return names, [by_user[u] for u in names]


def ranked_items(model, users: list[str], depth: int, popularity: bool) -> list[list[str]]:
    """The top `depth` item ids of each user, training items excluded: the model's ranking, or
    the popularity baseline's."""
    out = []
    for start in range(0, len(users), BATCH_USERS):
        batch = np.asarray(users[start:start + BATCH_USERS], dtype=object)
        ids, _, _ = model.recommend(batch, k=depth, exclude_seen=True, popularity=popularity)
        out += [[i.decode() for i in row] for row in np.asarray(ids)]
    return out


def ranking_scores(ranked: list[list[str]], relevant: list[set[str]], ks: list[int]) -> tuple[list[float], list[float]]:
    """Mean recall@k and NDCG@k over users (binary relevance), for each k of `ks`.

    Example:

    >>> recall, ndcg = ranking_scores([["a", "b"], ["c", "d"]], [{"b"}, {"x"}], [1, 2])
    >>> recall, [round(v, 4) for v in ndcg]  # user 1's item at rank 2: 1 / log2(3); user 2: no hit
    ([0.0, 0.5], [0.0, 0.3155])
    """
    discount = 1.0 / np.log2(np.arange(2, max(ks) + 2))
    recall, ndcg = np.zeros(len(ks)), np.zeros(len(ks))
    for items, truth in zip(ranked, relevant):
        hits = np.asarray([item in truth for item in items[: max(ks)]], dtype="float64")
        hits = np.pad(hits, (0, max(ks) - len(hits)))
        for j, k in enumerate(ks):
            recall[j] += hits[:k].sum() / len(truth)
            ideal = discount[: min(len(truth), k)].sum()
            ndcg[j] += (hits[:k] * discount[:k]).sum() / ideal
    n = max(1, len(ranked))
    return (recall / n).tolist(), (ndcg / n).tolist()
