"""CSV files too large to hold in memory, streamed through tf.data.

One pass over the files with pandas, in chunks, checks every row (a word in a numeric column is
reported with its file and row before training starts), counts the rows of each split, collects
the classes and keeps a bounded, uniform sample of the training rows to adapt the preprocessing
layers. Training then reads the files again with the same reader and the same options, and
converts the cells with the same functions (`strata.data.tables`), so the stream holds exactly
the rows and values the checking pass accepted: a quoted field may hold the delimiter or a line
break, a short row reads as missing cells, a number is a number by the same rule. Each row's
split follows from a hash of its index among the data rows of all the files and the seed
(`split_of_rows`), the same in both passes, so the splits never overlap.

The checking pass also writes what it decoded, split by split, to a spill folder (`Spill`: one
Arrow IPC file per split, one record batch per chunk, in `data.spill_dir` or the system's
temporary folder, removed when the bundle is), so every epoch reads float32 columns a record
batch at a time instead of parsing text again: parsing costs one pass, not one per epoch. Without the
room for it (or with `data.spill=false`), every epoch parses the files again (`chunks`).

The stream is a Python generator of whole decoded chunks, not of rows: a row costs the pipeline
no Python call and no tf.data element of its own. Training chunks are shuffled in numpy as they
are read (`_mixed`), then cut into batches by tf.data's `rebatch`.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import weakref
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
# rows of the runs a permuted chunk cached in a file is cut into before the shuffle buffer mixes
# them: small enough that a batch draws on several runs of the window, large enough that the
# per-element cost of tf.data stays far below the training step's
RUN_ROWS = 32


@dataclass
class StreamingCsvBundle(DataBundle):
    """A `DataBundle` whose splits are read from the files; `splits` hold bounded samples."""

    files: list[Path] = field(default_factory=list)
    delimiter: str = ","
    header: bool = True
    # how the files are read, as `read_options` of the config gives it (header, column_names,
    # encoding): the checking pass and the stream read with these, through `_chunks`
    reading: dict = field(default_factory=dict)
    columns: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # rows with a target in each split
    label_index: dict[str, int] = field(default_factory=dict)
    fractions: tuple[float, float] = (0.1, 0.1)
    split_seed: int = 0
    # training rows of each class in the files (the training split holds a sample)
    train_class_counts: list[int] = field(default_factory=list)
    spill: Spill | None = None  # the checking pass's decoded rows, read instead of the files

    def size(self, split: str) -> int:
        return self.counts.get(split, 0)

    def class_counts(self) -> np.ndarray:
        if len(self.train_class_counts) != self.task.num_classes:  # classes set by `task=`: the sample's
            return super().class_counts()
        return np.asarray(self.train_class_counts, dtype="int64")

    def dataset(self, split: str, batch_size: int, training: bool = False, with_targets: bool = True):
        """Batches of `(x, y)` (or `x`) of one split, as `DataBundle.dataset` gives them for a
        table held in memory: `x[name]` of shape (batch, 1), float32 or string; `y` int32 class
        indices or float32 numbers. Rows without a target are left out."""
        import tensorflow as tf

        read = self.spilled if self.spill is not None else self.chunks
        shuffle = training and self.pipeline.shuffle_buffer > 0
        cache = self._cache_file() if self.spill is None else None
        if shuffle and not cache:  # shuffled as they are read, with a new key every epoch
            keys = tf.data.Dataset.random(seed=self.seed, rerandomize_each_iteration=True).take(1)
            blocks = keys.flat_map(lambda key: tf.data.Dataset.from_generator(
                lambda key: _mixed(read(split), key, self.pipeline.shuffle_buffer),
                args=(key,), output_signature=self._signature()))
        else:
            blocks = tf.data.Dataset.from_generator(lambda: read(split), output_signature=self._signature())
        blocks = blocks.with_options(self.options())
        if self.pipeline.prefetch:  # the next chunk is read while this one trains
            blocks = blocks.prefetch(2)
        if cache:  # chunks parsed once, in file order, and cached; shuffled afresh every epoch after
            blocks = blocks.cache(f"{cache}.{split}")
            if shuffle:
                blocks = self._shuffled(blocks)
        ds = blocks.rebatch(batch_size)
        if not with_targets:
            ds = ds.map(lambda x, y: x)
        ds = with_length(ds, self.size(split), batch_size).with_options(self.options())
        if self.pipeline.prefetch:
            ds = ds.prefetch(tf.data.AUTOTUNE)
        return ds

    def _shuffled(self, blocks):
        """The shuffle of chunks cached in a file (`pipeline.cache`), after the cache: every
        chunk's rows permuted (a new permutation each epoch), cut into runs of `RUN_ROWS` rows,
        and the runs mixed by a buffer of `pipeline.shuffle_buffer` rows."""
        import tensorflow as tf

        def permuted(key):
            def permute(i, block):
                x, y = block
                order = tf.random.experimental.stateless_shuffle(tf.range(tf.shape(y)[0]), seed=tf.stack([key, i]))
                return {k: tf.gather(v, order) for k, v in x.items()}, tf.gather(y, order)

            return blocks.enumerate().map(permute, num_parallel_calls=self.parallel_calls())

        # one key per epoch, as the in-memory path draws its permutation (`_batch_indices`)
        keys = tf.data.Dataset.random(seed=self.seed, rerandomize_each_iteration=True).take(1)
        runs = keys.flat_map(permuted).rebatch(RUN_ROWS)
        window = max(1, self.pipeline.shuffle_buffer // RUN_ROWS)
        return runs.shuffle(window, seed=self.seed, reshuffle_each_iteration=True).rebatch(CHUNK_ROWS)

    def _signature(self):
        import tensorflow as tf

        x = {
            f.name: tf.TensorSpec((None, 1), tf.string if f.dtype == "string" else tf.float32)
            for f in self.features
        }
        classification = self.task.kind in ("binary", "multiclass")
        return x, tf.TensorSpec((None,), tf.int32 if classification else tf.float32)

    def spilled(self, split: str):
        """The rows of `split` as the checking pass decoded and spilled them, chunk by chunk:
        (feature arrays by input name, targets)."""
        classification = self.task.kind in ("binary", "multiclass")
        for x, target in self.spill.read(split, self.features):
            y = _class_indices(target, self.label_index) if classification else target
            yield x, y

    def chunks(self, split: str):
        """The rows of `split` that have a target, read chunk by chunk as the checking pass reads
        them: (feature arrays by input name, targets) per chunk of the files."""
        wanted = SPLITS.index(split)
        missing = set(self.missing)
        classification = self.task.kind in ("binary", "multiclass")
        row0 = 0
        for f in self.files:
            for chunk in _chunks(f, self.delimiter, self.columns, **self.reading):
                index = np.arange(row0, row0 + len(chunk))
                row0 += len(chunk)
                rows = split_of_rows(index, self.split_seed, *self.fractions).numpy() == wanted
                target = chunk[self.task.target].to_numpy(dtype=str)
                rows &= ~tables.missing_mask(target, missing)
                if not rows.any():
                    continue
                part = chunk[rows].reset_index(drop=True)
                table = tables.Table(part, [f], [0], self.header)
                x = _decoded(table, self.features, missing)
                if classification:
                    y = _class_indices(target[rows], self.label_index)
                else:
                    y = tables.parse_numbers(target[rows], np.zeros(int(rows.sum()), bool))[0].astype("float32")
                yield x, y


def _mixed(chunks, key, buffer: int):
    """The training stream's shuffle, done on whole chunks in numpy: each chunk joins the
    `buffer` rows held back from the chunks before it, the rows are permuted, and all but
    `buffer` of them go on (the rest at the end). A row so leaves in a random place of its
    chunk or of a later one, memory holds one chunk and the buffer, and no row costs a Python
    call or a tf.data element of its own. `key` (an int64 drawn anew every epoch from the
    run's seed) seeds the permutations."""
    rng = np.random.default_rng(int(key) % 2**63)
    held_x, held_y = None, None
    for x, y in chunks:
        if held_y is not None:
            x = {k: np.concatenate([held_x[k], v]) for k, v in x.items()}
            y = np.concatenate([held_y, y])
        order = rng.permutation(len(y))
        x = {k: v[order] for k, v in x.items()}
        y = y[order]
        out = max(len(y) - buffer, 0)
        held_x, held_y = {k: v[out:] for k, v in x.items()}, y[out:]
        if out:
            yield {k: v[:out] for k, v in x.items()}, y[:out]
    if held_y is not None and len(held_y):
        yield held_x, held_y


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
    labels: dict[str, str] = {}  # raw label -> class name
    train_labels: dict[str, int] = {}  # raw label -> training rows
    samples: dict[str, list] = {s: [] for s in SPLITS}  # (priority, x dict, raw target) chunks
    spill = Spill.create(cfg, files, features, kind)  # its folder goes when the bundle does, or at exit
    _check(cfg, files, delimiter, columns, features, kind, fractions, seed_of_split, counts, labels, train_labels,
           samples, spill)
    if spill is not None:
        spill.close()
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
        files=list(files), delimiter=delimiter, header=cfg.header, reading=read_options(cfg), columns=columns,
        missing=sorted(missing), counts=counts, label_index=label_index, fractions=fractions, split_seed=seed_of_split,
        train_class_counts=train_class_counts, spill=spill,
    )


