"""A run's SavedModel logged as an MLflow model (`strata.tracking.served_model`), with a signature
that takes the SavedModel's raw named inputs and an input example from the run's data.

Inputs that are one value per example (table columns, texts) make a column-based signature, so
a request is a table (`dataframe_split`, `dataframe_records`, a CSV); images, windows and latent
vectors make a tensor-based one (`{"inputs": {"image": [...]}}`).
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from strata.run import prediction_table
from strata.run.layout import RunDir

log = logging.getLogger("strata.tracking")

SERVED_MODEL = Path(__file__).with_name("served_model.py")
# the name of strata.run.prediction_table inside an MLflow model (its code/ folder is on sys.path there)
TABLE_MODULE = "strata_prediction_table"
ARTIFACT_PATH = "model"
EXAMPLE_ROWS = 5


def serving_function(saved_model: Path):
    """The SavedModel's `serving_default` (keep the loaded object alive while it is used) and its
    inputs: name -> tf.TensorSpec."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(saved_model))
    serve = loaded.signatures["serving_default"]
    serve._strata_owner = loaded
    return serve, dict(serve.structured_input_signature[1])


def output_example(serve, specs: dict, example, task: dict, columns: dict[str, str]):
    """What the MLflow model returns for `example`: `strata predict`'s columns (without `id`)."""
    import tensorflow as tf

    arrays = {name: _tensor(np.asarray(example[columns.get(name, name)] if columns.get(name, name) in example else example[name]), spec)
              for name, spec in specs.items()}
    outputs = serve(**{name: tf.constant(value) for name, value in arrays.items()})
    name = "output_0" if "output_0" in outputs else sorted(outputs)[0]
    return prediction_table.to_frame(np.asarray(outputs[name]), None, task["kind"], task.get("classes"), task.get("target"))


def is_tabular(specs: dict) -> bool:
    """One value per example in every input: a column-based signature."""
    return all(len(s.shape) == 1 or (len(s.shape) == 2 and s.shape[1] == 1) for s in specs.values())


def column_type(dtype):
    """A table column's MLflow type: strings as `string`; numbers as MLflow's `Any`, because
    MLflow refuses to widen int64 to double, and a JSON or CSV request's whole numbers arrive as
    int64 (the served model converts them, as `strata predict` does)."""
    from mlflow.types.schema import AnyType

    return "string" if dtype.name == "string" else AnyType()


def signature_and_example(specs: dict, examples: dict | None, columns: dict[str, str] | None = None):
    """The MLflow signature of `specs` and an input example in the same form: the run's raw
    examples where they match the inputs, otherwise standard normal values of the inputs' shapes
    (a GAN's latent vectors). A table's inputs are named by their raw `columns` (input name ->
    the header a user's file has, e.g. `col_1stFlrSF` -> `1stFlrSF`) and may hold missing values."""
    import pandas as pd
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import ColSpec, Schema, TensorSpec

    examples = examples if examples and set(specs) <= set(examples) else None
    rng = np.random.default_rng(0)
    arrays = {}
    for name, spec in specs.items():
        dims = [d if d is not None else 1 for d in spec.shape[1:]]
        if examples is not None:
            value = np.asarray(examples[name])[:EXAMPLE_ROWS]
        elif spec.dtype.name == "string":
            value = np.array([""] * 2, dtype=object)
        else:
            value = rng.standard_normal((2, *dims))
        arrays[name] = value
    if is_tabular(specs):
        columns = columns or {}
        schema = Schema([ColSpec(column_type(s.dtype), columns.get(name, name), required=False) for name, s in specs.items()])
        frame = pd.DataFrame({columns.get(name, name): _column(arrays[name], specs[name]) for name in specs})
        return ModelSignature(inputs=schema), frame
    schema = Schema([TensorSpec(_numpy_type(s.dtype), (-1, *[d if d is not None else -1 for d in s.shape[1:]]), name)
                     for name, s in specs.items()])
    return ModelSignature(inputs=schema), {name: _tensor(arrays[name], specs[name]) for name in specs}


