"""How much of a data set strata holds in memory: the budget behind `data.in_memory_max_mb=null`.

A CSV is read whole into a table of strings before its columns are typed; measured, that costs
about `LOAD_FACTOR` times the file's size at its peak (Python strings of a few bytes each),
after which the typed float32 columns are far smaller. A file is loaded whole when that peak fits
`BUDGET_SHARE` of the memory available now, and streamed otherwise:

    in memory  <=>  LOAD_FACTOR x file MB  <=  BUDGET_SHARE x available MB

The available memory is the smallest of what the system reports as available (Linux's
`MemAvailable`, else free pages) and what the process's cgroup (a container, a Kubernetes pod, a
SLURM job) still allows; so a job on a shared node or in a small pod streams sooner.
"""

from __future__ import annotations

import os
from pathlib import Path

LOAD_FACTOR = 14.0  # peak bytes of reading a CSV as strings, per byte of file
BUDGET_SHARE = 0.25  # of the available memory: the rest is TensorFlow's, the model's and other processes'
CGROUP_FILES = (
    ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),  # cgroup v2
    ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),  # v1
)


def available_mb() -> float | None:
    """The memory this process can still use, in MB (None when the system does not say)."""
    candidates = [v for v in (_system_available(), _cgroup_available()) if v is not None]
    return min(candidates) / 2**20 if candidates else None


def budget_mb() -> float | None:
    """The peak memory a data set may take while loading (None when the system does not say)."""
    available = available_mb()
    return None if available is None else BUDGET_SHARE * available


def csv_threshold_mb(budget: float | None) -> float:
    """The largest CSV (MB on disk) loaded whole under `budget` (MB); 100 MB without one."""
    return 100.0 if budget is None else budget / LOAD_FACTOR


def _system_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _cgroup_available() -> int | None:
    for limit_file, usage_file in CGROUP_FILES:
        try:
            limit = Path(limit_file).read_text().strip()
            if limit == "max" or int(limit) >= 2**60:  # no limit
                return None
            return max(0, int(limit) - int(Path(usage_file).read_text().strip()))
        except (OSError, ValueError):
            continue
    return None
