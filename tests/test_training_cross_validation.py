"""Cross-validation, `data.split.folds=K`: K fold models on the non-test rows, then the final model
on all of them, measured on the test split the folds never touch. The real CLI on small CSVs made
here, and the fold division as a pure function."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from tests.conftest import assert_user_error, compose_config, strata

TINY = ("model.units=[8]", "trainer.epochs=2", "trainer.batch_size=32")


def _houses(path, n=300, seed=0):
    """Prices in dollars from an area (with gaps) and a city."""
    rng = np.random.default_rng(seed)
    lines = ["Id,area,city,price"]
    for i in range(n):
        area, city = rng.uniform(50, 250), ("north", "south", "east")[i % 3]
        price = 1000 * area + {"north": 50_000, "south": 0, "east": 20_000}[city] + rng.normal(0, 5000)
        lines.append(f"{1000 + i},{'NA' if i % 17 == 5 else f'{area:.1f}'},{city},{price:.0f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def _classes_csv(path, n=300, seed=0):
    """Two numeric columns and an imbalanced three-class label (50% / 30% / 20%)."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(["red", "green", "blue"], [n // 2, n * 3 // 10, n - n // 2 - n * 3 // 10]))
    centers = {"red": (0.0, 0.0), "green": (2.0, 0.0), "blue": (0.0, 2.0)}
    lines = ["x1,x2,colour"]
    for label in labels:
        x1, x2 = np.asarray(centers[label]) + rng.normal(0, 0.7, 2)
        lines.append(f"{x1:.3f},{x2:.3f},{label}")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def regression_run(tmp_path_factory):
    """A finished 3-fold run on houses.csv (300 rows, regression)."""
    work = tmp_path_factory.mktemp("cv_houses")
    _houses(work / "houses.csv", n=300)
    run = work / "run"
    result = strata(
        "train", "data=csv", "data.path=houses.csv", "data.target=price", "data.split.folds=3", *TINY, f"hydra.run.dir={run}", cwd=work
    )
    assert result.code == 0, result.text
    return work, run, result


def test_metrics_hold_each_fold_and_their_mean_and_std(regression_run):
    _, run, result = regression_run
    metrics = json.loads((run / "metrics.json").read_text())
    assert set(metrics) == {"train", "test", "cross_validation", "evaluated_rows"}  # the final model has no validation split
    section = metrics["cross_validation"]
    assert section["k"] == 3 and len(section["folds"]) == 3
    for name in ("loss", "mae", "rmse"):
        values = [fold[name] for fold in section["folds"]]
        assert len(set(values)) == 3  # three models on three different validation folds
        assert section["mean"][name] == pytest.approx(np.mean(values), rel=1e-9)
        assert section["std"][name] == pytest.approx(np.std(values), rel=1e-9)
    assert section["final_epochs"] == round(np.mean(section["epochs"])) and 1 <= section["final_epochs"] <= 2
    for i in (1, 2, 3):  # a log line per fold with its validation metrics
        assert f"fold {i}/3: validation loss" in result.out


def test_the_folds_cover_the_non_test_rows_and_the_test_split_is_unchanged(regression_run):
    """Every non-test row of the ordinary split validates in exactly one fold, and the final model
    was measured on the ordinary split's test rows: evaluating model.keras on the test split of the
    same config without folds gives metrics.json's test metrics."""
    from strata.data.loading import load_data
    from strata.run.finished import load_model
    from strata.run.layout import RunDir

    work, run, _ = regression_run
    config = compose_config("data=csv", f"data.path={work / 'houses.csv'}", "data.target=price", *TINY, root=work)
    assert config.data.split.folds is None
    bundle = load_data(config)
    records = [json.loads((run / "folds" / str(i) / "fold.json").read_text()) for i in (1, 2, 3)]
    assert sum(r["validation_rows"] for r in records) == bundle.size("train") + bundle.size("validation") == 270
    assert all(r["train_rows"] + r["validation_rows"] == 270 for r in records)

    model = load_model(RunDir(run))
    values = model.evaluate(bundle.dataset("test", 32), verbose=0, return_dict=True)
    recorded = json.loads((run / "metrics.json").read_text())["test"]
    assert bundle.size("test") == 30
    for name in ("mae", "rmse"):
        assert float(values[name]) == pytest.approx(recorded[name], rel=1e-4)


