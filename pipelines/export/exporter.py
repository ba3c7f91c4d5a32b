"""Writes the serving artifact(s) a config's `export:` group asks for, atomically.

What is served depends on the model family:

- supervised models: `serving_default` maps the raw named inputs to the prediction;
- the GAN: `serving_default` is its generator, `latent` vectors in, samples out;
- autoencoders and VAEs: `serving_default` maps raw inputs to their reconstruction, and an
  `encoder` signature maps them to the latent code (`latent`, and `latent_log_var` for a VAE);
- models with their own `serving_endpoints` (two-tower retrieval: a raw user id -> its top-k
  item ids, and `score` for (user, item) pairs): those, the first as `serving_default`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from strata import compat
from strata.config.schema import ExportConfig
from strata.run.atomic import atomic_path
from strata.run.layout import RunDir

log = logging.getLogger(__name__)

# layers whose outputs the `encoder` signature returns, by output name
ENCODER_OUTPUTS = ("latent", "latent_log_var")


def export_model(model, run: RunDir, cfg: ExportConfig) -> Path | None:
    """Exports `model` into `run`'s export folder; returns the artifact's path (None: no export).

    The SavedModel is always written for `saved_model`, `onnx` and `tflite`: the other two
    formats are converted from it.
    """
    if cfg.format == "none":
        return None
    path = write_saved_model(model, run.saved_model, exclude_seen=cfg.exclude_seen)
    if cfg.format == "saved_model":
        return path
    from strata.export import converters

    return converters.convert(cfg, run, serving_model(model))


def serving_model(model):
    """The model behind `serving_default`: a GAN's generator, otherwise the model itself."""
    generator = getattr(model, "generator", None)
    return generator if generator is not None else model


def encoder_model(model):
    """raw inputs -> latent code, for models with a `latent` layer (autoencoders); else None."""
    import keras

    names = {layer.name for layer in getattr(model, "layers", [])}
    if "latent" not in names or not hasattr(model, "inputs") or getattr(model, "generator", None) is not None:
        return None
    outputs = {name: model.get_layer(name).output for name in ENCODER_OUTPUTS if name in names}
    return keras.Model(model.inputs, outputs, name="encoder")


def write_saved_model(model, path: Path, exclude_seen: bool = True) -> Path:
    """`model` as a SavedModel whose `serving_default` takes the raw named inputs (a GAN: its
    generator's latent vectors), plus an `encoder` signature for autoencoders, or the model's
    own `serving_endpoints` (a recommender: without the user's training items when `exclude_seen`)."""
    import keras

    served = serving_model(model)
    encoder = encoder_model(model)
    with atomic_path(path, directory=True) as tmp:
        if hasattr(served, "serving_endpoints"):
            archive = keras.export.ExportArchive()
            archive.track(served)
            for name, (fn, signature) in served.serving_endpoints(exclude_seen=exclude_seen).items():
                archive.add_endpoint(name, fn, signature)
            archive.write_out(str(tmp), verbose=False)
        elif encoder is None:
            served.export(str(tmp), format="tf_saved_model", verbose=False)
        else:
            signature = compat.input_signature(served)
            archive = keras.export.ExportArchive()
            archive.track_and_add_endpoint("serve", served, signature)
            archive.track_and_add_endpoint("encoder", encoder, signature)
            archive.write_out(str(tmp), verbose=False)
    log.info("exported SavedModel to %s", path)
    return path
