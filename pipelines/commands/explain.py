"""`strata explain run=<run dir> input=<file, folder or -> [method=...] [output=<dir>]`: why the model
predicts what it does.

Per-example attributions by raw feature (integrated gradients, saliency or occlusion) for the
inputs, and for tables a global permutation importance over the run's test split. Writes CSVs,
bar charts, image heatmaps and a coloured text page into `output` (default
`<run>/explain/<input name>_<method>/`); see `strata.explain.output_files`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from strata.commands import args as cli_args
from strata.errors import ConfigError, DataError, suggestion
from strata.explain.explainer import METHODS
from strata.run import raw_inputs
from strata.run.atomic import atomic_path
from strata.run.finished import FinishedRun
from strata.run.inference import predict_raw

ARGS = {
    "run": None,  # the run directory
    "input": None,  # a file or folder of raw inputs, or - for stdin (as for strata predict)
    "method": "integrated_gradients",  # integrated_gradients | saliency | occlusion | permutation
    "output": None,  # the folder to write (default <run>/explain/<input>_<method>)
    "baseline": "mean",  # mean | zero | a number: what an attribution is measured against
    "steps": "64",  # integration steps of integrated gradients
    "target": None,  # the class (or output index) to explain; default: the predicted class
    "limit": "100",  # explain at most this many inputs
    "importance": "auto",  # permutation importance over the test split: auto (tables) | true | false
    "repeats": "3",  # shuffles per column for permutation importance
    "batch_size": "256",  # examples per forward pass
}


def main(argv: list[str]) -> Path:
    opts = cli_args.parse(argv, "explain", ARGS, required=("run", "input"))
    method = opts["method"]
    if method not in METHODS:
        raise ConfigError(f"strata explain: method={method}, expected one of {', '.join(METHODS)}.{suggestion(method, METHODS)}")
    steps, limit, repeats, batch = (_positive(opts, k) for k in ("steps", "limit", "repeats", "batch_size"))
    importance = opts["importance"]
    if importance not in ("auto", "true", "false"):
        raise ConfigError(f"strata explain: importance={importance}, expected auto, true or false.")

    finished = FinishedRun.open(opts["run"])
    config, features, task = finished.config, finished.features, finished.task
    if task.kind in ("generation", "reconstruction"):
        raise ConfigError(
            f"strata explain: run={opts['run']} is a {task.kind} model; explain attributes the predictions of "
            "classifiers, regressions and forecasts. Its report.html shows its samples or reconstructions."
        )
    tabular = len(features) >= 2 and all(f.kind in ("numeric", "categorical", "text") for f in features)
    if method == "permutation" and len(features) < 2:
        only = ", ".join(f"{f.name} ({f.kind})" for f in features)
        raise ConfigError(
            f"strata explain: method=permutation ranks the columns of a table; this model takes one input ({only}). "
            "Use method=integrated_gradients, saliency or occlusion."
        )
    inputs = raw_inputs.read(cli_args.local_input(opts["input"]), features, config.data)  # s3://: its local copy
    print(inputs.summary, file=sys.stderr)
    x, ids = inputs.x, inputs.ids
    if len(ids) > limit:
        print(f"explaining the first {limit} of {len(ids)} inputs (limit={limit})")
        x, ids = {k: v[:limit] for k, v in x.items()}, ids[:limit]
    from strata.explain.baselines import parse_baseline

    baseline = parse_baseline(opts["baseline"])
    model = finished.model(compile=False)

    wants_importance = method == "permutation" or importance == "true" or (importance == "auto" and tabular)
    needs_reference = baseline == "mean" and any(f.kind in ("numeric", "categorical", "sequence") for f in features)
    bundle = finished.data if (wants_importance or needs_reference) else None
    reference = None
    if bundle is not None:
        missing = sorted({f.name for f in features} - {f.name for f in bundle.features})
        if missing:
            raise DataError(
                f"run={opts['run']}: the run's data, loaded again, lacks the model's inputs {', '.join(missing[:5])}; "
                "has the data (or strata) changed since training? Use importance=false baseline=zero to explain without it."
            )
        reference = bundle.examples("train", 2000)[0]

    from strata.explain.explainer import explain

    explanation = None
    if method != "permutation":
        explanation = explain(
            model, features, x, task, method=method, ids=ids, baseline=baseline, steps=steps,
            target=opts["target"], reference=reference, batch_size=batch,
        )
    ranking = None
    if wants_importance and bundle is not None:
        split = next((s for s in ("test", "validation") if s in bundle.splits), None)
        if split is None:
            print("no test or validation split: permutation importance skipped")
        else:
            from strata.explain.permutation import permutation_importance

            part = bundle.splits[split]
            ranking = permutation_importance(
                lambda raw: predict_raw(model, raw, batch), features, part.x, part.y, task,
                repeats=repeats, seed=config.seed,
            )

    stem = raw_inputs.input_stem(opts["input"])
    output = Path(cli_args.local_output(opts["output"])) if opts["output"] else finished.run.root / "explain" / f"{stem}_{method}"
    from strata.explain.output_files import write_explanation

    with atomic_path(output, directory=True) as tmp:
        written = write_explanation(explanation, features, tmp, ranking)
    columns = {f.name: f.source_column for f in features}
    _print_summary(explanation, ranking, output, [output / p.relative_to(tmp) for p in written], columns)
    return output


def _positive(opts: dict, key: str) -> int:
    try:
        value = int(opts[key])
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"strata explain: {key}={opts[key]}, expected a whole number of at least 1.")
    return value


def _print_summary(explanation, ranking, output: Path, written: list[Path], columns: dict[str, str]) -> None:
    lines = [f"wrote {len(written)} files to {output}"]
    if explanation is not None:
        top = explanation.mean_abs().head(5)
        if len(top) > 1:
            lines.append("  largest mean |attribution|: " + ", ".join(f"{columns.get(k, k)} {v:.3g}" for k, v in top.items()))
        frame = explanation.frame()
        if "completeness_gap" in frame:
            gap = np.abs(frame["completeness_gap"].to_numpy())
            spread = np.abs(frame["prediction"] - frame["baseline_prediction"]).to_numpy()
            lines.append(
                f"  completeness: attributions sum to prediction - baseline within {gap.max():.3g} "
                f"(largest |prediction - baseline| {spread.max():.3g}); raise steps= to tighten"
            )
    if ranking is not None:
        lines.append("  permutation importance: " + ", ".join(
            f"{columns.get(r.feature, r.feature)} {r.importance:.3g}" for r in ranking.head(5).itertuples()))
    for path in written:
        if path.suffix in (".html", ".png") and path.parent == output:
            lines.append(f"  {path}")
    print("\n".join(lines))
