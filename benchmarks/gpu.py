"""What precision, XLA and MirroredStrategy buy on GPUs, measured through strata's own trainer.

    python benchmarks/gpu.py                     # on a GPU machine: benchmarks/GPU.md and GPU.json
    python benchmarks/gpu.py --reps 1 --epochs 3 # a quicker look

On a machine without a GPU it prints one line and exits 0 without measuring anything (the check
comes right after importing TensorFlow).

Two fixed synthetic workloads from benchmarks/run.py's data generators: an MLP on a CSV table and
a CNN on a folder of PNG images. Each is trained with `strata train` (one process per run, with
the same timing callback as benchmarks/run.py, benchmarks/probe.py) in five configurations:

- float32 on one GPU (the reference): `trainer.precision=float32 trainer.jit_compile=false`
- mixed_float16 on one GPU: `trainer.precision=mixed_float16`
- XLA on one GPU: `trainer.jit_compile=true`
- mixed_float16 and XLA on one GPU
- MirroredStrategy over all N GPUs, float32: `trainer.strategy=mirrored`, the global batch
  (`trainer.batch_size`) N times the one-GPU batch, so every GPU gets the same batch as alone

Throughput is training examples per second in each run's median epoch of epochs 2.. (epoch 1
traces and compiles), the median over `--reps` runs; every figure is a ratio against float32 on
one GPU. One-GPU runs see only the first GPU (CUDA_VISIBLE_DEVICES). All runs use
`trainer.deterministic=false` (op determinism slows GPU kernels and turns XLA's `auto` off) and
one fixed `trainer.steps_per_execution`.
"""

from __future__ import annotations

import os
import sys

# TensorFlow's C++ logging off before it is imported: the no-GPU path prints exactly one line
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")

NO_GPU = "benchmarks/gpu.py: no GPU found (TensorFlow sees none); nothing measured, benchmarks/GPU.md unchanged"


def gpus() -> list:
    """TensorFlow's physical GPUs (TensorFlow imported as strata imports it: its native start-up
    messages kept out of the terminal)."""
    from strata.tensorflow_import import import_tensorflow

    return import_tensorflow().config.list_physical_devices("GPU")


if __name__ == "__main__" and "--force-cpu" not in sys.argv and not gpus():
    print(NO_GPU)
    sys.exit(0)

import argparse  # noqa: E402  (after the GPU check: a machine without one stops above)
import json  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import run  # noqa: E402  (benchmarks/run.py: the measured process, the probe, the machine)
import synthetic_data  # noqa: E402

# per workload: the data it is made of, the one-GPU batch and the config that trains it
SIZES = {
    "full": {"csv_rows": 200_000, "images": 12_000, "image_size": 64, "epochs": 5},
    "tiny": {"csv_rows": 1_500, "images": 160, "image_size": 32, "epochs": 2},
}
BATCH = {"mlp": 1024, "cnn": 256}  # per GPU
# 1 for every configuration: under MirroredStrategy, more than one batch per call fails in Keras
# 3.15's multi-step loop (seen on logical CPU devices; keras-team/keras#19246 looks like the same)
STEPS_PER_EXECUTION = 1

# name -> (title, overrides, all GPUs?)
def _config(precision: str, xla: bool, strategy: str = "none") -> list[str]:
    return [f"trainer.precision={precision}", f"trainer.jit_compile={str(xla).lower()}", f"trainer.strategy={strategy}"]


