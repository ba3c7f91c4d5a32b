"""Writes benchmarks/RESULTS.md (a table: what was measured, both medians, the ratio, the goal,
met or missed) and the raw measurements beside it as JSON."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict
from pathlib import Path

THROUGHPUT_GOAL = 0.97  # strata / hand-written, at least
MEMORY_GOAL = 1.10  # strata / hand-written, at most
FIRST_STEP_GOAL = 1.5  # seconds more than hand-written, at most
BAD_CONFIG_GOAL = 1.0  # seconds, at most
PIPELINE_GOAL = 5.0  # input pipeline / training throughput, at least


def median(values) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _fmt(value: float | None, unit: str = "", digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}{unit}"


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**missed**")


def rows(workloads, bad: dict, pipelines: dict) -> list[list[str]]:
    """The table's rows: what, workload, strata, hand-written, ratio or difference, goal, verdict."""
    out = []
    for w in workloads:
        if w.skipped:
            out.append([f"training ({w.title})", w.key, "not measured", "not measured", "n/a", "see notes", f"not measured: {w.skipped}"])
            continue
        s, b = w.runs["strata"], w.runs["baseline"]
        st, bt = median(r.get("throughput") for r in s), median(r.get("throughput") for r in b)
        ratio = st / bt if st and bt else None
        out.append(
            [
                "steady-state training throughput (examples/s, median epoch, epoch 1 excluded)",
                w.key,
                _fmt(st),
                _fmt(bt),
                _fmt(ratio, digits=3),
                f"ratio >= {THROUGHPUT_GOAL}",
                _verdict(None if ratio is None else ratio >= THROUGHPUT_GOAL),
            ]
        )
        sc, bc = median(r.get("best_throughput") for r in s), median(r.get("best_throughput") for r in b)
        ratio = sc / bc if sc and bc else None
        out.append(
            [
                "the same, fastest steady-state epoch of each run (least disturbed by other work)",
                w.key,
                _fmt(sc),
                _fmt(bc),
                _fmt(ratio, digits=3),
                f"ratio >= {THROUGHPUT_GOAL}",
                _verdict(None if ratio is None else ratio >= THROUGHPUT_GOAL),
            ]
        )
        sm, bm = median(r.get("rss_mb") for r in s if "error" not in r), median(r.get("rss_mb") for r in b if "error" not in r)
        ratio = sm / bm if sm and bm else None
        out.append(
            [
                "peak memory (RSS, MB) of the whole run",
                w.key,
                _fmt(sm),
                _fmt(bm),
                _fmt(ratio, digits=3),
                f"ratio <= {MEMORY_GOAL:.2f}",
                _verdict(None if ratio is None else ratio <= MEMORY_GOAL),
            ]
        )
        sf, bf = median(r.get("first_step") for r in s), median(r.get("first_step") for r in b)
        diff = sf - bf if sf is not None and bf is not None else None
        out.append(
            [
                "wall time from the command to the first training step (s)",
                w.key,
                _fmt(sf, digits=2),
                _fmt(bf, digits=2),
                f"{'+' if diff and diff > 0 else ''}{_fmt(diff, ' s', 2)}",
                f"<= +{FIRST_STEP_GOAL} s",
                _verdict(None if diff is None else diff <= FIRST_STEP_GOAL),
            ]
        )
    wall = median(bad["wall"])
    clean = all(c == 2 for c in bad["codes"]) and bad.get("tensorflow_imported") is False
    out.append(
        [
            "wall time to report a bad config (`strata train trainer.epocs=3`, s)",
            "-",
            _fmt(wall, digits=2),
            f"{_fmt(median(bad['import_tf']), digits=2)} (import tensorflow, keras alone)",
            "n/a",
            f"<= {BAD_CONFIG_GOAL} s, exit 2, no TensorFlow import",
            _verdict(None if wall is None else (wall <= BAD_CONFIG_GOAL and clean)),
        ]
    )
    by_key = {w.key: w for w in workloads}
    for key, p in pipelines.items():
        w = by_key[p["workload"]]
        pt = median(p["examples_per_second"])
        tt = median(r.get("throughput") for r in w.runs["strata"])
        ratio = pt / tt if pt and tt else None
        out.append(
            [
                "input pipeline alone vs training (examples/s; columns: pipeline, strata training)",
                key,
                _fmt(pt),
                _fmt(tt),
                _fmt(ratio, "x", 1),
                f">= {PIPELINE_GOAL:.0f}x",
                _verdict(None if ratio is None else ratio >= PIPELINE_GOAL),
            ]
        )
        pc = median(p.get("best_examples_per_second") or [])
        tc = median(r.get("best_throughput") for r in w.runs["strata"])
        ratio = pc / tc if pc and tc else None
        out.append(
            [
                "the same, fastest epochs",
                key,
                _fmt(pc),
                _fmt(tc),
                _fmt(ratio, "x", 1),
                f">= {PIPELINE_GOAL:.0f}x",
                _verdict(None if ratio is None else ratio >= PIPELINE_GOAL),
            ]
        )
    return out


