"""A free-form layer graph: any `keras.layers` class or strata layer by name, with its arguments.

```yaml
family: graph
layers:
  - {type: Dense, units: 64, activation: relu, name: stem}
  - repeat: 2                       # a stacked block; names inside get _1, _2, ... appended
    layers:
      - {type: Dense, units: 64, activation: relu}
      - {type: Dense, units: 64, name: proj}
      - {type: Add, inputs: [block_input, proj]}   # a residual connection
```

Each node reads the previous node unless it names its `inputs`: earlier nodes, the data's
features by name, `features` (every feature flattened and joined) or, inside a repeat,
`block_input`. The last node (or `output`) feeds the task's head. Layer and argument names are
checked while the model is built, before training starts.
"""

from __future__ import annotations

import inspect
from typing import Any, Literal

from pydantic import Field, model_validator

from strata.errors import ConfigError, suggestion
from strata.models.schema import ModelConfig
from strata.registry import FAMILIES

KEY = "model"
RESERVED = ("type", "name", "inputs")
REPEAT_KEYS = ("repeat", "layers")
BLOCK_INPUT = "block_input"
FEATURES = "features"
# keyword arguments every Keras layer takes through **kwargs
BASE_KWARGS = {
    "name", "dtype", "trainable", "autocast", "activity_regularizer",
    "input_shape", "input_dim", "batch_size", "batch_input_shape", "weights",
}


class GraphConfig(ModelConfig):
    family: Literal["graph"] = "graph"
    layers: list[dict[str, Any]] = Field(min_length=1)
    output: str | None = None

    @model_validator(mode="after")
    def _structure(self) -> GraphConfig:
        _check_structure(self.layers, f"{KEY}.layers")
        return self


def _check_structure(specs: list, key: str) -> None:
    """Checks what needs no Keras: every node is a layer (`type`) or a `repeat` block."""
    for i, spec in enumerate(specs):
        here = f"{key}[{i}]"
        if not isinstance(spec, dict):
            raise ConfigError(f"{here}: expected a mapping like {{type: Dense, units: 32}}, got {spec!r}.")
        if "repeat" in spec:
            extra = [k for k in spec if k not in REPEAT_KEYS]
            if extra:
                raise ConfigError(f"{here}.{extra[0]}: unknown key of a repeat block, expected repeat and layers.")
            if not isinstance(spec["repeat"], int) or isinstance(spec["repeat"], bool) or spec["repeat"] < 1:
                raise ConfigError(f"{here}.repeat: expected a count of at least 1, got {spec['repeat']!r}.")
            if not isinstance(spec.get("layers"), list) or not spec["layers"]:
                raise ConfigError(f"{here}.layers: a repeat block needs a non-empty list of layers.")
            _check_structure(spec["layers"], f"{here}.layers")
            continue
        if "type" not in spec:
            near = suggestion("type", [str(k) for k in spec])
            raise ConfigError(f"{here}.type: required key is missing (the layer's class name, e.g. Dense).{near}")
        if not isinstance(spec["type"], str):
            raise ConfigError(f"{here}.type: expected a layer class name, got {spec['type']!r}.")
        inputs = spec.get("inputs")
        if inputs is not None and not (isinstance(inputs, list) and all(isinstance(n, str) for n in inputs)):
            raise ConfigError(f"{here}.inputs: expected a list of node names, got {inputs!r}.")


@FAMILIES.register("graph", GraphConfig)
def build(ctx):
    import keras

    cfg: GraphConfig = ctx.cfg
    graph = _Graph(ctx)
    previous = graph.default_input()
    previous = graph.add_all(cfg.layers, f"{KEY}.layers", previous, block_input=None, scope={}, suffix="")
    if cfg.output is not None:
        previous = graph.resolve(cfg.output, f"{KEY}.output", {}, None)
    if len(previous.shape) > 2:
        previous = keras.layers.Flatten(name="graph_flatten")(previous)
    return ctx.supervised(previous)


