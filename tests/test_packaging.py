"""Installed, strata is one import name: a regular (non-editable) install ships the configs and
data sets and runs from any folder, a user's own modules named like strata's folders cannot shadow
it, and a callback is added with one module and one YAML file."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, strata


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """strata installed from a copy of this tree's files (not a `build/` folder an earlier build
    left in it), without dependencies, into a folder of its own."""
    source = tmp_path_factory.mktemp("source") / "strata"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "outputs", "multirun", "__pycache__", ".*_cache"))
    target = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=600,
    )
    assert build.returncode == 0, build.stderr
    return target


def _python(*args: str, cwd: Path, site: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("HYDRA_FULL_ERROR", "PYTHONPATH")}
    if site is not None:
        env["PYTHONPATH"] = str(site)
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_regular_install_ships_configs_and_runs_anywhere(installed, tmp_path):
    for shipped in ("strata/conf/config.yaml", "strata/conf/model/cnn.yaml", "strata/conf/hydra/default.yaml",
                    "strata/datasets/ames_housing/train.csv", "strata/datasets/sentiment/yelp_labelled.txt",
                    "strata/layers/__init__.py", "strata/callbacks/__init__.py", "strata/__main__.py",
                    "strata/models/families/mlp.py", "strata/run/finished.py"):
        assert (installed / shipped).is_file(), shipped
    # one import name: nothing else at the top level but the console script, the metadata and
    # the sweeper's Hydra plugin (Hydra instantiates sweepers only from its `hydra_plugins` namespace)
    assert {p.name for p in installed.iterdir() if not p.name.endswith(".dist-info")} == {"strata", "bin", "hydra_plugins"}
    assert {p.name for p in (installed / "hydra_plugins").iterdir()} == {"strata_optuna_sweeper"}
    assert (installed / "hydra_plugins" / "strata_optuna_sweeper" / "__init__.py").is_file()
    assert (installed / "strata" / "conf" / "hydra" / "sweeper" / "pruner" / "median.yaml").is_file()

    code = "import sys, strata; print(strata.__file__); from strata.cli import main; sys.argv=['strata']+sys.argv[1:]; main()"
    proc = _python("-c", code, "train", "--cfg", "job", "model=mlp", cwd=tmp_path, site=installed)
    assert proc.returncode == 0, proc.stderr
    first, _, config = proc.stdout.partition("\n")
    assert first.startswith(str(installed)), first  # the installed copy, not the source tree
    assert "family: mlp" in config
    assert f"data_dir: {installed}/strata/datasets" in config or "data_dir: ${strata_data_dir:}" in config


def test_strata_is_the_only_top_level_name(tmp_path):
    for name in ("layers", "callbacks", "conf", "pipelines"):
        proc = _python("-c", f"import {name}", cwd=tmp_path)
        assert proc.returncode == 1 and f"No module named '{name}'" in proc.stderr, (name, proc.stderr)
    proc = _python("-c", "import strata, strata.layers, strata.callbacks, strata.conf; print(strata.conf.__file__)", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("conf/__init__.py"), proc.stderr


def test_a_users_own_modules_named_like_stratas_folders_do_not_matter(tmp_path):
    for name in ("callbacks.py", "layers.py", "pipelines.py", "conf/__init__.py"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(f"raise RuntimeError('the user\\'s own {name} was imported')\n")
    trap = _python("-c", "import callbacks", cwd=tmp_path)
    assert "the user's own callbacks.py was imported" in trap.stderr  # the files are on the path here

    console = strata("train", "debug=fast", f"hydra.run.dir={tmp_path / 'console'}", cwd=tmp_path)
    assert console.code == 0, console.text
    module = _python("-m", "strata", "train", "debug=fast", f"hydra.run.dir={tmp_path / 'module'}", cwd=tmp_path)
    assert module.returncode == 0, module.stdout[-2000:] + module.stderr[-2000:]
    for run in ("console", "module"):
        assert (tmp_path / run / "model.keras").is_file() and (tmp_path / run / "metrics.json").is_file()


def _readme_block(language: str, after: str) -> str:
    """The first fenced `language` block of the README after the line that names `after`."""
    text = (ROOT / "README.md").read_text()
    start = text.index(after)
    match = re.compile(rf"```{language}\n(.*?)```", re.S).search(text, start)
    assert match, f"no {language} block after {after!r} in README.md"
    return match.group(1)


def test_adding_a_callback_is_one_module_and_one_yaml_as_the_readme_shows(installed, tmp_path):
    """The README's recipe, word for word, in an installed copy: the two files, nothing else."""
    (installed / "strata" / "callbacks" / "epoch_stamp.py").write_text(
        _readme_block("python", "`callbacks/epoch_stamp.py`"))
    (installed / "strata" / "conf" / "callbacks" / "epoch_stamp.yaml").write_text(
        _readme_block("yaml", "`conf/callbacks/epoch_stamp.yaml`"))

    run = tmp_path / "run"
    proc = _python("-m", "strata", "train", "debug=fast", "trainer.epochs=3", "trainer.steps_per_epoch=2",
                   "callbacks=[default,epoch_stamp]", "callbacks.epoch_stamp.every=2", f"hydra.run.dir={run}",
                   cwd=tmp_path, site=installed)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = (run / "epochs.txt").read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["2"] and float(lines[0].split()[1]) > 0

    # its schema is checked like every callback's: before TensorFlow is imported
    check = ("import sys\nfrom strata.cli import run_train\n"
             "code = run_train(['callbacks=[default,epoch_stamp]', 'callbacks.epoch_stamp.every=0'])\n"
             "print(code, 'tensorflow' in sys.modules)\n")
    refused = _python("-c", check, cwd=tmp_path, site=installed)
    assert refused.stdout.split() == ["2", "False"], refused.stdout + refused.stderr
    assert "strata: error: callbacks.epoch_stamp.every:" in refused.stderr and "Traceback" not in refused.stderr
