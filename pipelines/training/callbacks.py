"""The Keras callbacks of a run, from the `callbacks:` config: the registered ones
(`strata.callbacks.<name>`) or any class named by `_target_`."""

from __future__ import annotations

from strata.callbacks import CallbackContext
from strata.errors import ConfigError, suggestion
from strata.registry import CALLBACKS


def build_callbacks(ctx: CallbackContext, metric_names: list[str]) -> list:
    """The callbacks `ctx.config.callbacks` names, in their config order, except that those which
    add values to the epoch logs run first, so the log line, CSV and TensorBoard see them."""
    out = []
    for name, args in ctx.config.callbacks.items():
        if isinstance(args, dict):  # `_target_` entry: any importable callback class
            out.append(_instantiate(name, args))
            continue
        monitor = getattr(args, "monitor", None)
        if monitor is not None and monitor not in metric_names:
            raise ConfigError(
                f"callbacks.{name}.monitor: '{monitor}' is not logged by this model; "
                f"logged: {', '.join(metric_names)}.{suggestion(monitor, metric_names)}"
            )
        made = build(name, ctx, args.model_dump())
        out.extend(cb for cb in (made if isinstance(made, list) else [made]) if cb is not None)
    return sorted(out, key=lambda cb: not getattr(cb, "adds_logs", False))


def build(name: str, ctx: CallbackContext, args: dict):
    """One registered callback (or a list of them, or None when it does not apply to the run): a
    class is made by its `from_context(ctx, **args)` when it has one, else from its args; a
    builder function is called as `builder(ctx, **args)`."""
    target = CALLBACKS.get(name, key=f"callbacks.{name}").target
    if not isinstance(target, type):
        return target(ctx, **args)
    if hasattr(target, "from_context"):
        return target.from_context(ctx, **args)
    return target(**args)


def _instantiate(name: str, args: dict):
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    try:
        return instantiate(args)
    except InstantiationException as ex:
        raise ConfigError(f"callbacks.{name}._target_: {str(ex).splitlines()[0]}") from None
