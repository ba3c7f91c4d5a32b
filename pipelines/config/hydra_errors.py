"""Turns Hydra's and OmegaConf's composition errors into one line with the closest valid choice."""

from __future__ import annotations

import errno
import re

from strata.errors import suggestion


def describe(ex: BaseException) -> str | None:
    """One line for a composition error the user caused, or None if `ex` is not one."""
    from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
    from omegaconf.errors import OmegaConfBaseException

    if isinstance(ex, MissingConfigException):
        return _missing_option(ex)
    if isinstance(ex, OverrideParseException):
        return f"cannot parse the override: {str(ex).splitlines()[0]}"
    if isinstance(ex, ConfigCompositionException):
        cause = ex.__cause__
        text = str(ex)
        match = re.search(r"Could not override '([^']+)'", text)
        if match and isinstance(cause, OmegaConfBaseException):
            key = match.group(1)
            parent = getattr(cause, "parent_node", None)
            keys = [str(k) for k in parent.keys()] if parent is not None and hasattr(parent, "keys") else []
            leaf = key.rsplit(".", 1)[-1]
            hint = suggestion(leaf, keys)
            if hint:
                prefix = key.rsplit(".", 1)[0] + "." if "." in key else ""
                hint = f" Did you mean '{prefix}{hint.split(chr(39))[1]}'?"
            valid = f" Valid keys: {', '.join(keys)}." if keys and not hint else ""
            return f"{key}: unknown config key.{hint}{valid} (To add a new key on purpose, write +{key}=...)"
        if isinstance(cause, OmegaConfBaseException):
            return f"{getattr(cause, 'full_key', '') or 'config'}: {str(cause).splitlines()[0]}"
        return text.strip().splitlines()[0]
    if isinstance(ex, OmegaConfBaseException):
        key = getattr(ex, "full_key", None)
        return f"{key or 'config'}: {str(ex).splitlines()[0]}"
    if isinstance(ex, (ValueError, TypeError, KeyError, IndexError)) and _raised_by_config_library(ex):
        # Hydra and OmegaConf raise plain errors for some malformed overrides (`model=null`,
        # a word as a list index); they are the command line's fault, not strata's
        return f"cannot apply the overrides: {str(ex).splitlines()[0] if str(ex) else type(ex).__name__}"
    if isinstance(ex, (PermissionError, NotADirectoryError, FileExistsError, IsADirectoryError)) or (
        isinstance(ex, OSError) and ex.errno in (errno.EROFS, errno.ENOSPC, errno.EDQUOT)
    ):
        # the output folder (hydra.run.dir, paths.output_dir) cannot be written
        return f"cannot write {ex.filename or 'the run directory'}: {ex.strerror or ex}. Check hydra.run.dir / paths.output_dir."
    return None


def _missing_option(ex) -> str:
    text = str(ex)
    options = list(getattr(ex, "options", None) or [])
    missing = getattr(ex, "missing_cfg_file", None) or ""
    match = re.search(r"Could not find '([^']+)'", text)
    if match:
        missing = match.group(1)
    group, _, option = missing.rpartition("/")
    if group and options:
        return (
            f"{group}={option}: no such option in group '{group}'; available: {', '.join(options)}."
            f"{suggestion(option, options)}"
        )
    if "Cannot find primary config" in text:
        return f"{text.splitlines()[0]} (check --config-name and --config-dir)"
    return text.strip().splitlines()[0]


def _raised_by_config_library(ex: BaseException) -> bool:
    """True when the innermost frame of `ex` is in Hydra's or OmegaConf's own code."""
    tb = ex.__traceback__
    last = None
    while tb is not None:
        last = tb.tb_frame.f_code.co_filename
        tb = tb.tb_next
    return last is not None and any(f"{sep}{name}{sep}" in last for name in ("hydra", "omegaconf") for sep in ("/", "\\"))
