"""The report's cross-validation section (`data.split.folds`): each fold's validation metrics with
their mean and standard deviation (from metrics.json), and the folds' validation curves side by
side (from `<run>/folds/<i>/tensorboard`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from strata.formatting import metric_value
from strata.run.layout import RunDir

# metrics.json's key (strata.training.cross_validation.SECTION)
SECTION = "cross_validation"


@dataclass
class FoldsSection:
    title: str
    header: list[str]
    rows: list[list[Any]]
    notes: list[str] = field(default_factory=list)
    plots: list[tuple[str, str, Any]] = field(default_factory=list)  # (file stem, caption, figure)


def folds_section(run: RunDir, metrics: dict) -> FoldsSection | None:
    """The section of a cross-validated run, or None for a run without folds."""
    section = metrics.get(SECTION)
    if not isinstance(section, dict) or not section.get("folds"):
        return None
    names = list(section["mean"])
    records = [_record(run, i) for i in range(1, len(section["folds"]) + 1)]
    epochs = section.get("epochs") or [""] * len(section["folds"])
    rows = [
        [f"fold {i}", record.get("validation_rows", ""), e, *[_shown(fold.get(n)) for n in names]]
        for i, (fold, record, e) in enumerate(zip(section["folds"], records, epochs), start=1)
    ]
    rows.append(["mean", "", "", *[_shown(section["mean"][n]) for n in names]])
    rows.append(["std", "", "", *[_shown(section["std"][n]) for n in names]])
    notes = [
        f"Each fold's model trained on the other folds' rows and is measured here on its own (validation) rows; "
        f"std is the standard deviation over the {section['k']} folds. The test split is in no fold."
    ]
    if "final_epochs" in section:
        notes.append(
            f"The model of the rest of this page trained on all the non-test rows for {section['final_epochs']} epochs, "
            f"the mean of the epochs the folds' models ended with; its 'train' metrics are on those rows."
        )
    plots = _curves(run, len(section["folds"]), names)
    header = ["fold", "validation rows", "epochs", *names]
    return FoldsSection(f"Cross-validation: {section['k']} folds", header, rows, notes, plots)


def _curves(run: RunDir, k: int, names: list[str]) -> list[tuple[str, str, Any]]:
    from strata.report import figures
    from strata.report.history import read_history

    per_fold = {i: read_history(run.fold(i).tensorboard) for i in range(1, k + 1)}
    plots = []
    for name in names:
        series = {f"fold {i}": curves[name]["validation"] for i, curves in per_fold.items() if "validation" in curves.get(name, {})}
        if series:
            plots.append((f"folds_{name}", f"validation {name} of each fold", figures.fold_curves(name, series)))
    return plots


def _record(run: RunDir, i: int) -> dict:
    try:
        return json.loads(run.fold(i).fold_record.read_text())
    except (OSError, ValueError):
        return {}


def _shown(value) -> str:
    return metric_value(value) if isinstance(value, (int, float)) else ""
