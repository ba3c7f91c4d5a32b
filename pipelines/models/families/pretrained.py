"""A pretrained backbone with a head for the task: Keras Applications for images, KerasHub
presets for text (and images), fine-tuned in two phases (`strata.training.fine_tune`).

The backbone's own preprocessing is part of the model, so it still takes the raw inputs: images
are resized to at least the backbone's smallest side, given three channels and the backbone's
pixel scaling (`strata.layers.BackbonePixels`); texts go through the preset's own tokenizer
(`strata.layers.PresetTextEncoder`). The backbone is the model's layer named `backbone`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from strata.errors import ConfigError, closest
from strata.models.schema import ModelConfig
from strata.registry import FAMILIES

log = logging.getLogger("strata.model")


@dataclass(frozen=True)
class Application:
    """A Keras Applications backbone: its constructor in `keras.applications`, its
    `preprocess_input` mode (`none`: it rescales its own 0-255 input) and its smallest side."""

    constructor: str
    mode: str
    min_side: int = 32


def _family(names: dict[str, str], mode: str, min_side: int = 32) -> dict[str, Application]:
    return {name: Application(constructor, mode, min_side) for name, constructor in names.items()}


APPLICATIONS: dict[str, Application] = {
    **_family({"mobilenet_v3_small": "MobileNetV3Small", "mobilenet_v3_large": "MobileNetV3Large"}, "none"),
    **_family({"mobilenet": "MobileNet", "mobilenet_v2": "MobileNetV2"}, "tf"),
    **_family({f"efficientnet_b{i}": f"EfficientNetB{i}" for i in range(8)}, "none"),
    **_family({f"efficientnet_v2_b{i}": f"EfficientNetV2B{i}" for i in range(4)}, "none"),
    **_family({f"efficientnet_v2_{s}": f"EfficientNetV2{s.upper()}" for s in "sml"}, "none"),
    **_family({f"convnext_{s.lower()}": f"ConvNeXt{s}" for s in ("Tiny", "Small", "Base", "Large", "XLarge")}, "none"),
    **_family({f"resnet{n}": f"ResNet{n}" for n in (50, 101, 152)}, "caffe"),
    **_family({f"resnet{n}_v2": f"ResNet{n}V2" for n in (50, 101, 152)}, "tf"),
    **_family({"vgg16": "VGG16", "vgg19": "VGG19"}, "caffe"),
    **_family({f"densenet{n}": f"DenseNet{n}" for n in (121, 169, 201)}, "torch"),
    **_family({"inception_v3": "InceptionV3", "inception_resnet_v2": "InceptionResNetV2"}, "tf", 75),
    **_family({"xception": "Xception"}, "tf", 71),
}

# `model.weights` values that mean "the backbone's own pretrained weights"
PRETRAINED = ("imagenet", "preset")

# The published architectures of a few KerasHub text presets (Turc et al. 2019's BERT
# miniatures), for `model.weights=null` where the preset cannot be downloaded: a randomly
# initialised backbone needs the preset's shape but none of its files, and its WordPiece
# vocabulary is then learned from the training split (random embeddings fit any vocabulary).
OFFLINE_TEXT_ARCHITECTURES = {
    "bert_tiny_en_uncased": dict(num_layers=2, num_heads=2, hidden_dim=128, intermediate_dim=512),
    "bert_small_en_uncased": dict(num_layers=4, num_heads=8, hidden_dim=512, intermediate_dim=2048),
    "bert_medium_en_uncased": dict(num_layers=8, num_heads=8, hidden_dim=512, intermediate_dim=2048),
    "bert_base_en_uncased": dict(num_layers=12, num_heads=12, hidden_dim=768, intermediate_dim=3072),
}
OFFLINE_VOCABULARY_SIZE = 8000


class PretrainedConfig(ModelConfig):
    family: Literal["pretrained"] = "pretrained"
    backbone: str = Field("mobilenet_v3_small", min_length=1)
    weights: str | None = "imagenet"
    freeze: bool = True
    image_size: int | Literal["auto"] = "auto"
    sequence_length: int = Field(128, ge=2)
    pooling: Literal["avg", "max"] = "avg"
    dense_units: list[int] = Field(default_factory=list)
    dropout: float = Field(0.2, ge=0, lt=1)
    activation: str = "relu"

    @field_validator("backbone")
    @classmethod
    def _known_backbone(cls, value: str) -> str:
        if value in APPLICATIONS:
            return value
        path = Path(value).expanduser()
        if path.is_dir():
            if not (path / "config.json").is_file():
                raise ValueError(f"{value} is a folder without a KerasHub preset's config.json")
            return str(path.resolve())
        if os.sep in value or value.startswith("."):
            raise ValueError(f"no such preset folder: {value}")
        near = closest(value, APPLICATIONS)
        same_stem = near and (near.startswith(value) or near.split("_")[0] == value.split("_")[0])
        if same_stem and abs(len(value) - len(near)) <= 2:  # a typo of an Applications name, not a preset
            raise ValueError(f"'{value}' is not a Keras Applications backbone. Did you mean '{near}'?")
        return value  # a KerasHub preset name, looked up when the model is built

    @field_validator("weights")
    @classmethod
    def _weights(cls, value):
        if value is None or value in PRETRAINED:
            return value
        path = Path(value).expanduser()
        if not path.is_file():
            raise ValueError(f"must be imagenet | preset | null or a weights file; no such file: {value}")
        return str(path.resolve())

    @field_validator("image_size", mode="before")
    @classmethod
    def _image_size(cls, value):
        from strata.config.schema import auto_or_at_least

        return auto_or_at_least(value, 8)

    @property
    def pretrained(self) -> bool:
        """Whether the backbone starts from learned weights (its own or a file's), not at random."""
        return self.weights is not None


@FAMILIES.register("pretrained", PretrainedConfig, raw_inputs=("text",))
def build(ctx):
    import keras

    from strata.models.activations import check_activation

    cfg: PretrainedConfig = ctx.cfg
    feature = ctx.single_feature(("image", "text"), instead="model=tabular")
    if len(ctx.bundle.features) != 1:
        raise ConfigError(f"model=pretrained takes the {feature.name} input alone; the data has "
                          f"{len(ctx.bundle.features)} inputs. Try model=tabular or model=graph.")
    x = ctx.encoded[feature.name]
    if feature.kind == "image" and cfg.backbone in APPLICATIONS:
        x = _application(cfg, x, feature)
    elif feature.kind == "image":
        x = _preset_image(cfg, x, feature)
    else:
        x = _preset_text(cfg, x, ctx.bundle.train_values(feature.name))
    for i, units in enumerate(cfg.dense_units):
        x = keras.layers.Dense(units, activation=check_activation(cfg.activation, "model.activation"), name=f"dense{i}")(x)
    if cfg.dropout:
        x = keras.layers.Dropout(cfg.dropout, name="head_dropout")(x)
    return ctx.supervised(x)


def _application(cfg: PretrainedConfig, x, feature):
    """A Keras Applications backbone behind its pixel preprocessing."""
    import inspect

    import keras

    from strata.layers import BackbonePixels

    app = APPLICATIONS[cfg.backbone]
    height, width = feature.shape[0], feature.shape[1]
    if cfg.image_size == "auto":
        size = [max(height, app.min_side), max(width, app.min_side)]
    else:
        size = [cfg.image_size, cfg.image_size]
    if min(size) < app.min_side:
        raise ConfigError(f"model.image_size: {cfg.backbone} needs images of at least {app.min_side} pixels a side, got {min(size)}")
    constructor = getattr(keras.applications, app.constructor)
    args = dict(include_top=False, input_shape=(*size, 3), pooling=cfg.pooling, name="backbone",
                weights="imagenet" if cfg.weights in PRETRAINED else None)
    if "include_preprocessing" in inspect.signature(constructor).parameters:
        args["include_preprocessing"] = app.mode == "none"
    backbone = _offline_safe(lambda: constructor(**args), cfg)
    if cfg.weights not in (None, *PRETRAINED):
        _load_weights_file(backbone, cfg)
    if not cfg.pretrained:
        _quicker_batch_statistics(backbone)
    if tuple(size) != (height, width):
        log.info("model: %s takes the %dx%d images resized to %dx%d", cfg.backbone, height, width, *size)
    x = BackbonePixels(size, mode=app.mode, name=f"{feature.name}_backbone_pixels")(x)
    # pretrained BatchNormalization statistics stay as they are, in both phases (see
    # strata.training.fine_tune); a random backbone learns its own
    return backbone(x, training=False if cfg.pretrained else None)


# the momentum of a random backbone's BatchNormalization statistics: Applications use 0.99 to
# 0.999, tuned for ImageNet's millions of steps, after which a small data set's few hundred
# steps leave the statistics near their initial values and the trained network predicts
# chance on anything but its training batches
RANDOM_INIT_BATCH_NORM_MOMENTUM = 0.9


def _quicker_batch_statistics(backbone) -> None:
    import keras

    for layer in backbone._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = min(layer.momentum, RANDOM_INIT_BATCH_NORM_MOMENTUM)


def _preset_image(cfg: PretrainedConfig, x, feature):
    """A KerasHub image backbone behind the preset's image converter (resize and pixel scaling)."""
    import keras
    import keras_hub

    from strata.layers import BackbonePixels

    backbone = _offline_safe(lambda: keras_hub.models.Backbone.from_preset(cfg.backbone, load_weights=cfg.weights in PRETRAINED), cfg)
    converter = _offline_safe(lambda: keras_hub.layers.ImageConverter.from_preset(cfg.backbone), cfg)
    if cfg.weights not in (None, *PRETRAINED):
        _load_weights_file(backbone, cfg)
    size = list(converter.image_size) if converter.image_size else None
    x = BackbonePixels(size, mode="none", name=f"{feature.name}_backbone_pixels")(x)
    x = converter(x)
    backbone.name = "backbone"
    x = backbone(x, training=False if cfg.pretrained else None)
    if len(x.shape) == 4:
        pool = keras.layers.GlobalAveragePooling2D if cfg.pooling == "avg" else keras.layers.GlobalMaxPooling2D
        x = pool(name="backbone_pool")(x)
    elif len(x.shape) == 3:  # a vision transformer's tokens: the class token
        x = x[:, 0, :]
    return x


def _preset_text(cfg: PretrainedConfig, x, texts):
    """A KerasHub text backbone behind the preset's own tokenizer and packer."""
    import keras_hub

    from strata.layers import PresetTextEncoder

    try:
        backbone = _offline_safe(lambda: keras_hub.models.Backbone.from_preset(cfg.backbone, load_weights=cfg.weights in PRETRAINED), cfg)
    except ConfigError:
        if cfg.weights is not None or cfg.backbone not in OFFLINE_TEXT_ARCHITECTURES:
            raise
        backbone, preprocessor = _offline_bert(cfg, texts)
    else:
        longest = getattr(backbone, "max_sequence_length", None) or cfg.sequence_length
        try:
            preprocessor = keras_hub.models.TextClassifierPreprocessor.from_preset(
                cfg.backbone, sequence_length=min(cfg.sequence_length, longest))
        except ValueError as ex:
            raise ConfigError(f"model.backbone: {cfg.backbone} has no text preprocessor ({str(ex).splitlines()[0]}); "
                              "it is not a text backbone") from None
    length = preprocessor.sequence_length
    if cfg.weights not in (None, *PRETRAINED):
        _load_weights_file(backbone, cfg)
    log.info("model: %s (%s), texts cut to %d tokens", cfg.backbone, type(backbone).__name__, length)
    return PresetTextEncoder(preprocessor, backbone, name="backbone")(x)


def _offline_bert(cfg: PretrainedConfig, texts):
    """`model.weights=null` on a BERT preset that cannot be downloaded: its published architecture,
    randomly initialised, with a WordPiece vocabulary learned from the training texts."""
    import keras_hub
    import tensorflow as tf

    reserved = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    data = tf.data.Dataset.from_tensor_slices(texts.astype(str).ravel()).batch(256)
    vocabulary = keras_hub.tokenizers.compute_word_piece_vocabulary(
        data, vocabulary_size=OFFLINE_VOCABULARY_SIZE, lowercase=True, reserved_tokens=reserved)
    length = min(cfg.sequence_length, 512)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=len(vocabulary), max_sequence_length=512, **OFFLINE_TEXT_ARCHITECTURES[cfg.backbone])
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=True)
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=length)
    log.warning("model: %s cannot be downloaded here; model.weights=null builds its architecture (%s), randomly "
                "initialised, with a WordPiece vocabulary of %d pieces learned from the training split",
                cfg.backbone, ", ".join(f"{k} {v}" for k, v in OFFLINE_TEXT_ARCHITECTURES[cfg.backbone].items()), len(vocabulary))
    return backbone, preprocessor


