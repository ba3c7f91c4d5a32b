"""Layers that put a pretrained backbone behind strata's raw inputs: the pixel preprocessing of
Keras Applications, and a KerasHub text backbone with its own tokenizer."""

from __future__ import annotations

import keras
from keras import ops

# Keras Applications' `preprocess_input` modes (keras.applications.imagenet_utils), as constants:
# caffe: RGB -> BGR, minus the ImageNet mean per channel; tf: [-1, 1]; torch: [0, 1], then the
# ImageNet mean and standard deviation per channel; none: the backbone rescales its own input
_CAFFE_MEAN = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)
PIXEL_MODES = ("caffe", "tf", "torch", "none")


@keras.saving.register_keras_serializable(package="strata")
class BackbonePixels(keras.layers.Layer):
    """Turns images scaled to [0, 1] into what a Keras Applications backbone was trained on: three
    channels, at least its minimum side, pixel values in its own range.

    Args:
        size: `[height, width]` the images are resized to (bilinear), or None to keep their size.
        mode: `caffe`, `tf`, `torch` or `none`: the backbone's `preprocess_input` mode (`none`:
            pixel values 0-255, for backbones that rescale inside, such as EfficientNet).

    Example:

    >>> layer = BackbonePixels(size=[32, 32], mode="tf")
    >>> tuple(layer(keras.ops.ones((2, 8, 8, 1))).shape)
    (2, 32, 32, 3)
    """

    def __init__(self, size=None, mode: str = "none", **kwargs):
        super().__init__(**kwargs)
        if mode not in PIXEL_MODES:
            raise ValueError(f"mode must be one of {PIXEL_MODES}, got {mode!r}")
        self.size = None if size is None else [int(s) for s in size]
        self.mode = mode

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        if len(x.shape) == 3:  # grayscale without a channel axis
            x = ops.expand_dims(x, -1)
        if x.shape[-1] == 1:
            x = ops.concatenate([x, x, x], axis=-1)
        if self.size is not None and tuple(x.shape[1:3]) != tuple(self.size):
            x = ops.image.resize(x, self.size, interpolation="bilinear")
        x = x * 255.0
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "torch":
            return (x / 255.0 - ops.convert_to_tensor(_TORCH_MEAN, x.dtype)) / ops.convert_to_tensor(_TORCH_STD, x.dtype)
        if self.mode == "caffe":
            return ops.flip(x, axis=-1) - ops.convert_to_tensor(_CAFFE_MEAN, x.dtype)
        return x

    def compute_output_shape(self, input_shape):
        size = self.size or list(input_shape[1:3])
        return (input_shape[0], *size, 3)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "mode": self.mode}


@keras.saving.register_keras_serializable(package="strata")
class PresetTextEncoder(keras.layers.Layer):
    """A KerasHub text backbone behind its own preprocessor: raw strings in, one vector per text
    out (the backbone's pooled output where it has one, else its first token's output, as
    KerasHub's classifiers read it).

    The preprocessor's tokenizer keeps its vocabulary as a saved asset, which exists only after a
    model has loaded; this layer states its output shape itself, so a `.keras` file rebuilds
    without running the tokenizer first.

    Args:
        preprocessor: a `keras_hub.models.Preprocessor` that maps strings to the backbone's inputs.
        backbone: a `keras_hub.models.Backbone`.

    Example:

    >>> encoder = PresetTextEncoder(
    ...     keras_hub.models.TextClassifierPreprocessor.from_preset(folder, sequence_length=64),
    ...     keras_hub.models.Backbone.from_preset(folder))
    >>> vectors = encoder(keras.ops.convert_to_tensor(["great food", "never again"]))
    """

    def __init__(self, preprocessor, backbone, **kwargs):
        super().__init__(**kwargs)
        self.preprocessor = preprocessor
        self.backbone = backbone
        self.units = int(getattr(backbone, "hidden_dim", 0) or _output_units(backbone))

    def build(self, input_shape):
        # the backbone is built where it was made; the preprocessor has no weights
        self.built = True

    def call(self, inputs, training=None):
        x = ops.reshape(inputs, (-1,))  # a (batch, 1) column of strings is a batch of strings
        features = self.preprocessor(x)
        if isinstance(features, tuple):  # (x, y, sample_weight) of a task preprocessor
            features = features[0]
        out = self.backbone(features, training=training)
        if isinstance(out, dict):
            if "pooled_output" in out:
                return out["pooled_output"]
            out = out["sequence_output"]
        return out[:, 0, :] if len(out.shape) == 3 else out

    def compute_output_spec(self, inputs, training=None):
        return keras.KerasTensor((inputs.shape[0], self.units), dtype=self.compute_dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "preprocessor": keras.saving.serialize_keras_object(self.preprocessor),
            "backbone": keras.saving.serialize_keras_object(self.backbone),
        }

    @classmethod
    def from_config(cls, config):
        import keras_hub  # noqa: F401  registers KerasHub's classes for deserialization

        config = dict(config)
        config["preprocessor"] = keras.saving.deserialize_keras_object(config["preprocessor"])
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)


def _output_units(backbone) -> int:
    out = backbone.output
    if isinstance(out, dict):
        out = out.get("pooled_output", out.get("sequence_output"))
    return int(out.shape[-1])
