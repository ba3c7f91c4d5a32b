"""Writes a run's hyperparameters and final metrics to TensorBoard's HParams dashboard."""

from __future__ import annotations

import logging
import time

from strata.callbacks._base import Callback, CallbackArgs
from strata.callbacks._summary_writer import SummaryWriter
from strata.registry import CALLBACKS

log = logging.getLogger(__name__)

# the keys every run reports, beside the ones its command line overrides
ALWAYS = (
    "model.family",
    "model.name",
    "optimizer.name",
    "optimizer.learning_rate",
    "optimizer.schedule.name",
    "trainer.batch_size",
    "trainer.epochs",
    "trainer.precision",
    "seed",
)
# command-line keys that are not hyperparameters
IGNORED = ("hydra", "paths", "resume", "callbacks", "debug", "optimized_metric")


@CALLBACKS.register("hparams", CallbackArgs)
class HParamsLogger(Callback):
    """Records hyperparameters once the first epoch ends and the final metrics after training, so
    that the runs under one `tensorboard --logdir` (a sweep's trials) line up in the HParams dashboard.

    The TensorBoard run that holds them is `log_dir`; its `train/` and `validation/` sub-runs
    (Keras's TensorBoard callback) give the per-epoch metric columns.

    Args:
        hparams: dict, name -> bool, int, float or str.
        log_dir: str, the run's TensorBoard folder.
        trial_id: str or None, the name of the trial (default: a hash of `hparams`).

    Example:

    >>> cb = HParamsLogger({"optimizer.learning_rate": 0.01}, "logs/run")
    >>> model.fit(x, y, callbacks=[cb]); cb.write_final_metrics({"test": {"accuracy": 0.97}})
    """

    def __init__(self, hparams: dict, log_dir: str, trial_id: str | None = None):
        super().__init__()
        self.hparams = hparams
        self.trial_id = trial_id
        self.writer = SummaryWriter(log_dir)
        self._written = False
        self._started: int | None = None

    @classmethod
    def from_context(cls, ctx) -> HParamsLogger:
        return cls(collect_hparams(ctx.raw_config, ctx.config), str(ctx.run.tensorboard), trial_id=str(ctx.run.root.name))

    def on_train_begin(self, logs=None):
        self._started = self._started or int(time.time())

    # written when the first epoch ends (with the time training began), as Keras's TensorBoard
    # callback writes its first scalars: importing TensorBoard's summary modules (about 0.4 s)
    # does not keep the first step waiting
    def on_epoch_end(self, epoch, logs=None):
        self.write()

    def on_train_end(self, logs=None):
        self.write()  # a run that trained no epoch (a finished run resumed) is still in the dashboard

    def write(self) -> None:
        if self._written:
            return
        from tensorboard.plugins.hparams import api as hp

        with self.writer.as_default():
            hp.hparams(self.hparams, trial_id=self.trial_id, start_time_secs=self._started or int(time.time()))
        self.writer.close()
        self._written = True

    def write_final_metrics(self, metrics: dict[str, dict[str, float]]) -> None:
        """Writes `final/<split>_<metric>` scalars (the HParams dashboard's metric columns); a
        section that nests (`cross_validation`'s `mean`) gives `final/cross_validation_mean_<metric>`,
        and lists (its per-fold values) are left out."""
        import tensorflow as tf

        from strata.run.metrics import PER_CLASS
        from strata.run.retrieval_metrics import CURVE

        with self.writer.as_default():
            for name, value in _scalars({k: v for k, v in metrics.items() if k not in (PER_CLASS, CURVE)}):
                tf.summary.scalar(f"final/{name}", value, step=0)
            # a recommender's recall@k as a curve over k (the step axis): `retrieval/<split>_recall_at_k`
            for split, curve in metrics.get(CURVE, {}).items():
                for series in ("recall", "popularity_recall"):
                    for k, value in zip(curve["k"], curve.get(series, [])):
                        tf.summary.scalar(f"retrieval/{split}_{series}_at_k", float(value), step=int(k))
        self.writer.close()


def _scalars(values: dict, prefix: str = "") -> list[tuple[str, float]]:
    """(`<key>_<key>...`, number) for every number in a nested dict of metrics."""
    out = []
    for key, value in values.items():
        if isinstance(value, dict):
            out += _scalars(value, f"{prefix}{key}_")
        elif isinstance(value, (int, float)):
            out.append((f"{prefix}{key}", float(value)))
    return out


def collect_hparams(raw_config, config) -> dict:
    """The values of `ALWAYS` and of every key the command line (or a sweep) overrode."""
    from omegaconf import OmegaConf

    keys = list(ALWAYS)
    try:
        from hydra.core.hydra_config import HydraConfig

        if HydraConfig.initialized():
            for override in HydraConfig.get().overrides.task:
                key = override.split("=", 1)[0].lstrip("+~")
                if "=" in override and not key.startswith(IGNORED) and key not in keys:
                    keys.append(key)
    except (ImportError, ValueError):
        pass
    source = raw_config if raw_config is not None else OmegaConf.create(config.model_dump(mode="json"))
    out = {}
    for key in keys:
        value = OmegaConf.select(source, key, default=None)
        if OmegaConf.is_config(value):
            value = OmegaConf.to_container(value, resolve=True)
        if value is None:
            value = "null"
        elif not isinstance(value, (bool, int, float, str)):
            value = str(value)
        out[key] = value
    return out
