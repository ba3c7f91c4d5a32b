"""Loads the configured data source and settles the run's task, in one place: from the data,
as the root `task` key says, or as the model family requires (autoencoders learn
`reconstruction`, the GAN `generation`)."""

from __future__ import annotations

import logging

import numpy as np

from strata.data.bundle import DataBundle
from strata.data.features import Task
from strata.errors import ConfigError, DataError
from strata.registry import FAMILIES, SOURCES

log = logging.getLogger(__name__)

SUPERVISED = ("regression", "binary", "multiclass", "multilabel", "forecast")


def load_data(config) -> DataBundle:
    """The data bundle of a validated config, with its task final and target statistics set."""
    bundle = SOURCES.get(config.data.source).target(config.data, config.seed)
    settle_task(bundle, config.task, config.model.family)
    for name in ("train", "validation", "test"):
        if name in bundle.splits and bundle.size(name) == 0:
            del bundle.splits[name]
    if "train" not in bundle.splits:
        raise DataError("data: the training split is empty; the data has too few rows for the split fractions.")
    log.info(
        "data: %s (%s), %s",
        config.data.name,
        bundle.task.kind,
        ", ".join(f"{k} {bundle.size(k)}" for k in ("train", "validation", "test") if k in bundle.splits),
    )
    return bundle


def settle_task(bundle: DataBundle, kind: str, family: str) -> None:
    """Makes `bundle.task` the run's task: the data's own unless `kind` (the root `task` key) is not
    `auto`, then the one the model family always learns, if any; checks that a classifier has two
    classes, and sets a regression's target statistics."""
    if kind != "auto" and kind != bundle.task.kind:
        _override_task(bundle, kind)
    task = bundle.task
    if task.kind in ("binary", "multiclass") and task.num_classes < 2:
        raise DataError(
            f"data: target '{task.target}' has a single class ({(task.classes or ['?'])[0]!r}); "
            "a classifier needs at least two. Check data.target."
        )
    set_target_statistics(task, bundle.splits["train"])
    unsupervised = ("reconstruction", "generation")
    family_task = FAMILIES.get(family).info.get("task")
    if family_task is not None and task.kind != family_task:
        if task.kind in unsupervised:
            raise ConfigError(f"model={family} learns {family_task}, but the config sets task={task.kind}. Use task=auto.")
        bundle.task = Task(family_task, target=None)
    elif family_task is None and task.kind == "retrieval":
        raise ConfigError(f"task=retrieval: interactions (data=interactions) train a recommender; use model=two_tower, not model={family}.")
    elif family_task is None and task.kind in unsupervised:
        raise ConfigError(
            f"task={task.kind}: model={family} is supervised; use model=autoencoder, vae or gan (or task=auto)."
        )


def set_target_statistics(task: Task, train) -> None:
    """A regression's or forecast's target mean and standard deviation, from the training split
    `train` (the model standardizes its targets with them)."""
    if task.kind in ("regression", "forecast") and train.y is not None:
        y = train.y.astype("float64").reshape(len(train), -1)
        task.target_mean = np.nanmean(y, axis=0).tolist()
        task.target_std = np.maximum(np.nanstd(y, axis=0), 1e-8).tolist()


def _override_task(bundle: DataBundle, kind: str) -> None:
    task = bundle.task
    if kind in ("reconstruction", "generation"):  # autoencoders and GANs learn from the inputs alone
        task.kind, task.classes = kind, None
        return
    if kind == "regression" and task.kind in ("binary", "multiclass"):
        classes = np.asarray(task.classes)
        for split in bundle.splits.values():
            try:
                split.y = classes[split.y].astype("float32")
            except ValueError:
                raise ConfigError(f"task=regression: target '{task.target}' holds values that are not numbers.") from None
        task.kind, task.classes = "regression", None
        return
    if kind in ("binary", "multiclass") and task.kind == "regression":
        values = np.concatenate([split.y for split in bundle.splits.values()]).astype("float64")
        classes = np.unique(values)
        if kind == "binary" and len(classes) != 2:
            raise ConfigError(f"task=binary: target '{task.target}' has {len(classes)} values, not 2. Try task=multiclass.")
        if len(classes) > 1000:
            raise ConfigError(f"task={kind}: target '{task.target}' has {len(classes)} distinct values; too many classes.")
        for split in bundle.splits.values():
            split.y = np.searchsorted(classes, split.y.astype("float64")).astype("int32")
        names = [str(int(c)) if float(c).is_integer() else str(c) for c in classes]
        task.kind, task.classes = kind, names
        return
    if kind in ("binary", "multiclass") and task.kind in ("binary", "multiclass"):
        if kind == "binary" and task.num_classes != 2:
            raise ConfigError(f"task=binary: target '{task.target}' has {task.num_classes} classes, not 2. Try task=multiclass.")
        task.kind = kind
        return
    raise ConfigError(f"task={kind}: cannot train a {kind} model on this data, whose task is {task.kind}. Try task=auto.")
