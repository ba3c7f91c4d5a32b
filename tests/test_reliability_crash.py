"""Crash safety: a run killed with SIGKILL mid-epoch, or with its model or SavedModel written but not
yet renamed into place, leaves no partial model.keras, SavedModel or metrics.json, and resumes to a
complete run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import strata, train_until_killed

CRASH_AT = Path(__file__).resolve().parent / "crash_at.py"

# report=false: no report.html, which no check here reads (a report never fails a run)
ARGS = ("trainer.epochs=3", "trainer.steps_per_epoch=20", "trainer.batch_size=16", "callbacks.early_stopping=null",
        "report=false")


def _killed(run: Path, name: str | None) -> subprocess.CompletedProcess | None:
    """A run killed by SIGKILL: mid-epoch (`name` None: once the backup of an epoch exists), or at
    the moment it would rename its finished `name` into place (`tests/crash_at.py`)."""
    args = [*ARGS, f"hydra.run.dir={run}"]
    if name is not None:
        return subprocess.run([sys.executable, str(CRASH_AT), name, "train", *args], cwd=run.parent,
                              capture_output=True, text=True, timeout=300)
    train_until_killed(args, run.parent, lambda: (run / "checkpoints" / "backup").is_dir(), "no backup of an epoch")
    return None


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


@pytest.mark.parametrize("name", [None, "model.keras", "saved_model"], ids=["mid-epoch", "saving-model", "exporting"])
def test_sigkill_leaves_complete_artifacts_or_none_and_resumes(tmp_path, name):
    run = tmp_path / "run"
    killed = _killed(run, name)
    if killed is not None:
        assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
        assert not (run / name).exists() and not (run / "export" / name).exists()  # written, never put in place
    _assert_no_partial_artifacts(run)

    resumed = strata("train", f"resume={run}", cwd=tmp_path)
    assert resumed.code == 0, resumed.text
    _assert_no_partial_artifacts(run)
    assert (run / "metrics.json").is_file() and (run / "export" / "saved_model" / "saved_model.pb").is_file()
    assert not [p for p in run.rglob("*") if ".tmp" in p.name]
