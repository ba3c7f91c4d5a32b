"""The sweep loop: ask Optuna for a trial, launch it as a Hydra job, tell Optuna how it ended.

`n_jobs` slots each ask for their next trial as soon as their last one ends (no batches that
wait for their slowest trial); the trial's folder is `<sweep dir>/<trial number>`, so a study
continued later, or shared by several commands, never reuses a folder. Side-by-side slots need a
launcher that runs each trial in its own process (`hydra/launcher=joblib`).
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from strata.errors import ConfigError, suggestion
from strata.sweeper import study as studies
from strata.sweeper.components import build
from strata.sweeper.search_space import search_space
from strata.sweeper.trial import Failed, Pruned

log = logging.getLogger("strata.sweeper")

IN_PROCESS_LAUNCHERS = ("hydra._internal.core_plugins.basic_launcher.BasicLauncher",)
DIRECTIONS = ("minimize", "maximize")


class OptunaSweep:
    def __init__(self, sampler: Any, pruner: Any, direction: Any, storage: str | None, study_name: str | None,
                 n_trials: int, n_jobs: int, params: DictConfig | None, **unknown: Any):
        # checked in `setup`: Hydra wraps what a plugin's constructor raises in its own error
        self.settings = dict(sampler=sampler, pruner=pruner, direction=direction, storage=storage, study_name=study_name,
                             n_trials=n_trials, n_jobs=n_jobs, params=params, **unknown)

    def setup(self, *, hydra_context, task_function, config: DictConfig) -> None:
        from hydra.core.plugins import Plugins

        self._check(**self.settings)
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(config=config, hydra_context=hydra_context,
                                                                task_function=task_function)
        self.sweep_dir = Path(str(config.hydra.sweep.dir))
        launcher = str(config.hydra.launcher.get("_target_", ""))
        self.in_process = launcher in IN_PROCESS_LAUNCHERS
        if self.n_jobs > 1 and self.in_process:
            raise ConfigError(f"hydra.sweeper.n_jobs={self.n_jobs} runs trials side by side, which needs a launcher that "
                              f"starts processes: add hydra/launcher=joblib hydra.launcher.n_jobs={self.n_jobs}")

    def sweep(self, arguments: list[str]) -> None:
        params = [f"{key}={value}" for key, value in (self.params or {}).items()]
        space = search_space([*params, *arguments])
        sampler, n_trials = self.sampler, self.n_trials
        if isinstance(sampler, functools.partial):  # GridSampler: its grid is the search space
            grid = space.grid()
            sampler = sampler(grid)
            n_trials = min(n_trials, math.prod(len(values) for values in grid.values()))
        url = studies.storage_url(self.storage, self.sweep_dir, self.in_process)
        if self.storage:
            # a study in a storage is continued, or shared by commands started together: with the
            # seed of the config each command would sample the same trials as the others
            sampler.reseed_rng()
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        study = studies.create_study(self.study_name, studies.open_storage(url), sampler, self.pruner, self.directions)
        if url is None:
            studies.LIVE[str(self.sweep_dir.resolve())] = study
        metric = self.config.get("optimized_metric")
        studies.write_record(self.sweep_dir, study.study_name, url, metric, self.directions)
        _check_folders(study, self.sweep_dir, url)
        log.info("Optuna study '%s' (%s, %s): %d trial(s) on record, %d to run, %d at a time; %s",
                 study.study_name, url or "in memory", "/".join(self.directions), len(study.trials), n_trials,
                 self.n_jobs, _pruner_name(self.pruner))
        started = time.monotonic()
        slots = _Slots(n_trials)
        if self.n_jobs == 1:
            self._slot(study, space, slots)
        else:
            threads = [threading.Thread(target=self._slot, args=(study, space, slots), name=f"trial-slot-{i}", daemon=True)
                       for i in range(self.n_jobs)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        if slots.error is not None:
            raise slots.error
        self._finish(study, metric, time.monotonic() - started)

    def _slot(self, study, space, slots: _Slots) -> None:
        """One slot: trials one after the other until the sweep's budget is used."""
        import optuna

        while slots.take():
            try:
                with slots.lock:  # the sampler reads the study's trials: one ask at a time in this process
                    trial = study.ask(fixed_distributions=space.distributions)
            except Exception as ex:
                slots.error = ex
                return
            overrides = space.overrides(trial.params)
            try:
                (result,) = self.launcher.launch([overrides], initial_job_idx=trial.number)
                value = result.return_value  # raises the job's exception, if it escaped it
            except Exception as ex:
                value = Failed(f"{type(ex).__name__}: {' '.join(str(ex).split())}")
            state, values = _outcome(value, len(self.directions))
            try:
                if state == optuna.trial.TrialState.FAIL:
                    error = getattr(value, "error", None) or f"returned {value!r}, not a number"
                    trial.set_user_attr("error", error[:2000])
                    log.warning("trial %d failed: %s", trial.number, error)
                _tell(study, trial, values, state)
            except Exception as ex:
                slots.error = ex
                return
            if state == optuna.trial.TrialState.PRUNED:
                log.info("trial %d: PRUNED after epoch %s (%.6g then)", trial.number, value.epoch, float(value))
            elif state == optuna.trial.TrialState.COMPLETE:
                log.info("trial %d: %s %s", trial.number, _format(values), " ".join(overrides[: len(trial.params)]))

    def _finish(self, study, metric: str | None, seconds: float) -> None:
        import optuna

        states = {s.name: 0 for s in optuna.trial.TrialState}
        for t in study.get_trials(deepcopy=False):
            states[t.state.name] += 1
        counts = ", ".join(f"{n} {name}" for name, n in states.items() if n)
        log.info("study '%s': %s (%.0f s for this command's trials)", study.study_name, counts or "no trials", seconds)
        results: dict[str, Any] = {"name": "optuna", "study_name": study.study_name, "metric": metric, "states": states}
        if len(self.directions) == 1:
            try:
                best = study.best_trial
            except ValueError:  # no COMPLETE trial
                best = None
            if best is not None:
                results.update(best_params=dict(best.params), best_value=float(best.value), best_trial=best.number)
                log.info("best trial %d: %s = %.6g with %s", best.number, metric or "value", best.value,
                         " ".join(f"{k}={v}" for k, v in best.params.items()))
        else:
            results["solutions"] = [{"trial": t.number, "params": dict(t.params), "values": list(t.values)}
                                    for t in study.best_trials]
        from strata.run.atomic import atomic_path

        with atomic_path(self.sweep_dir / "optimization_results.yaml") as tmp:
            tmp.write_text(OmegaConf.to_yaml(OmegaConf.create(results)))
        self._report(study, metric)

    def _report(self, study, metric: str | None) -> None:
        try:
            from strata.sweeper.report import write_sweep_report

            page = write_sweep_report(study, self.sweep_dir, metric=metric, sweep_dir=self.sweep_dir)
            log.info("sweep report: %s", page)
        except Exception as ex:  # the trials are done and recorded; a plot that fails costs them nothing
            log.warning("sweep report not written: %s: %s", type(ex).__name__, ex)


    def _check(self, sampler: Any, pruner: Any, direction: Any, storage: str | None, study_name: str | None,
               n_trials: int, n_jobs: int, params: DictConfig | None, **unknown: Any) -> None:
        if unknown:
            key = sorted(unknown)[0]
            known = ["sampler", "pruner", "direction", "storage", "study_name", "n_trials", "n_jobs", "params"]
            raise ConfigError(f"hydra.sweeper.{key}: not a key of strata's Optuna sweeper.{suggestion(key, known)}")
        self.sampler, self.pruner = build("sampler", sampler), build("pruner", pruner)
        self.directions = _directions(direction)
        self.storage, self.study_name = storage, study_name
        self.n_trials, self.n_jobs = int(n_trials), int(n_jobs)
        self.params = params
        if self.n_trials < 0:
            raise ConfigError(f"hydra.sweeper.n_trials: {n_trials} is below 0")
        if self.n_jobs < 1:
            raise ConfigError(f"hydra.sweeper.n_jobs: {n_jobs} is below 1")


