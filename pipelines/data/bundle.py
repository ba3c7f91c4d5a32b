"""What a data source hands to the rest of the pipeline: the features and the task
(`strata.data.features`), the splits, and the tf.data pipelines over them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from strata.data.features import Feature, Task
from strata.data.schema import PipelineConfig

# statistics that judge a whole column (bin quantiles, skewness) read at most this many training
# rows, a uniform sample, so start-up does not grow with the table (the quantiles of 100,000 rows
# are within about 0.3% of a column's true ones, far finer than a bin)
SAMPLE_ROWS = 100_000


def sample_rows(values: np.ndarray, limit: int = SAMPLE_ROWS, seed: int = 0) -> np.ndarray:
    """`values` itself when it has at most `limit` rows, else `limit` of its rows drawn uniformly
    without replacement (the same rows for a seed), in their original order."""
    if len(values) <= limit:
        return values
    return values[sample_index(len(values), limit, seed)]


def sample_index(rows: int, limit: int = SAMPLE_ROWS, seed: int = 0) -> np.ndarray:
    """Sorted indices of `min(rows, limit)` rows out of `rows`, drawn uniformly (the same for a seed)."""
    if rows <= limit:
        return np.arange(rows)
    return np.sort(np.random.default_rng(seed).choice(rows, limit, replace=False))


@dataclass
class Split:
    """One split held in memory: raw feature arrays by input name, and the targets."""

    x: dict[str, np.ndarray]
    y: np.ndarray | None

    def __len__(self) -> int:
        return len(next(iter(self.x.values())))

    def take(self, index: np.ndarray) -> Split:
        return Split({k: v[index] for k, v in self.x.items()}, None if self.y is None else self.y[index])


@dataclass
class DataBundle:
    """Features, task and splits of one data source, and the tf.data pipelines over them."""

    features: list[Feature]
    task: Task
    splits: dict[str, Split]
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    seed: int = 0
    # feature name -> a function from a batch of raw stored values (e.g. image paths) to the
    # batch of model inputs (the pixel arrays), run in tf.data's parallel map; for inputs too
    # big to hold in memory
    decoders: dict[str, Any] = field(default_factory=dict)
    # data=interactions: "user" / "item" -> their feature tables by id
    # (`strata.data.interactions_source.IdFeatures`), which the model keeps
    side_features: dict[str, Any] = field(default_factory=dict)
    # (split, batch size, training, with targets) -> the pipeline `dataset` built for them: a
    # tf.data pipeline is iterated afresh each epoch, so the fit, the callbacks and the final
    # evaluation share one per split instead of each tracing its own
    _datasets: dict[tuple, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def feature(self, name: str) -> Feature:
        return next(f for f in self.features if f.name == name)

    def size(self, split: str) -> int:
        return len(self.splits[split]) if split in self.splits else 0

    def class_counts(self) -> np.ndarray:
        """Examples of each class (label-index order) in the training split, for a classifier."""
        y = np.asarray(self.splits["train"].y).astype("int64").reshape(-1)
        return np.bincount(y, minlength=self.task.num_classes)

    def train_values(self, name: str) -> np.ndarray:
        """The training split's raw values of one feature, for adapting preprocessing layers."""
        return self.splits["train"].x[name]

    def dataset(self, split: str, batch_size: int, training: bool = False, with_targets: bool = True):
        """A batched tf.data pipeline over one split: (features by name, target), built once for
        each split and arguments."""
        key = (split, batch_size, training, with_targets)
        if key not in self._datasets:
            self._datasets[key] = self._dataset(split, batch_size, training, with_targets)
        return self._datasets[key]

    def _dataset(self, split: str, batch_size: int, training: bool, with_targets: bool):
        import tensorflow as tf

        part = self.splits[split]
        x = {
            f.name: part.x[f.name] if f.name in self.decoders else _as_tensor_input(part.x[f.name], f)
            for f in self.features
        }
        if not (self.decoders and self._cache_file()):
            return self._in_memory(x, part, batch_size, training, with_targets)
        # streamed through a cache file: decoded in order once, then shuffled from a buffer
        if with_targets and part.y is not None:
            ds = tf.data.Dataset.from_tensor_slices((x, part.y))
        else:
            ds = tf.data.Dataset.from_tensor_slices(x)
        ds = ds.with_options(self.options()).batch(batch_size)
        ds = ds.map(self._decode, num_parallel_calls=self.parallel_calls()).unbatch()
        ds = ds.cache(f"{self._cache_file()}.{split}")
        if training and self.pipeline.shuffle_buffer > 0:
            buffer = min(self.pipeline.shuffle_buffer, len(part))
            ds = ds.shuffle(buffer, seed=self.seed, reshuffle_each_iteration=True)
        return with_length(self.finish(ds, batch_size), len(part), batch_size)

    def _in_memory(self, x: dict, part: Split, batch_size: int, training: bool, with_targets: bool):
        """Data held in memory: shuffle and batch row indices, then gather each batch of every
        column at once, so the pipeline's work is per batch, not per example and column (with one
        tensor per table column, per-example slicing costs the training step its CPU). Streamed
        inputs are held as their raw stored values (image paths) and decoded a batch at a time."""
        import tensorflow as tf

        # a table's one-value columns of one dtype are stacked into one matrix: a batch is then one
        # gather per dtype (split back into columns), not one per column
        stacks: dict[str, list[str]] = {}
        for name, values in x.items():
            if values.ndim == 2 and values.shape[1] == 1:
                stacks.setdefault(values.dtype.str, []).append(name)
        stacks = {dtype: names for dtype, names in stacks.items() if len(names) > 1}
        stacked = {name for names in stacks.values() for name in names}
        matrices = [tf.constant(np.concatenate([x[n] for n in names], axis=1)) for names in stacks.values()]
        singles = {name: tf.constant(values) for name, values in x.items() if name not in stacked}
        y = tf.constant(part.y) if with_targets and part.y is not None else None
        ds = self._batch_indices(len(part), batch_size, training and self.pipeline.shuffle_buffer > 0)
        # 8-bit images are held as uint8 (a quarter of float32) and widened one batch at a time
        narrow = [f.name for f in self.features if f.kind == "image" and x[f.name].dtype == np.uint8 and f.dtype != "uint8"]
        order = list(x)

        def gather(i):
            features = {name: tf.gather(t, i) for name, t in singles.items()}
            for names, matrix in zip(stacks.values(), matrices):
                features.update(zip(names, tf.split(tf.gather(matrix, i), len(names), axis=1)))
            features.update({n: tf.cast(features[n], tf.float32) for n in narrow})
            features = {name: features[name] for name in order}
            features = self._decode(features)
            return features if y is None else (features, tf.gather(y, i))

        # `gather` and `permuted` hold no Python control flow over tensors: traced as written,
        # without AutoGraph's conversion (as Keras traces its train step), whose first use costs
        # a run about 0.4 s before its first step
        ds = ds.map(tf.autograph.experimental.do_not_convert(gather), num_parallel_calls=tf.data.AUTOTUNE)
        return ds.prefetch(tf.data.AUTOTUNE) if self.pipeline.prefetch else ds

    def _batch_indices(self, n: int, batch_size: int, shuffle: bool):
        """Batches of row indices: in order, or a new permutation of all `n` rows each epoch
        (held in memory, the whole split is shuffled, as Keras's `fit(shuffle=True)` does for
        arrays; a shuffle buffer is for streams). The permutation is drawn per epoch from the
        seed, and batched by a reshape rather than example by example."""
        import tensorflow as tf

        options = self.options()
        if not shuffle:
            return tf.data.Dataset.range(n).with_options(options).batch(batch_size)
        whole = n // batch_size * batch_size

        def permuted(key):
            order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), seed=tf.stack([key, 0]))
            batches = tf.data.Dataset.from_tensor_slices(tf.reshape(order[:whole], (-1, batch_size)))
            return batches.concatenate(tf.data.Dataset.from_tensors(order[whole:])) if whole < n else batches

        keys = tf.data.Dataset.random(seed=self.seed, rerandomize_each_iteration=True).take(1)
        return with_length(keys.flat_map(tf.autograph.experimental.do_not_convert(permuted)), n, batch_size).with_options(options)

    def examples(self, split: str, n: int | None = None) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        """Up to `n` raw inputs of a split, as the model takes them (8-bit images widened to the
        model's float32; streamed inputs stay as stored, e.g. file paths), and their targets."""
        part = self.splits[split]
        n = len(part) if n is None else min(n, len(part))
        x = {
            f.name: part.x[f.name][:n] if f.name in self.decoders else _as_model_input(np.asarray(part.x[f.name])[:n], f)
            for f in self.features
        }
        return x, None if part.y is None else np.asarray(part.y)[:n]

    def options(self):
        import tensorflow as tf

        options = tf.data.Options()
        if self.pipeline.deterministic is not None:
            options.deterministic = self.pipeline.deterministic
        options.experimental_distribute.auto_shard_policy = shard_policy()
        return options

    def _cache_file(self) -> str | None:
        """The file `pipeline.cache` names for decoded streamed examples, if any (in memory they
        would not fit: that is why they are streamed)."""
        cache = self.pipeline.cache
        return cache if isinstance(cache, str) and cache else None

    def parallel_calls(self) -> int:
        import tensorflow as tf

        n = self.pipeline.num_parallel_calls
        return tf.data.AUTOTUNE if n == -1 else max(1, n)

    def finish(self, ds, batch_size: int):
        """Batches and prefetches a pipeline of single examples."""
        import tensorflow as tf

        ds = ds.batch(batch_size)
        if self.pipeline.prefetch:
            ds = ds.prefetch(tf.data.AUTOTUNE)
        return ds

    def _decode(self, x, *y):
        x = dict(x)
        for name, decode in self.decoders.items():
            x[name] = decode(x[name])
        return (x, *y) if y else x


