"""Distribution strategies and precision modes on a CPU: MirroredStrategy over two logical CPU
devices, mixed_bfloat16, and clear messages for missing accelerators."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import strata


def _digits(n=20):
    from sklearn.datasets import load_digits

    return load_digits().images[:n].astype("float32")[..., None]


def _load(run):
    import keras
    import tensorflow as tf

    import strata.layers  # noqa: F401

    model = keras.saving.load_model(run / "model.keras", safe_mode=True)
    serve = tf.saved_model.load(str(run / "export" / "saved_model")).signatures["serving_default"]
    return model, serve


def test_mirrored_strategy_on_two_logical_cpus_trains_saves_and_exports(tmp_path):
    run = tmp_path / "run"
    result = strata("train", "trainer.strategy=mirrored", "trainer.logical_cpu_devices=2", "trainer.epochs=2",
                    "trainer.steps_per_epoch=5", "trainer.batch_size=32", "callbacks=none",
                    "trainer.steps_per_execution=4",  # trainer=gpu's 16 on a multi-GPU machine: one per call there
                    f"hydra.run.dir={run}", cwd=tmp_path)
    assert result.code == 0, result.text
    log = (run / "train.log").read_text()
    assert "MirroredStrategy over /device:CPU:0, /device:CPU:1" in log
    assert "trainer.steps_per_execution=4 under MirroredStrategy" in log
    model, serve = _load(run)
    images = _digits()
    expected = model.predict({"image": images}, verbose=0)
    got = next(iter(serve(image=images).values())).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_keras_still_fails_several_steps_per_call_under_mirrored_strategy():
    """Fails once Keras runs several steps per call over a MirroredStrategy's dataset: then
    remove `_mirrored_steps` from strata.training.trainer."""
    code = (
        "import numpy as np, tensorflow as tf, keras\n"
        "cpu = tf.config.list_physical_devices('CPU')[0]\n"
        "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)\n"
        "strategy = tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])\n"
        "with strategy.scope():\n"
        "    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])\n"
        "    model.compile('sgd', 'mse', steps_per_execution=4)\n"
        "x = np.zeros((64, 4), 'float32')\n"
        "try:\n"
        "    model.fit(tf.data.Dataset.from_tensor_slices((x, x[:, :1])).batch(8), epochs=1, verbose=0)\n"
        "    print('TRAINED')\n"
        "except Exception as ex:\n"
        "    print('FAILED', type(ex).__name__, str(ex).replace(chr(10), ' '))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}).stdout
    assert "FAILED" in out and "must feed a value for placeholder" in out, (
        f"Keras now runs several steps per call under MirroredStrategy ({out.strip()[-300:]}): "
        "remove _mirrored_steps from strata.training.trainer")


def test_mixed_bfloat16_learns_and_profiles_a_batch_range(tmp_path):
    run = tmp_path / "run"
    result = strata("train", "trainer.precision=mixed_bfloat16", "trainer.epochs=3", "trainer.steps_per_epoch=8",
                    "trainer.batch_size=32", "callbacks=[none,tensorboard]", "callbacks.tensorboard.profile_batch=[2,3]",
                    f"hydra.run.dir={run}", cwd=tmp_path)
    assert result.code == 0, result.text
    losses = [float(line.split(" - loss ")[1].split()[0]) for line in result.out.splitlines()
              if line.startswith("epoch ")]
    assert len(losses) == 3 and losses[-1] < losses[0], result.out
    model, serve = _load(run)
    conv = next(layer for layer in model.layers if layer.__class__.__name__ == "Conv2D")
    assert conv.dtype_policy.name == "mixed_bfloat16" and conv.compute_dtype == "bfloat16"
    assert model.output.dtype == "float32"
    probs = next(iter(serve(image=_digits()).values())).numpy()
    assert probs.dtype == np.float32 and np.allclose(probs.sum(axis=1), 1, atol=1e-3)
    assert json.loads((run / "metrics.json").read_text())["test"]["accuracy"] > 0.1
    # the TensorBoard profiler's trace of batches 2..3 (Profile tab)
    assert list((run / "tensorboard" / "train" / "plugins" / "profile").glob("*/*.xplane.pb"))


def test_missing_accelerators_are_clear_config_errors(monkeypatch):
    """Checked before any strategy or device is touched (in-process: no training starts)."""
    import tensorflow as tf

    from strata.config.schema import TrainerConfig
    from strata.errors import ConfigError
    from strata.training import environment

    if not tf.config.list_physical_devices("GPU"):
        with pytest.raises(ConfigError, match=r"trainer.accelerator=gpu: TensorFlow sees no GPU"):
            environment._strategy(TrainerConfig(accelerator="gpu"), tf)
    with pytest.raises(ConfigError, match=r"trainer.strategy=tpu: no TPU found"):
        environment._strategy(TrainerConfig(strategy="tpu"), tf)
    monkeypatch.delenv("TF_CONFIG", raising=False)
    monkeypatch.delenv("SLURM_PROCID", raising=False)
    with pytest.raises(ConfigError, match=r"trainer.strategy=multi_worker needs a cluster of two or more workers: the TF_CONFIG"):
        environment._strategy(TrainerConfig(strategy="multi_worker"), tf)
