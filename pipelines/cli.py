"""The `strata` command: train, evaluate, predict, export (see `strata --help`).

Exit codes: 0 success; 2 the user's input is wrong (one line naming the key, file, column or
row, with the closest valid choice); 75 a worker of a multi-worker job was lost (start the job
again: it resumes from its backup); 1 an unexpected failure (traceback kept, plus one line
saying what was being done).
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Callable

from strata.errors import UserError, UserErrorExit, WorkerLost, suggestion

USAGE = """\
usage: strata <command> [key=value ...]

commands:
  train     [overrides]                              train a model from the composed config
  evaluate  run=<run dir> [split=test]               re-evaluate a run's model on one of its splits
  predict   run=<run dir> input=<file, folder or -> [output=<file or ->]
                                                     write predictions for raw inputs (- : stdin/stdout)
  export    run=<run dir> [export=saved_model|onnx|tflite]  rewrite a run's serving artifacts
  explain   run=<run dir> input=<file, folder or -> [method=integrated_gradients|saliency|occlusion|permutation]
            [output=<dir>] [baseline=mean] [steps=64] [target=<class>]
                                                     attributions per raw feature, heatmaps, word colours
  report    run=<run dir>                            (re)write the run's report.html: curves, plots, summary
  log       run=<run dir> [logger.tracking_uri=<uri>] [logger.experiment_name=<name>]
                                                     upload a finished run folder to MLflow (after an
                                                     outage, or a run made without logger=mlflow)
  sweep-report sweep=<sweep dir> | study=<name> storage=<url>
                                                     the best trial, optimization history, importances as PNGs + HTML

`strata train --help` lists the config groups and Hydra's own flags (-m, --cfg job, --config-dir, ...).
`python -m strata <command> ...` is the same command in module form.
Examples:
  strata train
  strata train experiment=house_prices optimizer.learning_rate=3e-4
  strata train -m optimizer.learning_rate=0.01,0.001
  strata predict run=outputs/digits_cnn/2026-01-01_12-00-00 input=digits.npy
"""

# command -> (module, function); each function takes the list of key=value arguments
COMMANDS: dict[str, tuple[str, str]] = {
    "evaluate": ("strata.commands.evaluate", "main"),
    "predict": ("strata.commands.predict", "main"),
    "export": ("strata.commands.export", "main"),
    "explain": ("strata.commands.explain", "main"),
    "report": ("strata.commands.report", "main"),
    "log": ("strata.commands.log", "main"),
    "sweep-report": ("strata.commands.sweep_report", "main"),
}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        sys.exit(0)
    command, rest = argv[0], argv[1:]
    if command == "train":
        sys.exit(run_train(rest))
    if command not in COMMANDS:
        choices = ["train", *COMMANDS]
        _error(f"unknown command '{command}', expected one of {', '.join(choices)}.{suggestion(command, choices)}")
        sys.exit(2)
    module, function = COMMANDS[command]
    sys.exit(guarded(lambda: getattr(importlib.import_module(module), function)(rest), f"running strata {command}"))


def run_train(args: list[str]) -> int:
    """Runs Hydra's entry point for training with `args`; returns the exit code."""
    from strata.tensorflow_import import quiet_tensorflow

    quiet_tensorflow()
    try:
        args = _worker_log(_expand_resume(args))
    except UserError as ex:
        _error(str(ex))
        return 2
    os.environ["HYDRA_FULL_ERROR"] = "1"  # let composition errors reach `guarded`
    from strata import compat
    from strata.train import hydra_main

    compat.compose_once(multirun=any(a in ("-m", "--multirun") for a in args))
    _register_sweeper()

    saved = sys.argv
    sys.argv = [saved[0] if saved and saved[0].endswith("strata") else "strata", *args]
    try:
        return guarded(hydra_main, "training")
    finally:
        sys.argv = saved


def _register_sweeper() -> None:
    """Makes strata's Optuna sweeper known to Hydra. Hydra finds plugins by listing the
    `hydra_plugins` folders on the path; an editable install (`pip install -e .`) maps the package
    there through an import hook that such a listing does not see, so it is registered by hand."""
    from hydra.core.plugins import Plugins
    from hydra_plugins.strata_optuna_sweeper import StrataOptunaSweeper

    Plugins.instance().register(StrataOptunaSweeper)


def guarded(func: Callable[[], object], doing: str) -> int:
    """Calls `func`, turning user errors into one line and exit 2, anything else into exit 1."""
    from strata.config.hydra_errors import describe

    try:
        func()
    except SystemExit as ex:
        return ex.code if isinstance(ex.code, int) else (0 if ex.code is None else 1)
    except (UserError, UserErrorExit, WorkerLost) as ex:
        _error(str(ex))
        return getattr(getattr(ex, "error", ex), "exit_code", 2)
    except KeyboardInterrupt:
        _error("interrupted.")
        return 130
    except Exception as ex:
        message = describe(ex)
        if message is not None:
            _error(message)
            return 2
        traceback.print_exc()
        _error(f"internal error while {doing}: {type(ex).__name__}: {str(ex).splitlines()[0] if str(ex) else ''}")
        return 1
    return 0


def _error(message: str) -> None:
    print(f"strata: error: {' '.join(message.split())}", file=sys.stderr, flush=True)


def _worker_log(args: list[str]) -> list[str]:
    """A worker other than the chief of a multi-worker job shares the chief's run directory
    (`hydra.run.dir`): Hydra's records there are the chief's, and this worker's log is
    `workers/<rank>.log`."""
    from strata.training import multi_worker

    task = multi_worker.current()
    if task is None or task.is_chief or any(a in ("-m", "--multirun") for a in args):
        return args
    return [*args, "hydra.output_subdir=null",
            f"hydra.job_logging.handlers.file.filename=${{hydra.runtime.output_dir}}/workers/{task.rank}.log"]


def _expand_resume(args: list[str]) -> list[str]:
    """`resume=<run dir>`: the run's own overrides, its directory, then the new arguments."""
    resume = [a for a in args if a.startswith("resume=")]
    if not resume:
        return args
    from omegaconf import OmegaConf

    from strata.run.layout import RunDir

    path = resume[-1].split("=", 1)[1]
    run = RunDir.existing(path, key="resume")
    saved = [str(o) for o in OmegaConf.load(run.overrides)] if run.overrides.is_file() else []
    saved = [o for o in saved if not o.startswith(("resume=", "hydra.run.dir="))]
    rest = [a for a in args if not a.startswith("resume=")]
    # the run's folder: a local one, or the local copy of one in object storage (strata.storage)
    return [*saved, *rest, f"hydra.run.dir={run.root}", f"resume={run.root}"]