def write_report(path: Path, *, command, machine, started, finished, size, reps, workloads, bad, pipelines) -> None:
    table = rows(workloads, bad, pipelines)
    lines = [
        "# strata benchmarks",
        "",
        "What a config costs against the Keras script a user could write by hand (issue #6).",
        "",
        f"Reproduce: `{command}` (from the repository root, with strata installed; "
        f"size `{size}`, {reps} interleaved repetitions, medians).",
        "",
        "## Machine",
        "",
        f"- {machine['cores']} cores: {machine['cpu']}; {machine['ram']} RAM; {machine['os']}",
        f"- Python {machine['python']}, TensorFlow {machine['tensorflow']}, Keras {machine['keras']}",
        f"- measured {started:%Y-%m-%d %H:%M}–{finished:%H:%M} UTC; load average (1, 5, 15 min) "
        f"{_loads(machine['load_before'])} before, {_loads(machine['load_after'])} after (the benchmark's own "
        "runs keep about two cores busy)"
        # only the load before says anything of other work: the one after includes the benchmark's
        + (" — **other work was running when the measurement started**" if machine["load_before"][0] > 0.5 else ""),
        "",
        "## Results",
        "",
        "| what | workload | strata (median) | hand-written (median) | ratio / difference | goal | verdict |",
        "|---|---|---|---|---|---|---|",
        *("| " + " | ".join(r) + " |" for r in table),
        "",
        "## Workloads",
        "",
    ]
    for w in workloads:
        lines.append(f"- **{w.key}** ({w.title}): {w.data}.")
        if w.skipped:
            lines.append(f"  Not measured: {w.skipped}.")
            continue
        lines.append(f"  strata: `strata train {' '.join(w.strata_args)}`; hand-written: `benchmarks/{_rel(w.baseline[0])}`.")
    lines += [
        "",
        "## How each figure is measured",
        "",
        "- Every run is its own process, strata and hand-written alternating (S, B, then B, S, ...).",
        "- Both sides time themselves with the same callback, `benchmarks/probe.py`: strata loads it from the",
        "  command line (`+callbacks.bench_probe._target_=probe.BenchProbe`), the baselines pass it to `fit`.",
        "- Throughput: training examples per epoch over the time from `on_epoch_begin` to the start of",
        "  validation, in each run's median epoch of epochs 2.. (epoch 1 traces the functions and fills",
        "  caches), then the median over runs. A median, not a sum: on a shared 2-core machine an epoch",
        "  now and then stalls for a few tenths of a second with unchanged process CPU time, on either",
        "  side at random; over a few short epochs a sum turns one stall into a 20-30% swing.",
        "- Fastest epochs: each run's fastest steady-state epoch (median over runs). Other work on a shared",
        "  machine only ever slows an epoch down, so this row is the steadier one when the machine is busy.",
        "  (Process CPU time is in the JSON too, but TensorFlow's spinning worker threads inflate it.)",
        "- Peak memory: the child process's maximum resident set size from `os.wait4`, over the whole run",
        "  (data loading, training, evaluation, saving and export).",
        "- Time to the first step: from just before the process is started to the first `on_train_batch_begin`.",
        "- Bad config: the wall time of `strata train trainer.epocs=3` (exit code 2 checked); whether",
        "  TensorFlow or Keras got imported is checked by running the same command in-process and",
        f"  inspecting `sys.modules` (tensorflow imported: {bad.get('tensorflow_imported')}, "
        f"keras imported: {bad.get('keras_imported')}). Its message: `{bad.get('message', '')}`",
        "- Input pipeline: strata's training tf.data pipeline (compose, validate, `load_data`,",
        "  `DataBundle.dataset('train', batch, training=True)`) drained inside a `tf.function`, as `fit`",
        "  does, the median of epochs 2..; compared with strata's training throughput on the same data.",
        "- The baselines do the same job as `strata train`'s defaults do for a user: validation every",
        "  epoch, TensorBoard, best-weights checkpoint, early stopping, test evaluation, `model.keras` and a",
        "  SavedModel. strata's defaults also log the learning rate, throughput, the config, hparams and a",
        "  confusion matrix to TensorBoard, keep last-epoch weights and a backup for resuming.",
        "",
        "Raw measurements: the JSON file beside this one.",
        "",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    raw = {
        "command": command,
        "machine": machine,
        "workloads": [asdict(w) for w in workloads],
        "bad_config": bad,
        "input_pipeline": pipelines,
    }
    path.with_suffix(".json").write_text(json.dumps(raw, indent=1, default=str))


def _loads(values) -> str:
    return ", ".join(f"{v:.1f}" for v in values)


def _rel(path: str) -> str:
    p = Path(path)
    return f"{p.parent.name}/{p.name}"
