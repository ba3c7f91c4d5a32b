"""ONNX and TFLite artifacts, converted from the run's SavedModel (raw named inputs kept)."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

from strata.config.schema import ExportConfig
from strata.errors import ConfigError
from strata.run.atomic import atomic_path
from strata.run.layout import RunDir

log = logging.getLogger(__name__)


def convert(cfg: ExportConfig, run: RunDir, model) -> Path:
    """Converts `run`'s SavedModel to `cfg.format`; returns the written file."""
    if cfg.format == "onnx":
        return to_onnx(run, model, cfg.opset)
    if cfg.format == "tflite":
        return to_tflite(run, cfg.quantize)
    raise ValueError(cfg.format)


def to_onnx(run: RunDir, model, opset: int) -> Path:
    strings = [i.name for i in model.inputs if "string" in str(i.dtype)]
    if strings:
        raise ConfigError(
            f"export=onnx: inputs {', '.join(strings)} are raw strings, whose lookup and text layers ONNX cannot hold; "
            "use export=saved_model (or tflite) for this model."
        )
    try:
        import tf2onnx  # noqa: F401
    except ImportError:
        raise ConfigError("export=onnx needs the onnx extra: pip install 'strata[onnx]'.") from None
    path = run.export_dir / "model.onnx"
    with atomic_path(path) as tmp:
        proc = subprocess.run(
            [sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(run.saved_model), "--output", str(tmp),
             "--opset", str(opset), "--signature_def", "serving_default"],
            capture_output=True, text=True,
        )
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "no message"
            raise RuntimeError(f"tf2onnx could not convert the SavedModel: {tail}")
    log.info("exported ONNX model to %s", path)
    return path


def to_tflite(run: RunDir, quantize: bool) -> Path:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(run.saved_model))
    # lookups and text vectorization are TensorFlow ops that TFLite runs through Flex
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    flatbuffer = converter.convert()
    path = run.export_dir / "model.tflite"
    with atomic_path(path) as tmp:
        tmp.write_bytes(flatbuffer)
    log.info("exported TFLite model to %s", path)
    return path
