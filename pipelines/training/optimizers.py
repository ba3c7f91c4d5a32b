"""Optimizers and learning-rate schedules from the `optimizer:` config."""

from __future__ import annotations

import keras

from strata.config.schema import OptimizerConfig, ScheduleConfig


def learning_rate(cfg: OptimizerConfig, total_steps: int):
    """A float or a `keras.optimizers.schedules.LearningRateSchedule` for `cfg.schedule`."""
    s: ScheduleConfig = cfg.schedule
    lr = cfg.learning_rate
    steps = s.decay_steps or max(total_steps, 1)
    schedules = keras.optimizers.schedules
    if s.name == "constant":
        return lr
    if s.name == "exponential":
        return schedules.ExponentialDecay(lr, steps, s.decay_rate, staircase=s.staircase)
    if s.name == "cosine":
        return schedules.CosineDecay(lr, steps, alpha=s.alpha)
    if s.name == "warmup_cosine":
        warmup = min(s.warmup_steps, max(steps - 1, 0))
        return schedules.CosineDecay(
            0.0 if warmup else lr,
            max(steps - warmup, 1),
            alpha=s.alpha,
            warmup_target=lr if warmup else None,
            warmup_steps=warmup,
        )
    if s.name == "piecewise":
        return schedules.PiecewiseConstantDecay(list(s.boundaries), list(s.values))
    raise ValueError(s.name)


def build_optimizer(cfg: OptimizerConfig, total_steps: int) -> keras.optimizers.Optimizer:
    """The optimizer `cfg` names, with its schedule, clipping and weight decay."""
    common = {
        "learning_rate": learning_rate(cfg, total_steps),
        "clipnorm": cfg.clipnorm,
        "clipvalue": cfg.clipvalue,
        "global_clipnorm": cfg.global_clipnorm,
    }
    if cfg.weight_decay is not None:
        common["weight_decay"] = cfg.weight_decay
    if cfg.name == "adam":
        return keras.optimizers.Adam(beta_1=cfg.beta_1, beta_2=cfg.beta_2, epsilon=cfg.epsilon, amsgrad=cfg.amsgrad, **common)
    if cfg.name == "adamw":
        common.setdefault("weight_decay", 0.004)
        return keras.optimizers.AdamW(beta_1=cfg.beta_1, beta_2=cfg.beta_2, epsilon=cfg.epsilon, amsgrad=cfg.amsgrad, **common)
    if cfg.name == "sgd":
        return keras.optimizers.SGD(momentum=cfg.momentum, nesterov=cfg.nesterov, **common)
    if cfg.name == "rmsprop":
        return keras.optimizers.RMSprop(rho=cfg.rho, momentum=cfg.momentum, epsilon=cfg.epsilon, **common)
    raise ValueError(cfg.name)