class _Graph:
    def __init__(self, ctx):
        self.ctx = ctx
        self.nodes: dict[str, Any] = dict(ctx.encoded)

    def default_input(self):
        if len(self.ctx.encoded) == 1:
            return next(iter(self.ctx.encoded.values()))
        return self.resolve(FEATURES, f"{KEY}.layers[0].inputs", {}, None)

    def resolve(self, name: str, key: str, scope: dict, block_input):
        if name == BLOCK_INPUT and block_input is not None:
            return block_input
        if name in scope:
            return scope[name]
        if name == FEATURES and FEATURES not in self.nodes:
            self.nodes[FEATURES] = self.ctx.flat()
        if name in self.nodes:
            return self.nodes[name]
        known = [*scope, *self.nodes, FEATURES] + ([BLOCK_INPUT] if block_input is not None else [])
        raise ConfigError(
            f"{key}: unknown node '{name}'.{suggestion(name, known)} Known here: {', '.join(dict.fromkeys(known))}."
        )

    def add_all(self, specs: list, key: str, previous, block_input, scope: dict, suffix: str):
        for i, spec in enumerate(specs):
            here = f"{key}[{i}]"
            if "repeat" in spec:
                for r in range(spec["repeat"]):
                    inner_scope: dict[str, Any] = {}
                    previous = self.add_all(
                        spec["layers"], f"{here}.layers", previous, previous, inner_scope, f"{suffix}_{r + 1}"
                    )
                continue
            previous = self.add_layer(spec, here, previous, block_input, scope, suffix)
        return previous

    def add_layer(self, spec: dict, key: str, previous, block_input, scope: dict, suffix: str):
        name = spec.get("name")
        full_name = f"{name}{suffix}" if name else None
        if full_name is not None and (full_name in self.nodes or name in scope):
            raise ConfigError(f"{key}.name: '{name}' names two nodes; node names must be unique.")
        layer = make_layer(spec, key, full_name)
        if spec.get("inputs"):
            inputs = [self.resolve(n, f"{key}.inputs", scope, block_input) for n in spec["inputs"]]
        else:
            inputs = [previous]
        try:
            out = layer(inputs if len(inputs) > 1 else inputs[0])
        except (ValueError, TypeError) as ex:
            shapes = ", ".join(str(tuple(t.shape)) for t in inputs)
            raise ConfigError(
                f"{key}: {spec['type']} cannot take input(s) of shape {shapes}: {str(ex).splitlines()[0]}"
            ) from None
        if name:
            scope[name] = out
            self.nodes[full_name] = out
        return out


def layer_classes() -> dict[str, type]:
    """Every layer a graph may name: strata's (layers/) and Keras's own."""
    import keras

    import strata.layers as strata_layers

    found = {}
    for name in dir(keras.layers):
        obj = getattr(keras.layers, name)
        if isinstance(obj, type) and issubclass(obj, keras.layers.Layer) and name not in ("Input", "InputLayer"):
            found[name] = obj
    for name in strata_layers.__all__:
        obj = getattr(strata_layers, name)
        if isinstance(obj, type) and issubclass(obj, keras.layers.Layer) and not issubclass(obj, keras.Model):
            found[name] = obj
    return found


def layer_arguments(cls: type) -> set[str] | None:
    """The keyword arguments `cls` accepts (None: any)."""
    import keras

    allowed: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        allowed |= {
            p.name for p in params
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        }
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            return allowed
        if klass is keras.layers.Layer:
            break
    return allowed | BASE_KWARGS


def make_layer(spec: dict, key: str, name: str | None = None):
    """The layer one spec names, its arguments checked against the class's signature."""
    from strata.models.activations import check_activation

    classes = layer_classes()
    type_name = spec["type"]
    if type_name not in classes:
        raise ConfigError(f"{key}.type: unknown layer '{type_name}'.{suggestion(type_name, classes)}")
    cls = classes[type_name]
    allowed = layer_arguments(cls)
    args = {}
    for arg, value in spec.items():
        if arg in RESERVED:
            continue
        if allowed is not None and arg not in allowed:
            valid = sorted(allowed - BASE_KWARGS - {"kwargs"})
            raise ConfigError(
                f"{key}.{arg}: unknown argument of {type_name}.{suggestion(arg, sorted(allowed))} "
                f"Arguments: {', '.join(valid)}."
            )
        if isinstance(value, dict) and "type" in value:  # a wrapped layer (Bidirectional, TimeDistributed)
            value = make_layer(value, f"{key}.{arg}", value.get("name"))
        elif arg == "activation" and isinstance(value, str):
            value = check_activation(value, f"{key}.{arg}")
        args[arg] = value
    if name is not None:
        args["name"] = name
    try:
        return cls(**args)
    except (ValueError, TypeError) as ex:
        raise ConfigError(f"{key}: {type_name}({_show(args)}): {str(ex).splitlines()[0]}") from None


def _show(args: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in args.items() if k != "name")
