"""One grammar for every reader: a CSV is read the same in memory and streamed.

Hypothesis writes awkward files (quoted delimiters, doubled quotes and line breaks, blank lines,
short and long rows, numbers in every form and some that are not numbers, three encodings) and
each is read both ways: whole, as the in-memory path reads it, and in chunks of two rows, as the
streamed path's checking pass and epochs read it. Both must give the same rows and the same
values, or both refuse the file with the same one-line message. Then the two loaders
(`data.in_memory_max_mb` above and below the file's size) are compared on the same files: the
same rows end up in the splits, or both refuse the file.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from strata.data import csv_streaming, tables
from strata.errors import DataError

NUMBERS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda v: f"{v}"),
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda v: f"{v:.3e}"),
    st.integers(-10**6, 10**6).map(str),
    st.sampled_from(["+4", ".5", "5.", "1E+3", "-0", "007", "inf", "-Infinity", "nan", " 12 ", "\t3.5"]),
)
NOT_NUMBERS = st.sampled_from(["1_000", '"1,000"', "0x1F", "١٢", "1e", "--1", "1.2.3", "abc"])
WORDS = st.text(alphabet="abcxyz éü", min_size=1, max_size=8).filter(lambda w: w.strip() == w and w != "")
QUOTED = st.sampled_from(['"a, b"', '"say ""hi"""', '"two\nlines"', '"three\r\nlines\nhere"', '""'])
MISSING = st.sampled_from(["", "NA", "?", "null"])
CELL = st.one_of(NUMBERS, NUMBERS, NUMBERS, NOT_NUMBERS, WORDS, QUOTED, MISSING)


@st.composite
def csv_files(draw, min_rows=1, max_rows=12, numeric_target=False):
    """(text, encoding written, encoding declared): a header and rows of drawn cells, some rows
    short or long, blank lines between some. The last column is a clean number when
    `numeric_target`."""
    width = draw(st.integers(2, 4))
    header = [f"c{i}" for i in range(width)]
    lines = [",".join(header)]
    # a column of numbers (now and then a cell that is not one: a numeric column with a bad
    # row, or a categorical one) or of anything
    numeric = [draw(st.booleans()) for _ in range(width)]
    long_rows = draw(st.integers(0, 3)) == 0  # a file with rows longer than its header now and then

    def cell(i):
        if numeric[i] and draw(st.integers(0, 29)):
            return draw(NUMBERS)
        return draw(CELL)

    for _ in range(draw(st.integers(min_rows, max_rows))):
        cells = [cell(i) for i in range(width - 1 if numeric_target else width)]
        if numeric_target:
            cells.append(f"{draw(st.floats(-100, 100, allow_nan=False)):.3f}")
        shape = draw(st.sampled_from(["full"] * 12 + ["short", "blank"] + (["long"] if long_rows else [])))
        if shape == "short":
            cells = cells[: draw(st.integers(1, width - 1))]
        elif shape == "long":
            cells.append(draw(NUMBERS))
        elif shape == "blank":
            lines.append("")
        lines.append(",".join(cells))
    text = "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n"]))
    written = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "latin-1"]))
    declared = draw(st.sampled_from([written, written, "utf-8"]))
    return text, written, declared


def _write(path, text: str, encoding: str):
    try:
        path.write_bytes(text.encode(encoding))
    except UnicodeEncodeError:  # a cell latin-1 cannot hold: the file is UTF-8 after all
        path.write_bytes(text.encode("utf-8"))
    return path


def _typed(table, kinds):
    """Each column typed by its kind, the first bad number in file order refused, as both the
    in-memory path (`typed_columns`) and the checking pass of the streamed one type a table."""
    missing = set(tables.DEFAULT_MISSING)
    tables.check_numbers(table, [c for c, kind in kinds.items() if kind == "numeric"], missing)
    return {c: tables.numeric_column(table, c, missing) if kind == "numeric" else tables.string_column(table, c, missing)
            for c, kind in kinds.items()}


def _streamed(path, encoding, kinds, monkeypatch):
    """The streamed reading: the head for the columns, then chunks of two rows, each typed with
    the kinds of the whole file, as the checking pass types them."""
    monkeypatch.setattr(csv_streaming, "CHUNK_ROWS", 2)
    head = tables.read_table([path], ",", header=True, column_names=None, encoding=encoding, nrows=2)
    columns = [str(c) for c in head.frame.columns]
    frames, typed, offset = [], [], 0
    for chunk in csv_streaming._chunks(path, ",", columns, header=True, column_names=None, encoding=encoding):
        chunk = chunk.reset_index(drop=True)
        frames.append(chunk.to_numpy(dtype=str))
        typed.append(_typed(tables.Table(chunk, [path], [-offset], True), kinds))
        offset += len(chunk)
    return np.concatenate(frames), {c: np.concatenate([t[c] for t in typed]) for c in kinds}


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype.kind == "f":
        return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))
    return a.tolist() == b.tolist()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(drawn=csv_files(max_rows=40))
