"""Every shipped experiment trains through the real CLI with the fast debug preset.

One `strata train -m` sweep over the experiments runs them all in one process (TensorFlow
starts once); each experiment's run directory is then checked on its own. The runs write no
report.html (not read here, and a report never fails a run: a problem is a warning).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import strata

EXPERIMENTS = {
    "house_prices": ("regression", "mae"),
    "diagnosis": ("binary", "accuracy"),
    "digits_cnn": ("multiclass", "accuracy"),
    "sentiment_rnn": ("binary", "accuracy"),
    "sentiment_transformer": ("binary", "accuracy"),
    "forecast_rnn": ("forecast", "mae"),
    "digits_gan": ("generation", "g_loss"),
    "digits_denoise": ("reconstruction", "loss"),
    "digits_vae": ("reconstruction", "loss"),
    "recommend_two_tower": ("retrieval", "recall_at_10"),
}


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("experiments")
    result = strata(
        "train", "-m", f"experiment={','.join(EXPERIMENTS)}", "debug=fast", "report=false",
        f"hydra.sweep.dir={root}", "hydra.sweep.subdir=${task_name}", cwd=root,
    )
    assert result.code == 0, result.text
    return root


@pytest.mark.parametrize("name", list(EXPERIMENTS))
def test_experiment_trains_with_debug_fast(sweep, name):
    run = sweep / name
    log = (run / "train.log").read_text()
    assert "failed" not in log and "Traceback" not in log, log
    task = json.loads((run / "task.json").read_text())["task"]
    kind, metric = EXPERIMENTS[name]
    assert task["kind"] == kind
    metrics = json.loads((run / "metrics.json").read_text())
    assert metric in metrics["validation"] and "loss" in metrics["validation"]
    assert (run / "model.keras").is_file()
    assert "epoch 1/1" in log
