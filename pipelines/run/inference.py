"""A run's model applied to raw inputs: the one way `strata predict`, `strata explain` and the
report turn raw arrays into the model's outputs."""

from __future__ import annotations

import numpy as np

# what one string input may cost inside a model, in float values (see `predict_raw`)
STRING_VALUES = 16_384
# float values of the largest per-batch activation `predict_raw` aims for (16 MB as float32)
PREDICT_VALUES = 4_000_000


def predict_raw(model, x: dict[str, np.ndarray] | np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The model's outputs for raw inputs (float32 numpy): arrays by input name, or one array for
    a model of one unnamed input (a GAN's latent vectors). Few examples run eagerly; many go
    through Keras's compiled predict loop, traced once (permutation importance, occlusion), in
    batches sized so that the largest activation inside the model stays near PREDICT_VALUES."""
    import tensorflow as tf

    arrays = x if isinstance(x, dict) else {"": x}
    n = len(next(iter(arrays.values())))
    if n == 0:
        return np.zeros((0, 1), "float32")
    tensors = {k: as_tensor(v) for k, v in arrays.items()}
    inputs = tensors if isinstance(x, dict) else tensors[""]
    batch = predict_batch_size(model, arrays)
    if n <= min(batch, batch_size):
        return np.asarray(model(inputs, training=False), dtype="float32")
    return np.asarray(model.predict(tf.data.Dataset.from_tensor_slices(inputs).batch(batch), verbose=0), dtype="float32")


def predict_batch_size(model, x: dict[str, np.ndarray]) -> int:
    """Big batches for small inputs (fewer calls), small ones for inputs that grow inside the
    model: a string (a sentence, a category) into a sequence of embeddings, so it counts as
    STRING_VALUES values, and a small image into many feature maps, so the widest layer output
    counts too."""
    per_example = sum(
        int(np.prod(np.shape(v)[1:])) * (STRING_VALUES if np.asarray(v).dtype.kind in "OSU" else 1) for v in x.values()
    )
    per_example = max(per_example, largest_activation(model))
    return int(np.clip(PREDICT_VALUES // max(1, per_example), 32, 8192))


def largest_activation(model) -> int:
    """Values per example of the model's widest layer output (0 when no layer's shape is known,
    e.g. a subclassed model)."""
    widest = 0
    for layer in getattr(model, "layers", []):
        try:
            outputs = layer.output
        except (AttributeError, ValueError):  # a layer called more than once, or never
            continue
        for out in outputs if isinstance(outputs, (list, tuple)) else [outputs]:
            dims = tuple(getattr(out, "shape", ())[1:])
            if dims and all(isinstance(d, int) for d in dims):
                widest = max(widest, int(np.prod(dims)))
    return widest


def as_tensor(values: np.ndarray):
    """A raw array as the tensor a model input takes: strings as `tf.string`, others unchanged."""
    import tensorflow as tf

    values = np.asarray(values)
    if values.dtype.kind == "S" or (values.dtype == object and values.size and isinstance(values.flat[0], bytes)):
        return tf.constant(values.astype(object))  # bytes, e.g. strings read back from tf.data
    if values.dtype == object or values.dtype.kind == "U":
        return tf.constant(values.astype(str))
    return tf.constant(values)
