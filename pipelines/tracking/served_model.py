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
        missing = [name for name in names if name not in source]
        if missing:
            raise mlflow.exceptions.MlflowException(
                f"missing input(s) {', '.join(missing)}; this model takes {', '.join(names)}", error_code="BAD_REQUEST"
            )
        return {name: _shaped(np.asarray(source[name]), self._inputs[name]) for name in names}


def _shaped(values: np.ndarray, spec) -> np.ndarray:
    dims = [d for d in spec.shape[1:]]
    if dims and all(d is not None for d in dims):
        values = values.reshape((-1, *dims))
    if spec.dtype.name == "string":
        return values.astype(object).astype(str).astype(object)
    return values.astype(spec.dtype.as_numpy_dtype)


mlflow.models.set_model(StrataModel())
