"""How strata's cost grows with the rows of a CSV (issue #19), through the real CLI.

    python benchmarks/scaling.py                          # 20k, 200k, 2M, 20M rows: benchmarks/SCALING.json
    python benchmarks/scaling.py --rows 20000 200000      # a quick run (about two minutes)

One regression table per size (`synthetic_data.make_regression_csv`: 9 numeric columns and
`target`), written once into a temporary folder (or `--workdir`, where a table already written
is reused) and trained by `strata train` twice, each time in a fresh process:

- `in_memory`: `data.in_memory_max_mb=1e9`, the file loaded whole. Skipped, and recorded as
  such, when its estimated peak (`LOAD_FACTOR` = 14 x the file's size, `strata.data.memory`)
  exceeds half of the memory available (`strata.data.memory.available_mb()`) just before the run.
- `streamed`: `data.in_memory_max_mb=0.001` (1 kB), the file read through tf.data (`csv_streaming`).

Both take `data=csv data.path=<csv> data.target=target trainer.epochs=2` and `--model-args`
(default `model=mlp model.units=[64,64] trainer.batch_size=256`: a small MLP and large batches,
so that the input, not the model, bounds the throughput), `hydra.run.dir` in the work folder,
and the timing callback of benchmarks/run.py (benchmarks/probe.py, loaded by name:
`+callbacks.bench_probe._target_=probe.BenchProbe`). The default callbacks stay: none of them
does per-step work beyond a float check of the loss. Per run:

- wall seconds: from just before the process starts to its exit (import, loading or the
  checking pass, training, evaluation, export, report: the whole cost a user waits for).
- time to the first step: from just before the process starts to the first training batch.
- examples/s: training rows (the log's `train N`) over the median training phase of the steady
  epochs (every epoch but the first, which traces the step function), as timed by the probe,
  pooled over the repetitions of a path and size. An epoch of a small table lasts under a second,
  too short a window on a shared machine (one stall decides it): when the steady epochs' median is
  under `--window` seconds (default 5), each path runs `--reps` more times with enough epochs to
  fill the window (these runs count for examples/s only, not for wall or RSS). strata's own figure
  (the `throughput` callback's `examples_per_second`, in the epoch log line and TensorBoard's
  `epoch_examples_per_second`) is recorded beside it.
- peak RSS: the child's maximum resident set size (`os.wait4`'s rusage).

Each path runs `--reps` times per size (default 3, alternating with the other path; sizes above
2M rows once), and the run of median wall time is reported (with the pooled examples/s), every
repetition beside it in the JSON.

Derived: the growth of wall time per 10x rows of each path (wall(10N) / wall(N); other steps
are scaled to 10x), the streamed / in-memory examples/s ratio per size, and the spread of the
streamed peak RSS across sizes (max / min). Goals, each met or missed: growth <= 12x per 10x
rows, streamed throughput >= 0.8x in-memory, streamed peak RSS flat (max <= 1.3 x min).

The results go to `--output-json` (default benchmarks/SCALING.json); a Markdown `## Scaling`
section for benchmarks/RESULTS.md is printed to stdout (this script never writes RESULTS.md).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from run import STRATA, machine, measured_process  # noqa: E402  (benchmarks/run.py: the same process measurement)

DEFAULT_ROWS = [20_000, 200_000, 2_000_000, 20_000_000]
DEFAULT_MODEL_ARGS = "model=mlp model.units=[64,64] trainer.batch_size=256"
PATHS = {"in_memory": "data.in_memory_max_mb=1e9", "streamed": "data.in_memory_max_mb=0.001"}
REPEATED_MAX_ROWS = 2_000_000  # larger tables take minutes a run: once each
MEMORY_SHARE = 0.5  # the in-memory path runs when its estimated peak fits this share of the available memory

GOAL_GROWTH = 12.0  # wall(10N) / wall(N) at most
GOAL_RATIO = 0.8  # streamed / in-memory examples per second at least
GOAL_RSS_SPREAD = 1.3  # streamed peak RSS: max / min at most


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=DEFAULT_ROWS, help="table sizes (default: 20k 200k 2M 20M)")
    parser.add_argument("--epochs", type=int, default=2, help="trainer.epochs (default 2: the last one is measured)")
    parser.add_argument("--model-args", default=DEFAULT_MODEL_ARGS, help=f"fixed overrides of every run (default: {DEFAULT_MODEL_ARGS!r})")
    parser.add_argument("--paths", nargs="+", choices=sorted(PATHS), default=list(PATHS), help="which paths to run (default both)")
    parser.add_argument(
        "--workdir", type=Path, help="where tables, runs and logs go (default: a temporary folder); tables there are reused"
    )
    parser.add_argument("--reps", type=int, default=3,
                        help=f"runs of each path per size up to {REPEATED_MAX_ROWS:,} rows, the median kept "
                             "(default 3; larger sizes run once)")
    parser.add_argument("--window", type=float, default=5.0,
                        help="seconds of steady training that examples/s is measured over at least (default 5)")
    parser.add_argument("--output-json", type=Path, default=BENCH / "SCALING.json")
    args = parser.parse_args(argv)
    rows_list = sorted(set(args.rows))
    fixed = shlex.split(args.model_args)

    from strata.data.memory import LOAD_FACTOR, available_mb  # no TensorFlow: cheap in this process

    started = datetime.now(timezone.utc)
    load_before = os.getloadavg()
    available_start = available_mb()
    command = "python benchmarks/scaling.py" + ("" if rows_list == DEFAULT_ROWS else " --rows " + " ".join(map(str, rows_list)))
    if args.epochs != 2:
        command += f" --epochs {args.epochs}"
    if args.model_args != DEFAULT_MODEL_ARGS:
        command += f" --model-args {shlex.quote(args.model_args)}"
    if args.reps != 3:
        command += f" --reps {args.reps}"
    if args.window != 5.0:
        command += f" --window {args.window:g}"
    if args.paths != list(PATHS):
        command += " --paths " + " ".join(args.paths)

    runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="strata-scaling-") as tmp:
        work = (args.workdir or Path(tmp)).resolve()
        work.mkdir(parents=True, exist_ok=True)
        for rows in rows_list:
            csv, seconds = table(work, rows)
            mb = csv.stat().st_size / 2**20
            print(f"[{rows:,} rows] {mb:,.1f} MB of CSV" + (f", written in {seconds:.0f} s" if seconds else ", reused"), flush=True)
            measured: dict[str, list[dict]] = {}
            reps = args.reps if rows <= REPEATED_MAX_ROWS else 1
            for rep in range(reps):  # the paths alternate, so a disturbance of the machine meets both
                for path in args.paths:
                    if path == "in_memory":
                        available = available_mb()
                        peak = LOAD_FACTOR * mb
                        if available is not None and peak > MEMORY_SHARE * available:
                            reason = (
                                f"estimated peak {peak:,.0f} MB ({LOAD_FACTOR:g} x {mb:,.0f} MB) exceeds half of the "
                                f"{available:,.0f} MB available"
                            )
                            if rep == 0:
                                runs.append({"rows": rows, "path": path, "csv_mb": mb, "skipped": reason})
                                print(f"[{rows:,} rows] {path}: skipped: {reason}", flush=True)
                            continue
                    result = train(work, csv, rows, path, args.epochs, fixed, rep)
                    result["csv_mb"] = mb
                    measured.setdefault(path, []).append(result)
                    print(f"[{rows:,} rows] {path} ({rep + 1}/{reps}): {_brief(result)}", flush=True)
            if rows <= REPEATED_MAX_ROWS:  # short epochs: more of them, for examples/s alone
                extra = {path: _window_epochs(results, args.window) for path, results in measured.items()}
                for rep in range(args.reps):
                    for path, epochs in extra.items():
                        if epochs:
                            result = train(work, csv, rows, path, epochs, fixed, f"window{rep}")
                            measured[path].append({**result, "window_run": True})
                            print(f"[{rows:,} rows] {path} ({epochs} epochs for examples/s, {rep + 1}/{args.reps}): "
                                  f"{_brief(result)}", flush=True)
            for results in measured.values():
                runs.append(_median_run(results))
            if args.workdir is None:
                csv.unlink()  # the temporary folder would hold every size at once otherwise

    derived = derive(runs, rows_list)
    record = {
        "command": command,
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {**machine(load_before, os.getloadavg()), "available_mb_at_start": available_start},
        "fixed_args": ["data=csv", "data.target=target", f"trainer.epochs={args.epochs}", *fixed],
        "paths": PATHS,
        "window": args.window,
        "runs": runs,
        **derived,
    }
    args.output_json.parent.mkdir(parents=True, exist_ok=True)
    args.output_json.write_text(json.dumps(record, indent=2) + "\n")
    print()
    print(markdown(record))
    print(f"wrote {args.output_json}", file=sys.stderr)
    return 0


# ----------------------------------------------------------------------------- data and runs


def table(work: Path, rows: int) -> tuple[Path, float | None]:
    """The table of `rows` rows in `work/data` (written now, or reused from an earlier call) and
    how long writing it took (None when reused)."""
    from synthetic_data import make_regression_csv

    csv = work / "data" / f"regression_{rows}.csv"
    if csv.is_file():
        return csv, None
    partial = csv.with_suffix(".partial.csv")
    start = time.perf_counter()
    make_regression_csv(partial, rows)
    partial.rename(csv)  # only a complete table gets the final name
    return csv, time.perf_counter() - start


def _steady(results: list[dict]) -> list[float]:
    """The training-phase seconds of every steady epoch (all but each run's first) of `results`."""
    return [t for r in results for t in (r.get("epoch_seconds") or [])[1:]]


def _window_epochs(results: list[dict], window: float) -> int | None:
    """Epochs a run needs for `window` seconds of steady training, when the runs so far had less
    per epoch (None when their steady epochs already last `window` or they failed)."""
    steady = _steady(results)
    if not steady or any(r.get("code") != 0 or "error" in r for r in results):
        return None
    median = statistics.median(steady)
    return None if median >= window else min(1 + math.ceil(window / max(median, 1e-3)), 60)


def _median_run(results: list[dict]) -> dict:
    """The run of median wall time among repetitions of one path and size (a failed one, if any
    failed), with examples/s over the median steady epoch of all of them (window runs included)
    and every repetition's figures beside it."""
    failed = [r for r in results if r.get("code") != 0 or "error" in r]
    if failed:
        return failed[0]
    timed = [r for r in results if not r.get("window_run")]
    ordered = sorted(timed, key=lambda r: r["wall_seconds"])
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    steady = _steady(results)
    if steady and chosen.get("train_rows"):
        chosen["examples_per_second"] = chosen["train_rows"] / statistics.median(steady)
        chosen["steady_epochs"] = len(steady)
    chosen["repetitions"] = [
        {"examples_per_second": r.get("examples_per_second"), "wall_seconds": r["wall_seconds"],
         "first_step_seconds": r.get("first_step_seconds"), "peak_rss_mb": r["peak_rss_mb"],
         "epochs": len(r.get("epoch_seconds") or []), "window_run": bool(r.get("window_run"))} for r in results
    ]
    return chosen


def train(work: Path, csv: Path, rows: int, path: str, epochs: int, fixed: list[str], rep: int | str = 0) -> dict:
    name = f"{rows}_{path}_{rep}"
    probe = work / "probes" / f"{name}.json"
    probe.parent.mkdir(parents=True, exist_ok=True)
    probe.unlink(missing_ok=True)
    log = work / "logs" / f"{name}.log"
    out = work / "runs" / name
    shutil.rmtree(out, ignore_errors=True)  # a run directory left by an earlier call would be resumed
    cmd = [
        str(STRATA),
        "train",
        "data=csv",
        f"data.path={csv}",
        "data.target=target",
        f"trainer.epochs={epochs}",
        *fixed,
        PATHS[path],
        f"hydra.run.dir={out}",
        "+callbacks.bench_probe._target_=probe.BenchProbe",
        f"+callbacks.bench_probe.path={probe}",
    ]
    measured = measured_process(cmd, work / "cwd", log)
    result = {
        "rows": rows,
        "path": path,
        "code": measured["code"],
        "wall_seconds": measured["wall"],
        "peak_rss_mb": measured["rss_mb"],
        "command": shlex.join(cmd),
        "log": str(log),
    }
    text = log.read_text(errors="replace")
    took = re.search(r"(streaming it|loading it whole)", text)
    result["data_path_taken"] = {"streaming it": "streamed", "loading it whole": "in_memory"}.get(took.group(1)) if took else None
    if measured["code"] != 0 or not probe.is_file():
        result["error"] = f"exit {measured['code']}: " + " | ".join(text.strip().splitlines()[-2:])
        return result
    timing = json.loads(probe.read_text())
    found = re.search(r"\btrain (\d{1,3}(?:,\d{3})+|\d+)\b", text)  # "train 160206" or "train 160,206"
    train_rows = int(found.group(1).replace(",", "")) if found else None
    # strata's own throughput callback, as its epoch log lines print it
    logged = [float(v.replace(",", "")) for v in re.findall(r"examples_per_second ([\d,.]+)", text)]
    seconds, cpu = timing["epoch_seconds"], timing.get("epoch_cpu_seconds") or []
    result.update(
        train_rows=train_rows,
        first_step_seconds=timing["first_batch_time"] - measured["start"] if timing.get("first_batch_time") else None,
        epoch_seconds=seconds,
        epoch_cpu_seconds=cpu,
        # this run's own figure: the median steady epoch (the last, with only two epochs)
        examples_per_second=(train_rows / statistics.median(seconds[1:] or seconds) if train_rows and seconds
                             else (logged[-1] if logged else None)),
        # per second of process CPU time (all threads): steadier on a shared machine, but it counts
        # tf.data's parallel decoding too, so it is no fair comparison across the two paths
        examples_per_cpu_second=train_rows / cpu[-1] if train_rows and cpu and cpu[-1] else None,
        logged_examples_per_second=logged[-1] if logged else None,
    )
    return result


# ----------------------------------------------------------------------------- derived figures and goals


def derive(runs: list[dict], rows_list: list[int]) -> dict:
    ok = {(r["rows"], r["path"]): r for r in runs if r.get("code") == 0 and "error" not in r}
    growth = []
    for small, large in zip(rows_list, rows_list[1:]):
        for path in PATHS:
            a, b = ok.get((small, path)), ok.get((large, path))
            if a and b:
                ratio = b["wall_seconds"] / a["wall_seconds"]
                per_10x = ratio ** (1 / math.log10(large / small))  # = ratio for sizes 10x apart
                growth.append({"path": path, "from_rows": small, "to_rows": large, "wall_ratio": ratio, "per_10x": per_10x})
    ratios = []
    for rows in rows_list:
        m, s = ok.get((rows, "in_memory")), ok.get((rows, "streamed"))
        if m and s and m.get("examples_per_second") and s.get("examples_per_second"):
            ratios.append({"rows": rows, "ratio": s["examples_per_second"] / m["examples_per_second"]})
    rss = [r["peak_rss_mb"] for (rows, path), r in sorted(ok.items()) if path == "streamed"]
    spread = max(rss) / min(rss) if len(rss) >= 2 else None

    def verdict(good: bool | None) -> str:
        return "n/a" if good is None else ("met" if good else "missed")

    worst_growth = max((g["per_10x"] for g in growth), default=None)
    worst_ratio = min((r["ratio"] for r in ratios), default=None)
    goals = [
        {
            "goal": f"wall time grows at most {GOAL_GROWTH:g}x per 10x rows (each path)",
            "measured": None if worst_growth is None else f"worst {worst_growth:.2f}x",
            "status": verdict(None if worst_growth is None else worst_growth <= GOAL_GROWTH),
        },
        {
            "goal": f"streamed throughput at least {GOAL_RATIO:g}x in-memory (each size)",
            "measured": None if worst_ratio is None else f"worst {worst_ratio:.2f}x",
            "status": verdict(None if worst_ratio is None else worst_ratio >= GOAL_RATIO),
        },
        {
            "goal": f"streamed peak RSS flat across sizes (max <= {GOAL_RSS_SPREAD:g} x min)",
            "measured": None if spread is None else f"{max(rss):,.0f} / {min(rss):,.0f} MB = {spread:.2f}x",
            "status": verdict(None if spread is None else spread <= GOAL_RSS_SPREAD),
        },
    ]
    return {"growth": growth, "throughput_ratio": ratios, "streamed_rss_spread": spread, "goals": goals}


# ----------------------------------------------------------------------------- report


def markdown(record: dict) -> str:
    m = record["machine"]
    available = m.get("available_mb_at_start")
    lines = [
        "## Scaling",
        "",
        f"`{record['command']}`, {record['started']} to {record['finished']}.",
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['ram']} of memory"
        + (f" ({available / 1024:.1f} GiB available at the start)" if available else "")
        + f", load {m['load_before'][0]:.2f} before and {m['load_after'][0]:.2f} after; "
        f"{m['os']}, Python {m['python']}, TensorFlow {m['tensorflow']}, Keras {m['keras']}.",
        "",
        "Each run is `strata train " + " ".join(a for a in record["fixed_args"]) + " data.path=<csv>` plus "
        f"`{record['paths']['in_memory']}` (in_memory) or `{record['paths']['streamed']}` (streamed), in a "
        "fresh process. Wall: process start to exit; first step: process start to the first training "
        "batch; examples/s: training rows over the median training phase of the steady epochs (all but "
        "each run's first), pooled over the runs of a path and size, with more runs of more epochs where "
        f"an epoch lasts under {record.get('window', 5):g} s (strata's own `examples_per_second` of the "
        "reported run in brackets); peak RSS: the process's maximum resident set. Up to 2M rows, each "
        "row is the run of median wall time of `--reps` runs per path, the paths alternating.",
        "",
        "| rows | path | CSV MB | wall s | first step s | examples/s (strata's) | peak RSS MB | exit |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in record["runs"]:
        head = f"| {r['rows']:,} | {r['path']} | {r['csv_mb']:,.1f} |"
        if "skipped" in r:
            lines.append(f"{head} skipped: {r['skipped']} | | | | |")
        elif "error" in r:
            lines.append(f"{head} {r['wall_seconds']:.1f} | failed: {_cell(r['error'])} | | {r['peak_rss_mb']:,.0f} | {r['code']} |")
        else:
            eps = _num(r.get("examples_per_second"))
            if r.get("logged_examples_per_second"):
                eps += f" ({_num(r['logged_examples_per_second'])})"
            first = r.get("first_step_seconds")
            lines.append(
                f"{head} {r['wall_seconds']:.1f} | {'' if first is None else f'{first:.1f}'} | {eps} | "
                f"{r['peak_rss_mb']:,.0f} | {r['code']} |"
            )
    if record["growth"]:
        lines += ["", "| path | rows | wall growth | per 10x rows |", "|---|---|---:|---:|"]
        for g in record["growth"]:
            lines.append(f"| {g['path']} | {g['from_rows']:,} → {g['to_rows']:,} | {g['wall_ratio']:.2f}x | {g['per_10x']:.2f}x |")
    if record["throughput_ratio"]:
        lines += ["", "| rows | streamed / in-memory examples/s |", "|---:|---:|"]
        for t in record["throughput_ratio"]:
            lines.append(f"| {t['rows']:,} | {t['ratio']:.2f} |")
    lines += ["", "| goal | measured | |", "|---|---|---|"]
    for g in record["goals"]:
        lines.append(f"| {g['goal']} | {g['measured'] or 'not measured'} | {g['status']} |")
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")[:200]


def _brief(r: dict) -> str:
    if "error" in r:
        return f"{r['error']} (see {r['log']})"
    eps = r.get("examples_per_second")
    return (
        f"wall {r['wall_seconds']:.1f} s, first step {r['first_step_seconds']:.1f} s, "
        f"{eps:,.0f} examples/s, peak RSS {r['peak_rss_mb']:,.0f} MB"
        if eps and r.get("first_step_seconds") is not None
        else f"wall {r['wall_seconds']:.1f} s, peak RSS {r['peak_rss_mb']:,.0f} MB"
    )


if __name__ == "__main__":
    sys.exit(main())
