"""`strata export run=<run dir> [export=saved_model|onnx|tflite] [exclude_seen=true|false]`: rewrite a run's
serving artifacts (`exclude_seen`: a recommender's top k without the user's training items)."""

from __future__ import annotations

from strata.commands import args as cli_args
from strata.config.schema import ExportConfig
from strata.config.validate import check_section
from strata.run.finished import load_model
from strata.run.layout import RunDir


def main(argv: list[str]) -> str:
    opts = cli_args.parse(argv, "export", {"run": None, "export": None, "format": None, "exclude_seen": "true"}, required=("run",))
    run = RunDir.existing(opts["run"])
    cfg = check_section(ExportConfig, {"format": opts["export"] or opts["format"] or "saved_model",
                                       "exclude_seen": opts["exclude_seen"]}, ("export",))
    model = load_model(run, compile=False)

    from strata.export.exporter import export_model

    path = export_model(model, run, cfg)
    print(f"exported {cfg.format} to {path}")
    return str(path)
