"""Where a run is recorded besides its run folder: MLflow (`logger=mlflow`).

- `connection`: an MLflow tracking URI behind a client whose failures never stop training;
- `recorder`: one run folder as one MLflow run — params, tags, per-epoch and final metrics,
  artifacts, the model — while it trains and afterwards (`strata log`), idempotently;
- `mlflow_model` and `served_model`: the run's SavedModel as an MLflow model that takes the raw
  inputs and returns `strata predict`'s columns;
- `sweep`: a multirun as one parent MLflow run with a child per trial (a Hydra callback).

Nothing here imports MLflow or TensorFlow at module level.
"""
