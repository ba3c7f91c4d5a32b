"""A bad config ends with exit 2 and one line naming the key, before TensorFlow is imported."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import assert_user_error, strata

CASES = [
    (["trainer.epocs=3"], ["trainer.epocs", "trainer.epochs"]),
    (["model=cnnn"], ["model=cnnn", "cnn", "mlp", "Did you mean 'cnn'"]),
    (["trainer.epochs=-1"], ["trainer.epochs", "greater than or equal to 1"]),
    (["optimizer.learning_rate=abc"], ["optimizer.learning_rate", "valid number", "abc"]),
    (["trainer.precision=float61"], ["trainer.precision", "float32", "Did you mean"]),
    (["optimizer.name=adan"], ["optimizer.name", "Did you mean 'adam'"]),
    (["data.split.validation=0.6", "data.split.test=0.5"], ["data.split", "below 1"]),
    (["+trainer.foo=1"], ["trainer.foo", "unknown config key"]),
    (["callbacks.early_stopping.monitor=val_acc"], ["callbacks.early_stopping.monitor", "val_accuracy"]),
    (["trainer.batch_size=[1,2"], ["override"]),
    (["data=csv", "model.bins=1"], ["model.bins", "'auto' or a whole number >= 2", "got 1"]),
    (["data=csv", "model.numeric_embedding=piecewise"], ["model.numeric_embedding", "Did you mean 'piecewise_linear'"]),
    (["data=text", "data.text.norm=l1"], ["data.text.norm", "Did you mean 'l2'"]),
]


@pytest.mark.parametrize(("overrides", "fragments"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_config_exits_2_with_one_clear_line(tmp_path, overrides, fragments):
    result = strata("train", *overrides, cwd=tmp_path)
    assert_user_error(result, *fragments)
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").rglob("model.keras"))


def test_config_error_is_reported_without_importing_tensorflow(tmp_path):
    code = (
        "import sys; from strata.cli import run_train; rc=run_train(['trainer.epocs=3']); "
        "print(rc, 'tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.stdout.split() == ["2", "False", "False"], proc.stdout + proc.stderr


def test_refused_config_leaves_no_run_directory(tmp_path):
    result = strata("train", "trainer.epochs=0", cwd=tmp_path)
    assert_user_error(result, "trainer.epochs")
    assert not list((tmp_path / "outputs").rglob("*.yaml")) if (tmp_path / "outputs").exists() else True


def test_unknown_command_suggests_the_closest(tmp_path):
    assert_user_error(strata("trian", cwd=tmp_path), "trian", "Did you mean 'train'")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["evaluate"], ["run="]),
        (["evaluate", "run=/nonexistent/run"], ["/nonexistent/run", "no such run directory"]),
        (["predict", "run=/nonexistent/run", "input=x.csv"], ["no such run directory"]),
        (["predict", "rnu=x"], ["rnu", "Did you mean 'run'"]),
        (["train", "resume=/nonexistent/run"], ["resume=/nonexistent/run"]),
    ],
)
def test_bad_command_arguments_exit_2(tmp_path, args, fragments):
    assert_user_error(strata(*args, cwd=tmp_path), *fragments)


def test_unwritable_output_folder_is_a_user_error(tmp_path):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where a folder should be")
    result = strata("train", "debug=fast", f"hydra.run.dir={blocked}/run", cwd=tmp_path)
    assert result.code == 2, result.text
    assert "Traceback" not in result.text
    assert str(blocked) in result.err


COUNT_COMPOSITIONS = """
import sys
from strata.compat import hydra_config_loader
ConfigLoaderImpl = hydra_config_loader()
calls = []
original = ConfigLoaderImpl.load_configuration
def counted(self, *args, **kwargs):
    calls.append(kwargs.get("run_mode"))
    return original(self, *args, **kwargs)
ConfigLoaderImpl.load_configuration = counted
from strata.cli import run_train
rc = run_train(sys.argv[1:])
print(rc, len(calls))
"""


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["trainer.epocs=3"], ("2", "1")),  # a typo: reported from the first composition
        (["trainer.epochs=0"], ("2", "1")),  # composed once, refused by the schema
    ],
    ids=["typo", "schema"],
)
def test_a_run_composes_its_config_once(tmp_path, args, expected):
    proc = subprocess.run(
        [sys.executable, "-c", COUNT_COMPOSITIONS, *args], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert tuple(proc.stdout.split()[-2:]) == expected, proc.stdout + proc.stderr
