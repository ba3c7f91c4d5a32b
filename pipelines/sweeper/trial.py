"""A sweep trial's side of the study: how its run ended, and the Optuna trial it belongs to.

Each trial is a Hydra job whose `hydra.job.num` is its Optuna trial number (the sweeper launches
it so), inside the sweep folder that names the study (`study.json`). The trial's process finds
its `optuna.Trial` from those two, in memory or in the study's storage, to report each epoch's
value of `optimized_metric` and ask whether to stop (`strata.sweeper.pruning`).

`strata.train.run` returns the trial's value to the sweeper: a float, `Pruned` (a float, with the
epoch it stopped at) or `Failed` (NaN, with the error); any other sweeper reads them as floats.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger("strata.sweeper")

PLUGIN = "hydra_plugins.strata_optuna_sweeper"


class Pruned(float):
    """The optimized metric of a trial Optuna pruned, measured when it stopped."""

    def __new__(cls, value: float, epoch: int):
        obj = super().__new__(cls, value)
        obj.epoch = epoch
        return obj

    def __reduce__(self):
        return Pruned, (float(self), self.epoch)


class Failed(float):
    """NaN for a trial that failed, with its error (`<type>: <message>`)."""

    def __new__(cls, error: str):
        obj = super().__new__(cls, "nan")
        obj.error = error
        return obj

    def __reduce__(self):
        return Failed, (self.error,)


def current_trial() -> Any | None:
    """This job's `optuna.Trial` when it is a trial of strata's Optuna sweeper, else None."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return None
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode != RunMode.MULTIRUN or not str(hydra_cfg.sweeper.get("_target_", "")).startswith(PLUGIN):
        return None
    import optuna

    from strata import compat
    from strata.sweeper.components import build
    from strata.sweeper.study import LIVE, open_storage, read_record

    sweep_dir = Path(str(hydra_cfg.sweep.dir)).resolve()
    study = LIVE.get(str(sweep_dir))
    if study is None:
        record = read_record(sweep_dir)
        if not record or not record.get("storage"):
            log.warning("this trial found no study in %s; its epochs are not reported to Optuna", sweep_dir)
            return None
        study = optuna.load_study(study_name=record["study_name"], storage=open_storage(record["storage"]),
                                  pruner=build("pruner", hydra_cfg.sweeper.get("pruner")))
    return optuna.Trial(study, compat.optuna_trial_id(study, int(hydra_cfg.job.num)))

