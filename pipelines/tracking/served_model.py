"""strata's MLflow model: a run's SavedModel behind MLflow's pyfunc interface.

MLflow stores this file with the model ("models from code") together with the SavedModel, the
run's `task.json` and a copy of `strata.run.prediction_table`, so `mlflow.pyfunc.load_model` and
`mlflow models serve` need TensorFlow, NumPy and pandas, not strata. It imports nothing from
strata.

`predict` takes what the SavedModel's `serving_default` takes, by input name: a DataFrame with one
column per raw input (tables, texts), or a dict of arrays (images, windows, latent vectors), and
returns the columns `strata predict` writes (without its `id` column): a classifier's `label`
and `prob_<class>`, otherwise the prediction in the target's units.
"""

from __future__ import annotations

import json

import mlflow
import numpy as np

# inputs per call into the SavedModel: a request of many rows is answered in slices of this many
BATCH = 1024


class StrataModel(mlflow.pyfunc.PythonModel):
    # the signature comes from the SavedModel (strata.tracking.mlflow_model), not from type hints
    _skip_type_hint_validation = True

    def load_context(self, context):
        import tensorflow as tf

        try:  # the ops of KerasHub's tokenizers, for a text backbone's SavedModel
            import tensorflow_text  # noqa: F401
        except ImportError:
            pass
        self._saved = tf.saved_model.load(context.artifacts["saved_model"])
        self._serve = self._saved.signatures["serving_default"]
        self._inputs = self._serve.structured_input_signature[1]
        with open(context.artifacts["task"], encoding="utf-8") as f:
            self._task = json.load(f)["task"]
        with open(context.artifacts["serving"], encoding="utf-8") as f:
            serving = json.load(f)
        # the raw column (a table's header) each input is read from, and the values that mean "missing"
        self._columns = {item["name"]: item["column"] for item in serving["inputs"]}
        self._missing = set(serving["missing_values"])

    def predict(self, context, model_input, params=None):
        from strata_prediction_table import to_frame

        arrays = self._arrays(model_input)
        n = len(next(iter(arrays.values())))
        parts = [self._call({k: v[i:i + BATCH] for k, v in arrays.items()}) for i in range(0, max(n, 1), BATCH)]
        predictions = np.concatenate(parts) if parts else np.zeros((0, 1), "float32")
        task = self._task
        return to_frame(predictions[:n], None, task["kind"], task.get("classes"), task.get("target"))

    def _call(self, arrays: dict) -> np.ndarray:
        import tensorflow as tf

        outputs = self._serve(**{name: tf.constant(value) for name, value in arrays.items()})
        name = "output_0" if "output_0" in outputs else sorted(outputs)[0]
        return np.asarray(outputs[name], dtype="float32")

    def _arrays(self, model_input) -> dict:
        """The model's inputs from a DataFrame (a column per input), a dict of arrays, or one array
        for a model of one input; each reshaped to the input's known dimensions and cast to its type."""
        import pandas as pd

        names = list(self._inputs)
        if isinstance(model_input, pd.DataFrame):
            source = {c: model_input[c].to_numpy() for c in model_input.columns}
        elif isinstance(model_input, dict):
            source = model_input
        elif len(names) == 1:
            source = {names[0]: model_input}
        else:
            raise mlflow.exceptions.MlflowException(f"expected the inputs {', '.join(names)} by name, got {type(model_input).__name__}")
        found = {name: self._columns.get(name, name) if self._columns.get(name, name) in source else name for name in names}
        missing = [self._columns.get(name, name) for name in names if found[name] not in source]
        if missing:
            raise mlflow.exceptions.MlflowException(
                f"missing input(s) {', '.join(missing)}; this model takes {', '.join(self._columns.get(n, n) for n in names)}",
                error_code="BAD_REQUEST",
            )
        return {name: _shaped(np.asarray(source[found[name]]), self._inputs[name], self._missing) for name in names}


def _shaped(values: np.ndarray, spec, missing: set) -> np.ndarray:
    """`values` in the input's known shape and type; a string input's missing values (None, NaN
    or one of the training data's missing markers) as '', as `strata predict` reads them."""
    dims = [d for d in spec.shape[1:]]
    if dims and all(d is not None for d in dims):
        values = values.reshape((-1, *dims))
    if spec.dtype.name == "string":
        return np.array([_text(v, missing) for v in values.reshape(-1)], dtype=object).reshape(values.shape)
    if values.dtype.kind in "OSU":  # a table column of numbers, missing values and markers
        values = np.array([_number(v, missing) for v in values.reshape(-1)], dtype="float64").reshape(values.shape)
    return values.astype(spec.dtype.as_numpy_dtype)


def _number(value, missing: set) -> float:
    if value is None:
        return float("nan")
    if isinstance(value, (bytes, str)):
        text = value.decode("utf-8") if isinstance(value, bytes) else value
        if text.strip() in missing:
            return float("nan")
        try:
            return float(text)
        except ValueError:
            raise mlflow.exceptions.MlflowException(f"{text!r} is not a number", error_code="BAD_REQUEST") from None
    return float(value)


def _text(value, missing: set) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    text = value.decode("utf-8") if isinstance(value, bytes) else str(value)
    return "" if text in missing else text


mlflow.models.set_model(StrataModel())