def test_streamed_chunks_read_the_rows_and_values_the_whole_file_gives(tmp_path, monkeypatch, drawn):
    text, written, declared = drawn
    path = _write(tmp_path / "t.csv", text, written)
    kinds = None
    try:
        # the in-memory reading: the file whole, each column typed as `plan_columns` would
        table = tables.read_table([path], ",", header=True, column_names=None, encoding=declared)
        kinds = {c: tables.column_kind(table, c, set(tables.DEFAULT_MISSING)) for c in table.frame.columns}
        whole = _typed(table, kinds)
    except DataError as refused:
        # refused whole (unreadable, or a bad number in a numeric column): so is it in chunks,
        # with the same line, before any epoch
        with pytest.raises(DataError) as streamed:
            _streamed(path, declared, kinds or {}, monkeypatch)
        assert str(streamed.value) == str(refused)
        assert "\n" not in str(refused) and str(path) in str(refused)
        event("refused while " + ("typing" if kinds else "reading"))
        return
    event("read")
    cells, streamed = _streamed(path, declared, kinds, monkeypatch)
    assert cells.tolist() == table.frame.to_numpy(dtype=str).tolist()
    for column in whole:
        assert _same(whole[column], streamed[column]), column


@given(cell=st.one_of(NUMBERS, NOT_NUMBERS, WORDS, st.text(alphabet="0123456789+-.eEinfatyINFATY_ x", max_size=7)))
@settings(max_examples=400, deadline=None)
def test_a_cell_is_a_number_by_one_grammar_whichever_way_it_is_parsed(cell):
    """Arrow's cast (the whole-column fast path), the pattern (a column with a bad cell) and a
    label's canonical form agree on what is a number, and on its value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    stripped = pc.utf8_trim_whitespace(pa.array([cell])).to_pylist()[0]
    try:
        cast = pc.cast(pa.array([stripped]), pa.float64()).to_pylist()[0]
    except pa.ArrowInvalid:
        cast = None
    matched = bool(tables._NUMBER.match(stripped))
    assert matched == (cast is not None), (cell, cast)
    # one column holding the cell and a word: the cell-by-cell path gives the same answer
    numbers, bad = tables.parse_numbers(np.array([cell, "word"]), np.array([False, False]))
    assert bool(bad[1]) and bool(bad[0]) == (not matched)
    if matched:
        assert numbers[0] == cast or (math.isnan(numbers[0]) and math.isnan(cast))
        # a label that is a number is named by its value: '1.0' and '1' are one class
        value = float(stripped)
        if math.isfinite(value) and value == int(value):
            assert tables.canonical_label(cell) == str(int(value))


@pytest.fixture(scope="module")
def tf():
    from strata.tensorflow_import import import_tensorflow

    return import_tensorflow()


def _all_rows(bundle, tf) -> list[tuple]:
    from strata.data.splits import SPLITS

    rows = []
    for split in SPLITS:
        if bundle.size(split) == 0:
            continue
        for x, y in bundle.dataset(split, 64):
            columns = [np.asarray(x[k]).reshape(-1) for k in sorted(x)]
            for values in zip(*columns, np.asarray(y).reshape(-1)):
                rows.append(tuple(v.decode() if isinstance(v, bytes) else ("nan" if v != v else round(float(v), 5))
                                  for v in values))
    return sorted(rows, key=repr)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(drawn=csv_files(min_rows=30, max_rows=45, numeric_target=True))
def test_the_in_memory_and_streamed_loaders_accept_the_same_files_with_the_same_rows(tmp_path, tf, drawn):
    from strata.data.csv_source import CsvConfig, load

    text, written, declared = drawn
    path = _write(tmp_path / "t.csv", text, written)
    target = text.split("\n", 1)[0].split(",")[-1]
    cfg = CsvConfig(path=str(path), target=target, encoding=declared, spill_dir=str(tmp_path / "spill"))
    results = []
    for limit in (1e6, 0.0001):
        try:
            bundle = load(cfg.model_copy(update={"in_memory_max_mb": limit}), 0)
            results.append((type(bundle).__name__, _all_rows(bundle, tf)))
        except DataError as refused:
            assert "\n" not in str(refused)
            results.append(("refused", None))
    (memory_kind, memory_rows), (streamed_kind, streamed_rows) = results
    assert (memory_kind == "refused") == (streamed_kind == "refused"), results
    if memory_kind != "refused":
        assert (memory_kind, streamed_kind) == ("DataBundle", "StreamingCsvBundle")
        assert memory_rows == streamed_rows
