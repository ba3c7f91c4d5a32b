"""The end-of-run metrics cost what they measure: the training split is evaluated on a bounded
sample by default (`trainer.evaluate_train`), and a CSV is loaded whole or streamed by a memory
budget (`data.in_memory_max_mb=null`, `strata.data.memory`)."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

from tests.conftest import strata


def regression_csv(path, rows: int = 3000):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 4))
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"])
    frame["y"] = x @ np.array([1.0, -2.0, 0.5, 0.0]) + rng.normal(0, 0.3, rows)
    frame.to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_train_metrics_come_from_a_bounded_sample_that_matches_the_whole_split(tmp_path):
    csv = regression_csv(tmp_path / "table.csv")
    common = ["data=csv", f"data.path={csv}", "data.target=y", "model=mlp", "trainer.epochs=3", "report=false", "export=none"]
    result = strata("train", *common, "trainer.evaluate_train_rows=600", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert result.code == 0, result.text
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["evaluated_rows"]["train"] == "a uniform sample of 600 of 2,400 rows (trainer.evaluate_train=sample)"
    assert metrics["evaluated_rows"]["test"] == "300 rows"
    assert "(train: a uniform sample of 600 of 2,400 rows" in (tmp_path / "run" / "train.log").read_text()
    # every training row, evaluated afterwards: the sample's error is the same within sampling noise
    result = strata("evaluate", f"run={tmp_path / 'run'}", "split=train", cwd=tmp_path)
    assert result.code == 0, result.text
    full = json.loads(result.out[result.out.index("{"):])["train"]
    assert metrics["train"]["rmse"] == pytest.approx(full["rmse"], rel=0.15), (metrics["train"], full)
    assert metrics["train"]["rmse"] != full["rmse"]  # a sample, not the whole split

    result = strata("train", *common, "trainer.evaluate_train=none", "trainer.validation_steps=2", "trainer.batch_size=32",
                    f"hydra.run.dir={tmp_path / 'none'}", cwd=tmp_path)
    assert result.code == 0, result.text
    metrics = json.loads((tmp_path / "none" / "metrics.json").read_text())
    assert "train" not in metrics and set(metrics["evaluated_rows"]) == {"validation", "test"}
    # capped batches are named as such, not as the whole split
    assert metrics["evaluated_rows"]["validation"] == "64 rows in the first 2 batches (trainer.validation_steps=2) of 300 rows"
    assert metrics["evaluated_rows"]["test"] == metrics["evaluated_rows"]["validation"]


def test_unknown_evaluate_train_is_a_config_error(tmp_path):
    from tests.conftest import assert_user_error

    result = strata("train", "trainer.evaluate_train=all", cwd=tmp_path)
    assert_user_error(result, "trainer.evaluate_train", "full")


def test_the_memory_budget_follows_a_cgroup_limit(tmp_path, monkeypatch):
    from strata.data import memory

    (tmp_path / "memory.max").write_text(str(3 * 2**30) + "\n")
    (tmp_path / "memory.current").write_text(str(2**30) + "\n")
    monkeypatch.setattr(memory, "CGROUP_FILES", ((str(tmp_path / "memory.max"), str(tmp_path / "memory.current")),))
    system = memory._system_available() / 2**20
    assert memory.available_mb() == pytest.approx(min(system, 2048))
    assert memory.budget_mb() == pytest.approx(memory.BUDGET_SHARE * memory.available_mb())
    assert memory.csv_threshold_mb(512.0) == pytest.approx(512.0 / memory.LOAD_FACTOR)
    (tmp_path / "memory.max").write_text("max\n")  # no limit: the system's figure
    assert memory.available_mb() == pytest.approx(system, rel=0.05)


def test_a_csv_above_the_budget_streams_and_says_why(tmp_path, monkeypatch, caplog):
    from strata.data import memory
    from strata.data.csv_source import CsvConfig, load
    from strata.data.csv_streaming import StreamingCsvBundle

    csv = regression_csv(tmp_path / "table.csv", rows=2000)
    size_mb = csv.stat().st_size / 2**20
    cfg = CsvConfig(path=str(csv), target="y", sample_rows=500)
    with caplog.at_level(logging.INFO, logger="strata.data.csv_source"):
        monkeypatch.setattr(memory, "budget_mb", lambda: size_mb * memory.LOAD_FACTOR * 2)  # room for twice the file
        assert not isinstance(load(cfg, 0), StreamingCsvBundle)
        monkeypatch.setattr(memory, "budget_mb", lambda: size_mb * memory.LOAD_FACTOR / 2)
        assert isinstance(load(cfg, 0), StreamingCsvBundle)
    assert "loading it whole" in caplog.text and "streaming it" in caplog.text and "data.in_memory_max_mb=null" in caplog.text
    assert isinstance(load(cfg.model_copy(update={"in_memory_max_mb": size_mb / 2}), 0), StreamingCsvBundle)  # a number decides
