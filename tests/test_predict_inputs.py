"""`strata predict` and `strata explain` read the user's file in its own form: a text model trained
from a headerless TSV predicts a CSV with a header row and quoted values, JSON Lines, Parquet and
stdin, one prediction per data row, and a row that cannot be read is an error naming its line."""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest

from tests.conftest import ROOT, assert_user_error, strata

YELP = ROOT / "pipelines" / "datasets" / "sentiment" / "yelp_labelled.txt"
# values a CSV must quote: commas in every one, quotes inside one (doubled in the CSV)
SENTENCES = [
    "Just ok, nothing special.",
    "Loved it, the food was great and the staff friendly.",
    'The "special" was cold, and the service slow.',
    "Wow, a wonderful place.",
]


@pytest.fixture(scope="session")
def sentiment_tsv_run(tmp_path_factory):
    """A text MLP trained for one epoch on 300 headerless tab-separated sentences, as a user would
    name them: data.header=false data.column_names=[sentence,label] data.delimiter='\\t'. Words
    are only lower-cased (not stripped of punctuation), so a stray quote would reach the model."""
    work = tmp_path_factory.mktemp("tsv")
    lines = YELP.read_text().splitlines()
    (work / "x.tsv").write_text("\n".join(lines[:150] + lines[-150:]) + "\n")
    run = work / "run"
    result = strata(
        "train", "data=text", "data.path=x.tsv", "data.header=false", "data.column_names=[sentence,label]",
        "data.delimiter=\\t", "data.text.standardize=lower", "model=mlp", "trainer.epochs=1", "trainer.batch_size=32",
        "report=false", "callbacks=none", "export=none", f"hydra.run.dir={run}", cwd=work,
    )  # fmt: skip
    assert result.code == 0, result.text
    return run


@pytest.fixture(scope="session")
def tsv_predictions(sentiment_tsv_run, tmp_path_factory):
    """The predictions for SENTENCES given as the training file is written: headerless, tab-separated."""
    folder = tmp_path_factory.mktemp("tsv_input")
    (folder / "same.tsv").write_text("".join(f"{s}\t1\n" for s in SENTENCES))
    result = strata("predict", f"run={sentiment_tsv_run}", f"input={folder / 'same.tsv'}", f"output={folder / 'p.csv'}")
    assert result.code == 0, result.text
    assert "delimiter tab, header no" in result.err
    return pd.read_csv(folder / "p.csv", dtype={"label": str})


def _quoted_csv(path):
    pd.DataFrame({"sentence": SENTENCES}).to_csv(path, index=False, quoting=csv.QUOTE_ALL)  # every value in quotes
    assert path.read_text().splitlines()[:2] == ['"sentence"', '"Just ok, nothing special."']
    return path


def test_a_csv_with_a_header_and_quoted_values_predicts_one_row_per_sentence(sentiment_tsv_run, tsv_predictions, tmp_path):
    new = _quoted_csv(tmp_path / "new.csv")
    result = strata("predict", f"run={sentiment_tsv_run}", f"input={new}", f"output={tmp_path / 'p.csv'}")
    assert result.code == 0, result.text
    assert f"read 4 rows from {new} (delimiter ',', header yes)" in result.err
    frame = pd.read_csv(tmp_path / "p.csv", dtype={"label": str})
    assert frame["id"].tolist() == [1, 2, 3, 4]  # the header row is not a sentence
    # the same numbers as the sentences without CSV quoting: the quotes never reached the model
    pd.testing.assert_frame_equal(frame, tsv_predictions)


def test_explain_shows_the_words_of_the_csv_not_its_quotes(sentiment_tsv_run, tmp_path):
    new = _quoted_csv(tmp_path / "new.csv")
    out = tmp_path / "explained"
    result = strata("explain", f"run={sentiment_tsv_run}", f"input={new}", f"output={out}")
    assert result.code == 0, result.text
    tokens = pd.read_csv(out / "tokens.csv", keep_default_na=False)
    words = tokens.groupby("id")["word"].apply(list)
    assert words.tolist() == [s.split() for s in SENTENCES]
    assert '"Just' not in tokens["word"].tolist() and "sentence" not in tokens["word"].tolist()


