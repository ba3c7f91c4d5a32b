"""trainer.init_from through the real CLI: a warm start keeps a finished run's weights and quality,
reads .weights.h5 files, matches layers by name and shape across architectures, gives way to the
run's own backup on resume, and refuses what fits nothing.

Each CLI run is mostly TensorFlow's start-up, so the warm starts from one source run are trained
side by side (`warm`); the tests then read their results.
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import numpy as np
import pytest

from tests.conftest import Result, assert_user_error, strata

SHORT = ("export=none", "report=false", "trainer.evaluate_test=false")
# a warm start at this rate keeps the source's weights to about 1e-6 over an epoch (Adam moves
# each weight by at most about the rate per step)
STILL = ("trainer.epochs=1", "optimizer.learning_rate=1e-7")


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A finished run of the default config (the digits CNN), three epochs."""
    run = tmp_path_factory.mktemp("warm") / "source"
    result = strata("train", "trainer.epochs=3", *SHORT, f"hydra.run.dir={run}", cwd=run.parent)
    assert result.code == 0, result.text
    return run


@pytest.fixture(scope="module")
def warm(source, tmp_path_factory) -> dict[str, tuple[Path, Result]]:
    """Each warm start's run directory and CLI result, by name."""
    top = tmp_path_factory.mktemp("warm_starts")
    copy = top / "copy" / "source.keras"  # removed once trained from, then resumed from
    copy.parent.mkdir()
    shutil.copy(source / "model.keras", copy)

    def train(name: str, *args: str) -> tuple[Path, Result]:
        run = top / name
        return run, strata("train", *args, *SHORT, f"hydra.run.dir={run}", cwd=source.parent)

    def other_head_then_resume() -> dict[str, tuple[Path, Result]]:
        first = train("other_head", f"trainer.init_from={copy}", "model.dense_units=[64,16]", "debug=fast",
                      "optimizer.learning_rate=1e-7")
        copy.unlink()
        resumed = strata("train", f"resume={first[0]}", "trainer.epochs=2", cwd=top)
        return {"other_head": first, "resumed": (first[0], resumed)}

    def gan_then_its_weights() -> dict[str, tuple[Path, Result]]:
        gan = ("experiment=digits_gan", "debug=fast")
        first = train("gan", *gan)
        weights = first[0] / "checkpoints" / "last.weights.h5"
        still = ("optimizer.learning_rate=1e-7", "model.discriminator_learning_rate=1e-7")
        return {"gan": first, "gan_weights": train("gan_weights", *gan, *still, f"trainer.init_from={weights}")}

    jobs = {
        # relative to the folder strata starts from, as resume= is
        "run_dir": lambda: train("run_dir", f"trainer.init_from={source.name}", *STILL),
        "weights": lambda: train("weights", f"trainer.init_from={source / 'checkpoints' / 'last.weights.h5'}", *STILL),
        "mlp": lambda: train("mlp", f"trainer.init_from={source}", "data.as_images=false", "model=mlp", "debug=fast"),
    }
    with ThreadPoolExecutor(len(jobs) + 2) as pool:
        chains = [pool.submit(other_head_then_resume), pool.submit(gan_then_its_weights)]
        results = {name: future.result() for name, future in {n: pool.submit(j) for n, j in jobs.items()}.items()}
        for chain in chains:
            results |= chain.result()
        return results


def _weights(run: Path, optimizers: bool = False) -> dict[str, np.ndarray]:
    """The variables of a run's model.keras by their path in Keras's weights file
    (`layers/<class>[_<n>]/vars/<i>`: `layers/conv2d`, `layers/conv2d_1`, `layers/dense`, ... in
    layer order; a GAN's `generator/layers/...`), read without TensorFlow; the optimizers' too
    with `optimizers`."""
    with zipfile.ZipFile(run / "model.keras") as archive, h5py.File(io.BytesIO(archive.read("model.weights.h5"))) as f:
        arrays = {}
        f.visititems(lambda name, node: arrays.update({name: node[()]}) if isinstance(node, h5py.Dataset) else None)
        return {name: value for name, value in arrays.items() if optimizers or "optimizer" not in name}


def _validation_accuracy(run: Path) -> float:
    return json.loads((run / "metrics.json").read_text())["validation"]["accuracy"]


def test_a_warm_start_from_a_run_directory_keeps_its_weights_and_accuracy(source, warm):
    run, result = warm["run_dir"]
    assert result.code == 0, result.text
    assert f"trainer.init_from {source / 'model.keras'}: loaded 4 of 4 layers (35,914 of 35,914 parameters)" in result.out
    mine, theirs = _weights(run), _weights(source)
    assert mine.keys() == theirs.keys() and len(mine) == 8
    for name in theirs:
        np.testing.assert_allclose(mine[name], theirs[name], atol=1e-4, err_msg=name)
    assert abs(_validation_accuracy(run) - _validation_accuracy(source)) <= 0.02
    # an epoch from scratch at 1e-7 stays at chance (0.1); the source reached about 0.9
    assert _validation_accuracy(run) > 0.7


