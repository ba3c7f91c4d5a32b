"""strata's custom layers: what they compute, masks, and config and file round trips."""

from __future__ import annotations

import keras
import numpy as np
import pytest

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
     "strata.layers.reconstruction_loss", "strata.layers.gan", "strata.layers.tabular", "strata.layers.signed_log"],
)
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), extraglobs={"keras": keras, "np": np})
    assert result.attempted and not result.failed


def test_piecewise_linear_encoding_fills_bins_up_to_the_value():
    from strata.layers import PiecewiseLinearEncoding

    layer = PiecewiseLinearEncoding([[0.0, 1.0, 3.0, 4.0], [10.0, 20.0]])
    x = keras.ops.convert_to_tensor([[2.0, 15.0], [-1.0, 30.0], [5.0, 10.0]])
    out = keras.ops.convert_to_numpy(layer(x))
    assert out.shape == (3, 2, 3)
    np.testing.assert_allclose(out[0], [[1.0, 0.5, 0.0], [0.5, 0.0, 0.0]])
    # below the first edge the first bin goes negative, above the last the last bin passes 1
    np.testing.assert_allclose(out[1], [[-1.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    np.testing.assert_allclose(out[2], [[1.0, 1.0, 2.0], [0.0, 0.0, 0.0]])
    assert PiecewiseLinearEncoding.from_config(layer.get_config()).get_config() == layer.get_config()


def test_quantile_edges_follow_the_training_values():
    from strata.layers.tabular import quantile_edges

    values = np.concatenate([np.arange(100.0), [np.nan]])
    edges = quantile_edges(values, 4)
    np.testing.assert_allclose(edges, [0.0, 24.75, 49.5, 74.25, 99.0])
    assert quantile_edges(np.full(10, 3.0), 8) == [2.5, 3.5]  # a constant column still gets one bin


@pytest.mark.parametrize("kind", ["regression", "softmax", "sigmoid"])
def test_ensemble_mean_trains_each_member_on_its_own_loss(kind):
    """The mean's loss plus the layer's added loss equals the mean of the members' own losses."""
    from strata.layers import EnsembleMean

    rng = np.random.default_rng(0)
    z = rng.normal(size=(6, 4, 3)).astype("float32") * 2
    layer = EnsembleMean(kind)
    mean = keras.ops.convert_to_numpy(layer(z, training=True))
    added = float(layer.losses[0])
    assert keras.ops.convert_to_numpy(EnsembleMean(kind)(z)).shape == (6, 3)
    if kind == "regression":
        y = rng.normal(size=(6, 3)).astype("float32")
        members = np.mean([np.mean((y - z[:, i]) ** 2) for i in range(4)])
        own = np.mean((y - mean) ** 2)
    elif kind == "softmax":
        y = rng.integers(0, 3, size=6)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        members = np.mean([float(loss(y, z[:, i])) for i in range(4)])
        own = float(loss(y, mean))
    else:
        y = rng.integers(0, 2, size=(6, 3)).astype("float32")
        loss = keras.losses.BinaryCrossentropy(from_logits=True)
        members = np.mean([float(loss(y, z[:, i])) for i in range(4)])
        own = float(loss(y, mean))
    assert added > 0
    np.testing.assert_allclose(own + added, members, rtol=1e-4)
    layer(z)  # not training: nothing added
    assert not layer.losses


def test_ensemble_inputs_start_members_apart():
    from strata.layers import EnsembleInputs

    layer = EnsembleInputs(8, seed=1)
    out = keras.ops.convert_to_numpy(layer(np.ones((2, 5), dtype="float32")))
    assert out.shape == (2, 8, 5)
    assert set(np.unique(out)) <= {-1.0, 1.0} and len({tuple(row) for row in out[0]}) > 1


def test_signed_log_compresses_only_heavy_tailed_columns():
    from strata.layers import SignedLog
    from strata.layers.signed_log import heavy_tailed

    rng = np.random.default_rng(0)
    values = np.stack([rng.lognormal(10, 1.5, 2000), rng.normal(size=2000), -rng.lognormal(5, 1.2, 2000)], axis=1)
    assert heavy_tailed(values).tolist() == [True, False, True]
    out = keras.ops.convert_to_numpy(SignedLog([True, False])(np.array([[np.e - 1, -3.0]], dtype="float32")))
    np.testing.assert_allclose(out, [[1.0, -3.0]], rtol=1e-6)


def test_a_tabular_model_reloads_from_a_keras_file(tmp_path):
    from strata.layers import EnsembleInputs, EnsembleMean, PeriodicEncoding, PiecewiseLinearEncoding, SignedLog

    x_in = keras.Input((2,), name="x")
    logged = SignedLog([True, False])(x_in)
    bins = keras.layers.Flatten()(PiecewiseLinearEncoding([[0.0, 1.0, 2.0], [-1.0, 0.0, 1.0, 2.0]])(logged))
    waves = keras.layers.Flatten()(PeriodicEncoding(3)(logged))
    members = EnsembleInputs(4, seed=0)(keras.layers.Concatenate()([bins, waves]))
    out = EnsembleMean("softmax")(keras.layers.Dense(3)(keras.layers.Dense(8, activation="relu")(members)))
    model = keras.Model(x_in, out)
    data = np.random.default_rng(0).normal(size=(5, 2)).astype("float32")
    expected = model.predict(data, verbose=0)
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(reloaded.predict(data, verbose=0), expected, atol=1e-6)
