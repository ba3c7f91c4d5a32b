"""Sweeps: an Optuna search returns the optimized metric of each trial; the joblib launcher runs
trials in parallel processes; a failed trial is reported and the sweep goes on."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.conftest import strata

pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="the Optuna sweeper plugin is a test extra")


def test_optuna_sweep_of_two_trials_optimizes_the_validation_accuracy(tmp_path):
    result = strata("train", "hparams_search=digits_optuna", "hydra.sweeper.n_trials=2", "debug=fast",
                    "callbacks=none", cwd=tmp_path)
    assert result.code == 0, result.text
    (sweep,) = tmp_path.glob("outputs/digits_cnn/multirun_*")
    trials = sorted(sweep.glob("*/metrics.json"))
    assert [t.parent.name for t in trials] == ["0", "1"]
    accuracies = [json.loads(t.read_text())["validation"]["accuracy"] for t in trials]
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["best_value"] == pytest.approx(max(accuracies))
    assert set(best["best_params"]) == {"optimizer.learning_rate", "model.dropout", "trainer.batch_size"}


def test_joblib_launcher_runs_trials_in_processes_and_a_failed_trial_does_not_stop_the_sweep(tmp_path):
    result = strata("train", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "trainer.batch_size=0,32",
                    "debug=fast", "callbacks=none", cwd=tmp_path)
    assert result.code == 0, result.text
    assert "Joblib.Parallel(n_jobs=2" in result.text
    (sweep,) = tmp_path.glob("outputs/digits_cnn/multirun_*")
    assert (sweep / "1" / "metrics.json").is_file() and not (sweep / "0" / "metrics.json").exists()
    # the trial's own log (a joblib worker's output does not reach the terminal) says what failed
    log = (sweep / "0" / "train.log").read_text()
    assert "trial 0 (" in log and "failed: ConfigError: trainer.batch_size" in log
