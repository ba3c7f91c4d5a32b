"""`strata predict run=<run dir> input=<file or folder> [output=<file>]`: predictions for raw inputs.

Writes a CSV: the inputs' identifiers (row number or file name), then the label and each class's
probability (classifiers) or the prediction in the target's units (regression).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from strata.commands import args as cli_args
from strata.commands.inputs import read_inputs
from strata.commands.run_loading import load_config, load_model, load_task
from strata.run_dir import RunDir, atomic_path


def main(argv: list[str]) -> Path:
    opts = cli_args.parse(
        argv, "predict", {"run": None, "input": None, "output": None, "batch_size": "256"}, required=("run", "input")
    )
    run = RunDir.existing(opts["run"])
    config = load_config(run)
    described = load_task(run)
    model = load_model(run, compile=False)
    if described["task"]["kind"] == "generation":  # a GAN: input= a count of samples or an .npy of latent vectors
        x, ids = latent_inputs(opts["input"], model.latent_dim, config.seed)
    else:
        x, ids = read_inputs(opts["input"], described["features"], config.data)
    predictions = predict_arrays(model, x, int(opts["batch_size"]))
    frame = to_frame(predictions, ids, described["task"])
    output = Path(opts["output"]) if opts["output"] else run.root / "predictions" / f"{Path(opts['input']).stem}.csv"
    with atomic_path(output) as tmp:
        frame.to_csv(tmp, index=False)
    print(f"wrote {len(frame)} predictions to {output}")
    return output


def latent_inputs(value: str, latent_dim: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """A GAN's latent vectors: `value` standard normal ones (seeded), or those of an .npy file."""
    from strata.errors import DataError

    if value.isdigit():
        n = int(value)
        return np.random.default_rng(seed).standard_normal((n, latent_dim)).astype("float32"), [str(i) for i in range(n)]
    path = Path(value)
    if not path.is_file() or path.suffix.lower() != ".npy":
        raise DataError(f"input={value}: a GAN generates from a number of samples (input=16) or an .npy of latent vectors.")
    z = np.load(path, allow_pickle=False)
    if z.ndim != 2 or z.shape[1] != latent_dim:
        raise DataError(f"input={value}: latent vectors of shape {z.shape}, expected (n, {latent_dim}).")
    return z.astype("float32"), [str(i) for i in range(len(z))]


def predict_arrays(model, x: dict[str, np.ndarray], batch_size: int = 256) -> np.ndarray:
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(x).batch(batch_size).prefetch(tf.data.AUTOTUNE)
    return np.asarray(model.predict(ds, verbose=0))


def to_frame(predictions: np.ndarray, ids: list[str], task: dict):
    import pandas as pd

    frame = pd.DataFrame({"id": ids})
    kind, classes = task["kind"], task.get("classes") or []
    if kind == "binary":
        p = predictions.reshape(-1)
        frame["label"] = np.where(p >= 0.5, classes[1], classes[0])
        frame[f"prob_{classes[0]}"] = 1 - p
        frame[f"prob_{classes[1]}"] = p
    elif kind == "multiclass":
        frame["label"] = np.asarray(classes)[predictions.argmax(axis=-1)]
        for i, c in enumerate(classes):
            frame[f"prob_{c}"] = predictions[:, i]
    elif kind == "multilabel":
        for i, c in enumerate(classes):
            frame[f"prob_{c}"] = predictions[:, i]
        frame["labels"] = [" ".join(c for c, on in zip(classes, row >= 0.5) if on) for row in predictions]
    else:
        flat = predictions.reshape(len(ids), -1)
        name = task.get("target") or {"reconstruction": "reconstruction", "generation": "sample"}.get(kind, "prediction")
        if flat.shape[1] == 1:
            frame[name] = flat[:, 0]
        else:
            for i in range(flat.shape[1]):
                frame[f"{name}_{i + 1}"] = flat[:, i]
    return frame
