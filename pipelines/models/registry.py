"""Model families by name: `model.family` in a config picks one.

A family is a module that defines its config schema (a subclass of `ModelConfig`) and a builder
`build(ctx: BuildContext) -> keras.Model`, registered with `@register_family`. The modules import
Keras only inside their builders, so schemas are checked before TensorFlow is imported.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from strata.models.schema import ModelConfig

FAMILY_MODULES = {
    "autoencoder": "strata.models.autoencoder",
    "cnn": "strata.models.cnn",
    "gan": "strata.models.gan",
    "graph": "strata.models.graph",
    "mlp": "strata.models.mlp",
    "rnn": "strata.models.rnn",
    "transformer": "strata.models.transformer",
    "vae": "strata.models.vae",
}


@dataclass(frozen=True)
class FamilyEntry:
    name: str
    schema: type[ModelConfig]
    build: Callable[..., Any]
    sequence_inputs: bool = False
    task: str | None = None


FAMILIES: dict[str, FamilyEntry] = {}


def register_family(
    name: str, schema: type[ModelConfig], sequence_inputs: bool = False, task: str | None = None
) -> Callable:
    """Registers a builder; `sequence_inputs` asks for text as token sequences, not bags;
    `task` is the task the family always learns (`reconstruction`, `generation`), whatever the
    data's own task."""

    def decorator(build: Callable) -> Callable:
        FAMILIES[name] = FamilyEntry(name, schema, build, sequence_inputs, task)
        return build

    return decorator


def get_family(name: str) -> FamilyEntry:
    if name not in FAMILIES and name in FAMILY_MODULES:
        importlib.import_module(FAMILY_MODULES[name])
    if name not in FAMILIES:
        raise KeyError(name)
    return FAMILIES[name]


def family_names() -> list[str]:
    return sorted(FAMILY_MODULES)
