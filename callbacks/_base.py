"""What strata's callbacks share: the base of their config schemas, the context they are built
from, and a Keras callback base class whose modules import without TensorFlow.

A config names a callback under `callbacks:`; its module (`strata/callbacks/<name>.py`) is
imported to check that entry's keys before TensorFlow is imported, so it may not import Keras at
its top. Callbacks that wrap a Keras class build it inside their builder; strata's own derive from
`Callback` below.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, ClassVar

from strata.config.schema import StrictModel


class CallbackArgs(StrictModel):
    """A callback's config keys: none unless a subclass adds fields."""


@dataclass
class CallbackContext:
    """What a callback is built from: the validated config, the run directory, the compiled model
    and the data bundle (and the composed, unvalidated config, for the ones that log it)."""

    config: Any
    run: Any
    model: Any
    bundle: Any
    raw_config: Any = None


class Callback:
    """The base of strata's Keras callbacks, in modules that import without TensorFlow.

    A subclass is written as one of `keras.callbacks.Callback` (or of the Keras callback class that
    `keras_base` names, e.g. `"BackupAndRestore"`): hooks, `self.model`, `super().__init__()`.
    Creating one returns an instance of a subclass that also derives from that Keras class, made
    once on first use; so the module can be imported, and the callback's config checked, before
    Keras is.

    Example:

    >>> class EpochCounter(Callback):
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         self.epochs = epoch + 1
    >>> isinstance(EpochCounter(), keras.callbacks.Callback)
    True
    """

    keras_base: ClassVar[str] = "Callback"

    def __new__(cls, *args, **kwargs):
        return super().__new__(_with_keras_base(cls))


@functools.cache
def _with_keras_base(cls: type) -> type:
    import keras

    base = getattr(keras.callbacks, cls.keras_base)
    if issubclass(cls, base):
        return cls
    return type(cls.__name__, (cls, base), {"__module__": cls.__module__, "__qualname__": cls.__qualname__, "__doc__": cls.__doc__})
