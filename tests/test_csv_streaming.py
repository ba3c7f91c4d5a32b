"""A streamed CSV holds the rows and values the same file gives in memory: one reader (pandas, in
chunks) and one set of cell conversions for the checking pass and the stream."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import assert_user_error, strata


@pytest.fixture(scope="module")
def tf():
    from strata.tensorflow_import import import_tensorflow

    return import_tensorflow()


def _awkward_table(path, n=400):
    """Missing cells, a quoted delimiter, a quoted line break, a number in scientific notation,
    padded numbers, a short row and rows without a target."""
    rng = np.random.default_rng(1)
    lines = ["size,colour,note,price"]
    for i in range(n):
        size = f"{rng.uniform(1, 100):.3f}"
        if i % 31 == 4:
            size = "NA"
        elif i == 17:
            size = "2.5E1"
        elif i == 18:
            size = f" {size} "
        note = {5: '"a note, with a comma"', 6: '"a note\nover two lines"', 7: ""}.get(i, f"note {i % 4}")
        price = "" if i % 53 == 9 else f"{rng.normal(100, 20):.2f}"
        lines.append(f"{size},{['red', 'green', ''][i % 3]},{note},{price}")
    lines[100] = "55.5,red"  # a short row: its missing cells read as missing, its target too
    path.write_text("\n".join(lines) + "\n")
    return path


def _sorted_rows(x: dict, y: np.ndarray) -> list[tuple]:
    def plain(v):
        if isinstance(v, bytes):
            return v.decode()
        if isinstance(v, (float, np.floating)):
            return "nan" if np.isnan(v) else float(v)
        return v

    columns = [np.asarray(x[k]).reshape(-1) for k in sorted(x)]
    return sorted((tuple(plain(v) for v in values) for values in zip(*columns, np.asarray(y).reshape(-1))), key=repr)


@pytest.mark.parametrize("spill", [True, False], ids=["spilled", "parsed_every_epoch"])
def test_streamed_rows_match_the_in_memory_reading_split_by_split(tmp_path, tf, spill):
    """The rows of every streamed split are the file's rows as the in-memory path types them
    (`typed_columns`), chosen by the streaming split rule; dtypes and shapes are the in-memory
    pipeline's. So whether the epochs read the checking pass's decoded copy or parse the file."""
    from strata.data import tables
    from strata.data.columns import read_options, typed_columns
    from strata.data.csv_source import CsvConfig, load
    from strata.data.splits import SPLITS, split_of_rows

    _awkward_table(tmp_path / "t.csv")
    cfg = CsvConfig(path=str(tmp_path / "t.csv"), target="price", features={"note": "categorical"})
    in_memory = load(cfg, 0)
    streamed = load(cfg.model_copy(update={"in_memory_max_mb": 0.001, "spill": spill, "spill_dir": str(tmp_path / "spill")}), 0)
    assert type(streamed).__name__ == "StreamingCsvBundle"
    assert (streamed.spill is not None) == spill
    assert sorted(p.name for p in (tmp_path / "spill").glob("*/*")) == (["test.arrow", "train.arrow", "validation.arrow"] if spill else [])
    assert [f.name for f in streamed.features] == [f.name for f in in_memory.features]

    # the whole file read and typed as in memory, each row given its streamed split
    table = tables.read_table([tmp_path / "t.csv"], ",", **read_options(cfg))
    assert len(table.frame) == 400
    target = table.frame["price"].to_numpy(dtype=str)
    present = ~tables.missing_mask(target, set(cfg.missing_values))
    layout_x, y, _ = typed_columns(cfg, table, _layout(cfg, table), key="data.path")
    part = split_of_rows(np.arange(400), streamed.split_seed, *streamed.fractions).numpy()[present]
    assert sum(streamed.size(s) for s in SPLITS) == len(y) == sum(in_memory.size(s) for s in SPLITS)

    for s, split in enumerate(SPLITS):
        batches = list(streamed.dataset(split, 16, training=split == "train"))
        for x_batch, y_batch in batches:
            for f in streamed.features:
                assert x_batch[f.name].shape[1:] == (1,)
                assert x_batch[f.name].dtype == (tf.string if f.dtype == "string" else tf.float32)
            assert y_batch.dtype == tf.float32 and len(y_batch.shape) == 1
        got_x = {k: np.concatenate([b[0][k].numpy() for b in batches]) for k in batches[0][0]}
        got_y = np.concatenate([b[1].numpy() for b in batches])
        want = part == s
        expected_x = {k: v[want] for k, v in layout_x.items()}
        assert _sorted_rows(got_x, got_y) == _sorted_rows(expected_x, y[want]), split
        only_x = list(streamed.dataset(split, 16, with_targets=False))
        assert sum(len(b["size"]) for b in only_x) == streamed.size(split)
    notes = np.concatenate([b[0]["note"].numpy() for b in streamed.dataset("train", 400)] +
                           [b[0]["note"].numpy() for b in streamed.dataset("validation", 400)] +
                           [b[0]["note"].numpy() for b in streamed.dataset("test", 400)]).ravel().tolist()
    assert b"a note\nover two lines" in notes and b"a note, with a comma" in notes


def _layout(cfg, table):
    from strata.data.columns import plan_columns

    return plan_columns(cfg, table)


def test_a_quoted_line_break_trains_streamed_and_in_memory(tmp_path):
    """The CLI trains a CSV holding a quoted field over two lines both ways, every row in a split."""
    rng = np.random.default_rng(0)
    lines = ["size,colour,note,price"]
    for i in range(3000):
        size = rng.uniform(1, 100)
        note = '"first line\nsecond, line"' if i == 1234 else f"item {i % 5}"
        lines.append(f"{size:.2f},{['red', 'green', 'blue'][i % 3]},{note},{3 * size + rng.normal():.3f}")
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    counts = {}
    for how, extra in (("streamed", ["data.in_memory_max_mb=0.01"]), ("in_memory", [])):
        result = strata("train", "data=csv", f"data.path={tmp_path / 't.csv'}", "data.target=price", *extra,
                        "trainer.epochs=1", "report=false", "export=none", f"hydra.run.dir={tmp_path / how}", cwd=tmp_path)
        assert result.code == 0, result.text
        assert ("streaming it" in result.text) == (how == "streamed"), result.text
        found = re.search(r"data: csv \(regression\), train (\d+), validation (\d+), test (\d+)", result.text)
        assert found, result.text
        counts[how] = [int(v) for v in found.groups()]
    # the streamed split follows a hash of each row's index, the in-memory one a shuffle: the
    # same rows in all, the fractions close
    assert sum(counts["streamed"]) == sum(counts["in_memory"]) == 3000
    assert all(abs(a - b) <= 60 for a, b in zip(counts["streamed"], counts["in_memory"]))


def test_a_number_with_a_digit_separator_is_refused_the_same_in_memory_and_streamed(tmp_path):
    """'1_000' is no number in a CSV (Python's float() would read it): both paths stop before
    training with exit 2 and the same line, naming the column, the cell and its row."""
    rng = np.random.default_rng(0)
    lines = ["size,price"] + [f"{s:.2f},{2 * s:.2f}" for s in rng.uniform(1, 100, 600)]
    lines[401] = "1_000,5.0"
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    said = {}
    for how, extra in (("streamed", ["data.in_memory_max_mb=0.001"]), ("in_memory", [])):
        result = strata("train", "data=csv", f"data.path={tmp_path / 't.csv'}", "data.target=price", *extra,
                        "trainer.epochs=1", "report=false", "export=none", f"hydra.run.dir={tmp_path / how}", cwd=tmp_path)
        assert_user_error(result, "data.path", "column 'size' holds '1_000'", "row 401 (line 402)")
        said[how] = [line for line in result.err.splitlines() if line.startswith("strata: error:")]
    assert said["streamed"] == said["in_memory"], said


def test_the_spill_goes_with_its_process_and_an_abandoned_one_with_the_next_run(tmp_path):
    """The decoded copy is removed when the process that wrote it ends; a copy left by a killed
    process (its pid no longer runs) is removed by the next streamed load in the same folder,
    a live process's copy is kept."""
    import subprocess
    import sys

    _awkward_table(tmp_path / "t.csv")
    spill_dir = tmp_path / "spill"
    dead = subprocess.Popen(["true"])
    dead.wait()
    abandoned = spill_dir / f"strata-spill-{dead.pid}-x"
    alive = spill_dir / f"strata-spill-{os.getpid()}-y"
    for folder in (abandoned, alive):
        folder.mkdir(parents=True)
        (folder / "train.arrow").write_bytes(b"0")
    script = f"""
from strata.data.csv_source import CsvConfig, load
cfg = CsvConfig(path={str(tmp_path / "t.csv")!r}, target="price", in_memory_max_mb=0.001, spill_dir={str(spill_dir)!r})
bundle = load(cfg, 0)
rows = sum(len(b[1]) for b in bundle.dataset("train", 64))
print(bundle.spill.folder, (bundle.spill.folder / "train.arrow").stat().st_size, rows, bundle.size("train"))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    folder, size, rows, expected = done.stdout.split()[-4:]
    assert Path(folder).parent == spill_dir and int(size) > 0
    assert int(rows) == int(expected) > 300
    assert not Path(folder).exists()  # removed at exit
    assert not abandoned.exists() and alive.exists()


def test_the_training_stream_mixes_rows_across_chunks_with_a_new_order_every_epoch(tmp_path, tf):
    """`_mixed` passes every row once, moves rows past their chunk's end by up to the buffer,
    and orders them by its key; the training dataset draws a new key every epoch (the same
    keys for the same seed), the validation one keeps the files' order."""
    from strata.data.csv_source import CsvConfig, load
    from strata.data.csv_streaming import _mixed

    chunks = [({"a": np.arange(i, i + 100, dtype="float32").reshape(-1, 1)}, np.arange(i, i + 100)) for i in range(0, 500, 100)]
    first = np.concatenate([y for _, y in _mixed(iter(chunks), 1, buffer=30)])
    assert sorted(first.tolist()) == list(range(500))
    again = np.concatenate([y for _, y in _mixed(iter(chunks), 1, buffer=30)])
    other = np.concatenate([y for _, y in _mixed(iter(chunks), 2, buffer=30)])
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    blocks = [y for _, y in _mixed(iter(chunks), 1, buffer=30)]
    assert [len(b) for b in blocks] == [70, 100, 100, 100, 100, 30]  # 30 rows held back at a time
    block_of = np.empty(500, int)
    for b, ys in enumerate(blocks):
        block_of[ys] = b
    chunk_of = np.arange(500) // 100
    assert (block_of >= chunk_of).all()  # no row leaves before its chunk is read
    assert 30 <= (block_of > chunk_of).sum() <= 5 * 30  # and some leave with a later chunk
    xs = np.concatenate([x["a"] for x, _ in _mixed(iter(chunks), 1, buffer=30)]).ravel()
    assert np.array_equal(xs, first)  # features travel with their targets

    _awkward_table(tmp_path / "t.csv", n=3000)
    cfg = CsvConfig(path=str(tmp_path / "t.csv"), target="price", in_memory_max_mb=0.001, spill_dir=str(tmp_path / "s"),
                    pipeline={"shuffle_buffer": 100})
    epochs = []
    for seed in (5, 5):
        bundle = load(cfg, seed)
        ds = bundle.dataset("train", 64, training=True)
        epochs.append([np.concatenate([y.numpy() for _, y in ds]) for _ in range(2)])
    (one, two), (one_again, _) = epochs
    assert sorted(one.tolist()) == sorted(two.tolist()) and not np.array_equal(one, two)
    assert np.array_equal(one, one_again)
    plain = [np.concatenate([y.numpy() for _, y in bundle.dataset("validation", 64)]) for _ in range(2)]
    assert np.array_equal(*plain)
