"""`trainer.init_from`: a new model starts from an earlier run's weights wherever they fit.

The source is a run directory (its `model.keras`), a `.keras` file or a `.weights.h5` file. A
`.keras` model is matched layer by layer by name (a nested model's layers as `outer/inner`): a
layer whose source namesake has weights of the same shapes takes them, any other stays at its
initial value, and the log says which. A `.weights.h5` file holds no layer names: Keras names its
groups by layer class and position (`layers/dense_1/vars`, see `strata.compat.weights_file_paths`),
so there a layer takes the groups at its own path in the file, when all their shapes match.
Optimizer state is never taken: the new run trains with its own optimizer.

A run that resumes from its own backup (`resume=` or its run directory again) does not read the
source: the backup wins.

Nothing at module level imports TensorFlow: `strata train` checks the source with `check_source`
before TensorFlow starts.
"""

from __future__ import annotations

import logging
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from strata.errors import ConfigError
from strata.run.layout import RunDir

log = logging.getLogger("strata.train")
KEY = "trainer.init_from"


def check_source(config) -> None:
    """Refuses a `trainer.init_from` that is no finished run, `.keras` or `.weights.h5` file, at
    once (before TensorFlow starts), unless the run resumes from its backup and does not need it."""
    if config.trainer.init_from is not None and not _resumes(RunDir(config.paths.run_dir)):
        source_file(config.trainer.init_from)


def source_file(source: str) -> Path:
    """The file `trainer.init_from` names (a run directory's `model.keras`), or a `ConfigError`."""
    path = Path(source)
    if path.is_dir():
        run = RunDir(path)
        if not run.model.is_file():
            weights = [p for p in (run.checkpoints / "last.weights.h5", run.checkpoints / "best.weights.h5") if p.is_file()]
            instead = f"pass its {weights[0]} instead" if weights else "pass a finished run, a .keras or a .weights.h5 file"
            raise ConfigError(f"{KEY}: {path} has no model.keras (the run did not finish); {instead}.")
        return run.model
    if not path.is_file():
        raise ConfigError(f"{KEY}: no such run directory or file: {path}")
    if not (path.suffix == ".keras" or path.name.endswith(".weights.h5")):
        raise ConfigError(f"{KEY}: {path} is neither a run directory, a .keras file nor a .weights.h5 file")
    return path


def warm_start(model, config, run: RunDir) -> None:
    """Loads `trainer.init_from`'s matching weights into `model` (built and compiled, before
    training) and logs what it took, unless the run resumes from its own backup, which then wins.

    Raises:
        ConfigError: the source cannot be read, or not one of its layers fits this model.
    """
    if config.trainer.init_from is None:
        return
    if _resumes(run):
        log.info("%s: not loaded, the run resumes from its own backup in %s", KEY, run.backup)
        return
    path = source_file(config.trainer.init_from)
    match = _from_weights_file(model, path) if path.name.endswith(".weights.h5") else _from_keras_file(model, path)
    if not match.loaded:
        raise ConfigError(f"{KEY}: no layer of {path} matches this model by name and shape "
                          f"(its layers: {_listed(match.theirs)}; this model's: {_listed(match.left)}); "
                          "start from a run of the same family and data.")
    total = sum(_size(w) for w in model.weights)
    log.info("%s %s: loaded %d of %d layers (%s of %s parameters)%s", KEY, path, len(match.loaded),
             len(match.loaded) + len(match.left), f"{match.params:,}", f"{total:,}",
             f"; left at init: {_listed(match.left)}" if match.left else "")


@dataclass
class _Match:
    """This model's layers (by path) that took the source's weights and those left at init, the
    parameters taken, and the source's own layers (for the message when nothing fits)."""

    theirs: list[str]
    loaded: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    params: int = 0

    def took(self, name: str, layer) -> None:
        self.loaded.append(name)
        self.params += sum(_size(w) for w in layer.weights)


def _resumes(run: RunDir) -> bool:
    return run.backup_metadata.is_file()


def _from_keras_file(model, path: Path) -> _Match:
    import keras

    from strata import layers  # noqa: F401  registers strata's layers for loading

    try:
        source = keras.saving.load_model(path, compile=False)
    except Exception as ex:  # a file Keras cannot read is the user's input
        raise ConfigError(f"{KEY}: cannot load {path}: {str(ex).splitlines()[0][:200]}") from None
    theirs = dict(_named_layers(source))
    match = _Match(theirs=list(theirs))
    for name, layer in _named_layers(model):
        other = theirs.get(name)
        if other is not None and _shapes(other.weights) == _shapes(layer.weights):
            layer.set_weights(other.get_weights())
            match.took(name, layer)
        else:
            match.left.append(name)
    return match


def _named_layers(model, prefix: str = ""):
    """(path, layer) for every layer with weights; a nested model's layers as `outer/inner`."""
    import keras

    for layer in model.layers:
        name = f"{prefix}{layer.name}"
        if isinstance(layer, keras.Model) and layer.layers:
            yield from _named_layers(layer, f"{name}/")
        elif layer.weights:
            yield name, layer


def _from_weights_file(model, path: Path) -> _Match:
    """Copies the source's variable groups at this model's layers' paths (when a layer's groups
    all have the same shapes there) into a file of this model's own weights, and loads that: Keras
    then assigns every variable where it belongs, a layer's sub-layers' included."""
    import h5py

    from strata.compat import weights_file_paths

    paths = weights_file_paths(model)
    with tempfile.TemporaryDirectory() as folder:
        mine = Path(folder) / "model.weights.h5"
        model.save_weights(mine)
        try:
            source = h5py.File(path, "r")
        except OSError as ex:
            raise ConfigError(f"{KEY}: cannot read {path}: {str(ex).splitlines()[0]}") from None
        with source, h5py.File(mine, "r+") as target:
            ours = _variable_groups(target)
            match = _Match(theirs=[g.removesuffix("/vars") for g in _variable_groups(source) if "optimizer" not in g])
            for name, layer in _named_layers(model):
                prefix = paths.get(id(layer))
                groups = [g for g in ours if prefix is not None and g.startswith(f"{prefix}/")]
                if groups and all(_h5_shapes(source.get(g)) == _h5_shapes(target[g]) for g in groups):
                    for group in groups:
                        for key in target[group]:
                            target[group][key][...] = source[group][key][...]
                    match.took(name, layer)
                else:
                    match.left.append(name)
        if match.loaded:
            model.load_weights(mine)
    return match


def _variable_groups(file) -> list[str]:
    """The `.../vars` groups of a Keras weights file that hold variables."""
    import h5py

    groups = []

    def visit(name, node):
        if isinstance(node, h5py.Group) and name.rsplit("/", 1)[-1] == "vars" and len(node):
            groups.append(name)

    file.visititems(visit)
    return groups


def _h5_shapes(group) -> list[tuple] | None:
    import h5py

    if not isinstance(group, h5py.Group):
        return None
    return [tuple(group[key].shape) for key in sorted(group, key=lambda k: (len(k), k))]  # "0", "1", ..., "10"


def _shapes(weights) -> list[tuple]:
    return [tuple(w.shape) for w in weights]


def _size(variable) -> int:
    return math.prod(variable.shape)


def _listed(names: list[str], most: int = 8) -> str:
    if not names:
        return "none"
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")
