"""`strata sweep-report`: the page, PNGs and JSON of an Optuna study, through the real command.

The studies are made here with Optuna's ask/tell (no model is trained): a few complete trials
with epoch values, one pruned, one failed with its error.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from strata.formatting import metric_value
from tests.conftest import assert_user_error, strata

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PLOTS = ("optimization_history", "param_importances", "parallel_coordinate", "intermediate_values")
# (learning_rate, optimizer, how the trial ends, its value)
TRIALS = [
    (1e-3, "adam", "COMPLETE", 0.81),
    (3e-2, "sgd", "COMPLETE", 0.74),
    (3e-4, "adam", "COMPLETE", 0.93),
    (1e-1, "sgd", "PRUNED", 0.42),
    (5e-3, "adam", "FAIL", None),
]


def _suggest(trial: optuna.Trial) -> None:
    trial.suggest_float("learning_rate", 1e-5, 1.0, log=True)
    trial.suggest_categorical("optimizer", ["adam", "sgd"])


def make_study(db: Path, name: str = "digits_search", trials=TRIALS) -> str:
    """A study in a SQLite file; returns its storage URL."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = f"sqlite:///{db}"
    study = optuna.create_study(storage=url, study_name=name, direction="maximize")
    for lr, opt, state, value in trials:
        study.enqueue_trial({"learning_rate": lr, "optimizer": opt})
        trial = study.ask()
        _suggest(trial)
        if state == "FAIL":
            trial.set_user_attr("error", "ValueError: boom")
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            continue
        for step in range(3):
            trial.report(value * (step + 1) / 3, step)
        if state == "PRUNED":
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, value)
    return url


@pytest.fixture(scope="module")
def reported(tmp_path_factory) -> tuple[Path, str]:
    """The report of the five-trial study, written by `strata sweep-report study=... storage=...`."""
    root = tmp_path_factory.mktemp("study")
    url = make_study(root / "s.db")
    out = root / "out"
    result = strata("sweep-report", "study=digits_search", f"storage={url}", f"output={out}", cwd=root)
    assert result.code == 0, result.text
    assert f"wrote {out / 'sweep_report.html'}" in result.out
    return out, url


def test_plots_are_png_files(reported):
    out, _ = reported
    for name in PLOTS:
        data = (out / "sweep_report" / f"{name}.png").read_bytes()
        assert data.startswith(PNG_MAGIC), name
        assert len(data) > 5000, name


def test_page_names_the_best_trial_and_the_failed_trials_error(reported):
    out, _ = reported
    page = (out / "sweep_report.html").read_text()
    best = max(range(len(TRIALS)), key=lambda i: TRIALS[i][3] if TRIALS[i][2] == "COMPLETE" else -1)
    assert "<title>Sweep digits_search</title>" in page and "maximize" in page
    assert f"<td>trial</td><td class=num>{best}</td>" in page
    assert metric_value(TRIALS[best][3]) in page
    assert "ValueError: boom" in page
    for name in PLOTS:
        assert f'src="sweep_report/{name}.png"' in page
    assert "at step 2" in page  # the pruned trial's last epoch value
    assert "<a href" not in page  # no sweep folder to link to


def test_results_json_matches_the_study(reported):
    out, _ = reported
    results = json.loads((out / "sweep_results.json").read_text())
    complete = [v for _, _, state, v in TRIALS if state == "COMPLETE"]
    assert results["study_name"] == "digits_search" and results["direction"] == "maximize"
    assert results["n_trials"] == len(TRIALS)
    assert results["best"]["value"] == max(complete)
    assert results["best"]["params"] == {"learning_rate": 3e-4, "optimizer": "adam"}
    assert results["states"] == {"COMPLETE": 3, "PRUNED": 1, "FAIL": 1, "RUNNING": 0, "WAITING": 0}
    by_number = {t["number"]: t for t in results["trials"]}
    assert by_number[4]["state"] == "FAIL" and by_number[4]["error"] == "ValueError: boom" and by_number[4]["value"] is None
    assert by_number[3]["state"] == "PRUNED" and by_number[3]["intermediate"] == pytest.approx({"0": 0.14, "1": 0.28, "2": 0.42})
    assert by_number[0]["error"] is None


def test_sweep_form_reads_study_json_and_links_trial_folders(tmp_path):
    url = make_study(tmp_path / "s.db", trials=TRIALS[:3])
    sweep = tmp_path / "sweep"
    (sweep / "2").mkdir(parents=True)
    (sweep / "2" / "report.html").write_text("<html></html>")
    (sweep / "0").mkdir()
    (sweep / "study.json").write_text(json.dumps(
        {"study_name": "digits_search", "storage": url, "metric": "validation/accuracy", "direction": "maximize"}))
    result = strata("sweep-report", f"sweep={sweep}", cwd=tmp_path)
    assert result.code == 0, result.text
    page = (sweep / "sweep_report.html").read_text()
    assert 'href="2/report.html"' in page and 'href="0/"' in page and 'href="1/"' in page
    assert "validation/accuracy" in page
    assert json.loads((sweep / "sweep_results.json").read_text())["metric"] == "validation/accuracy"


def test_unknown_study_name_suggests_the_closest(reported):
    _, url = reported
    result = strata("sweep-report", "study=digits_serch", f"storage={url}")
    assert_user_error(result, "study:", "'digits_search'")


def test_sweep_folder_without_study_json(tmp_path):
    result = strata("sweep-report", f"sweep={tmp_path}")
    assert_user_error(result, "sweep:", "study.json", "study=<name> storage=<url>")


def test_missing_sqlite_file_is_not_created(tmp_path):
    result = strata("sweep-report", "study=s", f"storage=sqlite:///{tmp_path / 'nothing.db'}")
    assert_user_error(result, "storage:", "nothing.db")
    assert not (tmp_path / "nothing.db").exists()


def test_a_single_complete_trial_still_writes_the_page(tmp_path):
    url = make_study(tmp_path / "one.db", name="one", trials=TRIALS[:1])
    result = strata("sweep-report", "study=one", f"storage={url}", f"output={tmp_path / 'out'}")
    assert result.code == 0, result.text
    page = (tmp_path / "out" / "sweep_report.html").read_text()
    assert "Parameter importances need at least 2 complete trials; this study has 1." in page
    assert not (tmp_path / "out" / "sweep_report" / "param_importances.png").exists()
    assert (tmp_path / "out" / "sweep_report" / "optimization_history.png").read_bytes().startswith(PNG_MAGIC)


def test_multi_objective_study_lists_the_pareto_front(tmp_path):
    from strata.sweeper.report import write_sweep_report

    study = optuna.create_study(directions=["maximize", "minimize"], study_name="two")
    for lr, opt, accuracy, loss in [(1e-3, "adam", 0.9, 0.3), (1e-2, "sgd", 0.8, 0.2), (1e-1, "sgd", 0.7, 0.5)]:
        study.enqueue_trial({"learning_rate": lr, "optimizer": opt})
        trial = study.ask()
        _suggest(trial)
        study.tell(trial, [accuracy, loss])
    page = write_sweep_report(study, tmp_path, metric="validation/accuracy,validation/loss")
    text = page.read_text()
    assert "Pareto front" in text and "several objectives" in text
    results = json.loads((tmp_path / "sweep_results.json").read_text())
    assert results["best"] is None and sorted(t["number"] for t in results["pareto_front"]) == [0, 1]
    assert results["direction"] == ["maximize", "minimize"]


def test_importing_the_report_does_not_import_tensorflow():
    code = "import sys, strata.sweeper.report, strata.commands.sweep_report; print('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
