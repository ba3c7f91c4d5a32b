"""Safety and concurrency: no code runs from a model file; concurrent runs never share a folder."""

from __future__ import annotations

import shutil
import subprocess
import time

from tests.conftest import STRATA, assert_user_error, strata


def test_model_file_with_code_is_refused_in_safe_mode(digits_run, tmp_path):
    import keras

    run = tmp_path / "run"
    shutil.copytree(digits_run, run)
    inputs = keras.Input((8, 8, 1), name="image")
    outputs = keras.layers.Lambda(lambda x: x * 2)(inputs)
    keras.Model(inputs, outputs).save(run / "model.keras")
    result = strata("evaluate", f"run={run}")
    assert_user_error(result, "model.keras", "safe mode")


def test_two_runs_started_in_the_same_second_get_their_own_directories(tmp_path):
    # no report.html and no test split's metrics: the checks read only which directories hold a run
    args = [str(STRATA), "train", "debug=fast", "trainer.steps_per_epoch=1", "callbacks=none", "report=false",
            "trainer.evaluate_test=false"]
    started = time.time()
    procs = [subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert time.time() - started < 300
    assert [p.returncode for p in procs] == [0, 0], outputs
    runs = sorted(tmp_path.glob("outputs/digits_cnn/*/metrics.json"))
    assert len(runs) == 2, runs
    assert runs[0].parent != runs[1].parent
    for run in runs:
        assert (run.parent / "model.keras").is_file()


def test_a_run_directory_in_use_is_refused(tmp_path):
    import fcntl

    run = tmp_path / "busy"
    run.mkdir()
    with open(run / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = strata("train", "debug=fast", f"hydra.run.dir={run}", cwd=tmp_path)
    assert_user_error(result, str(run), "another strata process")
