"""Components that configs name: data sources, model families and callbacks.

One `Registry` serves every kind. A component is one module in its kind's package, named after
the component, that registers itself with its config schema:

```
strata/data/<name>_source.py         data.source=<name>    @SOURCES.register("<name>", Schema)   on `load(cfg, seed)`
strata/models/families/<name>.py     model.family=<name>   @FAMILIES.register("<name>", Schema)  on `build(ctx)`
strata/callbacks/<name>.py           callbacks.<name>      @CALLBACKS.register("<name>", Schema) on a class or builder
```

plus, where it is configurable, one YAML preset in `conf/`. Nothing else lists them: a module is
imported the first time its name is asked for, so a config is checked against the schemas of the
components it names without importing the others, and without TensorFlow (component modules
import Keras inside the functions that build things). Modules whose name starts with `_` are
helpers, not components.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from strata.errors import ConfigError, suggestion


@dataclass(frozen=True)
class Entry:
    """One registered component.

    Args:
        name: the name configs use.
        schema: the pydantic model its config section is checked against.
        target: what builds it (a source's loader, a family's builder, a callback class or builder).
        info: facts of its kind (a family's `task`, `sequence_inputs`), given at registration.
    """

    name: str
    schema: type
    target: Callable[..., Any]
    info: dict[str, Any] = field(default_factory=dict)


class Registry:
    """Components of one kind by name, found by module name and imported on first use.

    Args:
        kind: what the components are, for messages (`source`, `family`, `callback`).
        key: the config key that names one (`data.source`), for messages.
        package: the package holding one module per component.
        suffix: the module name's ending after the component's name (`_source`), default none.

    Example:

    >>> from strata.registry import SOURCES
    >>> SOURCES.get("csv").schema.__name__
    'CsvConfig'
    >>> "csv" in SOURCES.names()
    True
    """

    def __init__(self, kind: str, key: str, package: str, suffix: str = ""):
        self.kind, self.key, self.package, self.suffix = kind, key, package, suffix
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, schema: type, **info: Any) -> Callable:
        """A decorator that registers what it decorates under `name`, with its config `schema`."""

        def decorator(target: Callable) -> Callable:
            self._entries[name] = Entry(name, schema, target, info)
            return target

        return decorator

    def get(self, name: str, key: str | None = None, alternatives: str = "") -> Entry:
        """The component `name`, importing its module if needed; a `ConfigError` that names `key`
        (default: this registry's key), the choices and the closest one when there is none."""
        name = str(name)
        if name not in self._entries and name in self.names():
            importlib.import_module(self._module(name))
        if name not in self._entries:
            names = self.names()
            raise ConfigError(
                f"{key or self.key}: unknown {self.kind} '{name}', expected one of {', '.join(names)}{alternatives}."
                f"{suggestion(name, names)}"
            )
        return self._entries[name]

    def names(self) -> list[str]:
        """Every component's name, from the package's module names (nothing is imported)."""
        package = importlib.util.find_spec(self.package)
        found = {
            module.name.removesuffix(self.suffix)
            for module in pkgutil.iter_modules(package.submodule_search_locations)
            if module.name.endswith(self.suffix) and not module.name.startswith("_")
        }
        return sorted(found | set(self._entries))

    def _module(self, name: str) -> str:
        return f"{self.package}.{name}{self.suffix}"


SOURCES = Registry("source", "data.source", "strata.data", suffix="_source")
FAMILIES = Registry("family", "model.family", "strata.models.families")
CALLBACKS = Registry("callback", "callbacks", "strata.callbacks")
