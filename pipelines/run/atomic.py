"""Atomic writes of what readers depend on.

A reader (a user, `strata evaluate`, a serving system) finds either the complete `model.keras`,
SavedModel or `metrics.json`, or none: each is written beside its final name, then renamed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def write_json_atomic(path: Path, data: Any) -> None:
    """Writes JSON to a temporary file beside `path`, fsyncs it, then renames it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path: Path, directory: bool = False) -> Iterator[Path]:
    """Yields a temporary path beside `path`; on success it replaces `path` in one rename.

    For a directory the old one is first moved aside, then removed once the new one is in
    place, so a reader sees the old or the new tree, never a mix.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    target = tmp / path.name if not directory else tmp / "out"
    try:
        yield target
        if directory:
            old = None
            if path.exists():
                old = path.parent / f".{path.name}.old"
                shutil.rmtree(old, ignore_errors=True)
                os.replace(path, old)
            os.replace(target, path)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        else:
            with open(target, "rb") as f:
                os.fsync(f.fileno())
            os.replace(target, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
