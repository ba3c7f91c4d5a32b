"""Config composition (Hydra) and validation (typed schema), all before TensorFlow is imported."""
