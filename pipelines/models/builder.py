"""Turns the model config, the features and the task into a compiled keras.Model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras

from strata.data.bundle import DataBundle
from strata.data.features import Task
from strata.errors import ConfigError, suggestion
from strata.models import heads, preprocessing
from strata.models.losses import loss_names, metric_names
from strata.registry import FAMILIES


@dataclass
class BuildContext:
    """What a family builder gets: its config, the data description and the raw/encoded inputs."""

    cfg: Any
    bundle: DataBundle
    inputs: dict[str, Any]
    encoded: dict[str, Any]

    @property
    def task(self) -> Task:
        return self.bundle.task

    def flat(self):
        """All encoded features flattened and concatenated into one vector per example (the
        scalar numeric columns first, normalized as one block)."""
        block, joined = preprocessing.numeric_block(self.bundle, self.encoded)
        return self.joined(([] if block is None else [block]) + self.flattened(exclude=joined))

    def flattened(self, exclude=()) -> list:
        """Every encoded feature but those named in `exclude`, each flattened to one vector."""
        parts = []
        for name, tensor in self.encoded.items():
            if name in exclude:
                continue
            if len(tensor.shape) > 2:
                tensor = keras.layers.Flatten(name=f"{name}_flatten")(tensor)
            parts.append(tensor)
        return parts

    @staticmethod
    def joined(parts: list):
        """The vectors `parts` concatenated into one (`features`), or the only one."""
        return parts[0] if len(parts) == 1 else keras.layers.Concatenate(name="features")(parts)

    def single_feature(self, kinds: tuple[str, ...], instead: str = "model=mlp"):
        """The data's one feature of the given kinds (an image for a CNN, a sequence for an RNN);
        a `ConfigError` that suggests `instead` when there is not exactly one."""
        matching = [f for f in self.bundle.features if f.kind in kinds]
        if len(matching) != 1:
            found = ", ".join(f"{f.name} ({f.kind})" for f in self.bundle.features[:8])
            if len(self.bundle.features) > 8:
                found += f" and {len(self.bundle.features) - 8} more"
            named = ", ".join(kinds[:-1]) + f" or {kinds[-1]}" if len(kinds) > 1 else kinds[0]
            raise ConfigError(
                f"model={self.cfg.family} needs exactly one {named} input, the data has: {found}. "
                f"Try {instead} for tables."
            )
        return matching[0]

    def single(self, kinds: tuple[str, ...]):
        """The encoded tensor of `single_feature(kinds)`."""
        return self.encoded[self.single_feature(kinds).name]

    def supervised(self, body) -> keras.Model:
        """Puts the task's head on `body` and returns the model from raw inputs to predictions."""
        return keras.Model(self.inputs, heads.head(body, self.task), name=self.cfg.name)


def build_model(model_cfg, bundle: DataBundle) -> keras.Model:
    """Builds (but does not compile) the model a config describes, for the bundle's features and
    its settled task (`strata.data.loading.settle_task`)."""
    family = FAMILIES.get(model_cfg.family)
    inputs = preprocessing.raw_inputs(bundle.features)
    encoded = preprocessing.encode(
        bundle, inputs, model_cfg, family.info.get("sequence_inputs", False), family.info.get("raw_inputs", ())
    )
    return family.target(BuildContext(model_cfg, bundle, inputs, encoded))


def loss_and_metrics(model_cfg, task: Task) -> tuple[Any, list]:
    """The loss and metrics for `task`, or the ones the config names.

    Autoencoders carry their loss inside the model (`model.loss` picks it there); the GAN
    computes its own and logs `d_loss` and `g_loss`, named here so callbacks may monitor them.
    """
    if task.kind == "reconstruction":
        return None, []
    if task.kind == "generation":
        return None, ["d_loss", "g_loss"]
    loss = heads.default_loss(task)
    if model_cfg.loss is not None:
        loss = _lookup("model.loss", model_cfg.loss, keras.losses.get, loss_names())
    metrics = heads.default_metrics(task)
    if model_cfg.metrics is not None:
        metrics = [
            _lookup(f"model.metrics[{i}]", name, keras.metrics.get, metric_names())
            for i, name in enumerate(model_cfg.metrics)
        ]
    return loss, metrics


def _lookup(key: str, name: str, getter, choices: list[str]):
    try:
        return getter(name)
    except (ValueError, TypeError):
        raise ConfigError(f"{key}: unknown name '{name}'.{suggestion(name, choices)}") from None
