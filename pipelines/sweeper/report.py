"""`sweep_report.html`: one static page for a sweep's Optuna study, and `sweep_results.json`.

The page shows the study's name, direction and optimized metric, how many trials ended in each
state, the best trial (the Pareto front for several objectives), Optuna's plots as PNGs under
`sweep_report/` (optimization history, parameter importances, parallel coordinates and, when
trials reported epoch values, intermediate values) and a table of every trial with a link to its
run folder. A plot the study cannot give yet (no complete trial, a single one, no parameter that
varied) is left out and the page says why. `sweep_results.json` holds the same facts for programs.

Written by `strata sweep-report` (see `strata.commands.sweep_report`) and by the sweeper at the
end of a sweep; every file is written beside its final name, then renamed.
"""

from __future__ import annotations

import html
import logging
import math
import os
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from strata.formatting import metric_value
from strata.report.page import Section, render
from strata.run.atomic import atomic_path, write_json_atomic

if TYPE_CHECKING:
    import optuna

log = logging.getLogger("strata.sweeper")

PAGE = "sweep_report.html"
PLOTS_DIR = "sweep_report"
RESULTS = "sweep_results.json"
STATES = ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING")
DEFAULT_TARGET = "Objective Value"  # Optuna's own axis label when no metric is named
_PLOTTING = threading.Lock()  # pyplot's figures are global: one report draws at a time


@dataclass
class _Plot:
    name: str  # file stem under sweep_report/
    caption: str
    draw: Callable[[], Any] | None  # returns the Axes Optuna drew; None when the plot is skipped
    reason: str = ""  # why it is skipped: one sentence for the page


def write_sweep_report(study: optuna.Study, out_dir: Path, metric: str | None = None, sweep_dir: Path | None = None) -> Path:
    """Writes `sweep_report.html`, its PNGs under `sweep_report/` and `sweep_results.json` into
    `out_dir`; returns the page's path. `metric` names the optimized value (`validation/accuracy`);
    with `sweep_dir`, each trial links to its run folder `<sweep_dir>/<number>/`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    trials = study.get_trials(deepcopy=False)
    multi = len(study.directions) > 1
    names = _objective_names(study, metric)

    images, skipped = _write_plots(study, trials, out_dir / PLOTS_DIR, names, multi)
    write_json_atomic(out_dir / RESULTS, _results(study, trials, metric, multi))

    page = out_dir / PAGE
    text = _page(study, trials, metric, names, multi, images, skipped, out_dir, None if sweep_dir is None else Path(sweep_dir))
    with atomic_path(page) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return page


# -- facts -------------------------------------------------------------------------------------


def _directions(study: optuna.Study) -> list[str]:
    return [d.name.lower() for d in study.directions]


def _objective_names(study: optuna.Study, metric: str | None) -> list[str]:
    """A name per objective: the study's metric names, else `metric` (one objective), else
    Optuna's default label."""
    n = len(study.directions)
    stored = study.metric_names
    if stored is not None and len(stored) == n:
        return [str(s) for s in stored]
    if n == 1:
        return [metric or DEFAULT_TARGET]
    given = [m.strip() for m in (metric or "").split(",")]
    if len(given) == n and all(given):  # `validation/accuracy,validation/loss`
        return given
    return [f"objective {i}" for i in range(n)]


