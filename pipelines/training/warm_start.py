"""`trainer.init_from`: a new model starts from an earlier run's weights wherever they fit.

The source is a run directory (its `model.keras`), a `.keras` file or a `.weights.h5` file. A
`.keras` model is matched layer by layer by name (a nested model's layers as `outer/inner`): a
layer whose source namesake has weights of the same shapes takes them, any other stays at its
initial value, and the log says which. A `.weights.h5` file holds no layer names: Keras names its
groups by layer class and position, so its groups are matched in that order, each checked by
shape. Optimizer state is never taken: the new run trains with its own optimizer.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import keras

from strata.errors import ConfigError
from strata.run.layout import RunDir

log = logging.getLogger("strata.train")
KEY = "trainer.init_from"


def warm_start(model, config, run: RunDir) -> None:
    """Loads `trainer.init_from`'s matching weights into `model` (built, before training), unless
    the run resumes from its own backup, which then wins."""
    source = config.trainer.init_from
    if source is None:
        return
    if (run.backup / "training_metadata.json").is_file():
        log.info("%s: skipped, the run resumes from its own backup in %s", KEY, run.backup)
        return
    path = Path(source)
    if path.is_dir():
        path = RunDir(path).model  # the schema checked that it exists (strata.config.schema.TrainerConfig)
    if path.name.endswith(".weights.h5"):
        loaded, left, params = _from_weights_file(model, path)
    else:
        loaded, left, params = _from_keras_file(model, path)
    if not loaded:
        raise ConfigError(f"{KEY}: no layer of {path} matches this model by name and shape "
                          f"(this model's layers: {_listed(left)}); start from a run of the same family and data.")
    total = sum(int(w.numpy().size) for w in model.weights)
    log.info("%s %s: loaded %d of %d layers (%s of %s parameters)%s", KEY, path, len(loaded), len(loaded) + len(left),
             f"{params:,}", f"{total:,}", f"; left at init: {_listed(left)}" if left else "")


def _from_keras_file(model, path: Path) -> tuple[list[str], list[str], int]:
    from strata import layers  # noqa: F401  registers strata's layers for loading

    try:
        source = keras.saving.load_model(path, compile=False)
    except Exception as ex:  # a file Keras cannot read is the user's input
        raise ConfigError(f"{KEY}: cannot load {path}: {str(ex).splitlines()[0][:200]}") from None
    theirs = dict(_named_layers(source))
    loaded, left, params = [], [], 0
    for name, layer in _named_layers(model):
        match = theirs.get(name)
        if match is not None and _shapes(match.weights) == _shapes(layer.weights):
            layer.set_weights(match.get_weights())
            loaded.append(name)
            params += sum(int(w.numpy().size) for w in layer.weights)
        else:
            left.append(name)
    return loaded, left, params


def _named_layers(model, prefix: str = ""):
    """(path, layer) for every layer with weights; a nested model's layers as `outer/inner`."""
    for layer in model.layers:
        name = f"{prefix}{layer.name}"
        if isinstance(layer, keras.Model) and layer.layers:
            yield from _named_layers(layer, f"{name}/")
        elif layer.weights:
            yield name, layer


def _shapes(weights) -> list[tuple]:
    return [tuple(w.shape) for w in weights]


def _from_weights_file(model, path: Path) -> tuple[list[str], list[str], int]:
    """Copies the source's variable groups that match this model's (same Keras path, same shapes)
    into a file of this model's own weights, and loads that."""
    import h5py

    loaded, left, params = [], [], 0
    with tempfile.TemporaryDirectory() as folder:
        mine = Path(folder) / "model.weights.h5"
        model.save_weights(mine)
        try:
            source = h5py.File(path, "r")
        except OSError as ex:
            raise ConfigError(f"{KEY}: cannot read {path}: {ex}") from None
        with source, h5py.File(mine, "r+") as target:
            for group in _variable_groups(target):
                theirs = source.get(group)
                ours = target[group]
                if theirs is not None and _h5_shapes(theirs) == _h5_shapes(ours) and len(ours):
                    for key in ours:
                        ours[key][...] = theirs[key][...]
                    loaded.append(group.removeprefix("layers/").removesuffix("/vars"))
                    params += sum(int(ours[key].size) for key in ours)
                elif len(ours):
                    left.append(group.removeprefix("layers/").removesuffix("/vars"))
        model.load_weights(mine)
    return loaded, left, params


def _variable_groups(file) -> list[str]:
    """The `.../vars` groups of a Keras weights file, the optimizer's left out."""
    groups = []

    def visit(name, node):
        if name.endswith("vars") and not name.startswith("optimizer") and hasattr(node, "keys"):
            groups.append(name)

    file.visititems(visit)
    return groups


def _h5_shapes(group) -> list[tuple]:
    return [tuple(group[key].shape) for key in sorted(group, key=int)]


def _listed(names: list[str], most: int = 8) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "") if names else "none"
