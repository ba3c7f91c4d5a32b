"""The real CLI on files a user has: a CSV with gaps and categories, labelled sentences, a folder
of images. Raw values in (training, prediction, the SavedModel), predictions in the target's units."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from tests.conftest import assert_user_error, strata
from tests.test_data_sources import _houses, _png

FAST = ("model=mlp", "report=false", "callbacks=none", "trainer.batch_size=32")


@pytest.fixture(scope="module")
def houses(tmp_path_factory):
    """A finished run on houses.csv (given by a relative path), and a prediction file without the
    target: a missing area, a missing city and a city training never saw."""
    work = tmp_path_factory.mktemp("houses")
    _houses(work / "houses.csv")
    run = work / "run"
    result = strata("train", "data=csv", "data.path=houses.csv", "data.target=price", *FAST, "trainer.epochs=25",
                    f"hydra.run.dir={run}", cwd=work)
    assert result.code == 0, result.text
    (work / "new.csv").write_text(
        "Id,area,rooms,city,remarks\n"
        "1,120.5,3,north,a quiet house near the park\n"
        "2,NA,2,south,bright flat with a view of the river\n"
        "3,200,4,,a quiet house\n"
        "4,80,1,west,never seen words here\n"
    )
    return work, run


def test_csv_run_learns_and_records_the_data(houses):
    work, run = houses
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["validation"]["loss"] < 0.3  # standardized MSE: far better than predicting the mean (1.0)
    assert metrics["validation"]["mae"] < 20_000  # in dollars: the model outputs the target's units
    described = json.loads((run / "task.json").read_text())
    assert described["task"]["kind"] == "regression"
    assert {f["column"]: f["kind"] for f in described["features"]} == {
        "area": "numeric", "rooms": "numeric", "city": "categorical", "remarks": "text"}
    resolved = yaml.safe_load((run / ".hydra" / "resolved.yaml").read_text())
    assert resolved["data"]["base_dir"] == str(work)  # relative paths stay readable from anywhere


def test_predict_from_another_folder_with_gaps_and_unseen_values(houses, tmp_path):
    import pandas as pd

    work, run = houses
    out = tmp_path / "pred.csv"
    result = strata("predict", f"run={run}", f"input={work / 'new.csv'}", f"output={out}", cwd=tmp_path)
    assert result.code == 0, result.text
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["id", "price"] and frame["id"].tolist() == [1, 2, 3, 4]
    assert frame["price"].between(20_000, 400_000).all(), frame  # dollars, not standardized units
    assert frame["price"][0] > frame["price"][3]  # bigger, in a dearer city


def test_predict_a_file_without_its_header_reads_the_training_columns_in_order(houses, tmp_path):
    """A run trained on a file with a header predicts rows without one: the first line names none
    of the columns, and has the training file's columns but the target, in its order."""
    import pandas as pd

    work, run = houses
    (tmp_path / "rows.csv").write_text("".join(f"{line}\n" for line in (work / "new.csv").read_text().splitlines()[1:]))
    with_header = strata("predict", f"run={run}", f"input={work / 'new.csv'}", f"output={tmp_path / 'a.csv'}")
    without = strata("predict", f"run={run}", f"input={tmp_path / 'rows.csv'}", f"output={tmp_path / 'b.csv'}")
    assert with_header.code == 0 and without.code == 0, with_header.text + without.text
    assert "read 4 rows" in without.err and "header no" in without.err and "Id, area, rooms, city, remarks)" in without.err
    assert "header yes" in with_header.err
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "b.csv"), pd.read_csv(tmp_path / "a.csv"))


def test_the_run_reloads_its_data_from_another_folder(houses, tmp_path, monkeypatch):
    """What `strata evaluate run=...` does: the recorded config finds houses.csv from anywhere."""
    from strata.run.finished import FinishedRun

    _, run = houses
    monkeypatch.chdir(tmp_path)
    bundle = FinishedRun.open(str(run)).data
    assert (bundle.size("train"), bundle.size("validation"), bundle.size("test")) == (160, 20, 20)


def test_predict_input_missing_a_column_is_refused(houses, tmp_path):
    work, run = houses
    (tmp_path / "partial.csv").write_text("Id,area,rooms,remarks\n1,100,2,nice\n")
    result = strata("predict", f"run={run}", f"input={tmp_path / 'partial.csv'}", cwd=tmp_path)
    assert_user_error(result, "partial.csv", "no column 'city'", "the model needs")
    assert not (run / "predictions").exists() or not list((run / "predictions").iterdir())


