"""How every source divides its examples into train, validation and test.

- Held in memory: a seeded shuffle, stratified by class for classifiers (`split_rows`); separate
  files named by `data.validation_path` / `data.test_path` replace the fraction of their split
  (`separate_files`).
- Time series: chronological, the latest windows held out (`chronological`).
- Streamed files: each row's split follows from a hash of its index and the seed
  (`split_of_rows`), the same in the checking pass and in tf.data, so splits never overlap.

`data.limit` caps the training split after splitting, so the held-out splits stay the same.

Cross-validation (`data.split.folds=K`) divides the non-test rows again, into K folds
(`fold_indices`): stratified by class, shuffled, or expanding windows in time order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from strata.errors import DataError

SPLITS = ("train", "validation", "test")

# the separate split files a file source may name: (split, config key)
SEPARATE_KEYS = (("validation", "validation_path"), ("test", "test_path"))

# resolution of the row hash that assigns streamed rows to splits
HASH_BUCKETS = 1_000_000


def split_seed(cfg: Any, seed: int) -> int:
    """The seed of the split: `data.split.seed` when set, else the run's seed."""
    return cfg.split.seed if cfg.split.seed is not None else seed


def separate_files(cfg: Any) -> Iterator[tuple[str, str, str]]:
    """(split, path, config key) for each separate split file the config names."""
    for split, field in SEPARATE_KEYS:
        path = getattr(cfg, field, None)
        if path:
            yield split, path, f"data.{field}"


def split_rows(cfg: Any, seed: int, full, separate: dict | None = None, stratify: np.ndarray | None = None) -> dict:
    """`full` (a `Split`) divided into train/validation/test by the config's fractions and seed,
    stratified by `stratify` when `data.split.stratify` is on. A split given in `separate` (read
    from its own file) takes that split's place; `data.limit` then caps the training split."""
    separate = separate or {}
    index = split_indices(
        len(full),
        0.0 if "validation" in separate else cfg.split.validation,
        0.0 if "test" in separate else cfg.split.test,
        split_seed(cfg, seed),
        stratify if cfg.split.stratify else None,
    )
    splits = {name: full.take(idx) for name, idx in index.items()}
    splits.update(separate)
    return limit_training(splits, cfg.limit)


def chronological(cfg: Any, full) -> dict:
    """`full` (a `Split` in time order) divided into consecutive train, validation and test
    parts; `data.limit` keeps the latest training examples."""
    n = len(full)
    n_test = int(round(n * cfg.split.test))
    n_val = int(round(n * cfg.split.validation))
    n_train = n - n_val - n_test
    bounds = {"train": (0, n_train), "validation": (n_train, n_train + n_val), "test": (n_train + n_val, n)}
    splits = {name: full.take(np.arange(a, b)) for name, (a, b) in bounds.items()}
    if cfg.limit is not None:
        splits["train"] = splits["train"].take(np.arange(max(0, n_train - cfg.limit), n_train))
    return splits


def limit_training(splits: dict, limit: int | None) -> dict:
    """The splits with at most `limit` training examples (the first ones), when `limit` is set."""
    if limit is not None:
        splits["train"] = splits["train"].take(np.arange(min(limit, len(splits["train"]))))
    return splits


def row_hash(index, seed: int):
    """A number in [0, 1) per row index, the same in NumPy's checking pass and in tf.data."""
    import tensorflow as tf

    keys = tf.strings.join([tf.strings.as_string(tf.cast(index, tf.int64)), tf.constant(f"/{seed}")])
    return tf.cast(tf.strings.to_hash_bucket_fast(keys, HASH_BUCKETS), tf.float64) / HASH_BUCKETS


def split_of_rows(index, seed: int, validation: float, test: float):
    """The split of each streamed row, as its position in SPLITS (a tensor)."""
    import tensorflow as tf

    u = row_hash(index, seed)
    return tf.where(u < test, 2, tf.where(u < test + validation, 1, 0))


