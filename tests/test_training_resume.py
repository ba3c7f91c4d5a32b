"""An interrupted run continues where it stopped: kill a training process hard after its first
epoch, resume it, and check the epochs, the optimizer state and the artifacts."""

from __future__ import annotations

import json

from tests.conftest import strata, train_until_killed

EPOCHS, STEPS = 8, 10


def test_resume_after_sigkill_finishes_the_remaining_epochs(tmp_path):
    run = tmp_path / "run"
    metadata = run / "checkpoints" / "backup" / "training_metadata.json"
    args = [f"trainer.epochs={EPOCHS}", f"trainer.steps_per_epoch={STEPS}", "trainer.batch_size=32",
            "callbacks.early_stopping=null", "export=none", "trainer.evaluate_test=false", "report=false",
            f"hydra.run.dir={run}"]
    train_until_killed(args, tmp_path, metadata.is_file, "no backup")
    done = json.loads(metadata.read_text())["epoch"]
    assert 1 <= done < EPOCHS, f"killed too late: {done} epochs done"
    assert not (run / "metrics.json").exists() and not (run / "model.keras").exists()

    resumed = strata("train", f"resume={run}", cwd=tmp_path)
    assert resumed.code == 0, resumed.text
    assert f"{done} of {EPOCHS} epochs done" in resumed.out
    assert f"epoch {done + 1}/{EPOCHS}" in resumed.out and f"epoch {done}/{EPOCHS} " not in resumed.out
    assert f"run finished: {EPOCHS} epochs" in resumed.out

    import keras

    from strata import layers  # noqa: F401  (registers strata's layers)

    model = keras.saving.load_model(run / "model.keras", safe_mode=True)
    # the optimizer continued from the backup: its step counter covers every epoch, both processes'
    assert int(model.optimizer.iterations) == EPOCHS * STEPS
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["validation"]["accuracy"] > 0.5


def test_resume_of_a_directory_that_is_not_a_run_is_a_user_error(tmp_path):
    result = strata("train", f"resume={tmp_path / 'nowhere'}", cwd=tmp_path)
    assert result.code == 2 and "resume=" in result.err and "Traceback" not in result.text
