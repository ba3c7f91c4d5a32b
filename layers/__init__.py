"""Custom Keras layers that strata configs can name.

Importing this package registers every layer with Keras's serialization (package `strata`), so
`model.keras` files reload with `keras.saving.load_model` once `layers` is imported, and
SavedModels load with no strata code at all.
"""

from layers.denormalize import Denormalize
from layers.impute import Impute

__all__ = ["Denormalize", "Impute"]
