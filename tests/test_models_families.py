"""Every model family trains for a few dozen steps on small data and learns something
measurable; its `model.keras` reloads and its SavedModel serves the same predictions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf

import strata.layers  # noqa: E402, F401  (registers strata's layers)
import strata.train  # noqa: F401  (registers strata's resolvers)
from tests.conftest import compose_config


@dataclass
class Trained:
    config: Any
    bundle: Any
    model: Any
    before: dict
    after: dict
    folder: Path


def train(overrides: tuple[str, ...], steps: int, folder: Path, batch: int = 32) -> Trained:
    from strata.data.loading import load_data
    from strata.export.exporter import write_saved_model
    from strata.models.builder import build_model, loss_and_metrics
    from strata.training.optimizers import build_optimizer

    config = compose_config(*overrides)
    keras.utils.set_random_seed(0)
    bundle = load_data(config)
    model = build_model(config.model, bundle)
    loss, metrics = loss_and_metrics(config.model, bundle.task)
    model.compile(optimizer=build_optimizer(config.optimizer, steps), loss=loss, metrics=metrics, jit_compile=False)
    validation = bundle.dataset("validation", 256)
    before = measure(model, bundle, validation)
    model.fit(bundle.dataset("train", batch, training=True).repeat(), epochs=1, steps_per_epoch=steps, verbose=0,
              shuffle=False)  # tf.data shuffles
    after = measure(model, bundle, validation)
    model.save(folder / "model.keras")
    write_saved_model(model, folder / "saved_model")
    return Trained(config, bundle, model, before, after, folder)


def measure(model, bundle, validation) -> dict:
    values = model.evaluate(validation, verbose=0, return_dict=True)
    if bundle.task.kind == "generation":
        # how far the generated digits' average image is from the real one's
        real = bundle.splits["validation"].x["image"]
        fake = keras.ops.convert_to_numpy(model.sample(len(real), seed=1))
        values["mean_image_distance"] = float(np.abs(fake.mean(axis=0) - real.mean(axis=0)).mean())
    return {k: float(v) for k, v in values.items()}


FAST = "optimizer.learning_rate=0.003"
# family -> (overrides, training steps)
FAMILIES = {
    "mlp": (("experiment=diagnosis", FAST), 40),
    "cnn": (("model=cnn", "model.filters=[16]", "model.dense_units=[32]", "model.dropout=0", FAST), 40),
    "rnn": (("model=rnn", "model.cell=gru", "model.units=[32]", FAST), 100),
    "transformer": (
        ("model=transformer", "model.embed_dim=32", "model.num_heads=2", "model.num_blocks=1", "model.ff_dim=64",
         "model.dropout=0.0", FAST),
        60,
    ),
    "graph": (("model=graph", "data.name=iris", "data.as_images=false", FAST), 40),
    "tabular": (("experiment=diagnosis", "model=tabular", "model.units=[32,32]", "model.ensemble_size=4",
                 "model.numeric_embedding=piecewise_linear", FAST), 40),
    "tabular_regression": (
        ("data.name=diabetes", "data.as_images=false", "model=tabular", "model.units=[32]", "model.ensemble_size=4",
         "model.numeric_embedding=periodic", FAST),
        60,
    ),
    "autoencoder": (("experiment=digits_denoise",), 60),
    "vae": (("experiment=digits_vae",), 100),
    "gan": (("experiment=digits_gan",), 60),
}
CLASSIFIERS = ("mlp", "cnn", "rnn", "transformer", "graph", "tabular")


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def trained(request, tmp_path_factory) -> tuple[str, Trained]:
    overrides, steps = FAMILIES[request.param]
    return request.param, train(overrides, steps, tmp_path_factory.mktemp(request.param))


def test_family_learns(trained):
    family, run = trained
    before, after = run.before, run.after
    print(f"{family}: before {before} after {after}")
    if family == "gan":
        # the generator's digits move towards the real ones
        assert after["mean_image_distance"] < 0.5 * before["mean_image_distance"], (before, after)
        assert np.isfinite(after["d_loss"]) and np.isfinite(after["g_loss"])
        return
    assert after["loss"] < 0.7 * before["loss"], (before, after)
    if family in CLASSIFIERS:
        # beats the majority class by at least half the way from it to perfect
        labels = run.bundle.splits["validation"].y
        majority = np.bincount(labels).max() / len(labels)
        assert after["accuracy"] > majority + 0.5 * (1 - majority), (after, majority)


def _examples(run: Trained, n: int = 16) -> dict[str, np.ndarray]:
    return {k: v[:n] for k, v in run.bundle.splits["test"].x.items()}


def test_model_keras_reloads_and_predicts_the_same(trained):
    family, run = trained
    reloaded = keras.saving.load_model(run.folder / "model.keras", safe_mode=True)
    if family == "gan":
        z = np.random.default_rng(0).normal(size=(8, run.model.latent_dim)).astype("float32")
        np.testing.assert_allclose(reloaded.predict(z, verbose=0), run.model.predict(z, verbose=0), atol=1e-5)
        assert type(reloaded).__name__ == "GAN" and reloaded.discriminator_optimizer is not None
        return
    x = _examples(run)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), run.model.predict(x, verbose=0), atol=1e-5)


def test_saved_model_signatures_serve_the_model(trained):
    family, run = trained
    served = tf.saved_model.load(str(run.folder / "saved_model"))
    signature = served.signatures["serving_default"]
    inputs = signature.structured_input_signature[1]
    if family == "gan":
        (name, spec), = inputs.items()
        assert name == "latent" and tuple(spec.shape) == (None, run.model.latent_dim)
        z = np.random.default_rng(0).normal(size=(8, run.model.latent_dim)).astype("float32")
        got = next(iter(signature(latent=tf.constant(z)).values())).numpy()
        assert got.shape == (8, 8, 8, 1)
        np.testing.assert_allclose(got, run.model.predict(z, verbose=0), atol=1e-5)
        assert 0 <= got.min() and got.max() <= 16  # raw pixel values, like the data
        return
    x = _examples(run)
    assert set(inputs) == set(x)
    got = next(iter(signature(**{k: tf.constant(v) for k, v in x.items()}).values())).numpy()
    np.testing.assert_allclose(got, run.model.predict(x, verbose=0), atol=1e-5)
    if family in ("autoencoder", "vae"):
        assert got.shape == x["image"].shape  # a reconstruction in raw pixel units
        encoder = served.signatures["encoder"]
        codes = encoder(image=tf.constant(x["image"]))
        latent = run.config.model.latent_dim
        assert codes["latent"].shape == (16, latent)
        assert ("latent_log_var" in codes) == (family == "vae")
        expected = keras.Model(run.model.inputs, run.model.get_layer("latent").output).predict(x, verbose=0)
        np.testing.assert_allclose(codes["latent"].numpy(), expected, atol=1e-5)
    else:
        assert set(signature.structured_outputs) and "encoder" not in served.signatures
