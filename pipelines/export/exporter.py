"""Writes the serving artifact(s) a config's `export:` group asks for, atomically."""

from __future__ import annotations

import logging
from pathlib import Path

from pipelines.config.schema import ExportConfig
from pipelines.run_dir import RunDir, atomic_path

log = logging.getLogger(__name__)


def export_model(model, run: RunDir, cfg: ExportConfig) -> Path | None:
    """Exports `model` into `run`'s export folder; returns the artifact's path (None: no export).

    The SavedModel is always written for `saved_model`, `onnx` and `tflite`: the other two
    formats are converted from it.
    """
    if cfg.format == "none":
        return None
    path = write_saved_model(model, run.saved_model)
    if cfg.format == "saved_model":
        return path
    from pipelines.export import converters

    return converters.convert(cfg, run, model)


def write_saved_model(model, path: Path) -> Path:
    """`model` as a SavedModel whose `serving_default` takes the raw named inputs."""
    with atomic_path(path, directory=True) as tmp:
        model.export(str(tmp), format="tf_saved_model", verbose=False)
    log.info("exported SavedModel to %s", path)
    return path