def shard_policy():
    """How a multi-worker job splits every split among its workers: by row (`DATA`). All workers
    build the same pipeline from the same seed, so they agree on each epoch's order; each global
    batch is cut into one part per worker, so a worker reads only its own rows of it, every row
    is read once per epoch across the job, and the global batch size stays `trainer.batch_size`
    (TensorFlow evens out a last, short batch). Not by file: strata assigns rows to splits by
    their position in the whole data set (a hash of the row number), which a worker that reads
    only some of the files would not know. Outside a multi-worker job: TensorFlow's default."""
    import tensorflow as tf

    from strata.training import multi_worker

    policy = tf.data.experimental.AutoShardPolicy
    return policy.DATA if multi_worker.is_multi_worker() else policy.AUTO


def with_length(ds, n: int, batch_size: int):
    """`ds` (batches of `n` examples) with its number of batches known to tf.data. Keras reads an
    epoch's length from it; `flat_map`, `unbatch` and `filter` hide it, and then Keras counts an
    epoch by running dry ("Your input ran out of data" every epoch) and overshoots the last call."""
    import tensorflow as tf

    return ds.apply(tf.data.experimental.assert_cardinality(-(-n // batch_size)))


def _as_tensor_input(values: np.ndarray, feature: Feature) -> np.ndarray:
    if values.dtype == np.uint8 and feature.kind == "image":
        return values  # widened per batch by `DataBundle._in_memory`
    return _as_model_input(values, feature)


def _as_model_input(values: np.ndarray, feature: Feature) -> np.ndarray:
    if feature.dtype == "string":
        return values.astype(str).astype(object)
    return values.astype(feature.dtype)
