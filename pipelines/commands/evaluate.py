"""`strata evaluate run=<run dir> [split=test] [batch_size=N]`: re-evaluate a run's model on a split,
with the metrics `metrics.json` holds for it (a classifier's per-class ones too)."""

from __future__ import annotations

import json

from strata.commands import args as cli_args
from strata.errors import ConfigError
from strata.run.finished import FinishedRun
from strata.run.metrics import add_class_metrics


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
    results = {split: {k: float(v) for k, v in values.items()}}
    add_class_metrics(results, split, model, bundle.dataset(split, batch), finished.task)  # classifiers
    if finished.task.kind == "retrieval" and split != "train":  # recall@k and NDCG@k, beside the popularity baseline's
        from strata.run.retrieval_metrics import add_retrieval_metrics

        add_retrieval_metrics(results, model, bundle, splits=(split,))
    print(json.dumps(results, indent=2, sort_keys=True))
    return results[split]