CONFIGS = {
    "float32": ("float32, 1 GPU (reference)", _config("float32", False), False),
    "mixed_float16": ("mixed_float16, 1 GPU", _config("mixed_float16", False), False),
    "xla": ("XLA (jit_compile=true), 1 GPU", _config("float32", True), False),
    "mixed_float16_xla": ("mixed_float16 + XLA, 1 GPU", _config("mixed_float16", True), False),
    "mirrored": ("MirroredStrategy, all GPUs, float32", _config("float32", False, "mirrored"), True),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=3, help="runs of every configuration (default 3; the median is reported)")
    parser.add_argument("--epochs", type=int, help="epochs per run (default 5; epoch 1 is excluded)")
    parser.add_argument("--only", nargs="*", choices=["mlp", "cnn"], help="workloads to run (default both)")
    parser.add_argument("--output", type=Path, default=BENCH / "GPU.md")
    parser.add_argument("--workdir", type=Path, help="where data and runs go (default: a temporary folder)")
    parser.add_argument("--steps-per-execution", type=int, default=STEPS_PER_EXECUTION,
                        help=f"trainer.steps_per_execution of every run (default {STEPS_PER_EXECUTION})")
    parser.add_argument(
        "--force-cpu",
        action="store_true",
        help="to test this script without a GPU: the same runs on the CPU (mirrored over 2 logical CPU devices), tiny data; "
        "the numbers mean nothing, so --output must name another file",
    )
    args = parser.parse_args(argv)
    if args.force_cpu and args.output.resolve() == (BENCH / "GPU.md").resolve():
        parser.error("--force-cpu measures nothing real: give --output another file than benchmarks/GPU.md")

    devices = gpus()
    n_gpus = len(devices) if devices else 2  # --force-cpu: two logical CPU devices
    size = SIZES["tiny" if args.force_cpu else "full"]
    epochs = args.epochs or size["epochs"]
    started = datetime.now(timezone.utc)
    load_before = os.getloadavg()
    command = "python benchmarks/gpu.py" + "".join(
        f" {flag}" for flag in (
            f"--reps {args.reps}" if args.reps != 3 else "",
            f"--epochs {args.epochs}" if args.epochs else "",
            f"--only {' '.join(args.only)}" if args.only else "",
            f"--steps-per-execution {args.steps_per_execution}" if args.steps_per_execution != STEPS_PER_EXECUTION else "",
            "--force-cpu" if args.force_cpu else "",
        ) if flag
    )
    machine = {**run.machine(load_before, load_before), "gpus": gpu_details(devices), **build_info()}
    results: dict[str, dict] = {}

    with tempfile.TemporaryDirectory(prefix="strata-gpu-bench-") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        workloads = make_data(work, size, args.only or ["mlp", "cnn"])
        for rep in range(args.reps):
            for key, (data_title, data_args) in workloads.items():
                for name, (title, overrides, all_gpus) in CONFIGS.items():
                    replicas = n_gpus if all_gpus else 1
                    per_replica = 32 if args.force_cpu else BATCH[key]
                    batch = per_replica * replicas  # the global batch: every replica gets the one-GPU batch
                    entry = results.setdefault(
                        f"{key}/{name}",
                        {"workload": key, "data": data_title, "config": name, "title": title, "replicas": replicas,
                         "per_replica_batch": per_replica, "global_batch": batch, "runs": []},
                    )
                    cli = [*data_args, *overrides, f"trainer.batch_size={batch}", f"trainer.epochs={epochs}",
                           f"trainer.steps_per_execution={args.steps_per_execution}", "trainer.deterministic=false",
                           "trainer.evaluate_test=false", "report=false", "export.format=none"]
                    if args.force_cpu:
                        cli += ["trainer.accelerator=cpu"] + ([f"trainer.logical_cpu_devices={replicas}"] if all_gpus else [])
                    else:
                        cli += ["trainer.accelerator=gpu"]
                    entry["overrides"] = cli
                    w = run.Workload(f"{key}_{name}", title, data_title, cli, [])
                    with _visible_gpus(None if all_gpus or args.force_cpu else 1):
                        result = run.run_training(w, "strata", rep, work)
                    entry["runs"].append(result)
                    print(f"[{key} {name} rep {rep + 1}/{args.reps}] {run._brief(result)}", flush=True)
            finished = datetime.now(timezone.utc)
            machine["load_after"] = os.getloadavg()
            write(args.output, command=command, machine=machine, started=started, finished=finished, reps=rep + 1,
                  epochs=epochs, results=results, forced_cpu=args.force_cpu)
    print(f"wrote {args.output}")
    return 0


def make_data(work: Path, size: dict, keys: list[str]) -> dict[str, tuple[str, list[str]]]:
    """The workloads' data (generated once) and the overrides that train on it."""
    out = {}
    if "mlp" in keys:
        import pandas as pd

        # numeric columns only: string (categorical) inputs fail under MirroredStrategy in this tree
        csv = synthetic_data.make_csv(work / "data" / "table.csv", size["csv_rows"])
        pd.read_csv(csv).drop(columns=list(synthetic_data.CATEGORIES)).to_csv(csv, index=False)
        out["mlp"] = (
            f"MLP on a synthetic CSV, {size['csv_rows']:,} rows: {synthetic_data.NUMERIC_COLUMNS} numeric columns, 3 classes",
            ["data=csv", "model=mlp", f"data.path={csv}", "data.target=label"],
        )
    if "cnn" in keys:
        px = size["image_size"]
        images = synthetic_data.make_images(work / "data" / "images", size["images"], size=px)
        out["cnn"] = (
            f"CNN on synthetic PNG files, {size['images']:,} RGB {px}x{px} images in 4 classes",
            ["data=images", "model=cnn", f"data.path={images}"],
        )
    return out


class _visible_gpus:
    """CUDA_VISIBLE_DEVICES limited to the first `count` GPUs for the child processes (None: as is)."""

    def __init__(self, count: int | None):
        self.count = count
        self.before = os.environ.get("CUDA_VISIBLE_DEVICES")

    def __enter__(self):
        if self.count is not None:
            ids = [i.strip() for i in self.before.split(",")] if self.before else [str(i) for i in range(len(gpus()))]
            os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(ids[: self.count])

    def __exit__(self, *exc):
        if self.before is None:
            os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = self.before


