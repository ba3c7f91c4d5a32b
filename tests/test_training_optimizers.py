"""Optimizers, learning-rate schedules, clipping and weight decay from the `optimizer:` config."""

from __future__ import annotations

import math

import numpy as np
import pytest

from strata.config.schema import OptimizerConfig


def _lr_at(optimizer, steps):
    rate = optimizer._learning_rate
    return [float(rate(s)) if callable(rate) else float(rate) for s in steps]


def _build(total_steps=100, **cfg):
    from strata.training.optimizers import build_optimizer

    return build_optimizer(OptimizerConfig.model_validate(cfg), total_steps)


@pytest.mark.parametrize(("schedule", "expected"), [
    ({"name": "constant"}, [0.1, 0.1, 0.1]),
    ({"name": "exponential", "decay_steps": 10, "decay_rate": 0.5}, [0.1, 0.05, 0.025]),
    ({"name": "cosine"}, [0.1, 0.05, 0.0]),  # decays over the whole run (total_steps=20) by default
    ({"name": "cosine", "alpha": 0.1}, [0.1, 0.055, 0.01]),
    ({"name": "piecewise", "boundaries": [5, 15], "values": [0.1, 0.01, 0.001]}, [0.1, 0.01, 0.001]),
])
def test_schedules_give_the_documented_rates(schedule, expected):
    optimizer = _build(total_steps=20, name="sgd", learning_rate=0.1, schedule=schedule)
    np.testing.assert_allclose(_lr_at(optimizer, [0, 10, 20]), expected, rtol=1e-5, atol=1e-7)


def test_warmup_cosine_rises_linearly_then_decays():
    optimizer = _build(total_steps=110, name="adam", learning_rate=0.1,
                       schedule={"name": "warmup_cosine", "warmup_steps": 10})
    rates = _lr_at(optimizer, [0, 5, 10, 60, 110])
    np.testing.assert_allclose(rates[:3], [0.0, 0.05, 0.1], atol=1e-6)
    assert rates[3] == pytest.approx(0.05, rel=1e-4) and rates[4] == pytest.approx(0.0, abs=1e-6)


def test_each_optimizer_gets_its_own_arguments():
    import keras

    sgd = _build(name="sgd", learning_rate=0.01, momentum=0.9, nesterov=True)
    assert isinstance(sgd, keras.optimizers.SGD) and sgd.momentum == 0.9 and sgd.nesterov
    adam = _build(name="adam", beta_1=0.8, amsgrad=True)
    assert isinstance(adam, keras.optimizers.Adam) and adam.beta_1 == 0.8 and adam.amsgrad
    adamw = _build(name="adamw")
    assert isinstance(adamw, keras.optimizers.AdamW) and adamw.weight_decay == pytest.approx(0.004)
    rmsprop = _build(name="rmsprop", rho=0.8, momentum=0.5, weight_decay=0.01)
    assert isinstance(rmsprop, keras.optimizers.RMSprop) and rmsprop.rho == 0.8 and rmsprop.weight_decay == 0.01


@pytest.mark.parametrize(("clip", "expected"), [
    ({"clipvalue": 0.5}, [0.5, -0.5]),
    ({"clipnorm": 1.0}, [3 / 5, -4 / 5]),
    ({"global_clipnorm": 1.0}, [3 / 5, -4 / 5]),
])
def test_gradient_clipping_limits_the_step(clip, expected):
    import keras

    variable = keras.Variable([0.0, 0.0])
    optimizer = _build(name="sgd", learning_rate=1.0, momentum=0.0, nesterov=False, **clip)
    optimizer.apply([keras.ops.convert_to_tensor([-3.0, 4.0])], [variable])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(variable), expected, rtol=1e-5)


def test_weight_decay_shrinks_weights_without_gradient():
    import keras

    variable = keras.Variable([1.0])
    optimizer = _build(name="adamw", learning_rate=0.1, weight_decay=0.5)
    optimizer.apply([keras.ops.convert_to_tensor([0.0])], [variable])
    assert float(keras.ops.convert_to_numpy(variable)[0]) == pytest.approx(1 - 0.1 * 0.5, rel=1e-5)


def test_piecewise_needs_one_more_value_than_boundaries():
    from strata.config.validate import check_section
    from strata.errors import ConfigError

    with pytest.raises(ConfigError, match="optimizer.schedule: piecewise needs one more value"):
        check_section(OptimizerConfig, {"schedule": {"name": "piecewise", "boundaries": [5], "values": [0.1]}},
                      ("optimizer",))
    assert math.isfinite(_lr_at(_build(schedule={"name": "exponential"}), [50])[0])
