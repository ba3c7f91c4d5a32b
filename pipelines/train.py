"""`strata train`: compose the config, validate it, train (Hydra's entry point; see `strata.cli`).

Everything up to validation runs without TensorFlow, so a config error is reported at once.
"""

from __future__ import annotations

import json
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
# `${strata_local:${paths.output_dir}}`: the local folder runs are written in (Hydra's run and sweep
# directories): an s3:// or gs:// output_dir's staging folder in strata's cache, uploaded when the
# run ends (`_upload_run`); a local path unchanged
OmegaConf.register_new_resolver("strata_local", lambda path: _local_output_dir(path), replace=True)

log = logging.getLogger("strata.train")


@hydra.main(version_base="1.3", config_path="pkg://strata.conf", config_name="config")
def hydra_main(cfg: DictConfig) -> float | None:
    return run(cfg)


def run(cfg: DictConfig) -> float | None:
    """Validates and trains one composed config; returns the optimized metric (for sweeps)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from strata.config.validate import validate
    from strata.errors import UserError, UserErrorExit, WorkerLost

    multirun = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    try:
        config = validate(cfg)
        from strata.training.warm_start import check_source

        check_source(config)  # before TensorFlow starts
        _check_storage(config)
        from strata.training.trainer import train

        result = train(config, cfg)
        _upload_run(config)
    except UserError as ex:
        if multirun:
            return _failed_trial(ex)
        _remove_if_empty(cfg)
        raise UserErrorExit(ex) from None
    except WorkerLost as ex:
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


def _local_output_dir(path: str) -> str:
    from strata import storage

    return storage.staging_dir(str(path))


def _check_storage(config) -> None:
    """Object storage URLs checked before TensorFlow starts: their file system is installed (the
    `cloud` extra), the data paths' objects exist, and so does a remote `paths.output_dir`'s bucket."""
    from strata import storage

    data = config.data
    for key in ("path", "validation_path", "test_path"):
        value = getattr(data, key, None)
        if isinstance(value, str) and storage.is_remote(value):
            storage.check_url(value, f"data.{key}")
    if storage.is_remote(config.paths.output_dir):
        storage.check_url(config.paths.output_dir, "paths.output_dir", output=True)


REMOTE_RECORD = "remote.json"  # in a run folder bound for object storage: where it was uploaded


def _upload_run(config) -> None:
    """With `paths.output_dir=s3://...` (or gs://), the chief uploads the finished run folder from
    its staging folder to `<output_dir>/<the same relative path>`; the local copy stays. A failed
    upload is a `DataError` that names the kept local folder."""
    from strata import storage

    if not storage.is_remote(config.paths.output_dir):
        return
    from strata.training.multi_worker import is_chief

    if not is_chief():
        return
    from strata.errors import DataError
    from strata.run.atomic import write_json_atomic

    local = Path(config.paths.run_dir).absolute()
    record = local / REMOTE_RECORD
    # a run resumed from its copy of the bucket (resume=s3://...) goes back where it came from
    url = json.loads(record.read_text()).get("url") if record.is_file() else None
    url = url or storage.remote_location(config.paths.output_dir, local)
    write_json_atomic(local / REMOTE_RECORD, {"url": url, "local": str(local)})
    try:
        count = storage.upload_tree(local, url)
    except DataError as ex:
        raise DataError(f"{ex} The run folder was not uploaded; it is complete in {local}.") from None
    log.info("uploaded run folder to %s (%d files; local copy %s)", url, count, local)


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

