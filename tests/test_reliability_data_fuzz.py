"""Data fuzzing: corrupted tables, text files and folders either load (and the model built on
them runs) or are refused with one clean line. Never a crash."""

from __future__ import annotations

import random

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import strata.train  # noqa: F401  (registers strata's resolvers)
from strata.config.validate import validate
from strata.errors import UserError
from tests.conftest import assert_user_error, compose_raw, strata


def _base_rows(n: int = 60) -> list[list[str]]:
    rng = random.Random(0)
    rows = [["size", "colour", "note", "y"]]
    for i in range(n):
        size = rng.uniform(1, 100)
        rows.append([f"{size:.2f}", rng.choice(["red", "green", "blue"]), f"item {i}", "1" if size > 50 else "0"])
    return rows


def _sentence_rows(n: int = 80) -> list[list[str]]:
    """`sentence<TAB>label` rows, no header: the layout of the shipped Yelp sentences."""
    rng = random.Random(1)
    good, bad = ["great", "tasty", "friendly", "fresh"], ["awful", "cold", "rude", "stale"]
    return [[" ".join(rng.choice(good if i % 2 else bad) for _ in range(5)) + " food", str(i % 2)] for i in range(n)]


def _mutate(rows: list[list[str]], mutations: list[tuple[str, int, int]], sep: str = ",") -> bytes:
    """`rows` joined by `sep`, with each mutation applied to a line after the first."""
    lines = [sep.join(r) for r in rows]
    out = [line.encode() for line in lines]
    sep_b = sep.encode()
    for kind, position, amount in mutations:
        i = 1 + position % max(len(out) - 1, 1)
        if i >= len(out):
            continue
        if kind == "drop_field":
            out[i] = sep_b.join(out[i].split(sep_b)[:-1])
        elif kind == "extra_fields":
            out[i] += (sep_b + b"x") * (1 + amount % 4)
        elif kind == "stray_quote":
            out[i] = out[i][: amount % (len(out[i]) + 1)] + b'"' + out[i][amount % (len(out[i]) + 1):]
        elif kind == "non_utf8":
            k = out[i].find(b"item") + 2 if b"item" in out[i] else amount % (len(out[i]) + 1)
            out[i] = out[i][:k] + b"\xff\xfe" + out[i][k:]
        elif kind == "text_in_number":
            out[i] = b"big" + sep_b + sep_b.join(out[i].split(sep_b)[1:])
        elif kind == "empty_line":
            out[i] = b""
        elif kind == "huge_line":
            out[i] = sep_b.join([b"1.0", b"red", b"a" * 200_000, b"1"][-len(rows[0]):])
        elif kind == "truncate":
            out = out[: max(1, i)]
        elif kind == "nul_bytes":
            out[i] = out[i].replace(sep_b, b"\x00" + sep_b, 1)
    return b"\n".join(out) + b"\n"


MUTATIONS = st.lists(
    st.tuples(
        st.sampled_from(["drop_field", "extra_fields", "stray_quote", "non_utf8", "text_in_number", "empty_line",
                         "huge_line", "truncate", "nul_bytes"]),
        st.integers(0, 200),
        st.integers(0, 200),
    ),
    min_size=1,
    max_size=4,
)


def _load_and_run(path, *data: str) -> str:
    """'ok' after loading the data, building the model and predicting one batch; else the error line."""
    cfg = compose_raw(*(data or ("data=csv", "data.target=y")), f"data.path={path}", "model=mlp", root=path.parent)
    try:
        config = validate(cfg)
        from strata.data.loading import load_data
        from strata.models.builder import build_model

        bundle = load_data(config)
        model = build_model(config.model, bundle)
    except UserError as ex:
        return str(ex)
    x, _ = next(iter(bundle.dataset("train", 8)))
    prediction = np.asarray(model.predict(x, verbose=0))
    assert np.isfinite(prediction).all()
    return "ok"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(MUTATIONS)
