"""Activations by name: every Keras activation, plus `step` (or `step:<threshold>`) from layers/."""

from __future__ import annotations

import keras

from strata.errors import ConfigError, suggestion


def activation_names() -> list[str]:
    import keras

    functions = {n for n in dir(keras.activations) if not n.startswith("_")} - {"get", "serialize", "deserialize"}
    return sorted({*functions, "step"})


def _step_threshold(name: str, key: str) -> float | None:
    if name == "step":
        return 0.5
    if name.startswith("step:"):
        try:
            return float(name.split(":", 1)[1])
        except ValueError:
            raise ConfigError(f"{key}: '{name}': the step threshold must be a number, e.g. step:0.3.") from None
    return None


def check_activation(name: str | None, key: str):
    """The activation `name` as Keras accepts it (a name or strata's `step` function); refuses
    unknown names with the closest valid one."""
    if name is None:
        return None
    threshold = _step_threshold(str(name), key)
    if threshold is not None:
        if threshold != 0.5:
            raise ConfigError(
                f"{key}: '{name}': here only step (threshold 0.5) works; "
                f"add a layer {{type: Step, threshold: {threshold}}} instead."
            )
        from strata.layers import step

        return step
    try:
        keras.activations.get(name)
    except (ValueError, TypeError):
        raise ConfigError(f"{key}: unknown activation '{name}'.{suggestion(str(name), activation_names())}") from None
    return name


def activation_layer(name: str, key: str, layer_name: str):
    """A layer applying activation `name`: `step` / `step:<threshold>` give strata's Step layer."""
    from strata.layers import Step

    threshold = _step_threshold(str(name), key)
    if threshold is not None:
        return Step(threshold, name=layer_name)
    check_activation(name, key)
    return keras.layers.Activation(name, name=layer_name)
