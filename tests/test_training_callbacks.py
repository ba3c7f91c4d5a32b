"""strata's callbacks: TensorBoard served over HTTP shows a run's scalars, config, hparams and
confusion matrix; the custom callbacks work on their own; a diverging run stops with a message."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import assert_user_error, strata


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, data: bytes | None = None):
    headers = {"Content-Type": "application/json"} if data is not None else {}
    with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=10) as response:
        return json.loads(response.read())


def test_tensorboard_server_serves_the_runs_scalars_images_text_and_hparams(digits_run):
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "tensorboard"), "--logdir", str(digits_run.parent),
         "--port", str(port), "--host", "127.0.0.1", "--reload_interval", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    base = f"http://127.0.0.1:{port}/data"
    run = f"{digits_run.name}/tensorboard"
    wanted = {
        f"{run}/train": {"epoch_loss", "epoch_accuracy", "epoch_learning_rate", "epoch_examples_per_second"},
        f"{run}/validation": {"epoch_loss", "epoch_accuracy"},
        run: {"final/test_accuracy", "final/validation_loss"},
    }
    tags: dict = {}
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert server.poll() is None, server.stderr.read()
            try:
                tags = _get(f"{base}/plugin/scalars/tags")
                if all(names <= set(tags.get(r, {})) for r, names in wanted.items()):
                    break
            except OSError:
                pass
            time.sleep(0.5)
        for r, names in wanted.items():
            assert names <= set(tags.get(r, {})), (r, tags)
        assert "confusion_matrix" in _get(f"{base}/plugin/images/tags")[f"{run}/validation"]
        assert "config" in _get(f"{base}/plugin/text/tags")[run]
        experiment = _get(f"{base}/plugin/hparams/experiment", json.dumps({"experimentName": ""}).encode())
        names = {h["name"] for h in experiment["hparamInfos"]}
        assert {"optimizer.learning_rate", "trainer.batch_size", "trainer.epochs"} <= names
        metrics = {(m["name"].get("group", ""), m["name"]["tag"]) for m in experiment["metricInfos"]}
        assert {("", "final/test_accuracy"), ("validation", "epoch_loss")} <= metrics
    finally:
        server.kill()
        server.wait(timeout=30)


def test_diverging_run_stops_at_once_with_what_to_try(tmp_path):
    run = tmp_path / "run"
    result = strata("train", "optimizer=sgd", "optimizer.learning_rate=10", "model.activation=linear",
                    "trainer.epochs=3", "trainer.steps_per_epoch=10", "export=none", f"hydra.run.dir={run}",
                    cwd=tmp_path)
    assert_user_error(result, "training diverged", "loss became nan", "optimizer.learning_rate", "clipnorm")
    assert not (run / "metrics.json").exists() and not (run / "model.keras").exists()
    # what the run was stays in TensorBoard: its config text and its HParams trial
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    assert {"config", "_hparams_/session_start_info"} <= set(events.Tags()["tensors"]), events.Tags()


# ----------------------------------------------------------------------------- in-process


@pytest.fixture(scope="module")
def tiny():
    """A compiled 3-class classifier on 2 features and its data."""
    import keras

    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(60, 2)).astype("float32")
    y = (x[:, 0] > 0).astype("int64") + (x[:, 1] > 1).astype("int64")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(0.1, 2, 0.5, staircase=True)),
                  "sparse_categorical_crossentropy")
    return model, x, y


def test_learning_rate_and_throughput_land_in_the_epoch_logs_before_other_callbacks_read_them(tiny, tmp_path):
    import keras

    from strata.callbacks.learning_rate_logger import LearningRateLogger
    from strata.callbacks.throughput import Throughput

    model, x, y = tiny
    csv = tmp_path / "h.csv"
    history = model.fit(x, y, batch_size=20, epochs=2, verbose=0, callbacks=[
        LearningRateLogger(), Throughput(batch_size=20, epoch_examples=60), keras.callbacks.CSVLogger(str(csv)),
    ])
    # 3 steps per epoch, decay by half every 2 steps: 0.1 * 0.5 ** (3 // 2), then 0.1 * 0.5 ** (6 // 2)
    np.testing.assert_allclose(history.history["learning_rate"], [0.05, 0.0125], rtol=1e-6)
    assert all(v > 0 for v in history.history["examples_per_second"])
    assert "learning_rate" in csv.read_text().splitlines()[0]


def test_callbacks_that_add_logs_are_ordered_first():
    from types import SimpleNamespace

    from strata.callbacks import CallbackContext
    from strata.training.callbacks import build_callbacks

    config = SimpleNamespace(callbacks={"csv_logger": _args("csv_logger"), "throughput": _args("throughput")},
                             trainer=SimpleNamespace(steps_per_epoch=2, batch_size=8, epochs=1))
    run = SimpleNamespace(root=Path("/tmp/strata-test"))
    made = build_callbacks(CallbackContext(config, run, None, None), ["loss"])
    assert [type(cb).__name__ for cb in made] == ["Throughput", "CSVLogger"]


def _args(name):
    from strata.registry import CALLBACKS

    return CALLBACKS.get(name).schema()


def test_confusion_matrix_counts_predictions_and_renders_an_image(tiny, tmp_path):
    import tensorflow as tf

    from strata.callbacks.confusion_matrix import ConfusionMatrix

    model, x, y = tiny
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    callback = ConfusionMatrix(dataset, ["a", "b", "c"], str(tmp_path / "validation"), max_examples=50)
    callback.set_model(model)
    matrix = callback.compute()
    predicted = model.predict(x[:50], verbose=0).argmax(axis=1)
    assert matrix.sum() == 50
    np.testing.assert_array_equal(matrix.sum(axis=0), np.bincount(predicted, minlength=3))
    np.testing.assert_array_equal(matrix.sum(axis=1), np.bincount(y[:50], minlength=3))
    callback.on_epoch_end(0)
    callback.on_train_end()
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(tmp_path / "validation"))
    events.Reload()
    assert "confusion_matrix" in events.Tags()["tensors"]


def test_divergence_guard_raises_before_the_epoch_ends():
    from strata.callbacks.terminate_on_nan import DivergenceGuard, TrainingDiverged

    guard = DivergenceGuard()
    guard.on_epoch_begin(2)
    guard.on_train_batch_end(0, {"loss": 1.5})
    with pytest.raises(TrainingDiverged) as caught:
        guard.on_train_batch_end(7, {"loss": float("inf")})
    assert (caught.value.epoch, caught.value.batch) == (2, 7) and "epoch 3, batch 8" in str(caught.value)


def test_hparams_are_the_usual_keys_with_plain_values():
    from omegaconf import OmegaConf

    from strata.callbacks.hparams import collect_hparams

    cfg = OmegaConf.create({"seed": 1, "model": {"family": "cnn", "name": "cnn"},
                            "optimizer": {"name": "adam", "learning_rate": 0.01, "schedule": {"name": "cosine"}},
                            "trainer": {"batch_size": 8, "epochs": 2, "precision": "float32"}})
    hparams = collect_hparams(cfg, None)
    assert hparams["optimizer.learning_rate"] == 0.01 and hparams["optimizer.schedule.name"] == "cosine"
    assert all(isinstance(v, (bool, int, float, str)) for v in hparams.values())
