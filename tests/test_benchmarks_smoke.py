"""benchmarks/run.py still runs end to end: at a tiny size, once, for the MLP workload (which
takes every measurement the others take), every row of its table filled.

It checks that the benchmark works, not that the goals are met (that needs the full size on a
quiet machine: see benchmarks/RESULTS.md).
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys

import pytest

from tests.conftest import ROOT

ROWS = (
    "steady-state training throughput",
    "peak memory",
    "first training step",
    "bad config",
    "input pipeline alone",
)


@pytest.mark.slow
def test_benchmark_script_fills_every_row_at_a_tiny_size(tmp_path):
    output = tmp_path / "RESULTS.md"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run.py"),
            "--size",
            "tiny",
            "--reps",
            "1",
            "--only",  # one workload walks every measurement; the others differ only in their config
            "mlp",
            "--output",
            str(output),
            "--workdir",
            str(tmp_path / "work"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = output.read_text()
    table = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| what")]
    for what in ROWS:
        assert any(what in row for row in table), f"no '{what}' row in:\n{text}"
    for row in table:
        cells = [c.strip() for c in row.strip("|").split("|")]
        if "not measured" in row:  # a workload whose source or model family this tree lacks
            continue
        assert re.search(r"\d", cells[2]), row  # strata's median is a number
        assert cells[-1] in ("met", "**missed**"), row
    assert "Reproduce: `python benchmarks/run.py --size tiny --reps 1 --only mlp`" in text
    assert "cores" in text and "TensorFlow" in text
    raw = json.loads(output.with_suffix(".json").read_text())
    assert raw["bad_config"]["codes"] == [2]
    assert raw["bad_config"]["tensorflow_imported"] is False


def test_quality_benchmark_scores_strata_and_the_baselines_on_the_same_rows(tmp_path):
    """benchmarks/quality.py on one small data set and seed (one epoch: the script's working, not
    the defaults' quality, which benchmarks/QUALITY.md records): its table has a row with a
    verdict, and its numbers are the ones in QUALITY.json."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "quality.py"), "--only", "wine", "--seeds", "1",
         "--out", str(tmp_path), "trainer.epochs=1", "model.ensemble_size=2", "model.units=[16]"],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    results = json.loads((tmp_path / "QUALITY.json").read_text())["wine"]
    assert results["metric"] == "accuracy"
    assert set(results["results"]) == {"strata", "hist_gradient_boosting", "logistic_regression"}
    for scores in results["results"].values():
        assert len(scores["score"]) == 1 and 0.0 <= scores["score"][0] <= 1.0
    # the baselines beat chance on 3 classes: they were scored on real rows, not on an empty split
    assert results["results"]["logistic_regression"]["score"][0] > 0.8
    table = (tmp_path / "QUALITY.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| wine"))
    assert row.rstrip(" |").endswith("met" if results["met"] else "missed")
    assert "trainer.epochs=1" in table  # the table says it ran with overrides
    assert (proc.returncode == 0) == results["met"]


def test_gpu_benchmark_without_a_gpu_says_so_in_one_line_and_leaves_gpu_md_alone(tmp_path):
    """benchmarks/gpu.py on a machine without a GPU: exit 0, one line on stdout that names "no GPU",
    and benchmarks/GPU.md (and GPU.json) neither written nor touched."""
    import shutil

    if shutil.which("nvidia-smi"):
        pytest.skip("this machine has an NVIDIA GPU: benchmarks/gpu.py would measure (run it by hand)")
    written = [ROOT / "benchmarks" / "GPU.md", ROOT / "benchmarks" / "GPU.json"]
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) if p.exists() else None for p in written}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu.py")], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    assert len(lines) == 1 and "no GPU" in lines[0], proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) if p.exists() else None for p in written} == before
    assert not list(tmp_path.iterdir())  # nothing written where it ran either


@pytest.mark.slow
def test_scaling_benchmark_measures_both_paths_and_judges_each_goal(tmp_path):
    """benchmarks/scaling.py at two tiny sizes, once each: every run exits 0 on the path it
    names (the log says which), the figures are numbers, an epoch shorter than the window gets
    runs of more epochs for examples/s, and every goal gets a verdict."""
    output = tmp_path / "SCALING.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "scaling.py"), "--rows", "1000", "10000", "--reps", "1",
         "--epochs", "2", "--window", "0.3", "--model-args", "model=mlp model.units=[8] report=false export=none",
         "--workdir", str(tmp_path / "work"), "--output-json", str(output)],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    record = json.loads(output.read_text())
    assert sorted((r["rows"], r["path"]) for r in record["runs"]) == [
        (1000, "in_memory"), (1000, "streamed"), (10000, "in_memory"), (10000, "streamed")]
    for run in record["runs"]:
        assert run["code"] == 0 and run["data_path_taken"] == run["path"], run
        assert run["examples_per_second"] > 0 and run["peak_rss_mb"] > 100 and run["first_step_seconds"] > 0, run
        assert run["train_rows"] == pytest.approx(0.8 * run["rows"], rel=0.05)
        timed = [r for r in run["repetitions"] if not r["window_run"]]
        window = [r for r in run["repetitions"] if r["window_run"]]
        assert len(timed) == 1 and timed[0]["epochs"] == 2, run["repetitions"]
        # a steady epoch under 0.3 s calls for one more run of 1 + ceil(0.3 s / epoch) epochs
        short = statistics.median(run["epoch_seconds"][1:]) < 0.3
        assert len(window) == int(short) and all(r["epochs"] > 2 for r in window), run["repetitions"]
        assert run["steady_epochs"] == 1 + sum(r["epochs"] - 1 for r in window)
    assert [g["status"] for g in record["goals"]] != [] and all(g["status"] in ("met", "missed") for g in record["goals"])
    assert "## Scaling" in proc.stdout and "| goal | measured |" in proc.stdout
