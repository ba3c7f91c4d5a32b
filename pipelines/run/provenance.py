"""`provenance.json`: what made a run — strata's version and, when strata was started inside a
git repository, that repository's commit and whether its tracked files had changes.

```json
{"strata_version": "0.1.0", "python": "3.11.9", "git": {"commit": "9fceb02...", "dirty": false, "root": "/home/me/project"}}
```

Written when training starts (again when a run resumes); MLflow tags come from it (`strata.tracking`).
"""

from __future__ import annotations

import json
import platform
import subprocess
from pathlib import Path

from strata.run.atomic import write_json_atomic
from strata.run.layout import RunDir

GIT_SECONDS = 5


def describe(folder: str | Path) -> dict:
    """The provenance of a run started in `folder`."""
    from strata import __version__

    out: dict = {"strata_version": __version__, "python": platform.python_version()}
    git = git_state(Path(folder))
    if git is not None:
        out["git"] = git
    return out


def git_state(folder: Path) -> dict | None:
    """The commit, dirty flag and root of the git repository holding `folder` (None outside one,
    or without git). Untracked files (outputs/, say) do not make it dirty."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=GIT_SECONDS)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return None
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status), "root": git("rev-parse", "--show-toplevel")}


def write(run: RunDir, folder: str | Path) -> dict:
    values = describe(folder)
    write_json_atomic(run.provenance, values)
    return values


def read(run: RunDir) -> dict:
    """The run's provenance; {} for a run made before strata wrote it."""
    try:
        return json.loads(run.provenance.read_text())
    except (OSError, ValueError):
        return {}
