"""`strata train`: compose the config, validate it, train (Hydra's entry point; see `strata.cli`).

Everything up to validation runs without TensorFlow, so a config error is reported at once.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

# `${strata_data_dir:}`: the data sets that ship inside the package (strata/datasets/)
OmegaConf.register_new_resolver(
    "strata_data_dir", lambda: str(Path(__file__).resolve().parent / "datasets"), replace=True
)
# `${strata_cwd:}`: the folder strata was started from; unlike ${hydra:runtime.cwd} it also
# resolves where Hydra's launcher computes the sweep directory, before any job exists
OmegaConf.register_new_resolver("strata_cwd", lambda: os.getcwd(), replace=True)

log = logging.getLogger("strata.train")


@hydra.main(version_base="1.3", config_path="pkg://strata.conf", config_name="config")
def hydra_main(cfg: DictConfig) -> float | None:
    return run(cfg)


def run(cfg: DictConfig) -> float | None:
    """Validates and trains one composed config; returns the optimized metric (for sweeps)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from strata.config.validate import validate
    from strata.errors import UserError, UserErrorExit

    multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    try:
        config = validate(cfg)
        from strata.training.warm_start import check_source

        check_source(config)  # before TensorFlow starts
        from strata.training.trainer import train

        result = train(config, cfg)
    except UserError as ex:
        if multirun:
            return _failed_trial(ex)
        _remove_if_empty(cfg)
        raise UserErrorExit(ex) from None
    except Exception as ex:
        if not multirun:
            raise
        return _failed_trial(ex)
    value = _optimized_value(config.optimized_metric, result.metrics)
    if result.pruned is not None and value is not None:
        from strata.sweeper.trial import Pruned

        return Pruned(value, result.pruned["epoch"])
    return value


def _failed_trial(ex: BaseException) -> float:
    """A sweep goes on past a failed trial: log it; the sweeper gets NaN, with the error
    (`strata.sweeper.trial.Failed`)."""
    from hydra.core.hydra_config import HydraConfig

    from strata.sweeper.trial import Failed

    job = HydraConfig.get().job
    error = f"{type(ex).__name__}: {' '.join(str(ex).split())}"
    log.error("trial %s (%s) failed: %s", job.num, job.override_dirname or "defaults", error)
    return Failed(error)


def _remove_if_empty(cfg: DictConfig) -> None:
    """Removes a run directory that holds nothing but Hydra's records, after a refused config."""
    import shutil

    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return
    root = Path(HydraConfig.get().runtime.output_dir)
    records = {".hydra", "train.log", ".lock", "provenance.json", "mlflow.json"}  # written before the data is read
    leftovers = {p.name for p in root.iterdir()} - records if root.is_dir() else set()
    if root.is_dir() and not leftovers:
        logging.shutdown()
        shutil.rmtree(root, ignore_errors=True)


def _optimized_value(name: str | None, metrics: dict) -> float | None:
    """The value `optimized_metric` names in the run's metrics. A cross-validated run has no
    validation split of its final model: `validation/<metric>` and `cross_validation/<metric>`
    are then the folds' mean."""
    if not name:
        return None
    from strata.run.metrics import scalar_metrics

    split, _, metric = name.partition("/")
    if not metric:
        split, metric = "validation", name
    sections = scalar_metrics(metrics)
    if "cross_validation" in metrics:
        sections["cross_validation"] = metrics["cross_validation"]["mean"]
        sections.setdefault("validation", sections["cross_validation"])
    try:
        return float(sections[split][metric])
    except KeyError:
        from strata.errors import ConfigError, suggestion

        known = [f"{s}/{m}" for s, values in sections.items() for m in values]
        raise ConfigError(f"optimized_metric: '{name}' is not among the run's metrics.{suggestion(name, known)}") from None

