"""strata's callbacks: one module per name a config can put under `callbacks:` (the module
`strata.callbacks.<name>` registers that name with its config schema in `strata.registry.CALLBACKS`;
`conf/callbacks/<name>.yaml` lists its keys). Modules whose name starts with `_` are shared helpers."""

from strata.callbacks._base import Callback, CallbackArgs, CallbackContext

__all__ = ["Callback", "CallbackArgs", "CallbackContext"]