def test_saved_model_takes_raw_columns_and_matches_the_keras_model(houses):
    import keras
    import tensorflow as tf

    import strata.layers  # noqa: F401
    import strata.models.losses  # noqa: F401
    from strata.run.description import RunDescription
    from strata.run.inference import predict_raw
    from strata.run.layout import RunDir
    from strata.run.raw_inputs import read_inputs

    work, run = houses
    features = RunDescription.load(RunDir(run)).features
    x, ids = read_inputs(str(work / "new.csv"), features, None)
    assert np.isnan(x["area"][1, 0]) and x["city"][2, 0] == "" and x["city"][3, 0] == "west"
    signature = tf.saved_model.load(str(run / "export" / "saved_model")).signatures["serving_default"]
    specs = signature.structured_input_signature[1]
    assert {k: (v.dtype, tuple(v.shape)) for k, v in specs.items()} == {
        "area": (tf.float32, (None, 1)), "rooms": (tf.float32, (None, 1)),
        "city": (tf.string, (None, 1)), "remarks": (tf.string, (None, 1))}
    served = next(iter(signature(**{k: tf.constant(v) for k, v in x.items()}).values())).numpy()
    model = keras.saving.load_model(run / "model.keras", compile=False)
    expected = predict_raw(model, x)
    np.testing.assert_allclose(served, expected, rtol=1e-5)
    assert np.isfinite(served).all()


def test_text_table_trains_a_classifier_that_beats_chance(tmp_path):
    import pandas as pd

    run = tmp_path / "run"
    result = strata("train", "data=text", *FAST, "export=none", "trainer.epochs=8", f"hydra.run.dir={run}", cwd=tmp_path)
    assert result.code == 0, result.text
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["validation"]["accuracy"] >= 0.7  # 500/500 positive/negative: chance is 0.5
    (tmp_path / "reviews.txt").write_text("The food was great and the staff lovely.\nTerrible service, cold food.\n")
    result = strata("predict", f"run={run}", f"input={tmp_path / 'reviews.txt'}", f"output={tmp_path / 'p.csv'}")
    assert result.code == 0, result.text
    frame = pd.read_csv(tmp_path / "p.csv", dtype={"label": str})
    assert frame["label"].tolist() == ["1", "0"]


def test_image_folder_trains_and_predicts_a_flat_folder(tmp_path):
    import pandas as pd

    for i in range(16):
        _png(tmp_path / "imgs" / "dark" / f"{i}.png", size=(9, 9), value=10 + i)
        _png(tmp_path / "imgs" / "light" / f"{i}.png", size=(9, 9), value=230 - i)
    _png(tmp_path / "new" / "a.png", size=(20, 20), value=5)
    _png(tmp_path / "new" / "b.png", size=(20, 20), value=250)
    run = tmp_path / "run"
    result = strata("train", "data=images", "data.path=imgs", "data.image_size=[8,8]", "data.augment.flip=horizontal",
                    "report=false", "callbacks=none", "export=none", "trainer.epochs=2", f"hydra.run.dir={run}", cwd=tmp_path)
    assert result.code == 0, result.text
    (image,) = json.loads((run / "task.json").read_text())["features"]
    assert (image["name"], image["shape"], image["dtype"]) == ("image", [8, 8, 3], "float32")  # raw pixels in
    result = strata("predict", f"run={run}", f"input={tmp_path / 'new'}", f"output={tmp_path / 'p.csv'}")
    assert result.code == 0, result.text
    frame = pd.read_csv(tmp_path / "p.csv")
    assert frame["id"].tolist() == ["a.png", "b.png"] and list(frame.columns)[1:] == ["label", "prob_dark", "prob_light"]


def test_a_model_saved_before_the_one_import_name_still_predicts(houses, tmp_path):
    """Runs trained when strata's layers were the top-level modules `layers.*` (and its losses
    `pipelines.models.*`) record those module paths in model.keras; Keras finds them by their
    registered names (`strata>Impute`), so such a run predicts what it always did."""
    import shutil
    import zipfile

    work, run = houses
    old = tmp_path / "old_run"
    shutil.copytree(run, old, ignore=shutil.ignore_patterns("predictions"))
    with zipfile.ZipFile(run / "model.keras") as source:
        files = {name: source.read(name) for name in source.namelist()}
    config = files["config.json"].decode()
    renamed = config.replace('"module": "strata.layers.', '"module": "layers.').replace(
        '"module": "strata.models.', '"module": "pipelines.models.')
    assert renamed.count('"module": "layers.') >= 2 and '"module": "pipelines.models.losses"' in renamed
    files["config.json"] = renamed.encode()
    with zipfile.ZipFile(old / "model.keras", "w") as target:
        for name, data in files.items():
            target.writestr(name, data)

    new = strata("predict", f"run={run}", f"input={work / 'new.csv'}", f"output={tmp_path / 'new.csv'}", cwd=tmp_path)
    before = strata("predict", f"run={old}", f"input={work / 'new.csv'}", f"output={tmp_path / 'old.csv'}", cwd=tmp_path)
    assert new.code == 0 and before.code == 0, new.text + before.text
    import pandas as pd

    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "old.csv"), pd.read_csv(tmp_path / "new.csv"))
