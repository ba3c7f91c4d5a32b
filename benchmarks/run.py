"""Measures what a config costs against the Keras script a user could write by hand (issue #6).

    python benchmarks/run.py                      # full size, 3 repetitions: benchmarks/RESULTS.md
    python benchmarks/run.py --size tiny --reps 1 --output /tmp/RESULTS.md   # seconds (smoke test)

Every measured run is its own subprocess (a fresh interpreter: fair start-up and peak memory),
strata and the hand-written baseline alternating, and every figure is a median over the
repetitions. Both sides time themselves with the same callback (benchmarks/probe.py): strata
loads it by name from the command line, the baselines add it to their `fit`.

- throughput: training examples per second in the median epoch of epochs 2.. (the first, with
  tracing, excluded); an epoch's time runs from its start to the start of its validation.
- peak memory: the child's maximum resident set size (`os.wait4`'s rusage).
- time to the first step: from just before the process is started to the first
  `on_train_batch_begin`.
- a bad config: `strata train trainer.epocs=3`, wall time, exit code 2, and whether TensorFlow
  was imported on the way (checked in-process on the same command).
- input pipeline: strata's own training tf.data pipeline (load_data + bundle.dataset) iterated
  alone, against the training throughput on the same data.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
STRATA = Path(sys.executable).parent / "strata"
YELP = ROOT / "pipelines" / "datasets" / "sentiment" / "yelp_labelled.txt"
STRATA_SITE: Path | None = None  # --strata-root: that source tree, installed into a folder put first on PYTHONPATH

# per size: the data sets and the epochs (the first epoch is excluded from throughput)
SIZES = {
    "tiny": {"csv_rows": 1500, "images": 240, "sentences": 600, "epochs": 2, "batch_size": 64},
    "small": {"csv_rows": 20_000, "images": 2000, "sentences": 5000, "epochs": 3, "batch_size": 64},
    "full": {"csv_rows": 40_000, "images": 4000, "sentences": 6000, "epochs": 6, "batch_size": 64},
}


@dataclass
class Workload:
    key: str
    title: str
    data: str  # what the data is, for the report
    strata_args: list[str]
    baseline: list[str]
    # input-pipeline benchmark: case name -> overrides
    pipeline_cases: dict[str, list[str]] = field(default_factory=dict)
    skipped: str | None = None
    runs: dict[str, list[dict]] = field(default_factory=lambda: {"strata": [], "baseline": []})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of every measurement (default 3)")
    parser.add_argument("--output", type=Path, default=BENCH / "RESULTS.md")
    parser.add_argument("--only", nargs="*", help="workload keys to run (mlp, cnn, transformer)")
    parser.add_argument("--workdir", type=Path, help="where data and runs go (default: a temporary folder)")
    parser.add_argument(
        "--strata-root",
        type=Path,
        help="run strata from this source tree instead of the installed one (to try a change)",
    )
    args = parser.parse_args(argv)
    if args.strata_root:
        global STRATA_SITE
        STRATA_SITE = _install_tree(args.strata_root.resolve())

    size = SIZES[args.size]
    started = datetime.now(timezone.utc)
    load_before = os.getloadavg()
    command = (
        "python benchmarks/run.py"
        + ("" if args.size == "full" else f" --size {args.size}")
        + ("" if args.reps == 3 else f" --reps {args.reps}")
        + (f" --only {' '.join(args.only)}" if args.only else "")
    )
    from report import write_report

    def report(reps_done: int) -> None:
        # after every repetition: an interrupted run still leaves the medians so far
        write_report(
            args.output,
            command=command,
            machine=machine(load_before, os.getloadavg()),
            started=started,
            finished=datetime.now(timezone.utc),
            size=args.size,
            reps=reps_done,
            workloads=workloads,
            bad=bad,
            pipelines=pipelines,
        )

    with tempfile.TemporaryDirectory(prefix="strata-bench-") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        workloads = make_workloads(work, size)
        if args.only:
            workloads = [w for w in workloads if w.key in args.only]
        # the short measurements first, then the training runs
        bad = bad_config(work, args.reps)
        print(f"[bad config] {bad}", flush=True)
        pipelines = {}
        for w in workloads:
            if w.skipped:
                continue
            for case, overrides in w.pipeline_cases.items():
                pipelines[case] = {"workload": w.key, **input_pipeline(case, overrides, work, args.reps)}
                print(f"[input pipeline {case}] {pipelines[case]}", flush=True)
        for rep in range(args.reps):
            for w in workloads:
                if w.skipped:
                    continue
                sides = ["strata", "baseline"] if rep % 2 == 0 else ["baseline", "strata"]
                for side in sides:
                    result = run_training(w, side, rep, work)
                    w.runs[side].append(result)
                    print(f"[{w.key} rep {rep + 1}/{args.reps}] {side}: {_brief(result)}", flush=True)
            report(rep + 1)
    print(f"wrote {args.output}")
    return 0


# ----------------------------------------------------------------------------- workloads


def make_workloads(work: Path, size: dict) -> list[Workload]:
    sys.path.insert(0, str(BENCH))
    import synthetic_data

    data = work / "data"
    epochs, batch = size["epochs"], size["batch_size"]
    common = [f"trainer.epochs={epochs}", f"trainer.batch_size={batch}"]
    base = ["--epochs", str(epochs), "--batch-size", str(batch)]
    sources, families = _registered()
    out = []

    csv = data / "table.csv"
    rows = size["csv_rows"]
    mlp = Workload(
        "mlp",
        "MLP on tabular data",
        f"synthetic CSV, {rows:,} rows: 16 numeric + 2 categorical columns, 3 classes",
        ["data=csv", "model=mlp", f"data.path={csv}", "data.target=label", *common],
        [str(BENCH / "baselines" / "mlp_tabular.py"), "--csv", str(csv), *base],
    )
    mlp.pipeline_cases = {"mlp: CSV rows in memory": mlp.strata_args}
    if "csv" not in sources:
        mlp.skipped = "no `csv` data source in this tree"
    else:
        synthetic_data.make_csv(csv, rows)
    out.append(mlp)

    images = data / "images"
    count = size["images"]
    cnn = Workload(
        "cnn",
        "CNN on images",
        f"synthetic PNG files, {count:,} RGB 32x32 images in 4 class folders",
        ["data=images", "model=cnn", f"data.path={images}", *common],
        [str(BENCH / "baselines" / "cnn_images.py"), "--images", str(images), *base],
    )
    cnn.pipeline_cases = {
        "cnn: decoded images in memory": cnn.strata_args,
        # above data.in_memory_max_mb strata streams the image files through tf.data
        "cnn: image files streamed": [*cnn.strata_args, "data.in_memory_max_mb=1"],
    }
    if "images" not in sources:
        cnn.skipped = "no `images` data source in this tree"
    else:
        synthetic_data.make_images(images, count)
    out.append(cnn)

    text = data / "sentences.tsv"
    sentences = size["sentences"]
    transformer = Workload(
        "transformer",
        "Transformer on text",
        f"{sentences:,} labelled sentences recombined from the Yelp sentiment words, 2 classes",
        ["data=text", "model=transformer", f"data.path={text}", *common],
        [str(BENCH / "baselines" / "transformer_text.py"), "--tsv", str(text), *base],
    )
    if "text" not in sources or "transformer" not in families or not (ROOT / "conf" / "model" / "transformer.yaml").exists():
        transformer.skipped = "no `text` data source or `transformer` model family in this tree"
    else:
        synthetic_data.make_text(text, sentences, YELP)
    out.append(transformer)
    return out


def _registered() -> tuple[list[str], list[str]]:
    """Data sources and model families this tree offers (asked in a subprocess: no TensorFlow here)."""
    code = "import json; from strata.registry import FAMILIES, SOURCES; print(json.dumps([SOURCES.names(), FAMILIES.names()]))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=_env(), check=True)
    sources, families = json.loads(out.stdout.strip().splitlines()[-1])
    return sources, families


# ----------------------------------------------------------------------------- measurements


def _install_tree(root: Path) -> Path:
    """`root` (a strata source tree) installed, without dependencies, into a temporary folder: its
    folders map under the one import name `strata` only when installed."""
    site = Path(tempfile.mkdtemp(prefix="strata-site-"))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(root)], check=True)
    return site


def _env(strata: bool = True) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    roots = [str(BENCH)] + ([str(STRATA_SITE)] if strata and STRATA_SITE else [])
    env["PYTHONPATH"] = os.pathsep.join([*roots, *filter(None, [env.get("PYTHONPATH")])])
    return env


def measured_process(cmd: list[str], cwd: Path, log: Path, strata: bool = True) -> dict:
    """Runs `cmd` to its end; returns its exit code, start time, wall time and peak RSS (MB)."""
    cwd.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        start = time.time()
        proc = subprocess.Popen(cmd, cwd=cwd, env=_env(strata), stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.time() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"code": proc.returncode, "start": start, "wall": wall, "rss_mb": usage.ru_maxrss / 1024}


def run_training(w: Workload, side: str, rep: int, work: Path) -> dict:
    name = f"{w.key}_{side}_{rep}"
    probe = work / "probes" / f"{name}.json"
    probe.parent.mkdir(parents=True, exist_ok=True)
    log = work / "logs" / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    out = work / "runs" / name
    shutil.rmtree(out, ignore_errors=True)  # a run directory left by an earlier call would be resumed
    if side == "strata":
        cmd = [
            str(STRATA),
            "train",
            *w.strata_args,
            f"hydra.run.dir={out}",
            "+callbacks.bench_probe._target_=probe.BenchProbe",
            f"+callbacks.bench_probe.path={probe}",
        ]
    else:
        cmd = [sys.executable, *w.baseline, "--out", str(out), "--probe", str(probe)]
    result = measured_process(cmd, work / "cwd", log, strata=side == "strata")
    result["command"] = shlex.join(cmd)
    text = log.read_text(errors="replace")
    if result["code"] != 0 or not probe.is_file():
        result["error"] = f"exit {result['code']}; see {log}: " + " | ".join(text.strip().splitlines()[-3:])
        return result
    timing = json.loads(probe.read_text())
    found = re.search(r"\btrain (\d+)\b", text)
    examples = int(found.group(1)) if found else None
    seconds, cpu = timing["epoch_seconds"], timing.get("epoch_cpu_seconds") or []
    steady, steady_cpu = seconds[1:] or seconds, cpu[1:] or cpu
    result.update(
        examples=examples,
        epoch_seconds=seconds,
        epoch_cpu_seconds=cpu,
        # the median epoch: an epoch now and then stalls on a shared machine (see report.py)
        throughput=examples / statistics.median(steady) if examples else None,
        # the fastest steady-state epoch: the one least disturbed by other work on the machine
        best_throughput=examples / min(steady) if examples else None,
        # examples per CPU-second (all threads; raw data only: TensorFlow's spinning threads inflate it)
        cpu_throughput=examples * len(steady_cpu) / sum(steady_cpu) if examples and steady_cpu and sum(steady_cpu) else None,
        first_step=timing["first_batch_time"] - result["start"],
    )
    return result


def bad_config(work: Path, reps: int) -> dict:
    """`strata train trainer.epocs=3`: wall time and exit code; whether TensorFlow got imported;
    and, for scale, how long importing TensorFlow and Keras alone takes."""
    walls, codes, imports = [], [], []
    for rep in range(reps):
        r = measured_process([str(STRATA), "train", "trainer.epocs=3"], work / "cwd", work / "logs" / f"bad_{rep}.log")
        walls.append(r["wall"])
        codes.append(r["code"])
        t = measured_process(
            [sys.executable, "-c", "import tensorflow, keras"], work / "cwd", work / "logs" / f"import_tf_{rep}.log", strata=False
        )
        imports.append(t["wall"])
    check = (
        "import json, sys\n"
        "from strata.cli import main\n"
        "try:\n    main(['train', 'trainer.epocs=3'])\nexcept SystemExit as ex:\n    code = ex.code\n"
        "print(json.dumps({'code': code, 'tensorflow': 'tensorflow' in sys.modules, 'keras': 'keras' in sys.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, cwd=work / "cwd", env=_env())
    modules = json.loads(out.stdout.strip().splitlines()[-1]) if out.stdout.strip() else {}
    message = (work / "logs" / "bad_0.log").read_text(errors="replace").strip().splitlines()
    return {
        "wall": walls,
        "codes": codes,
        "import_tf": imports,
        "tensorflow_imported": modules.get("tensorflow"),
        "keras_imported": modules.get("keras"),
        "message": message[-1] if message else "",
    }


def input_pipeline(case: str, overrides: list[str], work: Path, reps: int) -> dict:
    """strata's training tf.data pipeline iterated alone, in examples per second."""
    values, best, cpu = [], [], []
    slug = re.sub(r"[^a-z0-9]+", "_", case.lower())
    for rep in range(reps):
        out = work / "probes" / f"pipeline_{slug}_{rep}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, str(BENCH / "input_pipeline.py"), "--output", str(out), "--epochs", "6", "--", *overrides]
        r = measured_process(cmd, work / "cwd", work / "logs" / f"pipeline_{slug}_{rep}.log")
        if r["code"] == 0 and out.is_file():
            measured = json.loads(out.read_text())
            values.append(measured["examples_per_second"])
            best.append(measured.get("best_examples_per_second"))
            cpu.append(measured.get("examples_per_cpu_second"))
    return {"examples_per_second": values, "best_examples_per_second": best, "examples_per_cpu_second": cpu}


# ----------------------------------------------------------------------------- the machine


def machine(load_before, load_after) -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        kb = int(next(li for li in Path("/proc/meminfo").read_text().splitlines() if li.startswith("MemTotal")).split()[1])
        ram = f"{kb / 2**20:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "ram": ram,
        "os": platform.platform(),
        "python": platform.python_version(),
        "tensorflow": version("tensorflow"),
        "keras": version("keras"),
        "load_before": load_before,
        "load_after": load_after,
    }


def _brief(result: dict) -> str:
    if "error" in result:
        return result["error"]
    tp = result.get("throughput")
    return (
        f"{tp:,.0f} examples/s, first step {result['first_step']:.2f} s, peak RSS {result['rss_mb']:.0f} MB, wall {result['wall']:.1f} s"
        if tp
        else f"wall {result['wall']:.1f} s"
    )


def median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


if __name__ == "__main__":
    sys.exit(main())
