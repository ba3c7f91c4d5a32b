"""Attribution sanity checks on models built in-process by strata's own builder.

- a regression whose target depends on two of ten columns: those two rank first;
- integrated gradients are complete: per example, the attributions sum to
  `prediction - baseline prediction`, for numbers (with missing values), one-hot and embedded
  categories, bags of n-grams and token sequences through a masked transformer.
"""

from __future__ import annotations

import numpy as np
import pytest

from strata.data.bundle import DataBundle, Split
from strata.data.features import Feature, Task


def _train(bundle: DataBundle, model_cfg, epochs: int):
    import keras

    from strata.models.builder import build_model, loss_and_metrics

    keras.utils.set_random_seed(0)
    model = build_model(model_cfg, bundle)
    loss, _ = loss_and_metrics(model_cfg, bundle.task)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss)
    model.fit(bundle.dataset("train", 64, training=True), epochs=epochs, verbose=0, shuffle=False)  # tf.data shuffles
    return model


def _mlp(**kwargs):
    from strata.models.families.mlp import MLPConfig

    return MLPConfig(family="mlp", name="mlp", **{"units": [32], "dropout": 0.0, **kwargs})


@pytest.fixture(scope="module")
def two_of_ten():
    """y = 2 z(c2) - 1.5 z(c7) + noise over ten numeric columns of different scales."""
    rng = np.random.default_rng(0)
    n = 1200
    scales = rng.uniform(0.5, 20, size=10)
    x = (rng.normal(size=(n, 10)) * scales + rng.normal(size=10) * 10).astype("float32")
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    y = (2 * z[:, 2] - 1.5 * z[:, 7] + 0.05 * rng.normal(size=n)).astype("float32")
    columns = {f"c{i}": x[:, i : i + 1] for i in range(10)}
    task = Task("regression", target="y", target_mean=[float(y[:1000].mean())], target_std=[float(y[:1000].std())])
    splits = {"train": Split({k: v[:1000] for k, v in columns.items()}, y[:1000]),
              "test": Split({k: v[1000:] for k, v in columns.items()}, y[1000:])}
    bundle = DataBundle([Feature(f"c{i}", "numeric") for i in range(10)], task, splits)
    return bundle, _train(bundle, _mlp(), epochs=25)


@pytest.mark.parametrize("method", ["integrated_gradients", "occlusion"])
def test_the_two_informative_columns_rank_first(two_of_ten, method):
    from strata.explain.explainer import explain

    bundle, model = two_of_ten
    test = bundle.splits["test"]
    explanation = explain(model, bundle.features, test.x, bundle.task, method=method,
                          reference=bundle.splits["train"].x)
    assert set(explanation.mean_abs().index[:2]) == {"c2", "c7"}, explanation.mean_abs()


def test_permutation_importance_ranks_the_two_informative_columns_first(two_of_ten):
    from strata.explain.permutation import permutation_importance
    from strata.run.inference import predict_raw

    bundle, model = two_of_ten
    test = bundle.splits["test"]
    ranking = permutation_importance(lambda x: predict_raw(model, x), bundle.features, test.x, test.y,
                                     bundle.task)
    assert set(ranking["feature"][:2]) == {"c2", "c7"}, ranking
    assert ranking["importance"][1] > 10 * max(ranking["importance"][2], 1e-6)


def _assert_complete(explanation, rtol: float = 0.01):
    frame = explanation.frame()
    spread = np.abs(frame["prediction"] - frame["baseline_prediction"]).to_numpy()
    gap = np.abs(frame["completeness_gap"].to_numpy())
    assert np.all(np.isfinite(gap))
    tolerance = rtol * max(spread.max(), 1e-3)
    assert gap.max() <= tolerance, (gap.max(), spread.max())


def test_integrated_gradients_sum_to_the_prediction_gap_on_a_table(two_of_ten):
    from strata.explain.explainer import explain

    bundle, model = two_of_ten
    explanation = explain(model, bundle.features, bundle.splits["test"].x, bundle.task,
                          steps=256, reference=bundle.splits["train"].x)
    _assert_complete(explanation)
    assert explanation.frame().shape[0] == bundle.size("test")


@pytest.fixture(scope="module", params=["none", "l2"], ids=["bag", "unit-length bag"])
def mixed_table(request):
    """A classifier over a number with missing values, a small and a large category (one-hot and
    embedding) and a short text (bag of n-grams, as counted or scaled to unit length: the text
    default, `data.text.norm=l2`)."""
    rng = np.random.default_rng(1)
    n = 600
    number = rng.normal(size=(n, 1)).astype("float32")
    number[::9] = np.nan
    small = rng.choice(["red", "green", "blue"], size=(n, 1)).astype(object)
    large = rng.choice([f"k{i}" for i in range(40)], size=(n, 1)).astype(object)
    words = np.array(["good", "bad", "fine", "awful", "great", "meh"], dtype=object)
    text = np.array([[" ".join(rng.choice(words, size=4))] for _ in range(n)], dtype=object)
    score = np.nan_to_num(number[:, 0]) + (small[:, 0] == "red") + np.char.count(text[:, 0].astype(str), "good")
    y = (score > np.median(score)).astype("int32")
    features = [Feature("number", "numeric"), Feature("small", "categorical", dtype="string"),
                Feature("large", "categorical", dtype="string"), Feature("review", "text", dtype="string", options={"norm": request.param})]
    columns = {"number": number, "small": small, "large": large, "review": text}
    task = Task("binary", target="y", classes=["no", "yes"])
    bundle = DataBundle(features, task, {"train": Split(columns, y)})
    return bundle, _train(bundle, _mlp(max_one_hot=8, embedding_dim=4), epochs=8)