def test_corrupted_csv_loads_or_is_refused_cleanly(tmp_path, mutations):
    path = tmp_path / "fuzz.csv"
    path.write_bytes(_mutate(_base_rows(), mutations))
    outcome = _load_and_run(path)
    if outcome != "ok":
        assert "\n" not in outcome.strip() and outcome.strip(), outcome
        assert str(path) in outcome or "y" in outcome or "data" in outcome, outcome


def test_cli_on_nasty_files(tmp_path):
    """The real CLI on the worst cases: exit 0 or 2, never a traceback; 2 names the file."""
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    header_only = tmp_path / "header.csv"
    header_only.write_bytes(b"size,colour,note,y\n")
    broken = tmp_path / "broken.csv"
    broken.write_bytes(_mutate(_base_rows(), [("non_utf8", 3, 0), ("extra_fields", 7, 2), ("stray_quote", 11, 5),
                                              ("huge_line", 13, 0)]))
    for path, must_refuse in ((empty, True), (header_only, True), (broken, False)):
        result = strata("train", "data=csv", f"data.path={path}", "data.target=y", "model=mlp", "debug=fast",
                        "report=false", cwd=tmp_path)
        assert "Traceback" not in result.text, result.text
        assert result.code in ((2,) if must_refuse else (0, 2)), result.text
        if result.code == 2:
            assert path.name in result.err, result.err


def test_image_folder_with_stray_files(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for label in ("cats", "dogs"):
        folder = tmp_path / "pics" / label
        folder.mkdir(parents=True)
        for i in range(12):
            Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(folder / f"{i}.png")
        (folder / "notes.txt").write_text("not an image")
        (folder / ".DS_Store").write_bytes(b"\x00\x01")
    result = strata("train", "data=images", f"data.path={tmp_path / 'pics'}", "debug=fast", cwd=tmp_path)
    assert result.code == 0, result.text
    (tmp_path / "pics" / "cats" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    result = strata("train", "data=images", f"data.path={tmp_path / 'pics'}", "debug=fast", cwd=tmp_path)
    assert result.code == 2 and "Traceback" not in result.text, result.text
    assert "broken.png" in result.err


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(MUTATIONS)
def test_corrupted_text_table_loads_or_is_refused_cleanly(tmp_path, mutations):
    path = tmp_path / "fuzz.tsv"
    path.write_bytes(_mutate(_sentence_rows(), mutations, sep="\t"))
    outcome = _load_and_run(path, "data=text")
    if outcome != "ok":
        assert "\n" not in outcome.strip() and outcome.strip(), outcome
        assert str(path) in outcome or "data" in outcome, outcome


# no report.html: none of these checks reads it, and a report never fails a run (a problem is a warning)
NO_REPORT = ("report=false",)


def test_text_class_folders_with_bad_files(tmp_path):
    """Text class folders: stray files are passed over, an empty text trains, a file that is not
    the configured encoding is refused by name (exit 2), never a traceback."""
    for label, rows in (("neg", _sentence_rows()[0::2]), ("pos", _sentence_rows()[1::2])):
        folder = tmp_path / "reviews" / label
        folder.mkdir(parents=True)
        for i, (sentence, _) in enumerate(rows):
            (folder / f"{i}.txt").write_text(sentence)
        (folder / "empty.txt").write_text("")
        (folder / "cover.jpg").write_bytes(b"\xff\xd8\xff not text")  # not a text suffix: passed over
        (folder / ".DS_Store").write_bytes(b"\x00\x01")
    result = strata("train", "data=text", f"data.path={tmp_path / 'reviews'}", "debug=fast", *NO_REPORT, cwd=tmp_path)
    assert result.code == 0, result.text
    (tmp_path / "reviews" / "pos" / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    result = strata("train", "data=text", f"data.path={tmp_path / 'reviews'}", "debug=fast", *NO_REPORT, cwd=tmp_path)
    assert_user_error(result, "latin1.txt", "data.encoding")
    result = strata("train", "data=text", f"data.path={tmp_path / 'reviews'}", "data.encoding=latin-1", "debug=fast", *NO_REPORT,
                    cwd=tmp_path)
    assert result.code == 0, result.text
