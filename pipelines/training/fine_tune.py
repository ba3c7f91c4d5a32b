"""Two-phase fine-tuning of a pretrained backbone (the model's layer named `backbone`).

Phase 1 trains the head for `trainer.epochs` with the backbone frozen (`model.freeze`); phase 2
unfreezes the backbone (all of it, or its top `trainer.fine_tune.layers` layers) and trains the
whole model `trainer.fine_tune.epochs` more at `trainer.fine_tune.learning_rate`, as in Keras's
transfer-learning guide. A pretrained backbone's BatchNormalization layers stay frozen and in
inference mode in phase 2: their statistics come from the data they were trained on, and a small
data set's batches would only blur them.

The two phases are one timeline: phase 2's epochs are numbered after phase 1's, in the log,
TensorBoard and the backup. When phase 2 starts, the backup is written anew with phase 2's
optimizer and `fine_tune.json` beside it records the phase, so a run killed in phase 2 resumes
in phase 2.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from strata.run.atomic import write_json_atomic
from strata.run.layout import RunDir

log = logging.getLogger("strata.train")

BACKBONE = "backbone"
MARKER = "fine_tune.json"


def backbone_of(model):
    """The model's pretrained backbone (its layer named `backbone`), or None."""
    try:
        return model.get_layer(BACKBONE)
    except ValueError:
        return None


def has_second_phase(config) -> bool:
    return config.trainer.fine_tune.epochs > 0


def freeze(model, config) -> None:
    """Phase 1: freezes the backbone when `model.freeze` asks for it (before compiling)."""
    backbone = backbone_of(model)
    if backbone is None or not getattr(config.model, "freeze", False):
        return
    backbone.trainable = False
    log.info("model: backbone frozen for %d epochs (%s of %s parameters train)%s", config.trainer.epochs,
             f"{_trainable(model):,}", f"{model.count_params():,}",
             "" if has_second_phase(config) else "; trainer.fine_tune.epochs=0: it stays frozen")


def unfreeze(model, config) -> None:
    """Phase 2: unfreezes the backbone, or its top N layers, except a pretrained backbone's
    BatchNormalization layers (before compiling again)."""
    import keras

    backbone = backbone_of(model)
    backbone.trainable = True
    layers = [layer for layer in _inner(backbone).layers if layer.weights]
    wanted = config.trainer.fine_tune.layers
    if wanted != "all":
        for layer in layers[: max(len(layers) - wanted, 0)]:
            layer.trainable = False
    kept = 0
    if getattr(config.model, "pretrained", True):
        for layer in backbone._flatten_layers(include_self=False, recursive=True):
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
                kept += 1
    shown = "all" if wanted == "all" else f"the top {min(wanted, len(layers))} of {len(layers)}"
    log.info("fine-tuning: %s backbone layers unfrozen%s; %s of %s parameters train, learning rate %g",
             shown, f" ({kept} BatchNormalization layers kept frozen)" if kept else "",
             f"{_trainable(model):,}", f"{model.count_params():,}", config.trainer.fine_tune.learning_rate)


def _inner(backbone):
    """The model whose layers are the backbone's own (a text encoder wraps its KerasHub backbone)."""
    return getattr(backbone, "backbone", backbone)


def _trainable(model) -> int:
    return int(sum(v.numpy().size for v in model.trainable_weights))


@dataclass(frozen=True)
class Phase2:
    """Where phase 2 runs on the epoch timeline: epochs `start` to `end`."""

    start: int
    end: int


def resumed_phase2(run: RunDir) -> Phase2 | None:
    """Phase 2 as the backup records it, when the run stopped in phase 2; else None."""
    marker = run.backup / MARKER
    if not (marker.is_file() and run.backup_metadata.is_file()):
        return None
    record = json.loads(marker.read_text())
    return Phase2(int(record["start"]), int(record["end"]))


def begin_phase2(run: RunDir, start: int, epochs: int, callbacks: list) -> Phase2:
    """Records that phase 2 runs epochs `start` to `start + epochs` and writes the backup from
    the model as phase 2 begins (its optimizer is phase 2's), so a resume continues from here."""
    phase = Phase2(start, start + epochs)
    for callback in callbacks:
        if hasattr(callback, "backup_dir") and hasattr(callback, "_save_model"):
            callback._current_epoch, callback._last_batch_seen = start, 0
            callback._save_model()
            write_json_atomic(run.backup / MARKER, {"phase": 2, "start": phase.start, "end": phase.end})
    return phase
