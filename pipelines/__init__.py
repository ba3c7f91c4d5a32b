"""strata: Hydra-composed configs in, trained and exported Keras models out."""

__version__ = "0.1.0"
