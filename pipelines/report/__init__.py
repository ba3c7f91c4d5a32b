"""A run's visual report: `report.html` and the PNGs in `report/`, written at the end of
`strata train` and by `strata report run=<run dir>`; the same pictures go to TensorBoard."""

from strata.report.builder import report_after_training, write_report

__all__ = ["report_after_training", "write_report"]
