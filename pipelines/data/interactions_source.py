"""User-item interactions for recommendation: one row per (user, item) event, optionally with a
rating and a timestamp, from a CSV, TSV or Parquet file (or the public MovieLens 100k file).

The task is `retrieval`: a model learns which items a user picks next. The splits never put a
user's future into training: by default each user's last interaction is the test split and the
one before it the validation split (`split.strategy=leave_last_out`); `time` cuts every user at
the same moments, `random` holds out random rows. Held-out interactions of a user with no
training interaction are refused (`split.cold_users=error`) or dropped (`drop`).

The bundle's features are the `user` and `item` ids as strings (`categorical`); each split's
targets are the ratings when a rating column is named, else none. Optional feature tables
(`user_features`, `item_features`: one row per id) describe users and items; they are read into
`DataBundle.side_features` as `IdFeatures`, and the model keeps them, looked up by id.
"""

from __future__ import annotations

import logging
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from strata.config.schema import StrictModel
from strata.data import file_paths
from strata.data.bundle import DataBundle, Split
from strata.data.features import Feature, Task
from strata.data.schema import DataConfig, SplitConfig
from strata.errors import DataError, suggestion
from strata.registry import SOURCES

log = logging.getLogger(__name__)

MOVIELENS_100K = "movielens_100k"
MOVIELENS_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
MOVIELENS_COLUMNS = ["user", "item", "rating", "timestamp"]
# the model inputs every retrieval model takes
USER, ITEM = "user", "item"


class InteractionsSplitConfig(SplitConfig):
    strategy: Literal["leave_last_out", "time", "random"] = "leave_last_out"
    cold_users: Literal["error", "drop"] = "error"


class FeatureTableConfig(StrictModel):
    """A table of user (or item) features, one row per id: `data.user_features`, `data.item_features`."""

    path: str | None = None  # null: no table
    id_column: str | None = None  # null: the interactions' user_column (item_column)
    columns: list[str] | None = None  # null: every other column
    delimiter: str | None = None


class InteractionsConfig(DataConfig):
    """The `interactions` source's keys; conf/data/interactions.yaml documents each one."""

    source: Literal["interactions"] = "interactions"
    name: str = "synthetic"
    path: str | None = None
    base_dir: str | None = None
    delimiter: str | None = None
    header: bool = True
    column_names: list[str] | None = None
    user_column: str = Field("user", min_length=1)
    item_column: str = Field("item", min_length=1)
    rating_column: str | None = None
    timestamp_column: str | None = "timestamp"
    min_rating: float | None = None
    user_features: FeatureTableConfig = Field(default_factory=FeatureTableConfig)
    item_features: FeatureTableConfig = Field(default_factory=FeatureTableConfig)
    split: InteractionsSplitConfig = Field(default_factory=InteractionsSplitConfig)


@SOURCES.register("interactions", InteractionsConfig)
def load(cfg: InteractionsConfig, seed: int) -> DataBundle:
    if (cfg.split.folds or 1) > 1:
        raise DataError("data.split.folds: cross-validation is not available for interactions; held-out interactions "
                        "are each user's last ones (data.split.strategy), so train without data.split.folds.")
    frame, source = _read(cfg)
    users, items, ratings, times = _columns(cfg, frame, source)
    if cfg.limit is not None:
        users, items, ratings, times = users[: cfg.limit], items[: cfg.limit], ratings[: cfg.limit], times[: cfg.limit]
    parts = _split(cfg, users, times, seed)
    parts = _without_cold_users(cfg, users, parts)

    def split(rows: np.ndarray) -> Split:
        x = {USER: users[rows].reshape(-1, 1), ITEM: items[rows].reshape(-1, 1)}
        return Split(x, None if ratings is None else ratings[rows].reshape(-1, 1))

    features = [Feature(USER, "categorical", dtype="string", column=cfg.user_column),
                Feature(ITEM, "categorical", dtype="string", column=cfg.item_column)]
    task = Task("retrieval", target=cfg.rating_column)
    splits = {name: split(rows) for name, rows in parts.items()}
    train = splits["train"]
    log.info("data: %s interactions of %s users and %s items in training (split by %s)", f"{len(train):,}",
             f"{len(np.unique(train.x[USER])):,}", f"{len(np.unique(train.x[ITEM])):,}", cfg.split.strategy)
    side = {}
    for kind, table in ((USER, cfg.user_features), (ITEM, cfg.item_features)):
        if table.path is not None:
            side[kind] = _feature_table(cfg, kind, table, np.unique(train.x[kind]))
    return DataBundle(features, task, splits, cfg.pipeline, seed, side_features=side)


