"""Imports TensorFlow without its start-up noise in the user's terminal."""

from __future__ import annotations

import contextlib
import os
import sys


def quiet_tensorflow() -> None:
    """Keeps TensorFlow's C++ start-up messages out of the user's terminal (unless they ask)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    os.environ.setdefault("ABSL_MIN_LOG_LEVEL", "3")


@contextlib.contextmanager
def _stderr_silenced():
    """Silences file descriptor 2 while TensorFlow's native libraries load and probe for CUDA:
    they print there before any log level applies. Python errors are raised, not printed, so
    none is lost."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") not in ("3",) or not hasattr(os, "dup"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow():
    """Imports TensorFlow (and initializes its devices) without its start-up noise."""
    quiet_tensorflow()
    with _stderr_silenced():
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")
    return tf
