"""Assembles a run's report: reads what the run wrote, draws the plots, writes `report.html`.

```
<run>/report.html           the page (open it in any browser; no server, no script)
<run>/report/*.png          its pictures, also in TensorBoard under <run>/tensorboard/report
```
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from strata.formatting import metric_value
from strata.run.atomic import atomic_path
from strata.run.finished import FinishedRun
from strata.run.metrics import PER_CLASS, scalar_metrics

log = logging.getLogger("strata.report")

REPORT_DIR = "report"
REPORT_PAGE = "report.html"
# the single numbers shown above a per-class table (metrics.json key, shown as)
SUMMARY = (("balanced_accuracy", "balanced accuracy"), ("macro_f1", "macro F1"), ("accuracy", "accuracy"))


def report_after_training(finished: FinishedRun, model, bundle, history: dict | None = None) -> Path | None:
    """`write_report` for the end of `strata train`: skipped when `report: false`, and never
    fails the run (a problem is logged as a warning)."""
    if not finished.config.report:
        return None
    try:
        return write_report(finished, model=model, bundle=bundle, history=history)
    except Exception as ex:  # the model is trained and saved; a missing plot must not fail the run
        log.warning("report.html not written: %s: %s", type(ex).__name__, str(ex).splitlines()[0] if str(ex) else "")
        return None


def write_report(finished: FinishedRun, model=None, bundle=None, history: dict | None = None) -> Path:
    """Writes `<run>/report.html` and `<run>/report/*.png`; returns the page's path.

    Args:
        finished: the run.
        model, bundle: the trained model and its data when the caller holds them (the trainer);
            otherwise read back from the run.
        history: Keras's `History.history`, used when the run has no TensorBoard scalars.
    """
    from strata.errors import UserError
    from strata.report import history as history_io
    from strata.report.page import Section, render

    started = time.perf_counter()
    run, config, task = finished.run, finished.config, finished.task
    model = model if model is not None else finished.model(compile=False)

    curves = history_io.read_history(run.tensorboard)
    curves_source = "TensorBoard event files"
    if not curves and history:
        curves, curves_source = history_io.from_keras_history(history), "Keras History"

    from strata.report import figures
    from strata.report.task_results import TaskResults, task_results

    plots: list[tuple[str, str, Any]] = []  # (file stem, caption, figure)
    # the loss first, then the model's metrics, then the run's own measurements
    for metric in sorted(curves, key=lambda m: (m != "loss", m in ("learning_rate", "examples_per_second"), m)):
        caption = f"{metric}: {' vs '.join(s for s in ('train', 'validation') if s in curves[metric])}"
        plots.append((f"curve_{_safe(metric)}", caption, figures.learning_curve(metric, curves[metric])))
    results = TaskResults()
    try:
        results = task_results(model, bundle if bundle is not None else finished.data, task, seed=config.seed)
    except UserError as ex:
        results.notes.append(f"no {task.kind} plots: the run's data could not be loaded ({ex})")
    except Exception as ex:  # e.g. data that changed since training no longer fits the model
        log.warning("report: no %s plots: %s: %s", task.kind, type(ex).__name__, str(ex).splitlines()[0][:300])
        results.notes.append(f"no {task.kind} plots: {type(ex).__name__}: {str(ex).splitlines()[0][:300]}")
    task_plots = [(p.name, p.title, p.figure) for p in results.plots]
    from strata.report.cross_validation import folds_section

    folds = folds_section(run, json.loads(run.metrics.read_text())) if run.metrics.is_file() else None
    fold_plots = [(_safe(stem), caption, figure) for stem, caption, figure in folds.plots] if folds else []

    with atomic_path(run.root / REPORT_DIR, directory=True) as folder:
        folder.mkdir(parents=True)
        written = []
        for stem, caption, figure in plots + task_plots + fold_plots:
            figure.savefig(folder / f"{stem}.png")
            written.append((stem, caption))
    curve_images = [(f"{REPORT_DIR}/{s}.png", c) for s, c in written[: len(plots)]]
    task_images = [(f"{REPORT_DIR}/{s}.png", c) for s, c in written[len(plots):len(plots) + len(task_plots)]]
    fold_images = [(f"{REPORT_DIR}/{s}.png", c) for s, c in written[len(plots) + len(task_plots):]]

    sections = []
    recorded = json.loads(run.metrics.read_text()) if run.metrics.is_file() else {}
    metrics = _metrics_rows(recorded)
    if metrics:
        sections.append(Section("Final metrics", tables=[("", *metrics)]))
    per_class = _per_class_tables(recorded)
    if per_class:
        sections.append(Section("Per class", tables=per_class, notes=[
            "precision, recall and F1 of each class over the whole split (metrics.json); "
            "balanced accuracy is the mean recall, macro F1 the mean F1"]))
        results.tables = [t for t in results.tables if t.kind != "per_class"]
    if folds:
        sections.append(Section(folds.title, images=fold_images, tables=[("", folds.header, folds.rows)], notes=folds.notes))
    curve_note = f"per epoch, from the {curves_source}" if curves else (
        "no per-epoch metrics found (is the tensorboard callback off?)")
    sections.append(Section("Learning curves", images=curve_images, notes=[curve_note]))
    split = f" ({results.split} split, at most 2,000 examples)" if results.split else ""
    sections.append(Section(
        f"Results: {task.kind}{split}", images=task_images,
        tables=[(t.title, t.header, t.rows) for t in results.tables], notes=results.notes,
    ))
    from strata.report.model_summary import layer_rows, parameter_counts

    counts = parameter_counts(model)
    sections.append(Section(
        f"Model: {model.name}",
        tables=[("Parameters", list(counts), [[f"{v:,}" for v in counts.values()]]),
                ("Layers", ["layer", "type", "output shape", "parameters"], layer_rows(model))],
    ))
    config_text = run.resolved_config.read_text() if run.resolved_config.is_file() else (
        run.config.read_text() if run.config.is_file() else "")
    sections.append(Section("Resolved config", preformatted=config_text, collapsed=False))

    title = f"{config.task_name}: {run.root.name}"
    subtitle = f"run directory {run.root} · task {task.kind} · written {time.strftime('%Y-%m-%d %H:%M:%S')}"
    page = run.root / REPORT_PAGE
    with atomic_path(page) as tmp:
        tmp.write_text(render(title, subtitle, sections), encoding="utf-8")

    try:
        from strata.report.tensorboard_images import write_images

        step = max((max(s[0]) for series in curves.values() for s in series.values() if s[0]), default=0)
        write_images(run.tensorboard / "report", [(f"report/{s}", run.root / REPORT_DIR / f"{s}.png") for s, _ in written], step)
    except Exception as ex:  # the page is written; TensorBoard images are a copy
        log.warning("report images not written to TensorBoard: %s", ex)
    log.info("report: %s (%d plots, %.1f s)", page, len(written), time.perf_counter() - started)
    return page


def _metrics_rows(recorded: dict) -> tuple[list[str], list[list[Any]]] | None:
    """The final metrics table: a row per split, a column per single-number metric."""
    metrics = scalar_metrics(recorded)
    if not metrics:
        return None
    names = sorted({k for values in metrics.values() for k in values}, key=lambda m: (m != "loss", m))
    rows = [[split, *[metric_value(values[m]) if m in values else "" for m in names]] for split, values in metrics.items()]
    return ["split", *names], rows


def _per_class_tables(recorded: dict) -> list[tuple[str, list[str], list[list[Any]]]]:
    """A classifier's per-class table of each held-out split (the training split's too when
    there is no other), from metrics.json."""
    tables = recorded.get(PER_CLASS) or {}
    shown = [s for s in ("validation", "test") if s in tables] or [s for s in tables if s == "train"]
    out = []
    for split in shown:
        values = recorded.get(split, {})
        summary = ", ".join(f"{name} {values[key]:.3f}" for key, name in SUMMARY if isinstance(values.get(key), (int, float)))
        rows = [[label, f"{c['precision']:.3f}", f"{c['recall']:.3f}", f"{c['f1']:.3f}", int(c["support"])]
                for label, c in tables[split].items()]
        total = sum(int(c["support"]) for c in tables[split].values())
        out.append((f"{split} split ({total:,} examples{'; ' + summary if summary else ''})",
                    ["class", "precision", "recall", "F1", "support"], rows))
    return out


def _safe(name: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
