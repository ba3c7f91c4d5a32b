"""`strata report run=<run dir>`: (re)writes the run's `report.html` and its pictures.

Learning curves from the TensorBoard event files, the task's plots on the test split, the model
summary and the resolved config; see `strata.report`.
"""

from __future__ import annotations

from pathlib import Path

from strata.commands import args as cli_args
from strata.run.finished import FinishedRun


def main(argv: list[str]) -> Path:
    opts = cli_args.parse(argv, "report", {"run": None}, required=("run",))
    finished = FinishedRun.open(opts["run"])
    from strata.report.builder import write_report

    page = write_report(finished)
    print(f"wrote {page}")
    print(f"open it: file://{page}")
    return page
