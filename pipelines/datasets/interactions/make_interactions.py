"""Writes `interactions.csv`: a synthetic implicit-feedback log of users choosing items.

Each user and item has a latent factor vector (8 dimensions, standard normal); items also have
a popularity bias that falls off as a power law of a random rank (a few items are chosen by
many users, most by few). A user makes 8 + Geometric(0.1) choices (at most 60), drawn without
replacement from softmax(affinity * <user, item> / sqrt(8) + popularity): taste and popularity
both matter, so a personal model can beat "most popular" but popularity is a real baseline.
Each choice gets a timestamp (the user's first visit uniform over 2024-01-01 .. 2025-06-01, then
exponential gaps of two days on average) and a 1-5 rating from the user's affinity for the item.

    python pipelines/datasets/interactions/make_interactions.py   # rewrites interactions.csv (seed 2024)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

USERS, ITEMS, DIM = 2000, 1000, 8
AFFINITY = 3.0           # weight of taste against popularity in a user's choice
POPULARITY_EXPONENT = 0.8  # popularity bias = -exponent * log(rank)
START, END = 1_704_067_200, 1_717_200_000  # 2024-01-01 .. 2024-06-01 (UTC): first visits
GAP_SECONDS = 2 * 86_400


def generate(seed: int = 2024):
    rng = np.random.default_rng(seed)
    users = rng.standard_normal((USERS, DIM))
    items = rng.standard_normal((ITEMS, DIM))
    popularity = -POPULARITY_EXPONENT * np.log(rng.permutation(ITEMS) + 1.0)
    rows = []
    for u in range(USERS):
        n = min(60, 8 + rng.geometric(0.1) - 1)
        taste = users[u] @ items.T / np.sqrt(DIM)
        logits = AFFINITY * taste + popularity
        chosen = np.argsort(-(logits + rng.gumbel(size=ITEMS)))[:n]  # Gumbel top-n: softmax without replacement
        rng.shuffle(chosen)  # preferences do not drift: the order of choices is random
        times = rng.integers(START, END) + np.cumsum(rng.exponential(GAP_SECONDS, n)).astype("int64")
        ratings = np.clip(np.round(3 + 1.2 * taste[chosen] + rng.normal(0, 0.5, n)), 1, 5).astype(int)
        rows += [(f"u{u:04d}", f"i{i:04d}", r, t) for i, r, t in zip(chosen, ratings, times)]
    return rows


def main() -> None:
    rows = generate()
    path = Path(__file__).with_name("interactions.csv")
    with path.open("w") as f:
        f.write("user,item,rating,timestamp\n")
        f.writelines(f"{u},{i},{r},{t}\n" for u, i, r, t in rows)
    print(f"wrote {len(rows)} interactions to {path}")


if __name__ == "__main__":
    main()