def _finite(value: Any) -> Any:
    """`value`, with NaN and infinities as None (JSON has no such numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _state(trial: optuna.trial.FrozenTrial) -> str:
    return trial.state.name


def _complete(trials: list[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """The COMPLETE trials whose values are all finite numbers."""
    out = []
    for trial in trials:
        if _state(trial) != "COMPLETE" or trial.values is None:
            continue
        if all(isinstance(v, (int, float)) and math.isfinite(v) for v in trial.values):
            out.append(trial)
    return out


def _best(study: optuna.Study, trials: list[optuna.trial.FrozenTrial], multi: bool):
    """The best trial (one objective) or the Pareto front (several); None / [] without a
    complete trial."""
    if multi:
        try:
            return sorted(study.best_trials, key=lambda t: t.number)
        except Exception:  # a storage that cannot answer: no front to show
            return []
    if not _complete(trials):
        return None
    try:
        return study.best_trial
    except ValueError:
        return None


def _intermediate(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    return {str(step): _finite(value) for step, value in sorted(trial.intermediate_values.items())}


def _duration(trial: optuna.trial.FrozenTrial) -> float | None:
    return None if trial.duration is None else trial.duration.total_seconds()


def _error(trial: optuna.trial.FrozenTrial) -> str | None:
    error = trial.user_attrs.get("error")
    return None if error in (None, "") else str(error)


def _results(study: optuna.Study, trials: list[optuna.trial.FrozenTrial], metric: str | None, multi: bool) -> dict:
    states = {state: 0 for state in STATES}
    for trial in trials:
        states[_state(trial)] = states.get(_state(trial), 0) + 1
    directions = _directions(study)
    best = _best(study, trials, multi)
    out: dict[str, Any] = {
        "study_name": study.study_name,
        "direction": directions if multi else directions[0],
        "metric": metric,
        "n_trials": len(trials),
        "states": states,
        "best": None,
        "trials": [],
    }
    if multi:
        out["pareto_front"] = [
            {"number": t.number, "values": [_finite(v) for v in t.values], "params": dict(t.params)} for t in best
        ]
    elif best is not None:
        out["best"] = {"number": best.number, "value": _finite(best.value), "params": dict(best.params)}
    for trial in trials:
        row = {
            "number": trial.number,
            "state": _state(trial),
            "value": None if multi or trial.values is None else _finite(trial.values[0]),
            "params": dict(trial.params),
            "intermediate": _intermediate(trial),
            "error": _error(trial),
            "duration_s": _duration(trial),
        }
        if multi:
            row["values"] = None if trial.values is None else [_finite(v) for v in trial.values]
        out["trials"].append(row)
    return out


# -- plots -------------------------------------------------------------------------------------


def _plans(study: optuna.Study, trials: list[optuna.trial.FrozenTrial], names: list[str], multi: bool) -> list[_Plot]:
    """What to draw, or why not, for each of the page's plots."""
    from optuna.visualization import matplotlib as vis

    complete = _complete(trials)
    params = sorted({p for t in complete for p in t.params})
    varied = [p for p in params if len({repr(t.params[p]) for t in complete if p in t.params}) > 1]
    none_complete = "{} needs a complete trial, and none has completed yet."
    single = "the study optimizes several objectives, so there is no single value"

    plots = []
    if multi:
        plots.append(_Plot("optimization_history", "optimization history", None,
                           f"The optimization history is left out: {single} to follow."))
    elif not complete:
        plots.append(_Plot("optimization_history", "optimization history", None, none_complete.format("The optimization history")))
    else:
        plots.append(_Plot("optimization_history", f"{names[0]} of each trial and the best so far",
                           lambda: vis.plot_optimization_history(study, target_name=names[0])))

    if multi:
        plots.append(_Plot("param_importances", "parameter importances", None, f"Parameter importances are left out: {single} to explain."))
    elif len(complete) < 2:
        plots.append(_Plot("param_importances", "parameter importances", None,
                           f"Parameter importances need at least 2 complete trials; this study has {len(complete)}."))
    elif not varied:
        plots.append(_Plot("param_importances", "parameter importances", None,
                           "Parameter importances need a parameter that took more than one value across the complete trials."))
    else:
        plots.append(_Plot("param_importances", f"how much each parameter explains {names[0]}",
                           lambda: vis.plot_param_importances(study, params=varied, target_name=names[0])))

    if not complete:
        plots.append(_Plot("parallel_coordinate", "parallel coordinates", None, none_complete.format("The parallel coordinate plot")))
    elif not params:
        plots.append(_Plot("parallel_coordinate", "parallel coordinates", None, "The complete trials have no parameters to draw."))
    elif multi:
        plots.append(_Plot("parallel_coordinate", f"parameters of each complete trial, coloured by {names[0]}",
                           lambda: vis.plot_parallel_coordinate(study, target=lambda t: t.values[0], target_name=names[0])))
    else:
        plots.append(_Plot("parallel_coordinate", f"parameters of each complete trial, coloured by {names[0]}",
                           lambda: vis.plot_parallel_coordinate(study, target_name=names[0])))

    reported = [t for t in trials if t.intermediate_values and _state(t) in ("COMPLETE", "PRUNED", "RUNNING")]
    if reported:
        plots.append(_Plot("intermediate_values", "values each trial reported epoch by epoch",
                           lambda: vis.plot_intermediate_values(study)))
    else:
        plots.append(_Plot("intermediate_values", "intermediate values", None,
                           "No trial reported intermediate values (epoch by epoch), so there is no curve to draw."))
    return plots


def _write_plots(study, trials, folder: Path, names: list[str], multi: bool) -> tuple[list[tuple[str, str]], list[str]]:
    """Draws the plots into `folder`; returns the (relative path, caption) of each PNG written and
    the sentences saying why the others are not."""
    import matplotlib

    matplotlib.use("Agg")
    import optuna
    from matplotlib import pyplot as plt

    images, skipped = [], []
    with _PLOTTING:
        plans = _plans(study, trials, names, multi)
        for plot in plans:
            png = folder / f"{plot.name}.png"
            if plot.draw is None:
                png.unlink(missing_ok=True)  # a stale picture of an earlier report
                skipped.append(plot.reason)
                continue
            before = set(plt.get_fignums())
            try:
                with warnings.catch_warnings(), plt.rc_context():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    warnings.simplefilter("ignore", UserWarning)  # matplotlib's notes on empty legends, flat axes
                    axes = plot.draw()
                    figure = _figure_of(axes)
                    with atomic_path(png) as tmp:
                        figure.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
                images.append((f"{PLOTS_DIR}/{plot.name}.png", plot.caption))
            except Exception as ex:  # the page is still worth writing without this picture
                log.warning("sweep report: could not draw %s: %s: %s", plot.name, type(ex).__name__, ex)
                png.unlink(missing_ok=True)
                skipped.append(f"The {plot.caption} could not be drawn ({type(ex).__name__}: {_first_line(ex)}).")
            finally:
                for number in set(plt.get_fignums()) - before:
                    plt.close(number)
    return images, skipped