@dataclass
class IdFeatures:
    """The features of users (or items) by id, from `data.user_features` (`data.item_features`).

    `numeric` holds each numeric column's values (NaN where missing), `categorical` each other
    column's values as strings ("" where missing), both in the order of `ids`.
    """

    kind: str
    ids: np.ndarray
    numeric: dict[str, np.ndarray]
    categorical: dict[str, np.ndarray]
    source: str

    def aligned(self, vocabulary: list[str]) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
        """The features of index 0 (an unknown id) and of each id of `vocabulary`, in its order
        (a `StringLookup`'s indices): numeric columns standardized over the vocabulary's rows,
        missing values at 0 (the mean); categorical columns as indices into their values, 0 for
        missing. Returns (numeric (n + 1, columns) float32, categorical (n + 1, columns) int64,
        the number of values of each categorical column)."""
        position = {id_: row for row, id_ in enumerate(self.ids.tolist())}
        rows = np.asarray([position.get(v, -1) for v in vocabulary], dtype="int64")
        present = rows >= 0
        numeric = np.zeros((len(vocabulary) + 1, len(self.numeric)), dtype="float32")
        for j, values in enumerate(self.numeric.values()):
            column = np.full(len(vocabulary), np.nan)
            column[present] = values[rows[present]]
            known = column[~np.isnan(column)]
            mean, std = (known.mean(), known.std()) if len(known) else (0.0, 1.0)
            numeric[1:, j] = np.nan_to_num((column - mean) / (std if std > 0 else 1.0), nan=0.0)
        categorical = np.zeros((len(vocabulary) + 1, len(self.categorical)), dtype="int64")
        sizes = {}
        for j, (name, values) in enumerate(self.categorical.items()):
            column = np.full(len(vocabulary), "", dtype=object)
            column[present] = values[rows[present]]
            levels = sorted({v for v in column.tolist() if v != ""})
            index = {v: i + 1 for i, v in enumerate(levels)}
            categorical[1:, j] = [index.get(v, 0) for v in column.tolist()]
            sizes[name] = len(levels)
        return numeric, categorical, sizes


def _feature_table(cfg: InteractionsConfig, kind: str, table: FeatureTableConfig, train_ids: np.ndarray) -> IdFeatures:
    """One feature table, checked: its id column exists and holds each id once, its feature
    columns exist; numbers become numeric features, anything else categorical."""
    key = f"data.{kind}_features"
    files = file_paths.matching_files(table.path, cfg.base_dir, key=f"{key}.path")
    if len(files) != 1:
        raise DataError(f"{key}.path={table.path}: {len(files)} files match; a feature table is one file.")
    frame = _read_frame(files[0], table.delimiter, True, None, f"{key}.path")
    columns = [str(c) for c in frame.columns]
    id_column = table.id_column or (cfg.user_column if kind == USER else cfg.item_column)
    if id_column not in columns:
        raise DataError(f"{key}.id_column={id_column}: no column '{id_column}' in {files[0]}.{suggestion(id_column, columns)} "
                        f"Columns: {', '.join(columns)}.")
    ids = frame[id_column].to_numpy(dtype=object).astype(str)
    unique, first, counts = np.unique(ids, return_index=True, return_counts=True)
    if (counts > 1).any():
        twice = unique[counts > 1]
        rows = np.flatnonzero(ids == twice[0])[:2] + 2  # file lines: the header is line 1
        raise DataError(f"{key}.path: {kind} '{twice[0]}' has {counts[counts > 1][0]} rows in {files[0]} (lines {rows[0]} and "
                        f"{rows[1]}; {len(twice)} such ids); a feature table holds one row per {kind}.")
    names = table.columns if table.columns is not None else [c for c in columns if c != id_column]
    for name in names:
        if name not in columns or name == id_column:
            others = [c for c in columns if c != id_column]
            raise DataError(f"{key}.columns: no feature column '{name}' in {files[0]}.{suggestion(name, others)} "
                            f"Columns: {', '.join(others)}.")
    if not names:
        raise DataError(f"{key}: {files[0]} has no feature column beside '{id_column}'.")
    numeric, categorical = {}, {}
    for name in names:
        raw = frame[name].to_numpy(dtype=object).astype(str)
        blank = np.char.strip(raw) == ""
        parsed = np.asarray([_number(v) if not b else np.nan for v, b in zip(raw, blank)], dtype="float64")
        if np.isnan(parsed[~blank]).any() or blank.all():
            categorical[name] = np.where(blank, "", raw).astype(object)
        else:
            numeric[name] = parsed
    covered = np.isin(train_ids.astype(str), ids)
    log.info("data: %s features from %s: %s numeric (%s), %s categorical (%s); %s of %s training %ss have a row%s",
             kind, files[0].name, len(numeric), ", ".join(numeric) or "-", len(categorical), ", ".join(categorical) or "-",
             f"{int(covered.sum()):,}", f"{len(train_ids):,}", kind,
             "" if covered.all() else " (the others get the mean and an unknown value)")
    return IdFeatures(kind, ids.astype(object), numeric, categorical, str(files[0]))