class _Slots:
    """The sweep's budget of trials, shared by its slots."""

    def __init__(self, n: int):
        self.left, self.lock, self.error = n, threading.Lock(), None

    def take(self) -> bool:
        with self.lock:
            if self.left <= 0 or self.error is not None:
                return False
            self.left -= 1
            return True


def _tell(study, trial, values, state) -> None:
    """`study.tell`. GridSampler calls `study.stop()` once the last grid point is handed out,
    which Optuna allows only inside `study.optimize`; the trial is stored all the same, and the
    sweep's budget is already capped at the grid's size."""
    try:
        study.tell(trial, values=values, state=state)
    except RuntimeError as ex:
        if "Study.stop" not in str(ex):
            raise


def _outcome(value: Any, objectives: int):
    """The trial's state and values from what its job returned."""
    import optuna

    state = optuna.trial.TrialState
    if isinstance(value, Failed):
        return state.FAIL, None
    if isinstance(value, Pruned):
        return state.PRUNED, None
    try:
        values = [float(value)] if objectives == 1 else [float(v) for v in value]
    except (TypeError, ValueError):
        return state.FAIL, None
    if len(values) != objectives or any(math.isnan(v) for v in values):
        return state.FAIL, None
    return state.COMPLETE, values


def _check_folders(study, sweep_dir: Path, url: str | None) -> None:
    """A folder of a trial number the study has not handed out yet belongs to another study:
    continuing would overwrite it."""
    taken = {int(p.name) for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit() and any(p.iterdir())}
    clash = sorted(n for n in taken if n >= len(study.trials))
    if clash:
        where = "its storage" if url else "memory (hydra.sweeper.storage=null)"
        raise ConfigError(
            f"hydra.sweep.dir: {sweep_dir} already holds trial folders {clash[0]}..{max(clash)} that study "
            f"'{study.study_name}' in {where} does not have; continue the study that made them (the same "
            "hydra.sweeper.storage and study_name) or choose a new hydra.sweep.dir")


def _directions(direction: Any) -> list[str]:
    values = [direction] if isinstance(direction, str) or direction is None else list(direction)
    out = []
    for value in values:
        name = str(getattr(value, "name", value)).lower()
        if name not in DIRECTIONS:
            raise ConfigError(f"hydra.sweeper.direction: '{value}' is not minimize or maximize.{suggestion(name, DIRECTIONS)}")
        out.append(name)
    return out


def _pruner_name(pruner: Any) -> str:
    name = type(pruner).__name__ if pruner is not None else "NopPruner"
    return "no pruning" if name == "NopPruner" else f"pruning with {name}"


def _format(values: list[float] | None) -> str:
    return ", ".join(f"{v:.6g}" for v in values) if values else "no value"
