"""Composes the config of `strata train` once instead of twice.

Hydra 1.3 composes every command two times: `Hydra.get_mode` composes it (as for a sweep,
swallowing any error) only to read `hydra.mode`, then `Hydra.run` composes it again. With
strata's config tree a composition costs about a quarter of a second, paid before the first
training step, and a config error costs both compositions before it is reported.

`install()` replaces `get_mode` for a plain run (no `-m`, no sweep syntax in the overrides):
it composes the config the way `Hydra.run` will, lets an error through at once, and keeps the
config for `Hydra.run`'s own composition of the same overrides. Anything else (sweeps,
`--multirun`, a config whose `hydra.mode` asks for a sweep) takes Hydra's own path unchanged.
Hydra is pinned to 1.3 (pyproject.toml); tests/test_config_errors.py checks that a run composes
its config once.
"""

from __future__ import annotations

from typing import Any

_installed = False


def install(multirun: bool) -> None:
    """Patches `Hydra.get_mode` and `Hydra.compose_config` for this process (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    from hydra._internal.hydra import Hydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.types import RunMode

    original_get_mode = Hydra.get_mode
    original_compose = Hydra.compose_config
    kept: dict[tuple, Any] = {}

    def get_mode(self, config_name, overrides):
        try:
            sweep = multirun or any(o.is_sweep_override() for o in OverridesParser.create().parse_overrides(overrides))
        except Exception:  # a malformed override: Hydra's own path reports it
            sweep = True
        if sweep:
            return original_get_mode(self, config_name, overrides)
        cfg = original_compose(self, config_name, overrides, run_mode=RunMode.RUN, with_log_configuration=False)
        mode = cfg.hydra.mode
        if mode is None or mode == RunMode.RUN:
            cfg.hydra.mode = RunMode.RUN  # what Hydra's second composition would set
            kept[(config_name, tuple(overrides))] = cfg
            return RunMode.RUN
        return mode

    def compose_config(self, config_name, overrides, run_mode, with_log_configuration=False, **kwargs):
        cfg = kept.pop((config_name, tuple(overrides)), None) if run_mode == RunMode.RUN and not kwargs else None
        if cfg is None:
            return original_compose(self, config_name, overrides, run_mode, with_log_configuration, **kwargs)
        if with_log_configuration:
            import logging

            import hydra._internal.hydra as hydra_module
            from hydra.core.utils import configure_log

            configure_log(cfg.hydra.hydra_logging, cfg.hydra.verbose)
            hydra_module.log = logging.getLogger(hydra_module.__name__)
            self._print_debug_info(config_name, overrides, run_mode)
        return cfg

    Hydra.get_mode = get_mode
    Hydra.compose_config = compose_config
