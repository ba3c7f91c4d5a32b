"""`report.html` of a run: every picture it shows exists and decodes, the sections a person looks
for are there, `strata report` rewrites it on demand, and the pictures reach TensorBoard."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np

from tests.conftest import strata


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.sources.append(dict(attrs).get("src", ""))


def image_sources(page: str) -> list[str]:
    parser = _Images()
    parser.feed(page)
    return parser.sources


def assert_every_image_decodes(run) -> list[str]:
    from PIL import Image

    sources = image_sources((run / "report.html").read_text(encoding="utf-8"))
    assert sources, "report.html shows no image"
    for src in sources:
        assert not re.match(r"^[a-z]+:", src), f"{src}: not a relative path (the page must work without a server)"
        path = run / src
        assert path.is_file(), f"report.html references {src}, which does not exist"
        with Image.open(path) as image:
            image.load()
            assert image.format == "PNG" and image.width > 50 and image.height > 50, src
    return sources


def test_training_writes_a_report_whose_images_all_exist_and_decode(digits_run):
    sources = assert_every_image_decodes(digits_run)
    for name in ("curve_loss", "curve_accuracy", "confusion_matrix", "precision_recall"):
        assert f"report/{name}.png" in sources
    page = (digits_run / "report.html").read_text()
    for section in ("Final metrics", "Learning curves", "Results: multiclass", "Model:", "Resolved config"):
        assert section in page
    assert "Conv2D" in page and "task_name: digits_cnn" in page
    assert "report: " in (digits_run / "train.log").read_text()


def test_strata_report_rewrites_the_report_on_demand(digits_run):
    page = digits_run / "report.html"
    before = page.stat().st_mtime_ns
    result = strata("report", f"run={digits_run}")
    assert result.code == 0, result.text
    assert page.stat().st_mtime_ns > before and str(page) in result.out
    assert_every_image_decodes(digits_run)
    assert not list(digits_run.glob(".report*"))  # no temporary left behind


def test_the_report_images_go_to_tensorboard(digits_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(digits_run / "tensorboard" / "report"), size_guidance={"tensors": 0})
    events.Reload()
    tags = events.Tags()["tensors"]
    assert "report/confusion_matrix" in tags and "report/curve_loss" in tags


def test_a_report_that_fails_never_fails_training(tmp_path, caplog):
    from types import SimpleNamespace

    from strata.report.builder import report_after_training
    from strata.run.finished import FinishedRun
    from strata.run.layout import RunDir

    broken = FinishedRun(RunDir(tmp_path), SimpleNamespace(report=True), None)
    with caplog.at_level("WARNING", logger="strata.report"):
        assert report_after_training(broken, model=object(), bundle=None) is None
    assert "report.html not written" in caplog.text
    off = FinishedRun(RunDir(tmp_path), SimpleNamespace(report=False), None)
    assert report_after_training(off, model=object(), bundle=None) is None
    assert not (tmp_path / "report.html").exists()


def test_regression_and_classification_plots_from_predictions():
    import keras

    from strata.data.bundle import DataBundle, Split
    from strata.data.features import Feature, Task
    from strata.report.task_results import task_results

    rng = np.random.default_rng(0)
    x = {"a": rng.normal(size=(50, 1)).astype("float32")}
    inputs = keras.Input((1,), name="a")
    regression = keras.Model({"a": inputs}, keras.layers.Dense(1)(inputs))
    bundle = DataBundle([Feature("a", "numeric")], Task("regression", target="price"),
                        {"train": Split(x, x["a"][:, 0] * 2)})
    results = task_results(regression, bundle, bundle.task)
    assert [p.name for p in results.plots] == ["predicted_vs_actual", "residuals"] and results.split == "train"

    classifier = keras.Model({"a": inputs}, keras.layers.Dense(3, activation="softmax")(inputs))
    labels = rng.integers(0, 3, size=50)
    bundle = DataBundle([Feature("a", "numeric")], Task("multiclass", target="kind", classes=["x", "y", "z"]),
                        {"test": Split(x, labels), "train": Split(x, labels)})
    results = task_results(classifier, bundle, bundle.task)
    assert [p.name for p in results.plots] == ["confusion_matrix", "precision_recall"] and results.split == "test"
    assert sum(row[-1] for row in results.tables[0].rows) == 50
