"""The typed schema behind every config group.

Each group is a pydantic model with `extra="forbid"`, so an unknown key, a wrong type or a value
out of range is refused with the key's full path. Data sources, model families and callbacks
register their own schema by name, beside their code (see `strata.registry`); this module holds
the groups that have a single shape.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TASKS = (
    "auto",
    "regression",
    "binary",
    "multiclass",
    "multilabel",
    "forecast",
    "reconstruction",
    "generation",
    "retrieval",
)



def auto_or_at_least(value, minimum: int, word: str = "auto"):
    """`value` when it is `word` ('auto') or a whole number >= `minimum` (for a field validator in
    "before" mode: pydantic's own message for `int | Literal['auto']` names its union's parts, not
    the key)."""
    if value == word or (isinstance(value, int) and not isinstance(value, bool) and value >= minimum):
        return value
    raise ValueError(f"must be '{word}' or a whole number >= {minimum}, got {value!r}")


class StrictModel(BaseModel):
    """A schema node that refuses unknown keys and coerces nothing silently."""

    model_config = ConfigDict(extra="forbid", validate_default=True, protected_namespaces=())


# ----------------------------------------------------------------------------- optimizer


class ScheduleConfig(StrictModel):
    name: Literal["constant", "exponential", "cosine", "warmup_cosine", "piecewise"] = "constant"
    decay_steps: int | None = Field(None, ge=1)
    decay_rate: float = Field(0.96, gt=0, le=1)
    staircase: bool = False
    alpha: float = Field(0.0, ge=0, le=1)
    warmup_steps: int = Field(0, ge=0)
    boundaries: list[int] = Field(default_factory=list)
    values: list[float] = Field(default_factory=list)

    @model_validator(mode="after")
    def _piecewise_lengths(self) -> ScheduleConfig:
        if self.name == "piecewise" and len(self.values) != len(self.boundaries) + 1:
            raise ValueError(
                "piecewise needs one more value than boundaries "
                f"(got {len(self.boundaries)} boundaries and {len(self.values)} values)"
            )
        return self


class OptimizerConfig(StrictModel):
    name: Literal["adam", "sgd", "adamw", "rmsprop"] = "adam"
    learning_rate: float = Field(1e-3, gt=0, le=10)
    weight_decay: float | None = Field(None, ge=0)
    clipnorm: float | None = Field(None, gt=0)
    clipvalue: float | None = Field(None, gt=0)
    global_clipnorm: float | None = Field(None, gt=0)
    beta_1: float = Field(0.9, ge=0, lt=1)
    beta_2: float = Field(0.999, ge=0, lt=1)
    epsilon: float = Field(1e-7, gt=0)
    momentum: float = Field(0.0, ge=0, lt=1)
    nesterov: bool = False
    rho: float = Field(0.9, ge=0, lt=1)
    amsgrad: bool = False
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)


# ----------------------------------------------------------------------------- trainer


class FineTuneConfig(StrictModel):
    epochs: int = Field(0, ge=0)
    learning_rate: float = Field(1e-5, gt=0)
    layers: int | Literal["all"] = "all"

    @field_validator("layers", mode="before")
    @classmethod
    def _all_or_positive(cls, value):
        return auto_or_at_least(value, 1, word="all")


class TrainerConfig(StrictModel):
    epochs: int = Field(20, ge=1)
    batch_size: int = Field(64, ge=1)
    steps_per_epoch: int | None = Field(None, ge=1)
    validation_steps: int | None = Field(None, ge=1)
    validation_freq: int = Field(1, ge=1)
    accelerator: Literal["auto", "cpu", "gpu", "tpu"] = "auto"
    strategy: Literal["auto", "none", "mirrored", "multi_worker", "tpu"] = "auto"
    tpu_address: str | None = None
    port_base: int = Field(8888, ge=1024, le=65535)  # SLURM jobs: a worker listens on port_base + its index on the node
    logical_cpu_devices: int | None = Field(None, ge=1, le=64)
    precision: Literal["float32", "mixed_float16", "mixed_bfloat16"] = "float32"
    jit_compile: bool | Literal["auto"] = "auto"
    steps_per_execution: int | Literal["auto"] = "auto"
    deterministic: bool = True
    verbose: Literal[0, 1, 2] = 0
    evaluate_test: bool = True
    # the end-of-run training metrics: sample (the final model on a uniform sample of
    # evaluate_train_rows training rows), full (every training row), none
    evaluate_train: Literal["sample", "full", "none"] = "sample"
    evaluate_train_rows: int = Field(10_000, ge=1)
    init_from: str | None = Field(None, min_length=1)
    fine_tune: FineTuneConfig = Field(default_factory=FineTuneConfig)

    @field_validator("steps_per_execution", mode="before")
    @classmethod
    def _auto_or_positive(cls, value):
        return auto_or_at_least(value, 1)

    @field_validator("init_from")
    @classmethod
    def _absolute_source(cls, value):
        """The source as an absolute path, a relative one from the folder strata was started from
        (as `resume=`). Only `strata train` checks that it is a source, as only training reads it
        (strata.training.warm_start.check_source): a finished run evaluates without it."""
        if value is None:
            return value
        from pathlib import Path

        return str(Path(value).expanduser().resolve())


# ----------------------------------------------------------------------------- export


class ExportConfig(StrictModel):
    format: Literal["saved_model", "onnx", "tflite", "none"] = "saved_model"
    opset: int = Field(17, ge=9, le=21)
    quantize: bool = False
    exclude_seen: bool = True  # a recommender's serving_default leaves out the user's training items


# ----------------------------------------------------------------------------- paths


class PathsConfig(StrictModel):
    root_dir: str
    output_dir: str
    data_dir: str
    run_dir: str


# ----------------------------------------------------------------------------- logger

# tracking URI schemes MLflow's client opens (a plain path is a deprecated file store there)
TRACKING_SCHEMES = ("sqlite", "http", "https", "file", "postgresql", "mysql", "mssql", "databricks", "databricks-uc", "uc")


class LoggerConfig(StrictModel):
    """`logger=mlflow`: where a run is recorded besides its run folder (`strata.tracking`)."""

    name: Literal["mlflow"] = "mlflow"
    tracking_uri: str = Field(min_length=1)
    experiment_name: str = Field(min_length=1)
    run_name: str | None = Field(None, min_length=1)
    registered_model_name: str | None = Field(None, min_length=1)
    log_model: bool = True
    artifact_location: str | None = Field(None, min_length=1)

    @field_validator("tracking_uri")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        scheme = value.split(":", 1)[0].split("+", 1)[0].lower() if ":" in value else ""
        if scheme not in TRACKING_SCHEMES:
            from strata.errors import suggestion

            raise ValueError(
                f"'{value}' is not a tracking URI MLflow opens: use sqlite:///<file>, http://<host>:<port> "
                f"or another of {', '.join(s + ':' for s in TRACKING_SCHEMES)}.{suggestion(scheme, TRACKING_SCHEMES)}"
            )
        return value


# ----------------------------------------------------------------------------- root


class RootConfig(StrictModel):
    task_name: str = Field(min_length=1)
    seed: int = Field(42, ge=0, le=2**31 - 1)
    task: Literal[TASKS] = "auto"  # type: ignore[valid-type]
    resume: str | None = None
    optimized_metric: str | None = None
    report: bool = True
    data: dict[str, Any]
    model: dict[str, Any]
    optimizer: OptimizerConfig
    trainer: TrainerConfig
    callbacks: dict[str, Any] = Field(default_factory=dict)
    export: ExportConfig
    paths: PathsConfig
    logger: LoggerConfig | None = None