def gpu_details(devices) -> list[dict]:
    import tensorflow as tf

    out = []
    for device in devices:
        try:
            details = tf.config.experimental.get_device_details(device)
        except (ValueError, RuntimeError):
            details = {}
        out.append({"device": device.name, "name": details.get("device_name", "unknown"),
                    "compute_capability": details.get("compute_capability")})
    return out


def build_info() -> dict:
    import tensorflow as tf

    info = tf.sysconfig.get_build_info()
    return {"cuda": info.get("cuda_version"), "cudnn": info.get("cudnn_version")}


def _median(values) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def write(path: Path, *, command, machine, started, finished, reps, epochs, results, forced_cpu) -> None:
    """GPU.md (the table and the machine) and GPU.json (every run) beside it."""
    lines = [
        "# strata on GPUs: precision, XLA, MirroredStrategy",
        "",
        "Examples per second of training through `strata train`, each configuration against float32 on one GPU "
        "(issue 17). Written by `benchmarks/gpu.py`; see its docstring for how each figure is measured.",
        "",
        f"Reproduce: `{command}` (from the repository root, with `pip install -e \".[gpu]\"`).",
        "",
    ]
    if forced_cpu:
        lines += ["**--force-cpu: measured on the CPU to test the script; these numbers say nothing about GPUs.**", ""]
    gpu_names = ", ".join(f"{g['name']} (compute capability {_cc(g['compute_capability'])})" for g in machine["gpus"]) or "none"
    lines += [
        "## Machine",
        "",
        f"- GPUs ({len(machine['gpus'])}): {gpu_names}",
        f"- CUDA {machine.get('cuda') or 'n/a'}, cuDNN {machine.get('cudnn') or 'n/a'} (TensorFlow's build)",
        f"- {machine['cores']} CPU cores: {machine['cpu']}; {machine['ram']} RAM; {machine['os']}",
        f"- Python {machine['python']}, TensorFlow {machine['tensorflow']}, Keras {machine['keras']}",
        f"- measured {started:%Y-%m-%d %H:%M}–{finished:%H:%M} UTC; {reps} run(s) per configuration, {epochs} epochs per run",
        "",
        "## Results",
        "",
        "| workload | configuration | replicas | global batch | examples/s (median) | vs float32, 1 GPU | per replica |",
        "|---|---|---|---|---|---|---|",
    ]
    for key in ("mlp", "cnn"):
        reference = _median(r.get("throughput") for r in results.get(f"{key}/float32", {}).get("runs", []))
        for name in CONFIGS:
            entry = results.get(f"{key}/{name}")
            if not entry:
                continue
            value = _median(r.get("throughput") for r in entry["runs"])
            errors = [r["error"] for r in entry["runs"] if "error" in r]
            ratio = value / reference if value and reference else None
            shown = f"{value:,.0f}" if value else "failed: " + (errors[0][:160] if errors else "no result")
            lines.append(
                f"| {key} | {entry['title']} | {entry['replicas']} | {entry['global_batch']:,} | {shown} | "
                f"{_x(ratio)} | {_x(ratio / entry['replicas'] if ratio else None) if entry['replicas'] > 1 else ''} |"
            )
    lines += [
        "",
        "`vs float32, 1 GPU`: this configuration's median over the reference's, on the same workload. "
        "`per replica`: the MirroredStrategy ratio divided by the number of GPUs (1.0: linear scaling).",
        "",
        "## Workloads",
        "",
    ]
    seen = set()
    for entry in results.values():
        if entry["workload"] not in seen:
            seen.add(entry["workload"])
            reference = results[f"{entry['workload']}/float32"]["overrides"]
            lines.append(f"- **{entry['workload']}**: {entry['data']}. One-GPU batch {entry['per_replica_batch']}; "
                         f"`strata train {' '.join(_rel(a) for a in reference)}`")
    lines += ["", "Raw measurements: the JSON file beside this one.", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    raw = {"command": command, "machine": machine, "started": started.isoformat(), "finished": finished.isoformat(),
           "reps": reps, "epochs": epochs, "forced_cpu": forced_cpu, "results": results}
    path.with_suffix(".json").write_text(json.dumps(raw, indent=1, default=str))


def _x(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _cc(value) -> str:
    return ".".join(str(v) for v in value) if value else "n/a"


def _rel(arg: str) -> str:
    """An override with the temporary data folder shortened, for the report."""
    key, sep, value = arg.partition("=")
    return f"{key}=<{Path(value).name}>" if sep and key == "data.path" else arg


if __name__ == "__main__":
    sys.exit(main())
