"""Data sources: each turns a `data:` config into train/validation/test splits and a description
of the features and the task (`DataBundle`). A source is one `<name>_source.py` module here that
registers itself in `strata.registry.SOURCES`."""