def _read(cfg: InteractionsConfig):
    """The interactions table (every column as strings) and the file it came from."""
    movielens = cfg.name == MOVIELENS_100K and cfg.column_names is None
    if cfg.path is None:
        if cfg.name != MOVIELENS_100K:
            raise DataError(f"data.path: no interactions file; set data.path=<file> (or data.name={MOVIELENS_100K} to download "
                            "MovieLens 100k).")
        path = _movielens_download()
    else:
        files = file_paths.matching_files(cfg.path, cfg.base_dir)
        if len(files) != 1:
            raise DataError(f"data.path={cfg.path}: {len(files)} files match; interactions are read from one file.")
        path = files[0]
    delimiter = cfg.delimiter or ("\t" if movielens else None)
    frame = _read_frame(path, delimiter, False if movielens else cfg.header,
                        MOVIELENS_COLUMNS if movielens else cfg.column_names, "data.path")
    return frame, path


def _read_frame(path: Path, delimiter: str | None, header: bool, names: list[str] | None, key: str):
    """A CSV/TSV/Parquet file as a table of strings (missing cells: ""); a `DataError` naming
    `key` when it cannot be read or holds no rows."""
    import pandas as pd

    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
            frame = frame.astype(str).where(frame.notna(), "")
        else:
            delimiter = delimiter or ("\t" if suffix in (".tsv", ".tab", ".data") else ",")
            delimiter = "\t" if delimiter == "\\t" else delimiter
            frame = pd.read_csv(path, sep=delimiter, header=0 if header else None, names=names, dtype=str,
                                keep_default_na=False, engine="c")
    except (ValueError, OSError) as ex:  # pandas' parser errors are ValueErrors
        raise DataError(f"{key}: cannot read {path} as a table: {str(ex).splitlines()[0]}") from None
    if frame.empty:
        raise DataError(f"{key}: {path} holds no rows.")
    return frame