def test_json_lines_and_parquet_predict_what_the_csv_does(sentiment_tsv_run, tsv_predictions, tmp_path):
    # keys are the model's columns; an extra key is ignored, a blank line is no row
    rows = [json.dumps({"sentence": s, "source": "app"}) for s in SENTENCES]
    (tmp_path / "new.jsonl").write_text("\n".join(rows[:2]) + "\n\n" + "\n".join(rows[2:]) + "\n")
    pd.DataFrame({"sentence": SENTENCES}).to_parquet(tmp_path / "new.parquet")
    for name, how in (("new.jsonl", "(JSON Lines)"), ("new.parquet", "(Parquet)")):
        result = strata("predict", f"run={sentiment_tsv_run}", f"input={tmp_path / name}", f"output={tmp_path / (name + '.csv')}")
        assert result.code == 0, result.text
        assert f"read 4 rows from {tmp_path / name} {how}" in result.err
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / (name + ".csv"), dtype={"label": str}), tsv_predictions)


def test_stdin_to_stdout_is_a_pipe(sentiment_tsv_run, tsv_predictions, tmp_path):
    """`cat new.csv | strata predict run=... input=- output=- > predictions.csv`: stdout holds the
    CSV and nothing else; the messages go to stderr."""
    csv_text = _quoted_csv(tmp_path / "new.csv").read_text()
    result = strata("predict", f"run={sentiment_tsv_run}", "input=-", "output=-", stdin=csv_text)
    assert result.code == 0, result.text
    pd.testing.assert_frame_equal(pd.read_csv(io.StringIO(result.out), dtype={"label": str}), tsv_predictions)
    assert result.out.splitlines()[0] == "id,label,prob_0,prob_1" and len(result.out.splitlines()) == 5
    assert "read 4 rows from stdin (delimiter ',', header yes)" in result.err
    assert "wrote 4 predictions to stdout" in result.err
    assert not (sentiment_tsv_run / "predictions").exists()  # nothing written beside the run


def test_stdin_is_read_by_what_it_holds(sentiment_tsv_run):
    """JSON Lines by its first character `{`, Parquet by its magic bytes, else a sniffed table or
    lines of text: the same sentences whichever form they come in."""
    from strata.run import raw_inputs
    from strata.run.finished import FinishedRun

    finished = FinishedRun.open(str(sentiment_tsv_run))
    parquet = io.BytesIO()
    pd.DataFrame({"sentence": SENTENCES}).to_parquet(parquet)
    quoted = io.StringIO()
    pd.DataFrame({"sentence": SENTENCES}).to_csv(quoted, index=False, quoting=csv.QUOTE_ALL)
    forms = {
        "JSON Lines": "\n" + "".join(json.dumps({"sentence": s}) + "\n" for s in SENTENCES),
        "Parquet": parquet.getvalue(),
        "delimiter ',', header yes": quoted.getvalue(),
        "delimiter tab, header no": "".join(f"{s}\t0\n" for s in SENTENCES),
        "text, one example per line": "\n".join(SENTENCES),
    }
    for how, data in forms.items():
        stdin = io.BytesIO(data if isinstance(data, bytes) else data.encode())
        inputs = raw_inputs.read("-", finished.features, finished.config.data, stdin=stdin)
        assert inputs.summary.startswith("read 4 ") and f"from stdin ({how}" in inputs.summary, inputs.summary
        assert inputs.x["sentence"][:, 0].tolist() == SENTENCES and inputs.ids == ["1", "2", "3", "4"]


def test_a_row_that_cannot_be_read_is_an_error_naming_its_line(sentiment_tsv_run, tmp_path):
    (tmp_path / "bad.csv").write_text('sentence\n"Just ok"\nGood food, bad service.\n"Loved it"\n')
    result = strata("predict", f"run={sentiment_tsv_run}", f"input={tmp_path / 'bad.csv'}")
    assert_user_error(result, "bad.csv", "line 3 has 2 fields", "the header (line 1) has 1", "quote a value")
    (tmp_path / "bad.jsonl").write_text('{"sentence": "Just ok"}\n{"sentence": "Loved it",}\n')
    result = strata("explain", f"run={sentiment_tsv_run}", f"input={tmp_path / 'bad.jsonl'}")
    assert_user_error(result, "bad.jsonl", "line 2 is not valid JSON")
    assert not (sentiment_tsv_run / "predictions").exists() and not (sentiment_tsv_run / "explain").exists()