def _numpy_type(dtype) -> np.dtype:
    return np.dtype(object) if dtype.name == "string" else np.dtype(dtype.as_numpy_dtype)


def _column(values: np.ndarray, spec) -> np.ndarray:
    values = np.asarray(values).reshape(-1)
    if spec.dtype.name == "string":
        return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values], dtype=object)
    return values.astype("int64" if spec.dtype.is_integer else ("bool" if spec.dtype.is_bool else "float64"))


def _tensor(values: np.ndarray, spec) -> np.ndarray:
    dims = [d for d in spec.shape[1:]]
    values = np.asarray(values)
    if dims and all(d is not None for d in dims):
        values = values.reshape((-1, *dims))
    return values.astype(_numpy_type(spec.dtype))


def requirements() -> list[str]:
    """What a server needs to load the model (pinned to this environment's versions)."""
    from importlib.metadata import PackageNotFoundError, version

    names = ["mlflow", "tensorflow", "numpy", "pandas"]
    if "tensorflow_text" in sys.modules:
        names.append("tensorflow-text")
    out = []
    for name in names:
        try:
            out.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            out.append(name)
    return out


def log_model(mlflow, uri: str, run_id: str, run: RunDir, registered_model_name: str | None,
              examples: Callable[[], dict | None] | None) -> str | None:
    """Logs `run`'s SavedModel into the MLflow run `run_id` (and, with `registered_model_name`,
    as a new version of that registered model); returns the model's URI, or None when the run
    has no SavedModel."""
    if not run.saved_model.is_dir():
        log.warning("MLflow: no SavedModel in %s (export=none), so no MLflow model is logged", run.export_dir)
        return None
    import json

    from mlflow.models import infer_signature

    serve, specs = serving_function(run.saved_model)
    description = json.loads(run.task.read_text())
    order = [f["name"] for f in description["features"] if f["name"] in specs]  # the raw inputs' order, as in task.json
    specs = {name: specs[name] for name in order + sorted(set(specs) - set(order))}
    columns = {f["name"]: f.get("column") or f["name"] for f in description["features"] if f["name"] in specs}
    signature, example = signature_and_example(specs, _examples(examples), columns if is_tabular(specs) else None)
    if not is_tabular(specs):
        columns = {}
    output = output_example(serve, specs, example, description["task"], columns)
    signature.outputs = infer_signature(model_output=output).outputs
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    with tempfile.TemporaryDirectory(prefix="strata-mlflow-") as tmp:
        table = Path(tmp) / f"{TABLE_MODULE}.py"
        shutil.copyfile(prediction_table.__file__, table)
        serving = Path(tmp) / "serving.json"
        serving.write_text(json.dumps({
            "inputs": [{"name": name, "column": columns.get(name, name), "dtype": spec.dtype.name} for name, spec in specs.items()],
            "missing_values": missing_values(run),
        }, indent=2))
        with mlflow.start_run(run_id=run_id):
            info = mlflow.pyfunc.log_model(
                name=ARTIFACT_PATH,
                python_model=str(SERVED_MODEL),
                artifacts={"saved_model": str(run.saved_model), "task": str(run.task), "serving": str(serving)},
                code_paths=[str(table)],
                signature=signature,
                input_example=example,
                pip_requirements=requirements(),
                registered_model_name=registered_model_name,
            )
    return info.model_uri


def missing_values(run: RunDir) -> list[str]:
    """The strings the run's data reads as missing (`data.missing_values`, else strata's defaults)."""
    from omegaconf import OmegaConf

    from strata.data.tables import DEFAULT_MISSING

    configured = OmegaConf.load(run.resolved_config).get("data", {}).get("missing_values") if run.resolved_config.is_file() else None
    return [str(v) for v in (configured or DEFAULT_MISSING)]


def _examples(examples: Callable[[], dict | None] | None) -> dict | None:
    if examples is None:
        return None
    from strata.errors import UserError

    try:
        return examples()
    except (UserError, OSError) as ex:
        log.warning("MLflow: the model's input example is made up: the run's data did not load (%s)", ex)
        return None
