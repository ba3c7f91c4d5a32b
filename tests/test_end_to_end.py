"""The default config trains end to end; its run directory, model and SavedModel hold up."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import TINY, strata


def test_run_directory_holds_every_artifact(digits_run):
    for name in ("train.log", "model.keras", "metrics.json", ".hydra/config.yaml", ".hydra/overrides.yaml",
                 "export/saved_model/saved_model.pb", "checkpoints/best.weights.h5", "checkpoints/last.weights.h5"):
        assert (digits_run / name).exists(), name
    assert list((digits_run / "tensorboard" / "train").glob("events.out.tfevents.*"))
    assert list((digits_run / "tensorboard" / "validation").glob("events.out.tfevents.*"))
    metrics = json.loads((digits_run / "metrics.json").read_text())
    assert set(metrics) == {"train", "validation", "test", "per_class", "evaluated_rows"}
    assert {"loss", "accuracy", "balanced_accuracy", "macro_f1"} <= set(metrics["test"])
    assert set(metrics["per_class"]["test"]) == {str(d) for d in range(10)}
    assert "epoch 2/2" in (digits_run / "train.log").read_text()


def test_tensorboard_has_scalars_per_epoch_and_the_graph(digits_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train = EventAccumulator(str(digits_run / "tensorboard" / "train"))
    train.Reload()
    tags = train.Tags()
    assert "epoch_loss" in tags["tensors"] or "epoch_loss" in tags["scalars"]
    # Keras 3 writes the model's graph as a `keras` summary (TensorBoard's conceptual graph view)
    assert "keras" in tags["tensors"]
    validation = EventAccumulator(str(digits_run / "tensorboard" / "validation"))
    validation.Reload()
    assert "epoch_accuracy" in validation.Tags()["tensors"] + validation.Tags()["scalars"]


def _digits(n=40):
    from sklearn.datasets import load_digits

    return load_digits().images[:n].astype("float32"), load_digits().target[:n]


def test_saved_model_takes_raw_pixels_and_matches_the_keras_model(digits_run):
    import keras
    import tensorflow as tf

    import strata.layers  # noqa: F401

    images, _ = _digits()
    model = keras.saving.load_model(digits_run / "model.keras", safe_mode=True)
    expected = model.predict({"image": images[..., None]}, verbose=0)
    served = tf.saved_model.load(str(digits_run / "export" / "saved_model"))
    signature = served.signatures["serving_default"]
    (name, spec), = signature.structured_input_signature[1].items()
    assert name == "image" and spec.dtype == tf.float32 and tuple(spec.shape) == (None, 8, 8, 1)
    got = next(iter(signature(image=tf.constant(images[..., None])).values())).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert np.allclose(got.sum(axis=1), 1, atol=1e-4)


def test_predict_writes_label_and_class_probabilities(digits_run, tmp_path):
    import pandas as pd

    images, _ = _digits(25)
    np.save(tmp_path / "digits.npy", images)
    out = tmp_path / "pred.csv"
    result = strata("predict", f"run={digits_run}", f"input={tmp_path / 'digits.npy'}", f"output={out}")
    assert result.code == 0, result.text
    frame = pd.read_csv(out)
    assert len(frame) == 25
    assert list(frame.columns) == ["id", "label"] + [f"prob_{i}" for i in range(10)]
    probs = frame[[f"prob_{i}" for i in range(10)]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-4)
    assert (frame["label"].to_numpy() == probs.argmax(axis=1)).all()


def test_evaluate_reproduces_the_test_metrics(digits_run):
    result = strata("evaluate", f"run={digits_run}")
    assert result.code == 0, result.text
    printed = json.loads(result.out[result.out.index("{"):])
    recorded = json.loads((digits_run / "metrics.json").read_text())["test"]
    for key in ("loss", "accuracy"):
        assert printed["test"][key] == pytest.approx(recorded[key], rel=1e-4)


def test_export_rewrites_the_saved_model(digits_run):
    pb = digits_run / "export" / "saved_model" / "saved_model.pb"
    before = pb.stat().st_mtime_ns
    result = strata("export", f"run={digits_run}")
    assert result.code == 0, result.text
    assert pb.stat().st_mtime_ns > before
    assert not list((digits_run / "export").glob(".*tmp*"))


def test_module_entry_point_matches_the_console_script(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "strata", "train", "--cfg", "job", "model=mlp"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    via_cli = strata("train", "--cfg", "job", "model=mlp", cwd=tmp_path)
    assert via_cli.code == 0 and via_cli.out == proc.stdout
    assert "family: mlp" in proc.stdout


def test_help_lists_config_groups(tmp_path):
    result = strata("train", "--help", cwd=tmp_path)
    assert result.code == 0
    for group in ("data:", "model:", "optimizer:", "trainer:", "experiment:"):
        assert group in result.out


def test_two_seeded_runs_give_identical_metrics(tmp_path):
    metrics = []
    for name in ("a", "b"):
        result = strata("train", *TINY, "export=none", f"hydra.run.dir={tmp_path / name}", cwd=tmp_path)
        assert result.code == 0, result.text
        metrics.append(json.loads((tmp_path / name / "metrics.json").read_text()))
    assert metrics[0] == metrics[1]


def test_default_training_learns_digits(tmp_path):
    """The no-argument default reaches validation accuracy >= 0.95 (shortened by early stopping)."""
    result = strata("train", "export=none", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert result.code == 0, result.text
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["validation"]["accuracy"] >= 0.95
    assert "tensorboard --logdir" in result.out and "SavedModel" not in result.out


def test_multirun_sweeps_two_values_into_two_run_directories(tmp_path):
    result = strata("train", "-m", "optimizer.learning_rate=0.01,0.001", "debug=fast", cwd=tmp_path)
    assert result.code == 0, result.text
    metrics = sorted(tmp_path.glob("outputs/digits_cnn/multirun_*/*/metrics.json"))
    assert len(metrics) == 2
    overrides = sorted((m.parent / ".hydra" / "overrides.yaml").read_text() for m in metrics)
    assert "learning_rate=0.001" in overrides[0] and "learning_rate=0.01" in overrides[1]


def test_user_config_dir_adds_an_experiment(tmp_path):
    (tmp_path / "my_conf" / "experiment").mkdir(parents=True)
    (tmp_path / "my_conf" / "experiment" / "tiny_mlp.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /model: mlp\ntask_name: tiny\nmodel:\n  units: [8]\n"
    )
    result = strata("train", "--config-dir", str(tmp_path / "my_conf"), "experiment=tiny_mlp", "data.as_images=false",
                    "debug=fast", cwd=tmp_path)
    assert result.code == 0, result.text
    assert list(tmp_path.glob("outputs/tiny/*/metrics.json"))
    searchpath = strata("train", f"hydra.searchpath=[file://{tmp_path / 'my_conf'}]", "experiment=tiny_mlp",
                        "--cfg", "job", cwd=tmp_path)
    assert searchpath.code == 0 and "units:\n  - 8" in searchpath.out
