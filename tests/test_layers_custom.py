"""strata's custom layers: what they compute, masks, and config and file round trips."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from strata import layers  # noqa: E402
from strata.layers import (  # noqa: E402
    PositionalEmbedding,
    ReconstructionLoss,
    Step,
    TransformerEncoderBlock,
    VAESampling,
)

LAYERS = [
    (Step, {"threshold": 0.25}, (2, 3)),
    (PositionalEmbedding, {"sequence_length": 6, "kind": "sinusoidal", "scale": True}, (2, 6, 8)),
    (PositionalEmbedding, {"sequence_length": 6}, (2, 6, 8)),
    (TransformerEncoderBlock, {"num_heads": 2, "ff_dim": 16, "dropout": 0.0, "norm_first": True}, (2, 6, 8)),
]


@pytest.mark.parametrize(("cls", "kwargs", "shape"), LAYERS, ids=lambda v: getattr(v, "__name__", None))
def test_config_round_trips_and_output_matches(cls, kwargs, shape):
    layer = cls(**kwargs)
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    out = keras.ops.convert_to_numpy(layer(x))
    clone = cls.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(clone(x)), out, atol=1e-6)
    assert out.shape == shape


def test_step_is_one_above_the_threshold_only():
    x = keras.ops.convert_to_tensor([[0.2, 0.5, 0.51, 3.0]])
    assert keras.ops.convert_to_numpy(Step()(x)).tolist() == [[0, 0, 1, 1]]
    assert keras.ops.convert_to_numpy(Step(threshold=0.0)(x - 0.3)).tolist() == [[0, 1, 1, 1]]
    assert keras.ops.convert_to_numpy(layers.step(x)).tolist() == [[0, 0, 1, 1]]


def test_positional_embedding_orders_steps_and_keeps_the_mask():
    emb = keras.layers.Embedding(10, 4, mask_zero=True)
    tokens = np.array([[3, 4, 0, 0]])
    pos = PositionalEmbedding(sequence_length=4, kind="sinusoidal")
    # the same token at two positions gets two different vectors
    twice = keras.ops.convert_to_numpy(pos(emb(np.array([[3, 3, 0, 0]]))))
    assert not np.allclose(twice[0, 0], twice[0, 1])
    mask = emb.compute_mask(tokens)
    assert keras.ops.convert_to_numpy(pos.compute_mask(emb(tokens), mask)).tolist() == [[True, True, False, False]]


def test_transformer_block_ignores_padded_steps():
    block = TransformerEncoderBlock(num_heads=2, ff_dim=8, dropout=0.0)
    x = np.random.default_rng(1).normal(size=(1, 4, 8)).astype("float32")
    mask = np.array([[True, True, False, False]])
    a = keras.ops.convert_to_numpy(block(x, mask=mask))
    x2 = x.copy()
    x2[:, 2:] = 100.0  # change only the padding
    b = keras.ops.convert_to_numpy(block(x2, mask=mask))
    np.testing.assert_allclose(a[:, :2], b[:, :2], atol=1e-5)


def test_transformer_block_refuses_heads_that_do_not_divide_the_size():
    with pytest.raises(ValueError, match="divisible by num_heads"):
        TransformerEncoderBlock(num_heads=3, ff_dim=8)(np.zeros((1, 2, 8), "float32"))


def test_vae_sampling_adds_the_kl_term_and_is_deterministic_at_inference():
    sampling = VAESampling(beta=2.0, seed=1)
    mean = np.ones((4, 3), "float32")
    log_var = np.zeros((4, 3), "float32")
    out = keras.ops.convert_to_numpy(sampling([mean, log_var], training=False))
    np.testing.assert_array_equal(out, mean)
    # KL(N(1, 1) || N(0, 1)) = 0.5 per dimension; 3 dimensions, beta 2
    assert float(sampling.losses[0]) == pytest.approx(3.0)
    sampled = keras.ops.convert_to_numpy(sampling([mean, log_var], training=True))
    assert not np.allclose(sampled, mean)
    assert VAESampling.from_config(sampling.get_config()).get_config() == sampling.get_config()


def test_reconstruction_loss_mean_and_sum():
    target, guess = np.zeros((2, 2, 2), "float32"), np.ones((2, 2, 2), "float32")
    mean = ReconstructionLoss("mse")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(mean([target, guess])), guess)
    assert float(mean.losses[0]) == pytest.approx(1.0)
    total = ReconstructionLoss("mae", reduction="sum", weight=0.5)
    total([target, guess])
    assert float(total.losses[0]) == pytest.approx(2.0)
    assert ReconstructionLoss.from_config(total.get_config()).get_config() == total.get_config()
    with pytest.raises(ValueError):
        ReconstructionLoss("msee")


def test_a_model_of_every_layer_reloads_from_a_keras_file(tmp_path):
    tokens = keras.Input((5,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(20, 8, mask_zero=True)(tokens)
    x = PositionalEmbedding(5)(x)
    x = TransformerEncoderBlock(2, 16)(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    mean, log_var = keras.layers.Dense(2, name="latent")(x), keras.layers.Dense(2)(x)
    z = VAESampling()([mean, log_var])
    out = keras.layers.Dense(1, activation=layers.step)(z)
    gate = Step(0.1)(keras.layers.Dense(1, activation="sigmoid")(z))
    model = keras.Model(tokens, [out, gate])
    data = np.array([[1, 2, 3, 0, 0], [4, 5, 0, 0, 0]])
    expected = [keras.ops.convert_to_numpy(o) for o in model.predict(data, verbose=0)]
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    for got, want in zip(reloaded.predict(data, verbose=0), expected):
        np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize(
    "module",
    ["strata.layers.step", "strata.layers.positional_embedding", "strata.layers.transformer_block", "strata.layers.vae_sampling",
     "strata.layers.reconstruction_loss", "strata.layers.gan"],
)
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), extraglobs={"keras": keras, "np": np})
    assert result.attempted and not result.failed
