"""Crash safety: a run killed with SIGKILL mid-epoch, while saving the model and while exporting
leaves no partial model.keras, SavedModel or metrics.json, and resumes to a complete run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from tests.conftest import STRATA, strata

# report=false: no report.html, which no check here reads (a report never fails a run)
ARGS = ("trainer.epochs=3", "trainer.steps_per_epoch=20", "trainer.batch_size=16", "callbacks.early_stopping=null",
        "report=false")


def _mid_epoch(run: Path) -> bool:
    return (run / "checkpoints" / "backup").is_dir()


def _saving_model(run: Path) -> bool:
    return any(p.name.startswith(".model.keras.") for p in run.iterdir()) if run.is_dir() else False


def _exporting(run: Path) -> bool:
    export = run / "export"
    return export.is_dir() and any(p.name.startswith(".saved_model.") for p in export.iterdir())


def _assert_no_partial_artifacts(run: Path) -> None:
    model = run / "model.keras"
    if model.exists():
        with zipfile.ZipFile(model) as archive:
            assert archive.testzip() is None
            assert {"config.json", "model.weights.h5"} <= set(archive.namelist())
    saved = run / "export" / "saved_model"
    if saved.exists():
        assert (saved / "saved_model.pb").is_file()
        assert (saved / "variables" / "variables.index").is_file()
    metrics = run / "metrics.json"
    if metrics.exists():
        assert set(json.loads(metrics.read_text())) >= {"train", "validation"}


@pytest.mark.parametrize("moment", [_mid_epoch, _saving_model, _exporting], ids=["mid-epoch", "saving-model", "exporting"])
def test_sigkill_leaves_complete_artifacts_or_none_and_resumes(tmp_path, moment):
    run = tmp_path / "run"
    proc = subprocess.Popen([str(STRATA), "train", *ARGS, f"hydra.run.dir={run}"], cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    killed = False
    while time.time() < deadline and proc.poll() is None:
        if moment(run):
            os.kill(proc.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.002)
    proc.wait(timeout=60)
    if not killed:
        pytest.fail(f"the run ended (code {proc.returncode}) before the moment {moment.__name__} was seen")
    _assert_no_partial_artifacts(run)

    resumed = strata("train", f"resume={run}", cwd=tmp_path)
    assert resumed.code == 0, resumed.text
    _assert_no_partial_artifacts(run)
    assert (run / "metrics.json").is_file() and (run / "export" / "saved_model" / "saved_model.pb").is_file()
    assert not [p for p in run.rglob("*") if ".tmp" in p.name]
