"""The sampler and pruner of a sweep, built from `hydra.sweeper.sampler` / `hydra.sweeper.pruner`.

The sweeper's config sets `_recursive_: false`, so Hydra hands these nodes over unbuilt and a
wrong argument (a preset's `n_startup_trials` left over after `hydra/sweeper/sampler=random`)
is reported as the user's error, naming the key and what the class takes.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from strata.errors import ConfigError, suggestion


def build(key: str, node: Any) -> Any:
    """The sampler or pruner `hydra.sweeper.<key>` describes (`_target_` and its arguments); a
    wrong argument is the user's error, named with the class's own arguments."""
    import inspect

    import optuna
    from hydra.utils import get_class, instantiate

    if node is None or not isinstance(node, DictConfig) and not isinstance(node, dict):
        return node if node is not None or key == "sampler" else optuna.pruners.NopPruner()
    target = str(node.get("_target_", ""))
    try:
        cls = get_class(target)
    except Exception:
        raise ConfigError(f"hydra.sweeper.{key}._target_: '{target}' is not a class that can be imported "
                          f"(e.g. optuna.samplers.TPESampler, optuna.pruners.MedianPruner)") from None
    accepted = [n for n in inspect.signature(cls).parameters if n not in ("self", "args", "kwargs")]
    for name in node:
        if not str(name).startswith("_") and name not in accepted:
            hint = suggestion(str(name), accepted) or f" It takes: {', '.join(accepted) or 'no arguments'}."
            raise ConfigError(f"hydra.sweeper.{key}.{name}: {cls.__name__} takes no argument '{name}'.{hint} "
                              f"(remove it with ~hydra.sweeper.{key}.{name})")
    try:
        return instantiate(node)
    except Exception as ex:
        cause = ex.__cause__ or ex
        raise ConfigError(f"hydra.sweeper.{key}: {cls.__name__} refused its arguments: {type(cause).__name__}: "
                          f"{' '.join(str(cause).split())}") from None