def test_a_weights_file_loads_by_kerass_own_paths(source, warm):
    run, result = warm["weights"]
    assert result.code == 0, result.text
    assert f"trainer.init_from {source / 'checkpoints' / 'last.weights.h5'}: loaded 4 of 4 layers" in result.out
    np.testing.assert_allclose(_weights(run)["layers/conv2d/vars/0"], _weights(source)["layers/conv2d/vars/0"], atol=1e-4)
    assert abs(_validation_accuracy(run) - _validation_accuracy(source)) <= 0.02


def test_a_gans_weights_file_loads_both_networks_and_neither_optimizer(warm):
    (source, made), (run, result) = warm["gan"], warm["gan_weights"]
    assert made.code == 0, made.text
    assert result.code == 0, result.text
    assert "last.weights.h5: loaded 8 of 8 layers (104,513 of 104,513 parameters)" in result.out
    mine, theirs = _weights(run, optimizers=True), _weights(source, optimizers=True)
    for name in ("generator/layers/dense/vars/0", "discriminator/layers/dense/vars/0"):
        np.testing.assert_allclose(mine[name], theirs[name], atol=1e-4, err_msg=name)
    # each optimizer counted this run's 3 steps only: the source's state (3 more) was not taken
    assert mine["optimizer/vars/0"] == mine["discriminator_optimizer/vars/0"] == 3


def test_another_head_takes_the_layers_that_match_and_names_the_rest(source, warm):
    run, result = warm["other_head"]
    assert result.code == 0, result.text
    assert "source.keras: loaded 3 of 5 layers" in result.out
    assert "left at init: dense1, probabilities" in result.out
    mine, theirs = _weights(run), _weights(source)
    # the convolutions and dense0 (256 -> 64) kept the source's weights; dense1 is new, so the
    # output layer (Keras's third dense) has other shapes: (16, 10), the source's (64, 10)
    for name in ("layers/conv2d/vars/0", "layers/conv2d_1/vars/0", "layers/dense/vars/0", "layers/dense/vars/1"):
        np.testing.assert_allclose(mine[name], theirs[name], atol=1e-4, err_msg=name)
    assert mine["layers/dense_1/vars/0"].shape == (64, 16) and mine["layers/dense_2/vars/0"].shape == (16, 10)


def test_a_resumed_run_continues_from_its_backup_without_its_source(warm):
    run, result = warm["resumed"]  # its source file was removed after the first process
    assert result.code == 0, result.text
    assert "trainer.init_from: not loaded, the run resumes from its own backup" in result.out
    assert "1 of 2 epochs done" in result.out and "run finished: 2 epochs" in result.out


def test_a_source_that_fits_nothing_is_refused(warm):
    run, result = warm["mlp"]
    assert_user_error(result, "trainer.init_from", "no layer of", "matches this model by name and shape",
                      "its layers: block0_conv0, block1_conv0, dense0, probabilities", "this model's: dense0")
    assert not (run / "model.keras").exists()


def test_a_run_that_did_not_finish_names_the_file_to_pass_instead(tmp_path):
    unfinished = tmp_path / "unfinished"
    (unfinished / "checkpoints").mkdir(parents=True)
    (unfinished / "checkpoints" / "last.weights.h5").write_bytes(b"")
    result = strata("train", f"trainer.init_from={unfinished}", "debug=fast", f"hydra.run.dir={tmp_path / 'r'}",
                    cwd=tmp_path)
    assert_user_error(result, "trainer.init_from", f"{unfinished} has no model.keras (the run did not finish)",
                      f"pass its {unfinished / 'checkpoints' / 'last.weights.h5'} instead")


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda tmp: tmp / "nowhere", "no such run directory or file: {path}"),
        (lambda tmp: (tmp / "notes.txt").write_text("x") and tmp / "notes.txt",
         "{path} is neither a run directory, a .keras file nor a .weights.h5 file"),
    ],
)
def test_bad_sources_are_user_errors(tmp_path, make, fragment):
    path = make(tmp_path)
    result = strata("train", f"trainer.init_from={path.name}", "debug=fast", f"hydra.run.dir={tmp_path / 'r'}",
                    cwd=tmp_path)
    assert_user_error(result, "trainer.init_from", fragment.format(path=path))
    assert "data:" not in result.out  # refused before any data is loaded (and before TensorFlow starts)