def test_integrated_gradients_are_complete_through_lookups_embeddings_and_text_bags(mixed_table):
    from strata.explain.explainer import explain

    bundle, model = mixed_table
    x = {k: v[:40] for k, v in bundle.splits["train"].x.items()}
    explanation = explain(model, bundle.features, x, bundle.task, steps=256,
                          reference=bundle.splits["train"].x)
    _assert_complete(explanation)
    for name in ("number", "small", "large", "review"):
        assert np.isfinite(explanation.totals[name]).all(), name
    # each text's per-word attributions add up to the text's total
    per_word = np.array([w.sum() for w in explanation.maps["review"]])
    np.testing.assert_allclose(per_word, explanation.totals["review"], rtol=1e-4, atol=1e-6)
    assert explanation.tokens["review"][0] == str(x["review"][0, 0]).split()


def test_integrated_gradients_are_complete_per_token_through_a_masked_transformer():
    from strata.explain.explainer import explain
    from strata.models.families.transformer import TransformerConfig
    from strata.run.inference import predict_raw

    rng = np.random.default_rng(2)
    vocabulary = ["good", "bad", "film", "plot", "acting", "the", "a", "was", "very"]
    texts = [" ".join(rng.choice(vocabulary, size=rng.integers(2, 8))) for _ in range(300)]
    y = np.array([t.count("good") > t.count("bad") for t in texts], dtype="int32")
    features = [Feature("text", "text", dtype="string", options={"sequence_length": 12})]
    bundle = DataBundle(features, Task("binary", target="y", classes=["neg", "pos"]),
                        {"train": Split({"text": np.array(texts, dtype=object).reshape(-1, 1)}, y)})
    cfg = TransformerConfig(family="transformer", name="t", embed_dim=8, num_heads=2, num_blocks=1, ff_dim=16, dropout=0.0)
    model = _train(bundle, cfg, epochs=3)
    x = {"text": np.array([["The film was VERY good!"], ["bad plot, bad acting"], ["a"]], dtype=object)}
    explanation = explain(model, bundle.features, x, bundle.task, steps=256)
    _assert_complete(explanation)
    assert explanation.tokens["text"][0] == ["The", "film", "was", "VERY", "good!"]
    assert [len(w) for w in explanation.maps["text"]] == [5, 4, 1]
    # the prediction the split model explains is the full model's prediction
    np.testing.assert_allclose(explanation.prediction, predict_raw(model, x)[:, 0], rtol=1e-4, atol=1e-5)


def test_saliency_and_occlusion_give_finite_attributions_for_every_feature(mixed_table):
    from strata.explain.explainer import explain

    bundle, model = mixed_table
    x = {k: v[:10] for k, v in bundle.splits["train"].x.items()}
    for method in ("saliency", "occlusion"):
        explanation = explain(model, bundle.features, x, bundle.task, method=method,
                              reference=bundle.splits["train"].x)
        for name, values in explanation.totals.items():
            assert np.isfinite(values).all(), (method, name)
        assert [len(w) for w in explanation.maps["review"]] == [4] * 10


def test_predict_raw_batches_by_the_widest_activation_and_matches_the_model():
    """A small image that grows into many feature maps is predicted in batches sized by the
    widest layer output, not by its few input values, and the batched outputs are the model's."""
    import keras

    from strata.run import inference

    inputs = keras.Input((16, 16, 3), name="image")
    h = keras.layers.Conv2D(64, 3, padding="same", activation="relu")(inputs)
    outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(h))
    model = keras.Model({"image": inputs}, outputs)  # named raw inputs, as strata's builders make them
    assert inference.largest_activation(model) == 16 * 16 * 64
    x = {"image": np.random.default_rng(0).uniform(0, 1, (300, 16, 16, 3)).astype("float32")}
    assert 32 <= inference.predict_batch_size(model, x) == inference.PREDICT_VALUES // (16 * 16 * 64) < 300
    table = {"a": np.zeros((300, 1), "float32"), "b": np.zeros((300, 1), "float32")}
    assert inference.predict_batch_size(keras.Sequential([keras.Input((2,)), keras.layers.Dense(8)]), table) == 8192
    np.testing.assert_allclose(inference.predict_raw(model, x), model(x).numpy(), rtol=1e-5, atol=1e-5)
