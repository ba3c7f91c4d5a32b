"""ONNX and TFLite exports serve the same raw inputs and predict what the Keras model predicts."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from tests.conftest import assert_user_error, strata


@pytest.fixture(scope="module")
def run_copy(digits_run, tmp_path_factory):
    run = tmp_path_factory.mktemp("export") / "run"
    shutil.copytree(digits_run, run)
    return run


def _images_and_expected(run):
    import keras
    from sklearn.datasets import load_digits

    import strata.layers  # noqa: F401

    images = load_digits().images[:16].astype("float32")[..., None]
    model = keras.saving.load_model(run / "model.keras", safe_mode=True)
    return images, model.predict({"image": images}, verbose=0)


def test_onnx_export_matches_keras(run_copy):
    import onnxruntime

    result = strata("export", f"run={run_copy}", "export=onnx")
    assert result.code == 0, result.text
    session = onnxruntime.InferenceSession(str(run_copy / "export" / "model.onnx"))
    assert [i.name for i in session.get_inputs()] == ["image"]
    images, expected = _images_and_expected(run_copy)
    got = session.run(None, {"image": images})[0]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_tflite_export_matches_keras(run_copy):
    import tensorflow as tf

    result = strata("export", f"run={run_copy}", "export=tflite")
    assert result.code == 0, result.text
    interpreter = tf.lite.Interpreter(model_path=str(run_copy / "export" / "model.tflite"))
    runner = interpreter.get_signature_runner("serving_default")
    images, expected = _images_and_expected(run_copy)
    got = next(iter(runner(image=images).values()))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_unknown_export_format_suggests_the_closest(run_copy):
    assert_user_error(strata("export", f"run={run_copy}", "export=onx"), "export.format", "onnx")
