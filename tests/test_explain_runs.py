"""`strata explain` as a new user runs it on the shipped experiments, and the reports their
training wrote: house prices (a table), sentiment (text), digits (images)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tests.conftest import ROOT, TINY, assert_user_error, strata

HOUSE_CSV = ROOT / "pipelines" / "datasets" / "ames_housing" / "train.csv"


def _train(tmp_path_factory, name: str, *overrides: str):
    run = tmp_path_factory.mktemp("runs") / name
    result = strata("train", *overrides, *TINY, "export=none", f"hydra.run.dir={run}", cwd=tmp_path_factory.mktemp("cwd"))
    assert result.code == 0, result.text
    return run


@pytest.fixture(scope="module")
def house_run(tmp_path_factory):
    return _train(tmp_path_factory, "house", "experiment=house_prices")


@pytest.fixture(scope="module")
def sentiment_run(tmp_path_factory):
    return _train(tmp_path_factory, "sentiment", "experiment=sentiment_transformer")


def _decodes(path) -> bool:
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        return image.width > 0 and image.height > 0


def test_explain_a_house_prices_table_by_its_raw_columns(house_run, tmp_path):
    rows = pd.read_csv(HOUSE_CSV, nrows=12, keep_default_na=False, dtype=str)
    rows.to_csv(tmp_path / "houses.csv", index=False)
    out = tmp_path / "explained"
    result = strata("explain", f"run={house_run}", f"input={tmp_path / 'houses.csv'}", f"output={out}", "repeats=1")
    assert result.code == 0, result.text

    columns = [f.get("column") or f["name"] for f in json.loads((house_run / "task.json").read_text())["features"]]
    frame = pd.read_csv(out / "attributions.csv")
    assert len(frame) == 12
    assert {"GrLivArea", "Neighborhood", "OverallQual"} <= set(frame.columns)
    assert set(columns) <= set(frame.columns)
    # completeness: the columns' attributions add up to prediction - baseline prediction
    total = frame[columns].sum(axis=1)
    spread = (frame["prediction"] - frame["baseline_prediction"]).abs().max()
    np.testing.assert_allclose(total, frame["prediction"] - frame["baseline_prediction"], atol=0.02 * spread)

    ranking = pd.read_csv(out / "importance.csv")
    assert set(ranking["feature"]) == set(columns) and list(ranking["rank"]) == list(range(1, len(columns) + 1))
    for picture in ("attributions.png", "importance.png"):
        assert _decodes(out / picture)
    assert "permutation importance" in result.out


def test_the_house_prices_report_shows_regression_plots(house_run):
    page = (house_run / "report.html").read_text()
    for picture in ("predicted_vs_actual", "residuals", "curve_loss", "curve_mae"):
        assert f"report/{picture}.png" in page
        assert _decodes(house_run / "report" / f"{picture}.png")
    assert "SalePrice" in page and "Resolved config" in page


def test_explain_sentiment_colours_the_words(sentiment_run, tmp_path):
    (tmp_path / "reviews.txt").write_text("The food was great, really great!\nService was slow and rude.\n")
    out = tmp_path / "words"
    result = strata("explain", f"run={sentiment_run}", f"input={tmp_path / 'reviews.txt'}", f"output={out}")
    assert result.code == 0, result.text
    page = (out / "text.html").read_text()
    assert "great," in page and "rude." in page and "background:rgba(" in page
    tokens = pd.read_csv(out / "tokens.csv")
    first = tokens["id"].iloc[0]  # the line number
    assert list(tokens[tokens["id"] == first]["word"]) == "The food was great, really great!".split()
    totals = pd.read_csv(out / "attributions.csv").set_index("id")
    by_text = tokens.groupby("id")["attribution"].sum()
    text_column = [c for c in totals.columns if c not in ("target", "prediction", "baseline_prediction", "completeness_gap")]
    np.testing.assert_allclose(by_text.to_numpy(), totals[text_column[0]].to_numpy(), rtol=1e-3, atol=1e-5)


def test_explain_digits_draws_a_heatmap_per_image(digits_run, tmp_path):
    from sklearn.datasets import load_digits

    np.save(tmp_path / "digits.npy", load_digits().images[:6])
    result = strata("explain", f"run={digits_run}", f"input={tmp_path / 'digits.npy'}", "method=occlusion")
    assert result.code == 0, result.text
    out = digits_run / "explain" / "digits_occlusion"
    heatmaps = sorted((out / "heatmaps").glob("*.png"))
    assert len(heatmaps) == 6 and all(_decodes(p) for p in heatmaps)
    assert _decodes(out / "heatmaps.png")
    assert len(pd.read_csv(out / "attributions.csv")) == 6


def test_explain_refuses_a_misspelt_method_and_permutation_on_images(digits_run, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, 8, 8), "float32"))
    typo = strata("explain", f"run={digits_run}", f"input={tmp_path / 'x.npy'}", "method=integrated_gradient")
    assert_user_error(typo, "method=integrated_gradient", "integrated_gradients")
    images = strata("explain", f"run={digits_run}", f"input={tmp_path / 'x.npy'}", "method=permutation")
    assert_user_error(images, "method=permutation", "image")