def split_indices(
    n: int,
    validation: float,
    test: float,
    seed: int,
    stratify: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Shuffled train/validation/test index arrays, stratified by `stratify` when given; too few
    rows to split is the data's problem, reported as a `DataError`."""
    from sklearn.model_selection import train_test_split

    index = np.arange(n)
    parts: dict[str, np.ndarray] = {}
    rest, rest_strat = index, stratify
    try:
        if test > 0:
            rest, parts["test"] = train_test_split(
                rest, test_size=test, random_state=seed, stratify=_usable(rest_strat, test)
            )
            rest_strat = None if stratify is None else stratify[rest]
        if validation > 0:
            fraction = validation / (1 - test)
            rest, parts["validation"] = train_test_split(
                rest, test_size=fraction, random_state=seed + 1, stratify=_usable(rest_strat, fraction)
            )
    except ValueError as ex:
        raise DataError(
            f"data: {n} rows are too few to split into train/validation/test "
            f"(data.split.validation={validation}, data.split.test={test}): {str(ex).splitlines()[0]}"
        ) from None
    parts["train"] = rest
    return parts


def _usable(stratify: np.ndarray | None, fraction: float = 0.5) -> np.ndarray | None:
    """Stratify only when every class has at least two members and each side of the split can
    hold one of every class (scikit-learn's requirements)."""
    if stratify is None:
        return None
    _, counts = np.unique(stratify, return_counts=True)
    smaller = min(fraction, 1 - fraction) * len(stratify)
    return stratify if counts.min() >= 2 and smaller >= len(counts) else None


def fold_indices(
    n: int,
    k: int,
    seed: int,
    stratify: np.ndarray | None = None,
    chronological: bool = False,
    gap: int = 0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(training, validation) index arrays of `k` folds of `n` rows, for `data.split.folds=k`.

    Shuffled by `seed` (scikit-learn's `KFold`), stratified by the labels in `stratify` when
    given (`StratifiedKFold`: every fold holds each class in the proportions of all the rows), or
    with `chronological` rows in time order, expanding windows (`TimeSeriesSplit`): the rows are
    cut into k + 1 consecutive blocks, fold i trains on blocks 1..i and validates on block i + 1,
    leaving out the `gap` rows just before it (windows whose targets overlap the validation
    ones). Too few rows, or a class with fewer than k rows, is a `DataError` naming
    `data.split.folds`.

    Example:

    >>> [len(v) for _, v in fold_indices(10, 3, seed=0)]
    [4, 3, 3]
    >>> [(t.tolist(), v.tolist()) for t, v in fold_indices(6, 2, seed=0, chronological=True)]
    [([0, 1], [2, 3]), ([0, 1, 2, 3], [4, 5])]
    """
    from sklearn.model_selection import KFold, StratifiedKFold, TimeSeriesSplit

    if k < 2:
        raise ValueError(f"fold_indices: k must be at least 2, got {k}")
    key = f"data.split.folds={k}"
    if chronological:
        block = n // (k + 1)
        if block < 1 or n - k * block - gap < 1:
            raise DataError(
                f"{key}: {n} non-test examples in time order are too few for {k} expanding-window folds "
                f"(at least {k + 1 + gap} needed); lower data.split.folds."
            )
        folds = TimeSeriesSplit(n_splits=k, gap=gap).split(np.arange(n))
    elif stratify is not None:
        classes, counts = np.unique(stratify, return_counts=True)
        if counts.min() < k:
            rare = classes[int(np.argmin(counts))]
            raise DataError(
                f"{key}: class {str(rare)!r} has {int(counts.min())} non-test rows, and stratified folds need at least "
                f"{k} of every class; lower data.split.folds, or set data.split.stratify=false."
            )
        folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(n), stratify)
    else:
        if n < k:
            raise DataError(f"{key}: {n} non-test rows are too few for {k} folds; lower data.split.folds.")
        folds = KFold(n_splits=k, shuffle=True, random_state=seed).split(np.arange(n))
    return [(np.asarray(train), np.asarray(validation)) for train, validation in folds]
