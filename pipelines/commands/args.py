"""`key=value` arguments of the run commands, checked like config keys."""

from __future__ import annotations

from strata.errors import ConfigError, suggestion


def parse(argv: list[str], command: str, allowed: dict[str, str | None], required: tuple[str, ...] = ()) -> dict:
    """Parses `key=value` words; unknown keys and missing required ones are config errors."""
    values: dict[str, str | None] = dict(allowed)
    for word in argv:
        key, sep, value = word.partition("=")
        if not sep:
            raise ConfigError(f"strata {command}: expected key=value, got '{word}'. Keys: {', '.join(allowed)}.")
        if key not in allowed:
            raise ConfigError(
                f"strata {command}: unknown argument '{key}'.{suggestion(key, allowed)} Arguments: {', '.join(allowed)}."
            )
        values[key] = value
    for key in required:
        if not values.get(key):
            raise ConfigError(f"strata {command}: missing {key}=... (e.g. strata {command} {key}=<path>).")
    return values
