"""Hydra's sweep syntax as Optuna distributions.

`hydra.sweeper.params` (and sweep overrides on the command line) use Hydra's grammar:

    interval(0.0, 0.5)              FloatDistribution(0.0, 0.5)
    int(interval(1, 8))             IntDistribution(1, 8)          (Hydra reads interval(1, 8) as floats)
    tag(log, interval(1e-4, 0.03))  FloatDistribution(1e-4, 0.03, log=True)
    choice(32, 64, 128)             CategoricalDistribution((32, 64, 128))
    range(1, 10, 2)                 IntDistribution(1, 9, step=2)  (range's stop is exclusive)
    range(0.1, 0.5, 0.1)            FloatDistribution(0.1, 0.4, step=0.1)
    shuffle(range(...))             CategoricalDistribution of the values
    a plain value                   a fixed override, the same in every trial
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep, Transformer
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from strata.errors import ConfigError


@dataclass
class SearchSpace:
    distributions: dict[str, BaseDistribution] = field(default_factory=dict)
    fixed: dict[str, str] = field(default_factory=dict)  # key -> its override's value, as written

    def overrides(self, params: dict[str, Any]) -> list[str]:
        """The overrides of one trial: its sampled values, then the fixed ones."""
        sampled = [f"{key}={_format(value)}" for key, value in params.items()]
        return [*sampled, *(f"{key}={value}" for key, value in self.fixed.items())]

    def grid(self) -> dict[str, list]:
        """Every value of every parameter, for `GridSampler`: discrete distributions only."""
        out = {}
        for key, dist in self.distributions.items():
            if isinstance(dist, CategoricalDistribution):
                out[key] = list(dist.choices)
            elif dist.step is not None:
                n = int(math.floor((dist.high - dist.low) / dist.step + 1e-9)) + 1
                out[key] = [dist.low + i * dist.step for i in range(n)]
            else:
                raise ConfigError(f"hydra.sweeper.params.{key}: the grid sampler needs choice(...) or range(...), "
                                  "not an interval")
        return out


def search_space(arguments: list[str]) -> SearchSpace:
    """Parses `key=<sweep>` strings; later ones win (the command line over the preset)."""
    parser = OverridesParser.create()
    space = SearchSpace()
    for override in parser.parse_overrides(arguments):
        key = override.get_key_element()
        space.distributions.pop(key, None)
        space.fixed.pop(key, None)
        if override.is_sweep_override():
            space.distributions[key] = distribution(override)
        else:
            space.fixed[key] = override.get_value_element_as_str()
    return space


def distribution(override: Override) -> BaseDistribution:
    key = override.get_key_element()
    value = override.value()
    if override.is_choice_sweep() or (override.is_range_sweep() and value.shuffle):
        assert isinstance(value, (ChoiceSweep, RangeSweep))
        choices = list(override.sweep_iterator(transformer=Transformer.encode))
        return CategoricalDistribution(choices)
    if override.is_range_sweep():
        assert isinstance(value, RangeSweep)
        start, stop, step = value.start, value.stop, value.step
        if step == 0 or (stop - start) * step <= 0:
            raise ConfigError(f"{key}: range({start}, {stop}, {step}) holds no value")
        count = math.ceil((stop - start) / step - 1e-9)
        last = start + (count - 1) * step
        low, high, step = (start, last, step) if step > 0 else (last, start, -step)
        if all(isinstance(v, int) for v in (low, high, step)):
            return IntDistribution(int(low), int(high), step=int(step))
        return FloatDistribution(float(low), float(round(high, 12)), step=float(step))
    if override.is_interval_sweep():
        assert isinstance(value, IntervalSweep)
        log = "log" in value.tags
        if not value.start < value.end:
            raise ConfigError(f"{key}: interval({value.start}, {value.end}) needs its start below its end")
        if log and value.start <= 0:
            raise ConfigError(f"{key}: tag(log, interval({value.start}, {value.end})) needs a start above 0")
        if isinstance(value.start, int) and isinstance(value.end, int):
            return IntDistribution(value.start, value.end, log=log)
        return FloatDistribution(float(value.start), float(value.end), log=log)
    raise ConfigError(f"{key}: '{override.get_value_element_as_str()}' is not a sweep Optuna can sample; "
                      "use interval(a, b), tag(log, interval(a, b)), choice(a, b, ...) or range(a, b, step)")


def _format(value: Any) -> str:
    """A sampled value as an override's value (strings from `choice` are already encoded)."""
    if isinstance(value, float):
        return repr(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
