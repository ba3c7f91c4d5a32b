"""`strata predict run=<run dir> input=<file, folder or -> [output=<file or ->]`: predictions for raw inputs.

Writes a CSV: the inputs' identifiers (row number or file name), then the label and each class's
probability (classifiers) or the prediction in the target's units (regression); for a recommender
(`model=two_tower`, input= user ids), each user's top k items (`strata.run.recommendations`). `input=-` reads
stdin, `output=-` writes the CSV to stdout (and everything else to stderr, so that it pipes).
How the input was read (its delimiter, header and rows) is logged on stderr.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from strata.commands import args as cli_args
from strata.data.features import Task
from strata.run import prediction_table, raw_inputs
from strata.run.atomic import atomic_path
from strata.run.finished import FinishedRun
from strata.run.inference import predict_raw


def main(argv: list[str]) -> Path:
    opts = cli_args.parse(
        argv, "predict", {"run": None, "input": None, "output": None, "batch_size": "256", "k": None}, required=("run", "input")
    )
    cli_args.local_output(opts["output"])
    finished = FinishedRun.open(opts["run"])
    source = cli_args.local_input(opts["input"])  # an s3:// or gs:// input: its local copy
    if finished.task.kind == "retrieval":  # a recommender: input= user ids, k= items per user
        frame = _recommendations(finished, source, opts["k"])
    else:
        frame = _predictions(finished, source, int(opts["batch_size"]))
    if opts["output"] == "-":
        _to_stdout(frame)
        print(f"wrote {len(frame)} predictions to stdout", file=sys.stderr)
        return Path("-")
    output = Path(opts["output"]) if opts["output"] else finished.run.root / "predictions" / f"{raw_inputs.input_stem(opts['input'])}.csv"
    with atomic_path(output) as tmp:
        frame.to_csv(tmp, index=False)
    print(f"wrote {len(frame)} predictions to {output}")
    return output


def _predictions(finished: FinishedRun, source: str, batch_size: int):
    """The model's predictions for the raw inputs of `source`, as the predictions table."""
    if finished.task.kind == "generation":  # a GAN: input= a count of samples or an .npy of latent vectors
        model = finished.model(compile=False)
        x, ids = latent_inputs(source, model.latent_dim, finished.config.seed)
    else:  # the input first: a file that cannot be read ends the command before the model loads
        inputs = raw_inputs.read(source, finished.features, finished.config.data)
        print(inputs.summary, file=sys.stderr)
        x, ids = inputs.x, inputs.ids
        model = finished.model(compile=False)
    return to_frame(predict_raw(model, x, batch_size), ids, finished.task)


def _recommendations(finished: FinishedRun, source: str, k: str | None):
    """A recommender's top k items (default: the model's `top_k`) for the user ids of `source`,
    one row per user and rank; unknown users get the popularity fallback (`strata.run.recommendations`)."""
    from strata.errors import ConfigError
    from strata.run import recommendations

    if k is not None and (not k.isdigit() or int(k) < 1):
        raise ConfigError(f"k={k}: expected a whole number of items per user >= 1.")
    model = finished.model(compile=False)
    known = set(model.users)
    users = recommendations.read_users(source, getattr(finished.config.data, "user_column", "user"), known)
    unknown = sum(u not in known for u in users)
    print(f"read {len(users)} user ids from {source} ({unknown} unknown: the popularity fallback)", file=sys.stderr)
    return recommendations.recommend_frame(model, users, int(k) if k else None, finished.config.export.exclude_seen)


def _to_stdout(frame) -> None:
    """The CSV on stdout; a reader that stops early (`| head`) is not an error."""
    try:
        frame.to_csv(sys.stdout, index=False)
        sys.stdout.flush()
    except BrokenPipeError:
        # the rest of the output goes nowhere, and Python's own flush at exit does not fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


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


def to_frame(predictions: np.ndarray, ids: list[str], task: Task):
    """The predictions CSV's table (`strata.run.prediction_table`, shared with the MLflow model)."""
    return prediction_table.to_frame(predictions, ids, task.kind, task.classes, task.target)
