"""Data sources: each turns a `data:` config into train/validation/test splits and a description
of the features and the task (`DataBundle`). Sources register themselves by name."""

from strata.data.registry import SOURCES, get_source, register_source

__all__ = ["SOURCES", "get_source", "register_source"]