class Spill:
    """The decoded rows of a streamed CSV, split by split: one Arrow IPC file per split in a
    folder of its own, one record batch per chunk of the files (feature columns in the order of
    the features, float32 or strings, then the target: float32, or the raw label). Written by the
    checking pass, read a record batch at a time every epoch. The folder is removed when the object
    is (or when the process exits); a folder left by a process that was killed is removed by the
    next spill in the same place."""

    PREFIX = "strata-spill-"

    def __init__(self, folder: Path, features, kind: str):
        import pyarrow as pa

        self.folder = folder
        fields = [pa.field(f"x{i}", pa.float32() if f.kind == "numeric" else pa.string()) for i, f in enumerate(features)]
        fields.append(pa.field("y", pa.float32() if kind == "regression" else pa.string()))
        self.schema = pa.schema(fields)
        self.features = list(features)
        self._writers: dict = {}
        self._remove = weakref.finalize(self, shutil.rmtree, str(folder), True)

    @classmethod
    def create(cls, cfg: CsvConfig, files: list[Path], features, kind: str) -> Spill | None:
        """A spill folder in `data.spill_dir` (null: the system's temporary folder), or None,
        logged, when `data.spill=false` or the folder's disk lacks the room."""
        if not cfg.spill:
            log.info("data: data.spill=false: every epoch parses the files again")
            return None
        cache = cfg.pipeline.cache
        if isinstance(cache, str) and cache:  # a cache file of the user's own: filled by the first epoch instead
            log.info("data: data.pipeline.cache=%s: the first epoch parses the files and caches them there", cache)
            return None
        parent = Path(cfg.spill_dir or tempfile.gettempdir()).expanduser()
        try:
            parent.mkdir(parents=True, exist_ok=True)
            free = shutil.disk_usage(parent).free
        except OSError as ex:
            raise DataError(f"data.spill_dir: cannot use {parent} ({ex.strerror or ex}); name a writable folder, "
                            "or set data.spill=false.") from None
        # decoded, a number takes 4 bytes, about what its text takes; strings take their text
        needed = sum(f.stat().st_size for f in files) * 1.1 + 2**28
        if free < needed:
            log.warning("data: %s has %.3g GB free, less than the %.3g GB a decoded copy of the files may take: every "
                        "epoch parses the files again (data.spill_dir names a folder with more room)",
                        parent, free / 2**30, needed / 2**30)
            return None
        _remove_abandoned(parent)
        folder = Path(tempfile.mkdtemp(prefix=f"{cls.PREFIX}{os.getpid()}-", dir=parent))
        log.info("data: the checking pass spills the decoded rows to %s; every epoch reads them from there", folder)
        return cls(folder, features, kind)

    def write(self, split: str, x: dict[str, np.ndarray], target: np.ndarray) -> None:
        import pyarrow as pa

        writer = self._writers.get(split)
        if writer is None:
            writer = self._writers[split] = pa.ipc.new_file(str(self.folder / f"{split}.arrow"), self.schema)
        values = [x[f.name].reshape(-1) for f in self.features] + [target]
        writer.write_batch(pa.record_batch(
            [pa.array(v, type=t) for v, t in zip(values, self.schema.types)], schema=self.schema))

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()

    def read(self, split: str, features):
        """(feature arrays by input name, of shape (rows, 1); targets) per chunk of `split`."""
        import pyarrow as pa

        path = self.folder / f"{split}.arrow"
        if not path.exists():  # no row of the files fell in this split
            return
        # read, not memory-mapped: the pages of a map count toward the process's resident memory
        # for as long as it is open, so a map of the whole split grows the peak RSS with the rows
        with pa.OSFile(str(path), "rb") as source:
            reader = pa.ipc.open_file(source)
            for i in range(reader.num_record_batches):
                batch = reader.get_batch(i)
                # copies, not views of arrow's buffers: a tensor may alias the array it is made of
                x = {f.name: np.array(batch.column(j).to_numpy(zero_copy_only=False)).reshape(-1, 1)
                     for j, f in enumerate(features)}
                yield x, np.array(batch.column(len(features)).to_numpy(zero_copy_only=False))

    def remove(self) -> None:
        self._remove()


