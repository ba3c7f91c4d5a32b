"""`task.json`: what a run's model takes and predicts, written at the end of training and read by
every command that uses the model. Its form:

```json
{"task": {"kind": "multiclass", "target": "label", "classes": ["0", "1"], "target_shape": [1],
          "target_mean": null, "target_std": null},
 "features": [{"name": "image", "kind": "image", "shape": [8, 8, 1], "dtype": "float32",
               "column": "image", "options": {"rescale": 0.0625}}]}
```
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from strata.data.features import Feature, Task
from strata.errors import DataError
from strata.run.atomic import write_json_atomic
from strata.run.layout import RunDir


@dataclass
class RunDescription:
    """The raw features a run's model takes, in input order, and its task.

    Example:

    >>> description = RunDescription(Task("regression", target="price"), [Feature("area", "numeric")])
    >>> RunDescription.from_dict(description.to_dict()) == description
    True
    """

    task: Task
    features: list[Feature]

    def to_dict(self) -> dict:
        return {"task": self.task.to_dict(), "features": [f.to_dict() for f in self.features]}

    @classmethod
    def from_dict(cls, values: dict) -> RunDescription:
        return cls(Task.from_dict(values["task"]), [Feature.from_dict(f) for f in values["features"]])

    def save(self, run: RunDir) -> None:
        write_json_atomic(run.task, self.to_dict())

    @classmethod
    def load(cls, run: RunDir) -> RunDescription:
        if not run.task.is_file():
            raise DataError(f"run={run.root}: task.json is missing; the run did not finish training.")
        try:
            return cls.from_dict(json.loads(run.task.read_text()))
        except (ValueError, KeyError, TypeError) as ex:
            raise DataError(f"run={run.root}: task.json is not a strata run description ({type(ex).__name__}: {ex}).") from None
