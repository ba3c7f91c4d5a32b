"""Each data source loads small files the test makes into features, a task and splits.

These run in-process (no training): what a source reads, how it types columns, splits and streams.
"""

from __future__ import annotations

import numpy as np
import pytest

from strata.errors import DataError


@pytest.fixture(scope="module")
def tf():
    from strata.tensorflow_import import import_tensorflow

    return import_tensorflow()


def _houses(path, n=200, seed=0):
    rng = np.random.default_rng(seed)
    cities = np.array(["north", "south", "east"])
    lines = ["Id,area,rooms,city,remarks,price"]
    for i in range(n):
        area = rng.uniform(50, 250)
        city = cities[i % 3]
        price = 1000 * area + {"north": 50_000, "south": 0, "east": 20_000}[city] + rng.normal(0, 5000)
        area_text = "NA" if i % 17 == 5 else f"{area:.1f}"
        city_text = "" if i % 23 == 7 else city
        remark = "a quiet house near the park" if i % 2 else "bright flat with a view of the river"
        lines.append(f"{1000 + i},{area_text},{1 + i % 5},{city_text},{remark},{price:.0f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_csv_types_columns_and_infers_regression(tmp_path):
    from strata.data.csv_source import CsvConfig, load

    _houses(tmp_path / "houses.csv")
    bundle = load(CsvConfig(path="houses.csv", base_dir=str(tmp_path), target="price"), 0)
    kinds = {f.column: f.kind for f in bundle.features}
    assert kinds == {"area": "numeric", "rooms": "numeric", "city": "categorical", "remarks": "text"}  # Id: identifiers
    assert bundle.task.kind == "regression"
    assert {k: bundle.size(k) for k in bundle.splits} == {"train": 160, "validation": 20, "test": 20}
    area = np.concatenate([s.x["area"] for s in bundle.splits.values()])
    assert np.isnan(area).sum() == 12  # 'NA' is missing, kept for the model to impute
    assert "" in set(np.concatenate([s.x["city"] for s in bundle.splits.values()]).ravel())


@pytest.mark.parametrize(
    ("labels", "kind", "classes"),
    [(["yes", "no"], "binary", ["no", "yes"]), (["1", "2", "3"], "multiclass", ["1", "2", "3"]),
     (["0", "1.0"], "binary", ["0", "1"])],
)
def test_csv_infers_classification_from_the_target(tmp_path, labels, kind, classes):
    from strata.data.csv_source import CsvConfig, load

    rows = [f"{i % 7},{labels[i % len(labels)]}" for i in range(60)]
    (tmp_path / "t.tsv").write_text("x\ty\n" + "\n".join(r.replace(",", "\t") for r in rows) + "\n")
    bundle = load(CsvConfig(path=str(tmp_path / "t.tsv"), target="y", delimiter="\\t"), 0)
    assert (bundle.task.kind, bundle.task.classes) == (kind, classes)
    train = bundle.splits["train"]
    assert train.y.dtype == np.int32 and set(train.y) == set(range(len(classes)))


def test_csv_without_header_glob_and_separate_test_file(tmp_path):
    from strata.data.csv_source import CsvConfig, load

    for part in ("a", "b"):
        (tmp_path / f"part_{part}.csv").write_text("".join(f"{i},{'good' if i % 2 else 'bad'}\n" for i in range(30)))
    (tmp_path / "held_out.csv").write_text("".join(f"{i},{'good' if i % 2 else 'bad'}\n" for i in range(10)))
    cfg = CsvConfig(path=str(tmp_path / "part_*.csv"), target="label", header=False, column_names=["n", "label"],
                    test_path=str(tmp_path / "held_out.csv"))
    bundle = load(cfg, 0)
    assert bundle.size("train") + bundle.size("validation") == 60 and bundle.size("test") == 10
    assert bundle.task.classes == ["bad", "good"]


def test_streamed_csv_splits_every_row_once_and_samples_for_adapting(tmp_path, tf):
    from strata.data.csv_source import CsvConfig, load

    _houses(tmp_path / "houses.csv", n=600)
    cfg = CsvConfig(path=str(tmp_path / "houses.csv"), target="price", in_memory_max_mb=0.001, sample_rows=100)
    bundle = load(cfg, 3)
    assert type(bundle).__name__ == "StreamingCsvBundle"
    assert sum(bundle.size(s) for s in ("train", "validation", "test")) == 600
    assert len(bundle.train_values("area")) == 100  # a bounded sample adapts the preprocessing
    seen = {}
    for split in ("train", "validation", "test"):
        ids = []
        ds = bundle.dataset(split, 64, training=split == "train")
        assert int(ds.cardinality()) == -(-bundle.size(split) // 64)
        for x, y in ds:
            ids += [float(v) for v in y.numpy()]
            assert set(x) == {f.name for f in bundle.features}
        assert len(ids) == bundle.size(split)
        seen[split] = set(ids)
    assert not (seen["train"] & seen["test"]) and not (seen["train"] & seen["validation"])
    # the same rows in the same split on every pass
    again = [float(v) for _, y in bundle.dataset("test", 64) for v in y.numpy()]
    assert set(again) == seen["test"]


def test_streamed_csv_with_rows_missing_their_target_keeps_every_labelled_row(tmp_path, tf):
    """Rows without a target are left out of each batch of the stream; the epoch's length Keras
    reads still covers every labelled row (it stops after `cardinality` batches)."""
    from strata.data.csv_source import CsvConfig, load

    (tmp_path / "houses.csv").write_text("\n".join(
        ["area,rooms,price"] + [f"{50 + i},{i % 5},{'' if i % 3 == 0 else 1000 * i}" for i in range(900)]) + "\n")
    for cache in (True, str(tmp_path / "cache")):  # streamed, and streamed through a cache file
        bundle = load(CsvConfig(path=str(tmp_path / "houses.csv"), target="price", in_memory_max_mb=0.001,
                                pipeline={"cache": cache}), 0)
        assert sum(bundle.size(s) for s in ("train", "validation", "test")) == 600
        for split in ("train", "validation", "test"):
            ds = bundle.dataset(split, 32, training=split == "train")
            seen = sum(len(y) for _, y in ds.take(int(ds.cardinality())))
            assert seen == bundle.size(split) == sum(len(y) for _, y in ds), (cache, split)  # a wrong length raises


def test_streamed_csv_reports_a_bad_number_with_its_row(tmp_path):
    from strata.data.csv_source import CsvConfig, load

    _houses(tmp_path / "houses.csv", n=300)
    lines = (tmp_path / "houses.csv").read_text().splitlines()
    lines[251] = lines[251].replace(lines[251].split(",")[1], "lots", 1)
    (tmp_path / "houses.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"column 'area' holds 'lots' at .*row 251 \(line 252\)"):
        load(CsvConfig(path=str(tmp_path / "houses.csv"), target="price", in_memory_max_mb=0.001), 0)


def _png(path, size=(12, 10), value=0, mode="RGB"):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color=value if mode == "L" else (value, value // 2, 255 - value)).save(path)


def test_images_from_class_folders_resized_and_streamed(tmp_path, tf):
    from strata.data.images_source import ImagesConfig, load

    for i in range(12):
        _png(tmp_path / "imgs" / "cat" / f"{i}.png", size=(12 + i % 3, 10), value=20 * i)
        _png(tmp_path / "imgs" / "dog" / f"{i}.jpg", size=(8, 8), value=255 - 10 * i)
    cfg = ImagesConfig(path=str(tmp_path / "imgs"), image_size=(8, 8), augment={"flip": "horizontal"})
    bundle = load(cfg, 0)
    (feature,) = bundle.features
    assert (feature.kind, feature.shape, bundle.task.classes) == ("image", (8, 8, 3), ["cat", "dog"])
    assert bundle.splits["train"].x["image"].shape[1:] == (8, 8, 3)
    streamed = load(cfg.model_copy(update={"in_memory_max_mb": 1e-6}), 0)
    assert streamed.decoders and streamed.splits["train"].x["image"].dtype == object  # paths
    x, y = next(iter(streamed.dataset("train", 4)))
    assert tuple(x["image"].shape) == (4, 8, 8, 3)
    in_memory = bundle.splits["train"].x["image"][:4]
    np.testing.assert_allclose(x["image"].numpy(), in_memory)  # one reader for both paths


def _epoch_targets(ds, epochs=2):
    return [np.concatenate([y.numpy() for _, y in ds]).ravel() for _ in range(epochs)]


def test_streamed_data_cached_in_a_file_is_reshuffled_every_epoch(tmp_path, tf):
    """With `pipeline.cache=<file>`, decoded examples are cached in file order and shuffled
    after the cache: every epoch sees every example once, in a new order."""
    from strata.data.csv_source import CsvConfig
    from strata.data.csv_source import load as load_csv
    from strata.data.images_source import ImagesConfig
    from strata.data.images_source import load as load_images

    _houses(tmp_path / "houses.csv", n=400)
    for i in range(40):
        _png(tmp_path / "imgs" / ("cat" if i % 2 else "dog") / f"{i}.png", size=(8, 8), value=6 * i)
    csv = load_csv(CsvConfig(path=str(tmp_path / "houses.csv"), target="price", in_memory_max_mb=0.001,
                             pipeline={"cache": str(tmp_path / "csv_cache"), "shuffle_buffer": 1000}), 3)
    images = load_images(ImagesConfig(path=str(tmp_path / "imgs"), in_memory_max_mb=1e-6, split={"validation": 0.0, "test": 0.0},
                                      pipeline={"cache": str(tmp_path / "image_cache"), "shuffle_buffer": 1000}), 3)
    assert images.decoders
    for bundle, cache in ((csv, "csv_cache"), (images, "image_cache")):
        ds = bundle.dataset("train", 16, training=True)
        assert int(ds.cardinality()) == -(-bundle.size("train") // 16)  # an epoch's length, known to Keras
        first, second = _epoch_targets(ds)
        assert len(first) == bundle.size("train") and sorted(first) == sorted(second)
        assert not np.array_equal(first, second), cache  # a cache before the shuffle would replay epoch 1
        assert list(tmp_path.glob(f"{cache}.train*")), cache
    x, y = next(iter(images.dataset("train", 40)))  # the cached pixels are the files' pixels
    in_memory = load_images(ImagesConfig(path=str(tmp_path / "imgs"), split={"validation": 0.0, "test": 0.0}), 3)
    np.testing.assert_array_equal(np.sort(x["image"].numpy().reshape(40, -1), axis=0),
                                  np.sort(in_memory.splits["train"].x["image"].reshape(40, -1).astype("float32"), axis=0))


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_streamed_images_decoded_by_tensorflow_match_pillow_exactly(tmp_path, tf, channels):
    """TensorFlow's decoders are used for streamed files only where they give `read_image`'s
    pixels bit for bit; each such case is checked here on noisy pictures (PNG of every 8-bit
    mode, JPEG in colour and grey)."""
    from PIL import Image

    from strata.data import image_files
    from strata.data.images_source import _decoder

    rng = np.random.default_rng(channels)
    files = []
    for mode, suffix in [("L", "png"), ("RGB", "png"), ("RGBA", "png"), ("RGB", "jpg"), ("L", "jpg")]:
        bands = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
        pixels = rng.integers(0, 256, size=(12, 10, bands), dtype=np.uint8)
        path = tmp_path / f"{mode}.{suffix}"
        Image.fromarray(pixels[..., 0] if bands == 1 else pixels, mode).save(path)
        files.append(path)
    headers = [image_files.probe(f, "data.path") for f in files]
    exact = [f for f, h in zip(files, headers) if image_files.tensorflow_decodes_exactly([h], 12, 10, channels)]
    expected_modes = {1: {"L.png", "L.jpg"}, 3: {f.name for f in files}, 4: {f.name for f in files}}[channels]
    assert {f.name for f in exact} == expected_modes
    decode = _decoder((12, 10, channels), resize=False, native=True)
    by_tensorflow = decode(tf.constant([str(f) for f in exact])).numpy()  # one batch, PNG and JPEG mixed
    for f, pixels in zip(exact, by_tensorflow):
        by_pillow = image_files.read_image(f, 12, 10, channels, resize=False)
        np.testing.assert_array_equal(pixels, by_pillow.astype("float32"), err_msg=f.name)
    # a picture that needs resizing is not left to TensorFlow's (different) resampling
    assert not image_files.tensorflow_decodes_exactly(headers[:1], 6, 5, channels)


def test_text_from_class_folders(tmp_path):
    from strata.data.text_source import TextConfig, load

    for label, words in (("neg", "awful bad"), ("pos", "great fine")):
        for i in range(10):
            (tmp_path / "reviews" / label).mkdir(parents=True, exist_ok=True)
            (tmp_path / "reviews" / label / f"{i}.txt").write_text(f"{words} number {i}\n")
    bundle = load(TextConfig(path=str(tmp_path / "reviews")), 0)
    (feature,) = bundle.features
    assert (feature.kind, feature.dtype, bundle.task.kind, bundle.task.classes) == ("text", "string", "binary", ["neg", "pos"])
    assert sum(bundle.size(s) for s in bundle.splits) == 20


def test_timeseries_windows_and_chronological_split(tmp_path):
    from strata.data.timeseries_source import TimeseriesConfig, load

    t = np.arange(100)
    rows = [f"{i},{np.sin(i / 5):.4f},{'' if i == 40 else i * 0.5}" for i in t]
    (tmp_path / "s.csv").write_text("time,temp,load\n" + "\n".join(rows) + "\n")
    cfg = TimeseriesConfig(path=str(tmp_path / "s.csv"), time_column="time", window=8, horizon=2, targets=["temp"])
    bundle = load(cfg, 0)
    (feature,) = bundle.features
    assert (feature.kind, feature.shape) == ("sequence", (8, 2))
    assert bundle.task.kind == "forecast" and bundle.task.target_shape == (2,)
    train, test = bundle.splits["train"], bundle.splits["test"]
    assert train.x["series"][0, :, 0] == pytest.approx(np.sin(np.arange(8) / 5), abs=1e-3)
    assert test.x["series"][0, 0, 1] > train.x["series"][-1, 0, 1]  # test windows come last
    assert not np.isnan(train.x["series"]).any()  # the gap is interpolated


def test_npz_images_and_named_arrays(tmp_path):
    from strata.data.npz_source import NpzConfig, load

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "a.npz", x=rng.uniform(0, 255, (50, 6, 6)), y=np.arange(50) % 3)
    bundle = load(NpzConfig(path=str(tmp_path / "a.npz")), 0)
    assert (bundle.features[0].kind, bundle.features[0].shape, bundle.task.kind) == ("image", (6, 6, 1), "multiclass")
    np.savez(tmp_path / "b.npz", age=rng.normal(size=50), tags=rng.normal(size=(50, 4)), price=rng.normal(size=50) * 1e5)
    bundle = load(NpzConfig(path=str(tmp_path / "b.npz"), inputs=["age", "tags"], target="price"), 0)
    assert [(f.name, f.kind, f.shape) for f in bundle.features] == [("age", "numeric", (1,)), ("tags", "numeric", (4,))]
    assert bundle.task.kind == "regression"
    with pytest.raises(DataError, match="no array 'prize'.*Did you mean 'price'"):
        load(NpzConfig(path=str(tmp_path / "b.npz"), inputs=["age"], target="prize"), 0)


def test_tfrecord_with_a_feature_spec(tmp_path, tf):
    from strata.data.tfrecord_source import TFRecordConfig, load

    with tf.io.TFRecordWriter(str(tmp_path / "r.tfrecord")) as writer:
        for i in range(40):
            example = tf.train.Example(features=tf.train.Features(feature={
                "size": tf.train.Feature(float_list=tf.train.FloatList(value=[i * 1.5])),
                "color": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"red" if i % 2 else b"blue"])),
                "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[i % 2])),
            }))
            writer.write(example.SerializeToString())
    cfg = TFRecordConfig(path=str(tmp_path / "*.tfrecord"),
                         features={"size": {"kind": "numeric"}, "color": {"kind": "categorical"}})
    bundle = load(cfg, 0)
    assert [(f.name, f.kind) for f in bundle.features] == [("size", "numeric"), ("color", "categorical")]
    assert bundle.task.kind == "binary" and sum(bundle.size(s) for s in bundle.splits) == 40


def test_keras_dataset_without_a_network(monkeypatch, tf):
    import keras

    from strata.data.keras_dataset_source import KerasDatasetConfig, load

    rng = np.random.default_rng(0)
    fake = ((rng.integers(0, 255, (60, 28, 28)), np.arange(60) % 10), (rng.integers(0, 255, (20, 28, 28)), np.arange(20) % 10))
    monkeypatch.setattr(keras.datasets.mnist, "load_data", lambda: fake)
    bundle = load(KerasDatasetConfig(name="mnist"), 0)
    assert (bundle.features[0].shape, bundle.task.num_classes, bundle.size("test")) == ((28, 28, 1), 10, 20)

    def offline():
        raise OSError("network is unreachable")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(DataError, match="needs a network"):
        load(KerasDatasetConfig(name="mnist"), 0)


def test_prediction_inputs_for_a_time_series_are_its_windows(tmp_path):
    from strata.data.features import Feature
    from strata.data.timeseries_source import TimeseriesConfig
    from strata.run.raw_inputs import read_inputs

    (tmp_path / "recent.csv").write_text("time,temp,load\n" + "".join(f"{i},{i * 0.1},{'NA' if i == 3 else i}\n" for i in range(12)))
    cfg = TimeseriesConfig(path="unused.csv", time_column="time", window=8)
    feature = Feature("series", "sequence", (8, 2), "float32", column="temp,load", options={"columns": ["temp", "load"]})
    x, ids = read_inputs(str(tmp_path / "recent.csv"), [feature], cfg)
    assert x["series"].shape == (5, 8, 2) and ids == ["8", "9", "10", "11", "12"]
    assert x["series"][0, 3, 1] == pytest.approx(3.0)  # the gap is interpolated, as in training


def test_parquet_reads_like_csv(tmp_path):
    import pandas as pd

    from strata.data.csv_source import CsvConfig, load

    frame = pd.read_csv(_houses(tmp_path / "houses.csv"), keep_default_na=True)
    frame.to_parquet(tmp_path / "houses.parquet")
    bundle = load(CsvConfig(path=str(tmp_path / "houses.parquet"), target="price"), 0)
    assert {f.column: f.kind for f in bundle.features} == {
        "area": "numeric", "rooms": "numeric", "city": "categorical", "remarks": "text"}
    assert bundle.task.kind == "regression"
    assert np.isnan(np.concatenate([s.x["area"] for s in bundle.splits.values()])).sum() == 12


def test_in_memory_training_order_is_a_fresh_permutation_each_epoch_and_repeatable(tf):
    from strata.data.bundle import DataBundle, Split
    from strata.data.features import Feature, Task

    n = 203  # not a multiple of the batch: the last batch is partial
    x = {"a": np.arange(n, dtype="float32").reshape(-1, 1), "b": (np.arange(n) * 2).astype("float32").reshape(-1, 1)}
    split = Split(x, np.arange(n, dtype="int32"))
    features = [Feature("a", "numeric", (1,), "float32"), Feature("b", "numeric", (1,), "float32")]

    def epochs(seed, count=2):
        ds = DataBundle(features, Task("regression", target="y"), {"train": split}, seed=seed).dataset("train", 16, training=True)
        # Keras reads an epoch's length from the cardinality; unknown, it runs dry every epoch
        assert int(ds.cardinality()) == -(-n // 16)
        out = []
        for _ in range(count):
            batches = list(ds)
            for features_batch, y in batches:  # the stacked columns still line up with their rows
                np.testing.assert_array_equal(features_batch["a"].numpy().ravel(), y.numpy())
                np.testing.assert_array_equal(features_batch["b"].numpy().ravel(), 2 * y.numpy())
            assert [len(y) for _, y in batches] == [16] * (n // 16) + [n % 16]
            out.append(np.concatenate([y.numpy() for _, y in batches]))
        return out

    first, second = epochs(seed=7)
    assert sorted(first) == list(range(n)) and sorted(second) == list(range(n))  # every row once
    assert not np.array_equal(first, second) and not np.array_equal(first, np.arange(n))
    again = epochs(seed=7)
    np.testing.assert_array_equal(again[0], first)  # the same seed, the same order
    np.testing.assert_array_equal(again[1], second)
    assert not np.array_equal(epochs(seed=8, count=1)[0], first)
