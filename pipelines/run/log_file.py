"""The run's log file handler (`conf/hydra/default.yaml`): Python's `FileHandler`, which also
makes the folder it writes into, so a multi-worker job's workers can log to `workers/<rank>.log`."""

from __future__ import annotations

import logging
import os


class FileHandler(logging.FileHandler):
    def __init__(self, filename, mode="a", encoding=None, delay=False, errors=None):
        os.makedirs(os.path.dirname(os.path.abspath(filename)), exist_ok=True)
        super().__init__(filename, mode, encoding, delay, errors)