def _remove_abandoned(parent: Path) -> None:
    """Removes the spill folders in `parent` of processes that no longer run (killed before
    they could remove their own)."""
    for folder in parent.glob(f"{Spill.PREFIX}*"):
        try:
            pid = int(folder.name[len(Spill.PREFIX):].split("-")[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (ValueError, PermissionError, OSError):  # not a spill's name, or a live process of another user
            continue


def _check(cfg, files, delimiter, columns, features, kind, fractions, seed_of_split, counts, labels, train_labels,
           samples, spill):
    """The checking pass: every row of the files read, checked and counted by split; the labels
    and training class counts collected; bounded samples of each split kept (`samples`); the
    decoded rows of each split written to `spill` (if any)."""
    missing = set(cfg.missing_values)
    row0 = 0
    for f in files:
        offset = 0
        for chunk in _chunks(f, delimiter, columns, **read_options(cfg)):
            chunk = chunk.reset_index(drop=True)
            table = tables.Table(chunk, [f], [-offset], cfg.header)
            index = np.arange(row0, row0 + len(chunk))
            part = split_of_rows(index, seed_of_split, *fractions).numpy()
            target = chunk[cfg.target].to_numpy(dtype=str)
            present = ~tables.missing_mask(target, missing)
            # rows without a target are left out unread, as in memory (`tables.labelled_rows`)
            tables.check_numbers(table, [f.column for f in features if f.kind == "numeric"], missing, rows=present)
            x = _decoded(table, features, missing)
            if kind == "regression":
                numbers, bad = tables.parse_numbers(target, ~present)
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
                if spill is not None and len(rows):
                    spill.write(name, {k: v[rows] for k, v in x.items()},
                                numbers[rows].astype("float32") if kind == "regression" else target[rows])
                limit = cfg.sample_rows if name == "train" else HELD_OUT_SAMPLE
                samples[name] = _keep_lowest(samples[name], priority[rows], {k: v[rows] for k, v in x.items()},
                                             target[rows], limit)
            offset += len(chunk)
            row0 += len(chunk)


def _chunks(f: Path, delimiter: str, columns: list[str], header: bool, column_names: list[str] | None, encoding: str):
    """The file's rows as frames of strings, `CHUNK_ROWS` at a time, read by the in-memory path's
    own reader (`tables.csv_frames`): the one reader of both the checking pass and the stream, so
    that both see the rows and cells the file gives in memory."""
    for chunk in tables.csv_frames(f, delimiter, header, column_names, encoding=encoding, chunksize=CHUNK_ROWS):
        if list(chunk.columns) != columns:
            raise DataError(f"data.path: {f} has columns {', '.join(map(str, chunk.columns))}; expected {', '.join(columns)}.")
        yield chunk


def _decoded(table: tables.Table, features, missing: set[str]) -> dict[str, np.ndarray]:
    """Feature arrays of a chunk as the in-memory path types them (`typed_columns`): float32 with
    NaN where missing (or not a number: the checking pass has refused a file with such a cell in a
    row that has a target, `tables.check_numbers`), or strings with '' where missing."""
    x = {}
    for f in features:
        if f.kind == "numeric":
            x[f.name] = tables.column_numbers(table, f.column, missing)[0].astype("float32").reshape(-1, 1)
        else:
            x[f.name] = tables.string_column(table, f.column, missing).reshape(-1, 1)
    return x


def _class_indices(target: np.ndarray, label_index: dict[str, int]) -> np.ndarray:
    """Class indices of raw target strings (each present, and seen by the checking pass), looked
    up once per distinct value."""
    distinct, inverse = np.unique(np.char.strip(target.astype(str)), return_inverse=True)
    return np.array([label_index[str(v)] for v in distinct], dtype="int32")[inverse.reshape(-1)]


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
