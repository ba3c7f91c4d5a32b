"""strata's Optuna sweeper as a Hydra plugin: `hydra/sweeper=optuna` (conf/hydra/sweeper/optuna.yaml).

Hydra instantiates sweepers only from the `hydra_plugins` namespace; installed, this package is
`hydra_plugins.strata_optuna_sweeper`. It holds nothing but the plugin class, which hands the work
to `strata.sweeper.sweeper.OptunaSweep`: Hydra imports every plugin module when it starts, so
this one imports neither Optuna nor TensorFlow.
"""

from __future__ import annotations

from typing import Any

from hydra.plugins.sweeper import Sweeper


class StrataOptunaSweeper(Sweeper):
    def __init__(self, **settings: Any) -> None:
        from strata.sweeper.sweeper import OptunaSweep

        self._sweep = OptunaSweep(**settings)

    def setup(self, *, hydra_context, task_function, config) -> None:
        self._sweep.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> None:
        self._sweep.sweep(arguments)
