"""CSV files too large to hold in memory, streamed through tf.data.

One pass over the files with pandas, in chunks, checks every row (a word in a numeric column is
reported with its file and row before training starts), counts the rows of each split, collects
the classes and keeps a bounded, uniform sample of the training rows to adapt the preprocessing
layers. Training then reads the lines again through tf.data: each row's split follows from a hash
of its index and the seed, computed by the same TensorFlow op in both passes, so the splits never
overlap. Rows are lines: a quoted field may not hold a line break.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from strata.data import tables
from strata.data.bundle import DataBundle, Split, with_length
from strata.data.columns import plan_columns, read_options
from strata.data.features import Task
from strata.data.splits import SPLITS, row_hash, split_of_rows, split_seed
from strata.errors import DataError

if TYPE_CHECKING:  # for annotations only: csv_source imports this module
    from strata.data.csv_source import CsvConfig

log = logging.getLogger(__name__)

CHUNK_ROWS = 50_000
HELD_OUT_SAMPLE = 2_000
NUMBER = r"\s*[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?|[iI]nf|[iI]nfinity|[nN]a[nN])\s*"


@dataclass
class StreamingCsvBundle(DataBundle):
    """A `DataBundle` whose splits are read from the files; `splits` hold bounded samples."""

    files: list[Path] = field(default_factory=list)
    delimiter: str = ","
    header: bool = True
    columns: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    # rows of each split in the files, those without a target included: the stream batches them
    # all and drops the target-less rows from each batch, so they count towards its batches
    file_rows: dict[str, int] = field(default_factory=dict)
    label_index: dict[str, int] = field(default_factory=dict)
    fractions: tuple[float, float] = (0.1, 0.1)
    split_seed: int = 0
    # training rows of each class in the files (the training split holds a sample)
    train_class_counts: list[int] = field(default_factory=list)

    def size(self, split: str) -> int:
        return self.counts.get(split, 0)

    def class_counts(self) -> np.ndarray:
        if len(self.train_class_counts) != self.task.num_classes:  # classes set by `task=`: the sample's
            return super().class_counts()
        return np.asarray(self.train_class_counts, dtype="int64")

    def dataset(self, split: str, batch_size: int, training: bool = False, with_targets: bool = True):
        import tensorflow as tf

        wanted = SPLITS.index(split)
        validation, test = self.fractions
        skip = 1 if self.header else 0
        files = tf.data.Dataset.from_tensor_slices([str(f) for f in self.files])
        lines = files.flat_map(lambda f: tf.data.TextLineDataset(f).skip(skip))
        lines = lines.filter(lambda line: tf.strings.length(tf.strings.strip(line)) > 0)

        def in_split(i, batch):
            return tf.boolean_mask(batch, tf.equal(split_of_rows(i, self.split_seed, validation, test), wanted))

        # the split of each row, decided on blocks of lines (one vectorized hash per block)
        ds = lines.enumerate().batch(8192).map(in_split, num_parallel_calls=self.parallel_calls()).unbatch()
        ds = ds.with_options(self.options())
        decode = self._decoder(with_targets)
        cache = self._cache_file()
        if cache:  # rows parsed once, in file order, and cached; shuffled afresh every epoch after
            ds = ds.batch(batch_size).map(decode, num_parallel_calls=self.parallel_calls()).unbatch()
            ds = ds.cache(f"{cache}.{split}")
        if training and self.pipeline.shuffle_buffer > 0:
            ds = ds.shuffle(self.pipeline.shuffle_buffer, seed=self.seed, reshuffle_each_iteration=True)
        # lengths counted by the checking pass: decoded rows (cached) or every row in the files
        rows = self.size(split) if cache else self.file_rows.get(split, 0)
        ds = with_length(ds.batch(batch_size), rows, batch_size)
        if not cache:
            ds = ds.map(decode, num_parallel_calls=self.parallel_calls())
        if self.pipeline.prefetch:
            ds = ds.prefetch(tf.data.AUTOTUNE)
        return ds

    def _decoder(self, with_targets: bool):
        import tensorflow as tf

        n = len(self.columns)
        position = {c: i for i, c in enumerate(self.columns)}
        missing = tf.constant(self.missing or [""])
        target = position[self.task.target]
        classification = self.task.kind in ("binary", "multiclass")
        if classification:
            table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant(list(self.label_index)), tf.constant(list(self.label_index.values()), tf.int64)
                ),
                default_value=-1,
            )

        def is_missing(values):
            stripped = tf.strings.strip(values)
            return tf.reduce_any(tf.equal(tf.expand_dims(stripped, -1), missing), axis=-1)

        def number(values):
            absent = is_missing(values)
            valid = tf.strings.regex_full_match(values, NUMBER) & ~absent
            parsed = tf.strings.to_number(tf.where(valid, tf.strings.strip(values), "0"), tf.float32)
            return tf.where(valid, parsed, tf.constant(float("nan")))

        def decode(lines):
            fields = tf.io.decode_csv(
                lines, record_defaults=[[""]] * n, field_delim=self.delimiter, use_quote_delim=self.delimiter != "\t"
            )
            x = {}
            for f in self.features:
                values = fields[position[f.column]]
                if f.dtype == "string":
                    x[f.name] = tf.reshape(tf.where(is_missing(values), "", values), (-1, 1))
                else:
                    x[f.name] = tf.reshape(number(values), (-1, 1))
            raw = fields[target]
            if classification:
                y = table.lookup(tf.strings.strip(raw))
                keep = y >= 0
                y = tf.cast(y, tf.int32)
            else:
                y = number(raw)
                keep = ~tf.math.is_nan(y)
            x = {k: tf.boolean_mask(v, keep) for k, v in x.items()}
            return (x, tf.boolean_mask(y, keep)) if with_targets else x

        return decode


def load_streaming(cfg: CsvConfig, files: list[Path], delimiter: str, seed: int) -> StreamingCsvBundle:
    """Checks and samples the files in one pass; returns a bundle that streams them."""
    head = tables.read_table(files[:1], delimiter, key="data.path", nrows=min(cfg.sample_rows, 20_000), **read_options(cfg))
    layout = plan_columns(cfg, head)
    features = layout.features(cfg)
    columns = [str(c) for c in head.frame.columns]
    missing = set(cfg.missing_values)
    head_target = head.frame[cfg.target].to_numpy(dtype=str)
    kind = tables.infer_task(head_target[~tables.missing_mask(head_target, missing)], cfg.max_classes)

    seed_of_split = split_seed(cfg, seed)
    fractions = (cfg.split.validation, cfg.split.test)
    counts = dict.fromkeys(SPLITS, 0)
    file_rows = dict.fromkeys(SPLITS, 0)
    labels: dict[str, str] = {}  # raw label -> class name
    train_labels: dict[str, int] = {}  # raw label -> training rows
    samples: dict[str, list] = {s: [] for s in SPLITS}  # (priority, x dict, raw target) chunks
    row0 = 0
    for f in files:
        offset = 0
        for chunk in _chunks(f, delimiter, cfg, columns):
            chunk = chunk.reset_index(drop=True)
            table = tables.Table(chunk, [f], [-offset], cfg.header)
            index = np.arange(row0, row0 + len(chunk))
            part = split_of_rows(index, seed_of_split, *fractions).numpy()
            target = chunk[cfg.target].to_numpy(dtype=str)
            present = ~tables.missing_mask(target, missing)
            x = _features_of(cfg, table, layout)
            if kind == "regression":
                _, bad = tables.parse_numbers(target, ~present)
                if bad.any():
                    row = int(np.flatnonzero(bad)[0])
                    raise DataError(f"data.target={cfg.target}: {table.where(row)} holds {str(target[row])!r}, expected a number.")
            else:
                for raw in set(np.char.strip(target[present].astype(str)).tolist()):
                    labels.setdefault(raw, tables.canonical_label(raw))
            priority = row_hash(index, seed_of_split + 7919).numpy()
            for s, name in enumerate(SPLITS):
                rows = np.flatnonzero((part == s) & present)
                counts[name] += len(rows)
                if name == "train" and kind != "regression":
                    for raw, count in zip(*np.unique(np.char.strip(target[rows].astype(str)), return_counts=True)):
                        train_labels[str(raw)] = train_labels.get(str(raw), 0) + int(count)
                file_rows[name] += int((part == s).sum())
                limit = cfg.sample_rows if name == "train" else HELD_OUT_SAMPLE
                samples[name] = _keep_lowest(samples[name], priority[rows], {k: v[rows] for k, v in x.items()},
                                             target[rows], limit)
            offset += len(chunk)
            row0 += len(chunk)

    if kind == "regression":
        task = Task("regression", target=cfg.target)
    else:
        classes = tables.class_order(np.array(sorted(set(labels.values())), dtype=object))
        if len(classes) < 2:
            raise DataError(
                f"data.target={cfg.target}: every row of {files[0]} holds the same value ({classes[0]!r}); "
                "a classifier needs at least two classes."
            )
        task = Task("binary" if len(classes) == 2 else "multiclass", target=cfg.target, classes=classes)
    index = {c: i for i, c in enumerate(task.classes or [])}
    label_index = {raw: index[name] for raw, name in labels.items()}
    train_class_counts = [0] * len(index)
    for raw, count in train_labels.items():
        train_class_counts[label_index[raw]] += count
    splits = {}
    for name in SPLITS:
        if counts[name] == 0:
            continue
        x, raw = _merged(samples[name], features)
        if task.kind == "regression":
            y = np.asarray(raw, dtype="float32")
        else:
            y = np.array([label_index[str(v).strip()] for v in raw], dtype="int32")
        splits[name] = Split(x, y)
    log.info("data: streaming %s rows (%s)", f"{sum(counts.values()):,}", ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return StreamingCsvBundle(
        features, task, splits, cfg.pipeline, seed,
        files=list(files), delimiter=delimiter, header=cfg.header, columns=columns,
        missing=sorted(missing), counts=counts, file_rows=file_rows, label_index=label_index, fractions=fractions, split_seed=seed_of_split,
        train_class_counts=train_class_counts,
    )


def _chunks(f: Path, delimiter: str, cfg: CsvConfig, columns: list[str]):
    import pandas as pd

    try:
        reader = pd.read_csv(
            f, sep=delimiter, header=0 if cfg.header else None, names=None if cfg.header else columns,
            dtype=str, keep_default_na=False, na_filter=False, encoding=cfg.encoding, chunksize=CHUNK_ROWS,
            quoting=csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL,
        )
        for chunk in reader:
            if cfg.header:
                chunk.columns = [str(c).strip() for c in chunk.columns]
                if cfg.column_names:
                    chunk.columns = list(cfg.column_names)
            if list(chunk.columns) != columns:
                raise DataError(f"data.path: {f} has columns {', '.join(map(str, chunk.columns))}; expected {', '.join(columns)}.")
            yield chunk
    except pd.errors.ParserError as ex:
        raise DataError(f"data.path: cannot parse {f}: {str(ex).strip().splitlines()[-1]}") from None
    except UnicodeDecodeError as ex:
        raise DataError(f"data.path: {f} is not {cfg.encoding} text (byte {ex.start}); set data.encoding.") from None


def _features_of(cfg: CsvConfig, table: tables.Table, layout) -> dict[str, np.ndarray]:
    """Feature arrays of a chunk, every numeric cell checked."""
    missing = set(cfg.missing_values)
    x = {}
    for f in layout.features(cfg):
        if f.kind == "numeric":
            x[f.name] = tables.numeric_column(table, f.column, missing).reshape(-1, 1)
        else:
            x[f.name] = tables.string_column(table, f.column, missing).reshape(-1, 1)
    return x


def _keep_lowest(kept: list, priority: np.ndarray, x: dict, target: np.ndarray, limit: int) -> list:
    """The `limit` rows of lowest priority seen so far: a uniform sample of bounded size."""
    kept = [*kept, (priority, x, target)]
    total = sum(len(p) for p, _, _ in kept)
    if total <= limit:
        return kept
    p = np.concatenate([k[0] for k in kept])
    order = np.argpartition(p, limit - 1)[:limit]
    merged_x = {name: np.concatenate([k[1][name] for k in kept])[order] for name in x}
    return [(p[order], merged_x, np.concatenate([k[2] for k in kept])[order])]


def _merged(kept: list, features) -> tuple[dict, np.ndarray]:
    x = {f.name: np.concatenate([k[1][f.name] for k in kept]) for f in features}
    return x, np.concatenate([k[2] for k in kept])
