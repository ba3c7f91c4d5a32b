"""trainer.init_from through the real CLI: a warm start keeps a finished run's quality, matches
layers by name and shape across architectures, reads .weights.h5 files, and refuses what fits
nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import assert_user_error, strata


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A finished default run (the digits CNN), three epochs."""
    run = tmp_path_factory.mktemp("warm") / "source"
    result = strata("train", "trainer.epochs=3", "export=none", "report=false", f"hydra.run.dir={run}", cwd=run.parent)
    assert result.code == 0, result.text
    return run


def _model(run: Path):
    import keras

    from strata import layers  # noqa: F401  (registers strata's layers)

    return keras.saving.load_model(run / "model.keras", safe_mode=True)


def _validation_accuracy(run: Path) -> float:
    return json.loads((run / "metrics.json").read_text())["validation"]["accuracy"]


def test_a_warm_start_at_a_tiny_learning_rate_keeps_the_source_runs_accuracy(tmp_path, source):
    run = tmp_path / "warm"
    result = strata("train", f"trainer.init_from={source}", "trainer.epochs=1", "optimizer.learning_rate=1e-7",
                    "export=none", "report=false", f"hydra.run.dir={run}", cwd=tmp_path)
    assert result.code == 0, result.text
    assert f"trainer.init_from {source / 'model.keras'}: loaded 4 of 4 layers" in result.out
    assert abs(_validation_accuracy(run) - _validation_accuracy(source)) <= 0.02
    # far above where one epoch from scratch gets at that rate: chance, 0.1
    assert _validation_accuracy(run) > 0.5


def test_a_weights_file_loads_in_kerass_own_layer_order(tmp_path, source):
    run = tmp_path / "from_h5"
    weights = source / "checkpoints" / "last.weights.h5"
    result = strata("train", f"trainer.init_from={weights}", "trainer.epochs=1", "optimizer.learning_rate=1e-7",
                    "export=none", "report=false", "trainer.evaluate_test=false", f"hydra.run.dir={run}", cwd=tmp_path)
    assert result.code == 0, result.text
    assert f"trainer.init_from {weights}: loaded 4 of 4 layers" in result.out
    mine, theirs = _model(run).get_layer("block0_conv0"), _model(source).get_layer("block0_conv0")
    np.testing.assert_allclose(mine.get_weights()[0], theirs.get_weights()[0], atol=1e-5)


def test_another_architecture_takes_the_layers_that_match_and_names_the_rest(tmp_path, source):
    run = tmp_path / "wider"
    result = strata("train", f"trainer.init_from={source}", "model.dense_units=[32]", "debug=fast", "report=false",
                    f"hydra.run.dir={run}", cwd=tmp_path)
    assert result.code == 0, result.text
    assert "loaded 2 of 4 layers" in result.out and "left at init: dense0, probabilities" in result.out
    for name in ("block0_conv0", "block1_conv0"):  # the convolutions kept the source's weights (3 batches at 1e-3 later)
        mine, theirs = _model(run).get_layer(name).get_weights()[0], _model(source).get_layer(name).get_weights()[0]
        assert np.abs(mine - theirs).max() < 0.05 < np.abs(theirs).max()


def test_a_source_that_fits_nothing_is_refused(tmp_path, source):
    result = strata("train", f"trainer.init_from={source}", "data=digits", "data.as_images=false", "model=mlp",
                    "debug=fast", f"hydra.run.dir={tmp_path / 'mlp'}", cwd=tmp_path)
    assert_user_error(result, "trainer.init_from", "no layer of", "matches this model by name and shape")


@pytest.mark.parametrize(
    ("make", "fragments"),
    [
        (lambda tmp: tmp / "nowhere", ["trainer.init_from", "no such run directory or file"]),
        (lambda tmp: (tmp / "empty_run").mkdir() or tmp / "empty_run", ["trainer.init_from", "has no model.keras"]),
        (lambda tmp: (tmp / "notes.txt").write_text("x") and tmp / "notes.txt", ["trainer.init_from", "neither a run directory"]),
    ],
)
def test_bad_sources_are_user_errors(tmp_path, make, fragments):
    result = strata("train", f"trainer.init_from={make(tmp_path)}", "debug=fast", f"hydra.run.dir={tmp_path / 'r'}",
                    cwd=tmp_path)
    assert_user_error(result, *fragments)
    assert "data:" not in result.out  # refused before any data is loaded (and before TensorFlow starts)
