"""`python tests/crash_at.py NAME <strata arguments>`: the `strata` command, run in this process,
killed by SIGKILL at the moment it would rename a finished `NAME` (`model.keras`, `saved_model`,
`metrics.json`) into place: everything is written, nothing is committed. A crash at a chosen
event, not at whatever moment a poll happens to catch."""

from __future__ import annotations

import os
import signal
import sys

NAME = sys.argv.pop(1)
_replace = os.replace


def _replace_or_die(src, dst, *args, **kwargs):
    if os.path.basename(os.fspath(dst)) == NAME:
        os.kill(os.getpid(), signal.SIGKILL)
    return _replace(src, dst, *args, **kwargs)


os.replace = _replace_or_die

from strata.cli import main  # noqa: E402

sys.argv[0] = "strata"
main()
