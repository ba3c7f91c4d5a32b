"""A run's visual report: `report.html` and the PNGs in `report/`, written at the end of
`strata train` and by `strata report run=<run dir>` (`strata.report.builder`); the same pictures
go to TensorBoard."""
