"""Recommendation end to end through the real CLI: `data=interactions` + `model=two_tower`.

One run of `experiment=recommend_two_tower` on the shipped synthetic interactions is shared by the
tests of its metrics, its SavedModel and `strata predict`; a second, tiny one reads a local copy
of MovieLens 100k's `u.data` format with `model=matrix_factorization`. Bad inputs end with exit
code 2 and one line.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import ROOT, assert_user_error, strata

INTERACTIONS = ROOT / "pipelines" / "datasets" / "interactions" / "interactions.csv"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("recommend")
    result = strata("train", "experiment=recommend_two_tower", "trainer.epochs=8", f"hydra.run.dir={root / 'run'}", cwd=root)
    assert result.code == 0, result.text
    return root / "run"


def training_items() -> dict[str, set[str]]:
    """Each user's training items: all but the last two interactions (test, then validation)."""
    frame = pd.read_csv(INTERACTIONS, dtype={"user": str, "item": str})
    frame = frame.reset_index().sort_values(["user", "timestamp", "index"])
    frame = frame[frame.groupby("user").cumcount(ascending=False) >= 2]
    return frame.groupby("user")["item"].apply(set).to_dict()


@pytest.mark.slow
def test_two_tower_beats_the_popularity_baseline(run):
    metrics = json.loads((run / "metrics.json").read_text())
    for split in ("validation", "test"):
        values = metrics[split]
        assert values["users"] == 2000
        assert values["recall_at_10"] > values["popularity_recall_at_10"] + 0.05, values
        assert values["ndcg_at_10"] > values["popularity_ndcg_at_10"] + 0.03, values
        curve = metrics["retrieval_curve"][split]
        assert curve["k"] == [1, 5, 10, 20, 50] and curve["recall"] == sorted(curve["recall"])
    assert json.loads((run / "task.json").read_text())["task"]["kind"] == "retrieval"
    log = (run / "train.log").read_text()
    summary = log[log.index("run finished"):]
    assert "recall_at_10" in summary and "popularity_recall_at_10" in summary and "ndcg_at_10" in summary
    assert "recall@k" in (run / "report.html").read_text()
    # the experiment's feature tables are read and joined by id
    assert "user features from users.csv: 1 numeric (age), 1 categorical (segment); 2,000 of 2,000" in log
    assert "item features from items.csv: 1 numeric (price), 1 categorical (category)" in log


@pytest.mark.slow
def test_tensorboard_holds_recall_over_k(run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util.tensor_util import make_ndarray

    metrics = json.loads((run / "metrics.json").read_text())["retrieval_curve"]
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"tensors": 0}).Reload()
    tags = events.Tags()["tensors"]
    for split in ("validation", "test"):
        for series in ("recall", "popularity_recall"):
            points = events.Tensors(f"retrieval/{split}_{series}_at_k")
            assert [p.step for p in points] == metrics[split]["k"]
            assert np.allclose([float(make_ndarray(p.tensor_proto)) for p in points], metrics[split][series])
    assert "final/test_recall_at_10" in tags


