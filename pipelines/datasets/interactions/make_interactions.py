"""Writes `interactions.csv`: a synthetic implicit-feedback log of users choosing items, and
`users.csv` / `items.csv`: features of each user and item that reveal part of their tastes.

Each user and item has a latent factor vector (8 dimensions, standard normal); items also have
a popularity bias that falls off as a power law of a random rank (a few items are chosen by
many users, most by few). A user makes 8 + Geometric(0.1) choices (at most 60), drawn without
replacement from softmax(affinity * <user, item> / sqrt(8) + popularity): taste and popularity
both matter, so a personal model can beat "most popular" but popularity is a real baseline.
Each choice gets a timestamp (the user's first visit uniform over 2024-01-01 .. 2025-06-01, then
exponential gaps of two days on average) and a 1-5 rating from the user's affinity for the item.

Features (drawn after the interactions, from their own generator seeded 2025, so the
interactions do not change): a user's `segment` (a-d) is the sign pattern of their first two
latent dimensions and `age` is 35 + 8 x the third plus noise; an item's `category` (c0-c7) is
the sign pattern of its first three dimensions and `price` is exp(0.5 x the fourth plus noise).
Each feature is hidden for 5% of the rows (left empty).

    python pipelines/datasets/interactions/make_interactions.py   # rewrites the three files (seed 2024)
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
    return rows, users, items


def features(users: np.ndarray, items: np.ndarray, seed: int = 2025):
    """Rows of users.csv (user, segment, age) and items.csv (item, category, price)."""
    rng = np.random.default_rng(seed)

    def hide(value: str) -> str:
        return "" if rng.random() < 0.05 else value

    user_rows = [(f"u{u:04d}", hide("abcd"[int(v[0] > 0) * 2 + int(v[1] > 0)]), hide(f"{35 + 8 * v[2] + rng.normal(0, 2):.1f}"))
                 for u, v in enumerate(users)]
    item_rows = [(f"i{i:04d}", hide(f"c{int(v[0] > 0) * 4 + int(v[1] > 0) * 2 + int(v[2] > 0)}"),
                  hide(f"{np.exp(0.5 * v[3] + rng.normal(0, 0.1)):.2f}")) for i, v in enumerate(items)]
    return user_rows, item_rows


def main() -> None:
    rows, users, items = generate()
    folder = Path(__file__).parent
    with (folder / "interactions.csv").open("w") as f:
        f.write("user,item,rating,timestamp\n")
        f.writelines(f"{u},{i},{r},{t}\n" for u, i, r, t in rows)
    user_rows, item_rows = features(users, items)
    for name, header, table in (("users.csv", "user,segment,age", user_rows), ("items.csv", "item,category,price", item_rows)):
        with (folder / name).open("w") as f:
            f.write(header + "\n")
            f.writelines(",".join(row) + "\n" for row in table)
    print(f"wrote {len(rows)} interactions, {len(user_rows)} users and {len(item_rows)} items to {folder}")


if __name__ == "__main__":
    main()