def test_each_fold_logs_to_its_own_tensorboard_folder_and_one_model_is_exported(regression_run):
    _, run, _ = regression_run
    for i in (1, 2, 3):
        for split in ("train", "validation"):
            assert list((run / "folds" / str(i) / "tensorboard" / split).glob("events.out.tfevents.*")), (i, split)
    assert list((run / "tensorboard" / "train").glob("events.out.tfevents.*"))
    assert not (run / "tensorboard" / "validation").exists()  # the final model has no validation split
    assert [p.parent for p in run.rglob("saved_model.pb")] == [run / "export" / "saved_model"]
    assert [p for p in run.rglob("*.keras")] == [run / "model.keras"]


def test_the_report_shows_the_folds(regression_run):
    _, run, _ = regression_run
    page = (run / "report.html").read_text()
    assert "Cross-validation: 3 folds" in page
    section = page[page.index("Cross-validation: 3 folds") :]
    for label in ("fold 1", "fold 2", "fold 3", "mean", "std", "rmse"):
        assert f">{label}<" in section, label
    assert (run / "report" / "folds_loss.png").is_file()


def test_resume_keeps_finished_folds_and_continues_an_interrupted_one(regression_run, tmp_path):
    """As if the process had been killed in fold 2, after its backup: folds 1 and 3 are kept, fold 2
    continues from its backup, and the final model trains afresh."""
    work, original, _ = regression_run
    run = tmp_path / "run"
    shutil.copytree(original, run)
    record_path = run / "folds" / "2" / "fold.json"
    record = json.loads(record_path.read_text())
    record["state"] = "training"
    record_path.write_text(json.dumps(record))
    (run / "metrics.json").unlink()
    before = json.loads((original / "metrics.json").read_text())["cross_validation"]

    result = strata("train", f"resume={run}", "report=false", "export=none", cwd=work)
    assert result.code == 0, result.text
    assert "fold 1/3: done in an earlier process" in result.out and "fold 3/3: done in an earlier process" in result.out
    assert "fold 2/3: resuming from its backup: 2 of 2 epochs done" in result.out
    assert "the final model starts afresh" in result.out
    after = json.loads((run / "metrics.json").read_text())["cross_validation"]
    assert after["folds"][0] == before["folds"][0] and after["folds"][2] == before["folds"][2]


def test_classification_folds_are_stratified(tmp_path):
    _classes_csv(tmp_path / "colours.csv")
    run = tmp_path / "run"
    result = strata(
        "train",
        "data=csv",
        "data.path=colours.csv",
        "data.target=colour",
        "data.split.folds=3",
        *TINY,
        "callbacks=none",
        "report=false",
        "export=none",
        f"hydra.run.dir={run}",
        cwd=tmp_path,
    )
    assert result.code == 0, result.text
    assert "(stratified by class)" in result.out
    metrics = json.loads((run / "metrics.json").read_text())
    assert len(metrics["cross_validation"]["folds"]) == 3 and "accuracy" in metrics["cross_validation"]["mean"]
    counts = np.array(
        [
            [json.loads((run / "folds" / str(i) / "fold.json").read_text())["validation_classes"][c] for c in ("blue", "green", "red")]
            for i in (1, 2, 3)
        ]
    )
    total = counts.sum(axis=0)
    assert total.sum() == 270 and total[2] > total[1] > total[0]  # every non-test row, imbalanced classes
    assert (np.abs(counts - total / 3) <= 1).all(), counts  # each fold holds each class in the same proportion


def test_fold_indices_stratify_partition_and_order_in_time():
    from strata.data.splits import fold_indices

    labels = np.array(["a"] * 60 + ["b"] * 30 + ["c"] * 12)
    folds = fold_indices(len(labels), 4, seed=3, stratify=labels)
    validation = np.concatenate([v for _, v in folds])
    assert sorted(validation.tolist()) == list(range(len(labels)))  # each row validates exactly once
    for train, valid in folds:
        assert not set(train) & set(valid) and len(train) + len(valid) == len(labels)
        shares = {c: np.mean(labels[valid] == c) for c in "abc"}
        assert shares == pytest.approx({"a": 60 / 102, "b": 30 / 102, "c": 12 / 102}, abs=0.03)
    assert fold_indices(len(labels), 4, seed=3, stratify=labels)[0][1].tolist() == folds[0][1].tolist()  # seeded

    unstratified = [v for _, v in fold_indices(100, 5, seed=0)]
    assert sorted(np.concatenate(unstratified).tolist()) == list(range(100)) and {len(v) for v in unstratified} == {20}

    blocks = fold_indices(20, 3, seed=0, chronological=True, gap=2)
    assert [v.tolist() for _, v in blocks] == [[5, 6, 7, 8, 9], [10, 11, 12, 13, 14], [15, 16, 17, 18, 19]]
    assert [t.tolist() for t, _ in blocks] == [list(range(3)), list(range(8)), list(range(13))]  # expanding, 2 left out


