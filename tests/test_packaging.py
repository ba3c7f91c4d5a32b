"""A regular (non-editable) install ships the configs and data sets and runs from any folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_regular_install_ships_configs_and_runs_anywhere(tmp_path):
    target = tmp_path / "site"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )
    assert build.returncode == 0, build.stderr
    for shipped in ("strata/conf/config.yaml", "strata/conf/model/cnn.yaml", "strata/conf/hydra/default.yaml",
                    "strata/datasets/ames_housing/train.csv", "strata/datasets/sentiment/yelp_labelled.txt",
                    "strata/layers/__init__.py", "strata/callbacks/__init__.py", "strata/__main__.py"):
        assert (target / shipped).is_file(), shipped
    # one import name: nothing else at the top level but the distribution's metadata
    assert {p.name for p in target.iterdir() if not p.name.endswith(".dist-info")} == {"strata", "bin"}

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    code = "import sys, strata; print(strata.__file__); from strata.cli import main; sys.argv=['strata']+sys.argv[1:]; main()"
    proc = subprocess.run(
        [sys.executable, "-c", code, "train", "--cfg", "job", "model=mlp"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    first, _, config = proc.stdout.partition("\n")
    assert first.startswith(str(target)), first  # the installed copy, not the source tree
    assert "family: mlp" in config
    assert f"data_dir: {target}/strata/datasets" in config or "data_dir: ${strata_data_dir:}" in config