def _figure_of(axes: Any):
    if hasattr(axes, "figure"):
        return axes.figure
    return axes.flat[0].figure  # an array of Axes


def _first_line(ex: BaseException) -> str:
    text = str(ex).strip()
    return text.splitlines()[0] if text else ""


# -- page --------------------------------------------------------------------------------------


def _number(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return metric_value(value)


def _params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_number(v) if isinstance(v, float) else v}" for k, v in params.items())


def _values(trial: optuna.trial.FrozenTrial) -> str:
    return "" if trial.values is None else ", ".join(_number(v) for v in trial.values)


def _last_intermediate(trial: optuna.trial.FrozenTrial) -> str:
    if not trial.intermediate_values:
        return ""
    step = max(trial.intermediate_values)
    return f"{_number(trial.intermediate_values[step])} at step {step}"


def _trial_href(number: int, out_dir: Path, sweep_dir: Path) -> str:
    folder = sweep_dir / str(number)
    relative = Path(os.path.relpath(folder.resolve(), out_dir.resolve())).as_posix()
    return f"{relative}/report.html" if (folder / "report.html").is_file() else f"{relative}/"


def _trials_table(trials: list[optuna.trial.FrozenTrial], out_dir: Path, sweep_dir: Path | None, multi: bool) -> str:
    """Every trial, one row each; built here since its folder links are HTML."""
    header = ["trial", "state", "values" if multi else "value", "last intermediate value", "params", "duration (s)", "error"]
    if sweep_dir is not None:
        header.append("folder")
    out = ["<table>", "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>"]
    for trial in trials:
        duration = _duration(trial)
        cells = [
            (str(trial.number), True),
            (_state(trial), False),
            (_values(trial), True),
            (_last_intermediate(trial), False),
            (_params(trial.params), False),
            ("" if duration is None else f"{duration:.1f}", True),
            (_error(trial) or "", False),
        ]
        row = "".join(f"<td{' class=num' if numeric else ''}>{html.escape(text)}</td>" for text, numeric in cells)
        if sweep_dir is not None:
            href = _trial_href(trial.number, out_dir, sweep_dir)
            row += f'<td><a href="{html.escape(href)}">{html.escape(href)}</a></td>'
        out.append(f"<tr>{row}</tr>")
    out.append("</table>")
    return "".join(out)


def _page(study, trials, metric, names, multi, images, skipped, out_dir: Path, sweep_dir: Path | None) -> str:
    directions = _directions(study)
    states = {state: 0 for state in STATES}
    for trial in trials:
        states[_state(trial)] = states.get(_state(trial), 0) + 1

    summary = [
        ["study", study.study_name],
        ["direction", ", ".join(directions)],
        ["metric", metric or ("" if names == [DEFAULT_TARGET] else ", ".join(names))],
        ["trials", len(trials)],
    ]
    sections = [Section("Study", tables=[("", ["", "value"], summary), ("trials by state", list(states), [list(states.values())])])]

    best = _best(study, trials, multi)
    if multi:
        rows = [[t.number, _values(t), _params(t.params)] for t in best]
        notes = [] if rows else ["No trial has completed yet."]
        sections.append(Section(f"Pareto front ({', '.join(f'{n}: {d}' for n, d in zip(names, directions))})",
                                tables=[("", ["trial", "values", "params"], rows)] if rows else [], notes=notes))
    elif best is None:
        sections.append(Section("Best trial", notes=["No trial has completed yet."]))
    else:
        rows = [["trial", best.number], [names[0], _number(best.value)], *[[k, _number(v) if isinstance(v, float) else v]
                                                                           for k, v in best.params.items()]]
        sections.append(Section("Best trial", tables=[("", ["", "value"], rows)]))

    sections.append(Section("Plots", images=images, notes=skipped))

    token = f"strata-trials-{uuid.uuid4().hex}"  # replaced by the trials table, whose links are HTML
    sections.append(Section("Trials", notes=[token]))

    direction = ", ".join(directions)
    subtitle = f"{direction} {metric or ', '.join(names)} · {len(trials)} trials · written {time.strftime('%Y-%m-%d %H:%M:%S')}"
    text = render(f"Sweep {study.study_name}", subtitle, sections)
    return text.replace(f'<p class="note">{token}</p>', _trials_table(trials, out_dir, sweep_dir, multi), 1)