def _columns(cfg: InteractionsConfig, frame, source: Path):
    """Users and items as string arrays, ratings (float32 or None) and timestamps (int64 or None),
    in file order; a `DataError` naming the key and the column for anything missing or malformed."""
    columns = [str(c) for c in frame.columns]
    movielens = cfg.name == MOVIELENS_100K and cfg.column_names is None

    def column(key: str, name: str):
        if name not in columns:
            raise DataError(f"data.{key}={name}: no column '{name}' in {source}.{suggestion(name, columns)} "
                            f"Columns: {', '.join(columns)}.")
        values = frame[name].to_numpy(dtype=object)
        empty = np.flatnonzero(np.char.strip(values.astype(str)) == "")
        if len(empty):
            raise DataError(f"data.{key}={name}: column '{name}' is empty at {source} row {empty[0] + 1} "
                            f"({len(empty)} such rows); every interaction needs a {key.removesuffix('_column')}.")
        return values

    def numbers(key: str, name: str):
        values = column(key, name)
        parsed = np.asarray([_number(v) for v in values], dtype="float64")
        bad = np.flatnonzero(np.isnan(parsed))
        if len(bad):
            raise DataError(f"data.{key}={name}: column '{name}' holds {values[bad[0]]!r} at {source} row {bad[0] + 1}, "
                            f"expected a number ({len(bad)} such rows).")
        return parsed

    users = column("user_column", cfg.user_column).astype(str).astype(object)
    items = column("item_column", cfg.item_column).astype(str).astype(object)
    rating_name = cfg.rating_column or ("rating" if movielens and cfg.min_rating is not None else None)
    ratings = numbers("rating_column", rating_name).astype("float32") if rating_name else None
    times = None
    if cfg.timestamp_column is not None:
        times = _timestamps(column("timestamp_column", cfg.timestamp_column), cfg.timestamp_column, source)
    elif cfg.split.strategy == "time":
        raise DataError("data.split.strategy=time needs data.timestamp_column (it is null).")
    if cfg.min_rating is not None:
        if ratings is None:
            raise DataError("data.min_rating: needs data.rating_column, the column holding the ratings.")
        keep = ratings >= cfg.min_rating
        if not keep.any():
            raise DataError(f"data.min_rating={cfg.min_rating:g}: no interaction of {source} has a rating that high "
                            f"(the highest is {ratings.max():g}).")
        users, items, ratings = users[keep], items[keep], ratings[keep]
        times = None if times is None else times[keep]
    return users, items, ratings, times


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _timestamps(values: np.ndarray, name: str, source: Path) -> np.ndarray:
    """Seconds since the epoch: numbers as they are, dates and times parsed."""
    import pandas as pd

    numeric = np.asarray([_number(v) for v in values], dtype="float64")
    if not np.isnan(numeric).any():
        return numeric
    parsed = pd.to_datetime(pd.Series(values), errors="coerce", utc=True)
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if len(bad):
        raise DataError(f"data.timestamp_column={name}: column '{name}' holds {values[bad[0]]!r} at {source} row {bad[0] + 1}, "
                        f"expected a number or a date ({len(bad)} such rows).")
    return (parsed.astype("int64") // 10**9).to_numpy().astype("float64")


def _split(cfg: InteractionsConfig, users: np.ndarray, times: np.ndarray | None, seed: int) -> dict[str, np.ndarray]:
    """Row indices of each split."""
    s = cfg.split
    n = len(users)
    order_time = np.arange(n, dtype="float64") if times is None else times
    if s.strategy == "leave_last_out":
        # each user's interactions in time order (file order breaks ties); the last ones held out
        order = np.lexsort((np.arange(n), order_time, users.astype(str)))
        sorted_users = users[order].astype(str)
        starts = np.r_[0, np.flatnonzero(sorted_users[1:] != sorted_users[:-1]) + 1]
        counts = np.diff(np.r_[starts, n])
        from_end = np.repeat(starts + counts, counts) - 1 - np.arange(n)  # 0: the user's last interaction
        count = np.repeat(counts, counts)
        assigned = np.full(n, "train", dtype=object)
        held = [name for name, fraction in (("test", s.test), ("validation", s.validation)) if fraction > 0]
        for position, name in enumerate(held):
            # a user keeps at least one training interaction
            assigned[(from_end == position) & (count > position + 1)] = name
        labels = np.empty(n, dtype=object)
        labels[order] = assigned
    elif s.strategy == "time":
        cut_test = np.quantile(order_time, 1 - s.test) if s.test > 0 else np.inf
        cut_val = np.quantile(order_time, 1 - s.test - s.validation) if s.validation > 0 else cut_test
        labels = np.where(order_time >= cut_test, "test", np.where(order_time >= cut_val, "validation", "train")).astype(object)
    else:
        rng = np.random.default_rng(s.seed if s.seed is not None else seed)
        u = rng.random(n)
        labels = np.where(u < s.test, "test", np.where(u < s.test + s.validation, "validation", "train")).astype(object)
    return {name: np.flatnonzero(labels == name) for name in ("train", "validation", "test") if (labels == name).any()}


def _without_cold_users(cfg: InteractionsConfig, users: np.ndarray, parts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The held-out splits without users the training split never saw (`split.cold_users=drop`),
    or a `DataError` naming one (`error`): the model has nothing to recommend them from."""
    if "train" not in parts:
        raise DataError(f"data.split: no training interactions are left by split.strategy={cfg.split.strategy}.")
    known = set(users[parts["train"]].tolist())
    for name in ("validation", "test"):
        if name not in parts:
            continue
        rows = parts[name]
        cold = np.asarray([u not in known for u in users[rows]], dtype=bool)
        if not cold.any():
            continue
        if cfg.split.cold_users == "error":
            first = users[rows[cold][0]]
            raise DataError(
                f"data.split: user '{first}' has interactions in the {name} split but none in training "
                f"({len(np.unique(users[rows[cold]]))} such users, by split.strategy={cfg.split.strategy}); "
                "use data.split.strategy=leave_last_out, or data.split.cold_users=drop to leave them out of evaluation."
            )
        log.info("data: %d %s interactions of users with no training interaction left out (split.cold_users=drop)",
                 int(cold.sum()), name)
        parts[name] = rows[~cold]
    return {name: rows for name, rows in parts.items() if len(rows)}


def _movielens_download() -> Path:
    """`u.data` of MovieLens 100k (GroupLens, F. Maxwell Harper and Joseph A. Konstan, 2015), downloaded
    once into strata's cache."""
    from strata.storage import cache_root

    folder = cache_root() / "datasets" / "ml-100k"
    target = folder / "u.data"
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / "ml-100k.zip.part"
    log.info("data: downloading MovieLens 100k from %s", MOVIELENS_URL)
    try:
        urllib.request.urlretrieve(MOVIELENS_URL, archive)
        with zipfile.ZipFile(archive) as z:
            partial = folder / "u.data.part"
            partial.write_bytes(z.read("ml-100k/u.data"))
            partial.replace(target)
    except (OSError, zipfile.BadZipFile, KeyError) as ex:
        raise DataError(f"data.name={MOVIELENS_100K}: cannot download {MOVIELENS_URL} ({type(ex).__name__}: {ex}); "
                        "download it yourself and set data.path=<the extracted ml-100k/u.data>.") from None
    finally:
        archive.unlink(missing_ok=True)
    return target
