"""Sweeps: strata's Optuna sweeper prunes trials that fall behind, continues a study kept in a
storage without reusing a trial folder, shares a study between commands started together, runs
side-by-side slots in joblib processes and records a failed trial FAIL with its error; the joblib
launcher runs Hydra's grid sweeps in processes and a failed trial does not stop the sweep."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import optuna
import pytest
import yaml

from tests.conftest import ROOT, strata

# small trials: 3 epochs of 3 batches; the preset's median pruner may prune from epoch 2 on
FAST = ("hparams_search=digits_optuna", "debug=fast", "trainer.epochs=3", "callbacks=none")


def _study(db: Path, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{db}")


def _trial_overrides(folder: Path) -> dict[str, str]:
    overrides = yaml.safe_load((folder / ".hydra" / "overrides.yaml").read_text())
    return dict(o.split("=", 1) for o in overrides)


def _assert_folders_match_the_study(study: optuna.Study, sweep: Path) -> None:
    """Trial n's folder is `<sweep>/<n>` and was trained with trial n's sampled values."""
    numbers = sorted(t.number for t in study.trials)
    assert numbers == list(range(len(numbers)))
    assert sorted(int(p.name) for p in sweep.iterdir() if p.name.isdigit()) == numbers
    for trial in study.trials:
        used = _trial_overrides(sweep / str(trial.number))
        for key, value in trial.params.items():
            assert float(used[key]) == pytest.approx(value), (trial.number, key)


def test_trials_behind_the_median_are_pruned_and_keep_their_partial_metrics(tmp_path):
    """The sampler's seed fixes the trials (lr 0.01, 1e-6, 1e-6, 1e-6): the first two finish, then
    the others, which learn nothing at lr 1e-6, are behind the median of the first two."""
    sweep = tmp_path / "sweep"
    result = strata("train", *FAST, "trainer.steps_per_epoch=15", "optimizer.learning_rate=choice(0.01, 0.000001)",
                    "hydra.sweeper.n_trials=4",
                    f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert result.code == 0, result.text
    trials = {t["number"]: t for t in json.loads((sweep / "sweep_results.json").read_text())["trials"]}
    pruned = [n for n, t in trials.items() if t["state"] == "PRUNED"]
    assert pruned, trials
    for number, trial in trials.items():
        folder = sweep / str(number)
        epochs = sorted(int(step) for step in trial["intermediate"])
        if number in pruned:
            assert float(_trial_overrides(folder)["optimizer.learning_rate"]) == 1e-6
            record = json.loads((folder / "pruned.json").read_text())
            # stopped after the epoch it was pruned at (never before epoch 2: the preset's warm-up);
            # its metrics are those of that epoch's model
            assert record["epoch"] == epochs[-1] >= 2 and record["metric"] == "validation/accuracy"
            assert (folder / "metrics.json").is_file()
        else:
            assert trial["state"] == "COMPLETE" and epochs == [1, 2, 3] and not (folder / "pruned.json").exists()
            metrics = json.loads((folder / "metrics.json").read_text())
            assert trial["value"] == pytest.approx(metrics["validation"]["accuracy"])
    assert any(len(trials[n]["intermediate"]) < 3 for n in pruned)  # one stopped before its last epoch
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["states"]["PRUNED"] == len(pruned) and best["states"]["COMPLETE"] == 4 - len(pruned)
    assert best["best_value"] == pytest.approx(max(t["value"] for t in trials.values() if t["state"] == "COMPLETE"))
    assert (sweep / "sweep_report.html").is_file() and (sweep / "sweep_report" / "intermediate_values.png").is_file()


def test_a_stored_study_is_shared_by_commands_started_together_and_continued_later(tmp_path):
    db, sweep = tmp_path / "study.db", tmp_path / "sweep"
    args = (*FAST, f"hydra.sweeper.storage=sqlite:///{db}", "hydra.sweeper.study_name=s", f"hydra.sweep.dir={sweep}")
    results = {}
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, strata("train", *args, "hydra.sweeper.n_trials=2",
                                                                                   cwd=tmp_path)))
               for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results.values():
        assert result.code == 0, result.text
    study = _study(db, "s")
    assert len(study.trials) == 4
    assert all(t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED) for t in study.trials)
    _assert_folders_match_the_study(study, sweep)  # no number handed out twice, no folder shared
    # each command re-seeds its sampler for a stored study: they do not run the same trials
    assert len({tuple(sorted(t.params.items())) for t in study.trials}) == 4
    assert json.loads((sweep / "study.json").read_text())["study_name"] == "s"
    kept = {n: (sweep / str(n) / "metrics.json").read_bytes() for n in range(4)}

    again = strata("train", *args, "hydra.sweeper.n_trials=1", cwd=tmp_path)
    assert again.code == 0, again.text
    assert "4 trial(s) on record, 1 to run" in again.text
    study = _study(db, "s")
    assert len(study.trials) == 5
    _assert_folders_match_the_study(study, sweep)
    assert {n: (sweep / str(n) / "metrics.json").read_bytes() for n in range(4)} == kept  # none overwritten
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert best["best_trial"] == study.best_trial.number and best["best_value"] == pytest.approx(study.best_value)


def test_side_by_side_slots_run_in_joblib_processes_that_report_every_epoch(tmp_path):
    sweep = tmp_path / "sweep"
    result = strata("train", *FAST, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "hydra.sweeper.n_jobs=2",
                    "hydra.sweeper.n_trials=3", f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert result.code == 0, result.text
    # an in-memory study with trials in other processes lives in the sweep folder, where they report
    study = optuna.load_study(study_name="digits_cnn", storage=f"sqlite:///{sweep / 'optuna.db'}")
    assert len(study.trials) == 3
    assert all(t.intermediate_values for t in study.trials)
    first, second = sorted(study.trials[:2], key=lambda t: t.datetime_start)
    assert second.datetime_start < first.datetime_complete  # two trials ran at once
    _assert_folders_match_the_study(study, sweep)


def test_a_failed_trial_is_recorded_fail_with_its_error_and_the_sweep_goes_on(tmp_path):
    db = tmp_path / "study.db"
    result = strata("train", *FAST, "hydra.sweeper.n_trials=2", f"hydra.sweeper.storage=sqlite:///{db}",
                    "hydra.sweeper.study_name=f",
                    "trainer.batch_size=choice(0)", f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path)
    assert result.code == 0, result.text
    trials = _study(db, "f").trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.FAIL] * 2
    assert all(t.user_attrs["error"].startswith("ConfigError: trainer.batch_size") for t in trials)
    assert "trial 1 failed: ConfigError: trainer.batch_size" in result.text


@pytest.mark.parametrize(("extra", "expected"), [
    (("hydra.sweeper.n_jobs=2",), "hydra.sweeper.n_jobs=2 runs trials side by side, which needs a launcher that starts processes"),
    (("hydra.sweeper.direction=maximise",), "hydra.sweeper.direction: 'maximise' is not minimize or maximize. Did you mean 'maximize'"),
    (("+hydra.sweeper.n_trails=3",), "hydra.sweeper.n_trails: not a key of strata's Optuna sweeper. Did you mean 'n_trials'"),
    (("hydra/sweeper/sampler=random",), "hydra.sweeper.sampler.n_startup_trials: RandomSampler takes no argument "
                                        "'n_startup_trials'. It takes: seed. (remove it with ~hydra.sweeper.sampler.n_startup_trials)"),
    (("model.dropout=interval(0.5, 0.1)",), "model.dropout: interval(0.5, 0.1) needs its start below its end"),
])
def test_sweeper_settings_are_checked_before_any_trial(tmp_path, extra, expected):
    result = strata("train", *FAST, *extra, f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path)
    assert result.code == 2, result.text
    assert expected in result.text
    assert "Traceback" not in result.text and not list((tmp_path / "sweep").glob("[0-9]*"))


def test_a_sweep_folder_of_another_study_is_not_overwritten(tmp_path):
    sweep = tmp_path / "sweep"
    (sweep / "0").mkdir(parents=True)
    (sweep / "0" / "metrics.json").write_text("{}")
    result = strata("train", *FAST, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert result.code == 2, result.text
    assert f"hydra.sweep.dir: {sweep} already holds trial folders 0..0" in result.text
    assert (sweep / "0" / "metrics.json").read_text() == "{}"


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


def test_installed_optuna_is_current_and_the_environment_is_consistent():
    major = int(optuna.__version__.split(".")[0])
    assert major >= 4, optuna.__version__
    import sys

    check = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_grid_sampler_runs_each_combination_once_and_stops_at_the_grids_size(tmp_path):
    sweep = tmp_path / "sweep"
    result = strata("train", "-m", "hydra/sweeper=optuna", "hydra/sweeper/sampler=grid", "trainer.batch_size=choice(32, 64)",
                    "optimized_metric=validation/accuracy", "hydra.sweeper.n_trials=5", "debug=fast", "callbacks=none",
                    f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert result.code == 0, result.text
    assert "2 to run" in result.text
    assert sorted(_trial_overrides(sweep / n)["trainer.batch_size"] for n in ("0", "1")) == ["32", "64"]
    assert not (sweep / "2").exists()


def test_hydras_sweep_syntax_becomes_optuna_distributions():
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    from strata.sweeper.search_space import search_space

    space = search_space(["a=interval(0.0, 0.5)", "b=tag(log, interval(1e-4, 0.03))", "c=int(interval(1, 8))", "d=choice(32, 64)",
                          "e=range(1, 10, 2)", "f=range(0.1, 0.5, 0.1)", "g=relu", "a=interval(0.1, 0.2)"])
    assert space.distributions == {
        "a": FloatDistribution(0.1, 0.2), "b": FloatDistribution(1e-4, 0.03, log=True), "c": IntDistribution(1, 8),
        "d": CategoricalDistribution([32, 64]), "e": IntDistribution(1, 9, step=2), "f": FloatDistribution(0.1, 0.4, step=0.1),
    }  # range's stop is exclusive; a later override of a key replaces the earlier one
    assert space.fixed == {"g": "relu"}
    assert space.overrides({"a": 0.15, "d": 64}) == ["a=0.15", "d=64", "g=relu"]
    assert search_space(["e=range(1, 10, 2)", "d=choice(32, 64)"]).grid() == {"e": [1, 3, 5, 7, 9], "d": [32, 64]}


@pytest.mark.parametrize("preset", sorted(p.stem for p in (ROOT / "conf" / "hydra" / "sweeper" / "sampler").glob("*.yaml")) +
                         sorted(f"pruner/{p.stem}" for p in (ROOT / "conf" / "hydra" / "sweeper" / "pruner").glob("*.yaml")))
def test_every_sampler_and_pruner_preset_builds_with_its_arguments(preset):
    from omegaconf import OmegaConf

    from strata.sweeper.components import build

    kind, name = preset.split("/") if "/" in preset else ("sampler", preset)
    node = OmegaConf.load(ROOT / "conf" / "hydra" / "sweeper" / kind / f"{name}.yaml")
    built = build(kind, node)
    if name == "grid":
        built = built({"x": [1, 2]})  # the sweeper fills in the grid
    base = optuna.samplers.BaseSampler if kind == "sampler" else optuna.pruners.BasePruner
    assert isinstance(built, base) and type(built).__module__.startswith("optuna"), built
