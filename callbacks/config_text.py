"""Writes the run's resolved config to TensorBoard's Text dashboard."""

from __future__ import annotations

from strata.callbacks._base import Callback, CallbackArgs
from strata.callbacks._summary_writer import SummaryWriter
from strata.registry import CALLBACKS


@CALLBACKS.register("config_text", CallbackArgs)
class ConfigText(Callback):
    """Writes a YAML text (the resolved config) once, as the `config` tag of TensorBoard's Text tab,
    when the first epoch ends.

    Args:
        text: str, the YAML to show.
        log_dir: str, the TensorBoard run folder to write to.

    Example:

    >>> model.fit(x, y, callbacks=[ConfigText("lr: 0.1\\n", "logs/run")])
    """

    def __init__(self, text: str, log_dir: str):
        super().__init__()
        self.text = text
        self.writer = SummaryWriter(log_dir)
        self._written = False

    @classmethod
    def from_context(cls, ctx) -> ConfigText:
        from omegaconf import OmegaConf

        if ctx.raw_config is not None:
            container = OmegaConf.to_container(ctx.raw_config, resolve=True)
            container.pop("hydra", None)
            text = OmegaConf.to_yaml(OmegaConf.create(container))
        else:
            text = OmegaConf.to_yaml(OmegaConf.create(ctx.config.model_dump(mode="json")))
        return cls(text, str(ctx.run.tensorboard))

    # written when the first epoch ends, as Keras's TensorBoard callback writes its first scalars:
    # importing TensorBoard's summary ops (about 0.2 s) does not keep the first step waiting
    def on_epoch_end(self, epoch, logs=None):
        self.write()

    def on_train_end(self, logs=None):
        self.write()  # a run that trained no epoch (a finished run resumed) still shows its config

    def write(self) -> None:
        if self._written:
            return
        self._written = True
        import tensorflow as tf

        with self.writer.as_default():
            # four leading spaces: TensorBoard renders the text as markdown, this keeps it verbatim
            tf.summary.text("config", "\n".join("    " + line for line in self.text.splitlines()), step=0)
        self.writer.close()