def _load_weights_file(backbone, cfg: PretrainedConfig) -> None:
    try:
        backbone.load_weights(cfg.weights)
    except (ValueError, KeyError, OSError) as ex:
        raise ConfigError(f"model.weights: {cfg.weights} does not fit backbone {cfg.backbone}: {str(ex).splitlines()[0]}") from None


def _offline_safe(make, cfg: PretrainedConfig):
    """`make()`, with a download that fails for want of a network turned into the user's error:
    what was being fetched and how to pass a local file or preset folder instead."""
    try:
        return make()
    except Exception as ex:  # Keras raises a bare Exception for a failed download
        text = str(ex)
        if not _is_download_failure(ex, text):
            if cfg.backbone not in APPLICATIONS and not Path(cfg.backbone).is_dir() and isinstance(ex, (ValueError, FileNotFoundError)):
                near = closest(cfg.backbone, APPLICATIONS)
                hint = f" Did you mean '{near}'?" if near else ""
                raise ConfigError(f"model.backbone: '{cfg.backbone}' is neither a Keras Applications backbone, a local "
                                  f"preset folder nor a KerasHub preset ({text.splitlines()[0][:200]}).{hint}") from None
            raise
        if cfg.backbone in APPLICATIONS:
            url = next((w for w in text.split() if w.startswith("http")), "").rstrip(":")
            raise ConfigError(
                f"model.weights=imagenet: {cfg.backbone}'s weights are downloaded from {url or 'the network'}, and "
                f"there is no network here. Download that file where there is one and pass model.weights=<the file> "
                f"(or put it in ~/.keras/models/), or train from random weights with model.weights=null."
            ) from None
        raise ConfigError(
            f"model.backbone={cfg.backbone}: the KerasHub preset must be downloaded, and there is no network here. "
            f"Where there is one, save it with keras_hub.models.Backbone.from_preset('{cfg.backbone}')"
            f".save_to_preset('<folder>') (its tokenizer or image converter the same way) and pass model.backbone=<folder>."
        ) from None


def _is_download_failure(ex: Exception, text: str) -> bool:
    import socket
    import urllib.error

    if "URL fetch failure" in text or isinstance(ex, (urllib.error.URLError, socket.gaierror, ConnectionError, TimeoutError)):
        return True
    lowered = text.lower()
    return any(s in lowered for s in ("name or service not known", "failed to resolve", "max retries exceeded",
                                      "temporary failure in name resolution", "connection"))
