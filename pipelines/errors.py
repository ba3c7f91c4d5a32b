"""The errors that are the user's to fix.

A `UserError` ends the command with exit code 2 and one line of text: what is wrong, where
(the config key, file, column or row) and, where one exists, the closest valid choice. A lost
worker of a multi-worker job (`WorkerLost`) is one line and exit code 75. Anything else is an
internal failure and keeps its traceback (exit code 1).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(Exception):
    """A problem in the user's input: config, data or paths. Exit code 2."""

    exit_code = 2


class ConfigError(UserError):
    """A config key is unknown, of the wrong type or out of range."""


class DataError(UserError):
    """A data file is missing, unreadable or does not fit the config."""


class WorkerLost(Exception):
    """A worker of a multi-worker job stopped answering mid-training (killed, preempted, out of
    memory, unreachable). Exit code 75 (sysexits' EX_TEMPFAIL): nothing is wrong with the input;
    the job is to be started again, and resumes from its backup."""

    exit_code = 75


class UserErrorExit(BaseException):
    """Carries a `UserError` out of a Hydra job untouched (Hydra reports only `Exception`s)."""

    def __init__(self, error: UserError | WorkerLost):
        super().__init__(str(error))
        self.error = error


def closest(word: str, choices: Iterable[str]) -> str | None:
    """Returns the choice most similar to `word`, or None when nothing is close."""
    choices = [str(c) for c in choices]
    matches = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.5)
    if matches:
        return matches[0]
    lowered = {c.lower(): c for c in choices}
    if str(word).lower() in lowered:
        return lowered[str(word).lower()]
    return None


def suggestion(word: str, choices: Iterable[str]) -> str:
    """A ' Did you mean X?' sentence, or '' when no choice is close."""
    match = closest(word, choices)
    return f" Did you mean '{match}'?" if match else ""
