"""Checks a composed config against the schema and returns it typed.

Errors name the key's full path, the value received and what was expected, with the closest
valid key or choice. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import types
import typing
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from pydantic import BaseModel, ValidationError

from strata.config.schema import RootConfig, StrictModel
from strata.errors import ConfigError, suggestion
from strata.registry import CALLBACKS, FAMILIES, SOURCES


def validate(cfg: DictConfig | dict) -> RootConfig:
    """Validates a composed config; returns the typed config (data and model typed by their
    source and family) or raises `ConfigError`."""
    if isinstance(cfg, DictConfig):
        try:
            container = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
        except OmegaConfBaseException as ex:
            key = getattr(ex, "full_key", None) or "config"
            raise ConfigError(f"{key}: {str(ex).splitlines()[0]}") from None
    else:
        container = dict(cfg)
    container.pop("hydra", None)

    root = check_section(RootConfig, container, ())
    root.data = check_section(SOURCES.get(root.data.get("source")).schema, root.data, ("data",))
    root.model = check_section(FAMILIES.get(root.model.get("family")).schema, root.model, ("model",))
    if root.trainer.fine_tune.epochs and not hasattr(root.model, "freeze"):
        raise ConfigError(
            f"trainer.fine_tune.epochs: model={root.model.family} has no pretrained backbone to fine-tune; "
            "use model=pretrained, or trainer.init_from=<run> to start from an earlier run's weights."
        )
    folds = getattr(getattr(root.data, "split", None), "folds", None)
    if root.trainer.fine_tune.epochs and folds not in (None, 1):
        raise ConfigError(
            f"trainer.fine_tune.epochs: cross-validation (data.split.folds={folds}) trains each fold in one phase; "
            "fine-tune without folds, or set trainer.fine_tune.epochs=0."
        )

    if root.logger is not None:
        _check_installed(root.logger.name)

    callbacks = {}
    for name, args in (root.callbacks or {}).items():
        if args is None or args is False:
            continue  # `callbacks.<name>=null` switches a callback off
        if isinstance(args, dict) and "_target_" in args:
            callbacks[name] = args
            continue
        schema = CALLBACKS.get(name, key=f"callbacks.{name}", alternatives=" or an entry with _target_").schema
        callbacks[name] = check_section(schema, {} if args is True else args, ("callbacks", name))
    root.callbacks = callbacks
    return root


def _check_installed(logger: str) -> None:
    """`logger=mlflow` without MLflow installed: one line saying how to install it."""
    import importlib.util

    if importlib.util.find_spec(logger) is None:
        raise ConfigError(f"logger={logger}: {logger} is not installed in this environment; "
                          f"install it with: pip install 'strata[{logger}]'")


def check_section(schema: type[BaseModel], value: Any, prefix: tuple) -> Any:
    if not isinstance(value, dict):
        raise ConfigError(f"{_path(prefix) or 'config'}: expected a mapping of keys, got {value!r}")
    try:
        return schema.model_validate(value)
    except ValidationError as ex:
        raise ConfigError(_message(schema, ex.errors()[0], prefix)) from None


def _message(schema: type[BaseModel], err: dict, prefix: tuple) -> str:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-after")))
    loc = _strip_union_tags(loc)
    path = _path(prefix + loc)
    kind = err["type"]
    got = err.get("input")
    if kind == "extra_forbidden":
        fields = _fields_at(schema, loc[:-1])
        hint = suggestion(str(loc[-1]), fields)
        valid = f" Valid keys here: {', '.join(fields)}." if fields and not hint else ""
        return f"{path}: unknown config key.{hint}{valid}"
    if kind == "missing":
        return f"{path}: required key is missing."
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        choices = [c.strip().strip("'") for c in expected.replace(" or ", ",").split(",") if c.strip()]
        return f"{path}: got {got!r}, expected one of {expected}.{suggestion(str(got), choices)}"
    if kind == "value_error":
        return f"{path or _path(prefix)}: {err['msg'].removeprefix('Value error, ')}"
    return f"{path}: {err['msg'].rstrip('.')}, got {got!r}."


def _strip_union_tags(loc: tuple) -> tuple:
    # pydantic inserts the member type (e.g. 'int', 'list[int]') into locations inside unions
    tags = {"int", "float", "str", "bool", "none", "literal", "list", "dict"}
    out = []
    for part in loc:
        if isinstance(part, str) and (part in tags or "[" in part or part.startswith("literal[")):
            continue
        out.append(part)
    return tuple(out)


def _fields_at(schema: type[BaseModel], loc: tuple) -> list[str]:
    node: Any = schema
    for part in loc:
        if not (isinstance(node, type) and issubclass(node, BaseModel)) or part not in node.model_fields:
            return []
        node = _model_in(node.model_fields[part].annotation)
    if isinstance(node, type) and issubclass(node, BaseModel):
        return list(node.model_fields)
    return []


def _model_in(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, StrictModel):
        return annotation
    if isinstance(annotation, (types.UnionType,)) or typing.get_origin(annotation) is typing.Union:
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