@pytest.mark.slow
def test_feature_tables_raise_recall(run, tmp_path):
    """The same experiment without the user and item feature tables: the ids alone recall fewer
    held-out items (the features reveal part of each user's and item's latent tastes)."""
    result = strata("train", "experiment=recommend_two_tower", "trainer.epochs=8", "data.user_features.path=null",
                    "data.item_features.path=null", "report=false", "export=none", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert result.code == 0, result.text
    assert "features from" not in (tmp_path / "run" / "train.log").read_text()
    without = json.loads((tmp_path / "run" / "metrics.json").read_text())["test"]
    with_features = json.loads((run / "metrics.json").read_text())["test"]
    assert with_features["recall_at_10"] > without["recall_at_10"] + 0.02, (with_features, without)


def test_feature_table_aligns_to_the_vocabulary():
    from strata.data.interactions_source import IdFeatures

    table = IdFeatures("item", np.array(["b", "a", "c"], dtype=object), {"price": np.array([1.0, np.nan, 3.0])},
                       {"colour": np.array(["red", "blue", ""], dtype=object)}, "items.csv")
    numeric, categorical, sizes = table.aligned(["a", "b", "c", "d"])  # d has no row
    # row 0: an unknown id; price standardized over the rows that have one (b: 1, c: 3), missing at the mean
    assert numeric[:, 0].tolist() == [0.0, 0.0, -1.0, 1.0, 0.0]
    assert sizes == {"colour": 2} and categorical[:, 0].tolist() == [0, 1, 2, 0, 0]  # blue 1, red 2, missing 0


@pytest.mark.slow
def test_saved_model_serves_top_10_unseen_items_with_plain_tensorflow(run, tmp_path):
    # the same model exported without the exclusion, beside the run's own export
    shutil.copytree(run, tmp_path / "run")
    result = strata("export", f"run={tmp_path / 'run'}", "exclude_seen=false", cwd=tmp_path)
    assert result.code == 0, result.text
    users = [f"u{i:04d}" for i in range(40)]
    script = f"""
import json, tensorflow as tf
out = {{}}
for name, path in (("on", {str(run / 'export' / 'saved_model')!r}), ("off", {str(tmp_path / 'run' / 'export' / 'saved_model')!r})):
    loaded = tf.saved_model.load(path)
    top = loaded.signatures["serving_default"](user=tf.constant({users!r} + ["nobody"]))
    out[name] = {{k: v.numpy().astype(str if k != "scores" else float).tolist() for k, v in top.items()}}
pair = loaded.signatures["score"](user=tf.constant(["u0001"]), item=tf.constant(["i0001"]))
out["pair"] = pair["score"].numpy().tolist()
print(json.dumps(out))
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    seen = training_items()
    on, off = out["on"], out["off"]
    for user, ids, scores in zip(users, on["item_ids"], on["scores"]):
        assert len(ids) == 10 and len(set(ids)) == 10 and all(len(i) == 5 and i.startswith("i") for i in ids), ids
        assert not set(ids) & seen[user], (user, ids)
        assert scores == sorted(scores, reverse=True)
    assert on["source"] == ["model"] * len(users) + ["popularity"]
    # without the exclusion the model's own top 10 holds training items it has learned
    assert sum(len(set(ids) & seen[user]) for user, ids in zip(users, off["item_ids"])) > 0
    assert len(out["pair"]) == 1 and -1.0001 <= out["pair"][0] <= 1.0001  # a cosine


@pytest.mark.slow
def test_predict_writes_top_10_and_the_popularity_fallback(run, tmp_path):
    users = tmp_path / "users.csv"
    users.write_text("user\nu0001\nu0042\nnobody\n")
    output = tmp_path / "top.csv"
    result = strata("predict", f"run={run}", f"input={users}", f"output={output}", cwd=tmp_path)
    assert result.code == 0, result.text
    assert "1 unknown: the popularity fallback" in result.err
    top = pd.read_csv(output, dtype={"user": str, "item": str})
    assert list(top.columns) == ["user", "rank", "item", "score", "source"]
    assert top.groupby("user").size().to_dict() == {"u0001": 10, "u0042": 10, "nobody": 10}
    assert set(top[top.user == "nobody"].source) == {"popularity"}
    assert set(top[top.user != "nobody"].source) == {"model"}
    seen = training_items()
    assert not set(top[top.user == "u0042"].item) & seen["u0042"]
    counts = pd.Series([i for items in seen.values() for i in items]).value_counts()
    popular = top[top.user == "nobody"].item.tolist()
    assert popular[0] == counts.index[0]  # the most popular training item first


@pytest.mark.slow
def test_movielens_100k_format_from_a_local_copy_with_matrix_factorization(tmp_path):
    """`data.name=movielens_100k` reads u.data's format (tab-separated user, item, rating,
    timestamp, no header); with `data.path` set nothing is downloaded. `model=matrix_factorization`
    learns the ratings (here: set by the item) to well below the spread of the held-out ones."""
    rng = np.random.default_rng(0)
    weights = np.linspace(2, 1, 80) / np.linspace(2, 1, 80).sum()
    lines = []
    for user in range(1, 121):
        items = rng.choice(np.arange(1, 81), size=12, replace=False, p=weights)
        lines += [f"{user}\t{item}\t{1 + item % 5}\t{881250949 + 1000 * user + k}" for k, item in enumerate(items)]
    (tmp_path / "u.data").write_text("\n".join(lines) + "\n")
    result = strata("train", "data=interactions", "data.name=movielens_100k", "data.path=u.data", "data.rating_column=rating",
                    "model=matrix_factorization", "optimizer.learning_rate=0.05", "trainer.epochs=10", "trainer.batch_size=64",
                    "report=false", "export=none", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert result.code == 0, result.text
    # 1,440 interactions, 2 of each user's 12 held out (the last two by timestamp)
    assert "1,200 interactions of 120 users and 80 items in training" in (tmp_path / "run" / "train.log").read_text()
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    test = metrics["test"]
    assert test["users"] == 120 and 0 <= test["recall_at_10"] <= 1 and "popularity_recall_at_10" in test
    held_out = np.asarray([1 + int(line.split("\t")[1]) % 5 for line in lines], dtype=float)  # all ratings: their spread
    assert test["rmse"] < 0.7 * held_out.std(), test


def test_unknown_split_strategy_is_a_config_error(tmp_path):
    result = strata("train", "data=interactions", "data.split.strategy=leave_last", cwd=tmp_path)
    assert_user_error(result, "data.split.strategy", "leave_last_out")


@pytest.mark.slow
def test_bad_interactions_end_with_one_line(tmp_path):
    events = tmp_path / "events.csv"
    events.write_text("usr,item,timestamp\na,x,1\na,y,2\na,z,3\na,w,4\nb,x,9\n")
    result = strata("train", "data=interactions", f"data.path={events}", "trainer.epochs=1", cwd=tmp_path)
    assert_user_error(result, "data.user_column=user", "Did you mean 'usr'?", "events.csv")
    # user b's only interactions come after the time cut: nothing to learn them from
    result = strata("train", "data=interactions", f"data.path={events}", "data.user_column=usr", "data.split.strategy=time",
                    "data.split.validation=0", "data.split.test=0.3", "trainer.epochs=1", cwd=tmp_path)
    assert_user_error(result, "user 'b'", "none in training", "cold_users=drop")
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").rglob("model.keras"))


@pytest.mark.slow
def test_bad_feature_tables_end_with_one_line(tmp_path):
    events = tmp_path / "events.csv"
    events.write_text("user,item,timestamp\na,x,1\na,y,2\na,z,3\nb,x,4\nb,y,5\nb,z,6\n")
    (tmp_path / "items.csv").write_text("item,colour,price\nx,red,1\ny,blue,2\nx,green,3\n")
    result = strata("train", "data=interactions", f"data.path={events}", f"data.item_features.path={tmp_path / 'items.csv'}",
                    "trainer.epochs=1", cwd=tmp_path)
    assert_user_error(result, "data.item_features.path", "item 'x' has 2 rows", "items.csv", "lines 2 and 4")
    (tmp_path / "users.csv").write_text("user_id,age\na,30\nb,40\n")
    result = strata("train", "data=interactions", f"data.path={events}", f"data.user_features.path={tmp_path / 'users.csv'}",
                    "data.user_features.columns=[agee]", "data.user_features.id_column=user_id", "trainer.epochs=1", cwd=tmp_path)
    assert_user_error(result, "data.user_features.columns", "'agee'", "Did you mean 'age'?")
    result = strata("train", "data=interactions", f"data.path={events}", f"data.user_features.path={tmp_path / 'users.csv'}",
                    "trainer.epochs=1", cwd=tmp_path)
    assert_user_error(result, "data.user_features.id_column=user", "Did you mean 'user_id'?")


@pytest.mark.parametrize("module", ["strata.layers.two_tower", "strata.run.retrieval_metrics"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), extraglobs={"np": np})
    assert result.attempted and not result.failed