def test_fold_indices_refuse_a_class_smaller_than_the_folds():
    from strata.data.splits import fold_indices
    from strata.errors import DataError

    labels = np.array(["a"] * 20 + ["rare"] * 3)
    with pytest.raises(DataError, match=r"data.split.folds=4: class 'rare' has 3 non-test rows"):
        fold_indices(len(labels), 4, seed=0, stratify=labels)
    with pytest.raises(DataError, match="data.split.folds=5"):
        fold_indices(5, 5, seed=0, chronological=True)
    assert len(fold_indices(len(labels), 3, seed=0, stratify=labels)) == 3


def test_fold_count_treats_null_and_one_as_off():
    from strata.training.cross_validation import fold_count

    assert fold_count(compose_config()) == 0
    assert fold_count(compose_config("data.split.folds=1")) == 0
    assert fold_count(compose_config("data=csv", "data.split.folds=4")) == 4


@pytest.mark.parametrize("value", ["0", "2.5"])
def test_a_bad_folds_value_is_a_config_error(tmp_path, value):
    result = strata("train", f"data.split.folds={value}", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert_user_error(result, "data.split.folds", "number of folds >= 2")
    assert not (tmp_path / "run").exists()


def test_more_folds_than_rows_of_a_class_is_a_data_error(tmp_path):
    rows = ["x,label"] + [f"{i},common" for i in range(60)] + [f"{i},rare" for i in range(4)]
    (tmp_path / "rare.csv").write_text("\n".join(rows) + "\n")
    result = strata(
        "train",
        "data=csv",
        "data.path=rare.csv",
        "data.target=label",
        "data.split.test=0",
        "data.split.folds=5",
        f"hydra.run.dir={tmp_path / 'run'}",
        cwd=tmp_path,
    )
    assert_user_error(result, "data.split.folds=5", "class 'rare' has 4 non-test rows")
    assert not (tmp_path / "run").exists()


def test_streamed_csv_data_is_refused_before_its_checking_pass(tmp_path):
    from strata.data.csv_source import CsvConfig, load
    from strata.errors import DataError

    _houses(tmp_path / "houses.csv")
    cfg = CsvConfig(path="houses.csv", base_dir=str(tmp_path), target="price", in_memory_max_mb=0.001, split={"folds": 3})
    with pytest.raises(DataError, match=r"data.split.folds=3: cross-validation needs the rows in memory.*data.in_memory_max_mb"):
        load(cfg, 0)
    assert load(cfg.model_copy(update={"in_memory_max_mb": 1.0}), 0).size("test") == 30  # in memory: fine


def test_a_sweep_optimizes_the_folds_mean_and_hparams_get_it_as_a_scalar():
    from strata.callbacks.hparams import _scalars
    from strata.errors import ConfigError
    from strata.train import _optimized_value

    section = {"k": 2, "folds": [{"rmse": 2.0}, {"rmse": 4.0}], "mean": {"rmse": 3.0}, "std": {"rmse": 1.0}, "final_epochs": 2}
    metrics = {"train": {"rmse": 5.0}, "test": {"rmse": 4.5}, "cross_validation": section}
    assert _optimized_value("validation/rmse", metrics) == _optimized_value("cross_validation/rmse", metrics) == 3.0
    assert _optimized_value("test/rmse", metrics) == 4.5
    with pytest.raises(ConfigError, match="Did you mean 'cross_validation/rmse'"):
        _optimized_value("cross_validation/rmsee", metrics)
    scalars = dict(_scalars(metrics))
    assert scalars["cross_validation_mean_rmse"] == 3.0 and scalars["cross_validation_std_rmse"] == 1.0
    assert scalars["test_rmse"] == 4.5 and not any("folds" in name for name in scalars)
