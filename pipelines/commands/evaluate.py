"""`strata evaluate run=<run dir> [split=test] [batch_size=N]`: re-evaluate a run's model."""

from __future__ import annotations

import json

from strata.commands import args as cli_args
from strata.errors import ConfigError
from strata.run.finished import FinishedRun


def main(argv: list[str]) -> dict[str, float]:
    opts = cli_args.parse(argv, "evaluate", {"run": None, "split": "test", "batch_size": None}, required=("run",))
    finished = FinishedRun.open(opts["run"])
    config = finished.config
    split = opts["split"]
    if split not in ("train", "validation", "test"):
        raise ConfigError(f"strata evaluate: split={split}, expected train, validation or test.")
    batch = int(opts["batch_size"]) if opts["batch_size"] else config.trainer.batch_size
    model = finished.model()
    bundle = finished.data
    if split not in bundle.splits:
        raise ConfigError(f"strata evaluate: the run has no {split} split (data.split.{split} is 0).")
    values = model.evaluate(bundle.dataset(split, batch), verbose=0, return_dict=True)
    values = {k: float(v) for k, v in values.items()}
    print(json.dumps({split: values}, indent=2, sort_keys=True))
    return values
