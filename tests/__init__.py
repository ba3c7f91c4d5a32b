"""strata's test suite (a package, so `tests.conftest` is this folder's even where another
installed distribution ships a top-level `tests` folder, as tf2onnx does)."""
