"""Class imbalance: `data.class_weight` (none, balanced, a mapping) trains a classifier on a 95/5
table, and `metrics.json`, `strata evaluate` and report.html hold balanced accuracy, macro F1 and
per-class precision, recall, F1 and support."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import assert_user_error, strata

ROWS, TEST_FRACTION = 4000, 0.2


def _imbalanced_csv(path: Path) -> Path:
    """Two numeric features, Gaussians 1.5 apart per feature: the 5% `yes` class is learnable,
    but an unweighted loss is best served by (nearly) always answering `no`."""
    import pandas as pd

    rng = np.random.default_rng(0)
    y = rng.random(ROWS) < 0.05
    x = rng.normal(size=(ROWS, 2)) + 1.5 * y[:, None]
    frame = pd.DataFrame({"a": x[:, 0].round(4), "b": x[:, 1].round(4), "label": np.where(y, "yes", "no")})
    frame.to_csv(path, index=False)
    return path


def _train(root: Path, name: str, *overrides: str):
    data = ("data=csv", f"data.path={root / 'imbalanced.csv'}", "data.target=label", f"data.split.test={TEST_FRACTION}")
    tiny = ("model.units=[8]", "optimizer.learning_rate=0.01", "trainer.epochs=4", "export=none")
    return strata("train", *data, *tiny, *overrides, f"hydra.run.dir={root / name}", cwd=root)


@pytest.fixture(scope="session")
def imbalance(tmp_path_factory) -> dict:
    """Every training command of this module, run side by side (each is mostly TensorFlow's
    start-up): the same seed and model unweighted and `balanced` (with the default callbacks, the
    report and a sweep's `optimized_metric` on the new metrics), a mapping, and two refused configs."""
    root = tmp_path_factory.mktemp("imbalance")
    _imbalanced_csv(root / "imbalanced.csv")
    quick = ("trainer.epochs=1", "report=false", "callbacks=none")
    jobs = {
        "balanced": ("data.class_weight=balanced", "optimized_metric=validation/balanced_accuracy"),
        "none": ("data.class_weight=none", "report=false", "callbacks=none"),
        "mapping": ("data.class_weight={yes: 19}", *quick),
        "unknown_class": ("data.class_weight={yess: 19}", *quick),
        "regression": ("data.target=a", "data.class_weight=balanced", *quick),
    }
    with ThreadPoolExecutor(3) as pool:
        futures = {name: pool.submit(_train, root, name, *overrides) for name, overrides in jobs.items()}
        results = {name: future.result() for name, future in futures.items()}
    return {"root": root, **results}


def _metrics(imbalance, name: str) -> dict:
    result = imbalance[name]
    assert result.code == 0, result.text
    return json.loads((imbalance["root"] / name / "metrics.json").read_text())


def test_balanced_weights_raise_the_balanced_accuracy_of_the_test_split(imbalance):
    unweighted, weighted = _metrics(imbalance, "none"), _metrics(imbalance, "balanced")
    assert weighted["test"]["balanced_accuracy"] > unweighted["test"]["balanced_accuracy"] + 0.1
    assert weighted["per_class"]["test"]["yes"]["recall"] > unweighted["per_class"]["test"]["yes"]["recall"]
    # the weights are scikit-learn's n / (classes * count) of the training split, in one log line
    counts = {c: v["support"] for c, v in weighted["per_class"]["train"].items()}
    expected = {c: sum(counts.values()) / (2 * n) for c, n in counts.items()}
    log = (imbalance["root"] / "balanced" / "train.log").read_text()
    lines = [line for line in log.splitlines() if "class weights (balanced):" in line]
    assert len(lines) == 1
    shown = dict(part.split() for part in lines[0].split("class weights (balanced): ")[1].split(", "))
    assert shown.keys() == expected.keys()
    for c in expected:
        assert float(shown[c]) == pytest.approx(expected[c], rel=1e-3)
    assert "class weights" not in (imbalance["root"] / "none" / "train.log").read_text()


@pytest.mark.parametrize("name", ["none", "balanced"])
def test_per_class_metrics_are_consistent(imbalance, name):
    metrics = _metrics(imbalance, name)
    assert set(metrics) == {"train", "validation", "test", "per_class", "evaluated_rows"}
    sizes = {"test": int(ROWS * TEST_FRACTION), "validation": int(ROWS * 0.1)}
    for split in ("train", "validation", "test"):
        table, values = metrics["per_class"][split], metrics[split]
        assert set(table) == {"no", "yes"}
        for row in table.values():
            assert set(row) == {"precision", "recall", "f1", "support"}
            assert all(0 <= row[k] <= 1 for k in ("precision", "recall", "f1"))
        total = sum(row["support"] for row in table.values())
        assert total == sizes.get(split, ROWS - sum(sizes.values()))
        assert table["yes"]["support"] < table["no"]["support"] / 10
        recalls = [row["recall"] for row in table.values()]
        assert values["balanced_accuracy"] == pytest.approx(np.mean(recalls))
        assert values["macro_f1"] == pytest.approx(np.mean([row["f1"] for row in table.values()]))
        # the predictions agree with Keras's own accuracy (validation and test stay unweighted)
        correct = sum(row["recall"] * row["support"] for row in table.values())
        assert values["accuracy"] == pytest.approx(correct / total, abs=1.5 / total)


def test_evaluate_reports_the_same_class_metrics(imbalance):
    recorded = _metrics(imbalance, "balanced")
    result = strata("evaluate", f"run={imbalance['root'] / 'balanced'}")
    assert result.code == 0, result.text
    printed = json.loads(result.out[result.out.index("{") :])
    for key in ("loss", "accuracy", "balanced_accuracy", "macro_f1"):
        assert printed["test"][key] == pytest.approx(recorded["test"][key], rel=1e-4)
    assert printed["per_class"]["test"].keys() == recorded["per_class"]["test"].keys() == {"no", "yes"}
    for label, row in recorded["per_class"]["test"].items():
        assert printed["per_class"]["test"][label] == pytest.approx(row)


def test_the_report_shows_the_per_class_tables(imbalance):
    _metrics(imbalance, "balanced")
    page = (imbalance["root"] / "balanced" / "report.html").read_text()
    assert "<h2>Per class</h2>" in page and "<th>balanced_accuracy</th>" in page
    assert f"test split ({int(ROWS * TEST_FRACTION)} examples; balanced accuracy" in page
    assert page.count("<td>yes</td>") == 2 and page.count("<td>no</td>") == 2  # validation and test


def test_a_mapping_weighs_the_classes_it_names_and_leaves_the_others_at_1(imbalance):
    _metrics(imbalance, "mapping")
    log = (imbalance["root"] / "mapping" / "train.log").read_text()
    assert "class weights (from data.class_weight): no 1, yes 19" in log


def test_an_unknown_class_in_the_mapping_names_the_closest_one(imbalance):
    assert_user_error(imbalance["unknown_class"], "data.class_weight", "'yess'", "Did you mean 'yes'?")
    assert not (imbalance["root"] / "unknown_class").exists()


def test_class_weight_on_a_regression_target_is_refused(imbalance):
    assert_user_error(imbalance["regression"], "data.class_weight", "task is regression")


def test_bad_weights_and_modes_are_refused_before_tensorflow(tmp_path):
    for value, fragment in (("{yes: 0}", "weights must be positive"), ("balance", "Did you mean 'balanced'?")):
        result = strata("train", "data=csv", "data.target=label", f"data.class_weight={value}", cwd=tmp_path)
        assert_user_error(result, "data.class_weight", fragment)


def test_mapping_keys_name_classes_by_their_raw_labels():
    from strata.data.class_weights import balanced, class_index
    from strata.errors import ConfigError

    assert class_index(1, ["0", "1"]) == class_index(1.0, ["0", "1"]) == class_index("1", ["0", "1"]) == 1
    assert class_index(True, ["no", "yes"]) == 1 and class_index(False, ["no", "yes"]) == 0  # YAML's bare yes/no
    with pytest.raises(ConfigError, match="no class '2' in target 'y'"):
        class_index(2, ["0", "1"], "y")
    from sklearn.utils.class_weight import compute_class_weight

    y = np.array([0] * 90 + [1] * 7 + [2] * 3)
    np.testing.assert_allclose(balanced(np.bincount(y)), compute_class_weight("balanced", classes=np.arange(3), y=y))
