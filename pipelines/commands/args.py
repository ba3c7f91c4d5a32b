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


def local_input(value: str, key: str = "input") -> str:
    """An `input=` value as a local path: an `s3://` or `gs://` object, prefix or glob is
    downloaded into strata's cache (`strata.storage.local_copy`); anything else is kept as given."""
    from strata import storage

    if storage.is_remote(value):
        return str(storage.local_copy(value, key))
    return value


def local_output(value: str | None, key: str = "output") -> str | None:
    """An `output=` value, which must be local: the run commands write no object storage."""
    from strata import storage

    if value is not None and storage.is_remote(value):
        raise ConfigError(f"{key}={value}: outputs are written to local files; give a local path "
                          "(and copy it to the bucket afterwards).")
    return value
