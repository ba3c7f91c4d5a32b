"""Training: the environment (seeds, precision, strategy), optimizers, callbacks and the run."""
