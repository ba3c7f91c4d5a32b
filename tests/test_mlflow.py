"""logger=mlflow: runs recorded in a real MLflow tracking server (started on 127.0.0.1 by a fixture),
its model loaded by MLflow and served by `mlflow models serve`, an outage mid-run, `strata log`,
the SQLite default with no server, and a sweep as parent and child runs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from tests.conftest import TINY, assert_user_error, free_port, strata, wait_until_answers

MLFLOW = Path(sys.executable).parent / "mlflow"
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
pytestmark = pytest.mark.slow


class Server:
    """`mlflow server` on 127.0.0.1: a SQLite backend and a local artifact root in `folder`."""

    def __init__(self, folder: Path, port: int | None = None):
        self.folder = folder
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> Server:
        self.folder.mkdir(parents=True, exist_ok=True)
        log = self.folder / "server.log"
        self.process = subprocess.Popen(
            [str(MLFLOW), "server", "--backend-store-uri", f"sqlite:///{self.folder / 'mlflow.db'}",
             "--artifacts-destination", str(self.folder / "artifacts"), "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", "1"],
            stdout=open(log, "a"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_until_answers(f"{self.url}/health", self.process, log, seconds=120)
        return self

    def stop(self) -> None:
        """Kills the server and its workers at once (a crash, not a shutdown)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def client(self) -> MlflowClient:
        return MlflowClient(tracking_uri=self.url, registry_uri=self.url)


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("mlflow-server")).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def logged_run(mlflow_server, tmp_path_factory) -> Path:
    """A digits run recorded in the tracking server, its model registered as strata-digits."""
    run = tmp_path_factory.mktemp("mlflow-runs") / "digits"
    result = strata("train", "logger=mlflow", f"logger.tracking_uri={mlflow_server.url}", "logger.registered_model_name=strata-digits",
                    "trainer.epochs=2", f"hydra.run.dir={run}", cwd=tmp_path_factory.mktemp("cwd"))
    assert result.code == 0, result.text
    return run


def load_model(tracking_uri: str, run_id: str):
    """`mlflow.pyfunc.load_model("runs:/<id>/model")` from `tracking_uri`, leaving the process's
    MLflow settings (and MLFLOW_TRACKING_URI, which MLflow sets) as they were."""
    before = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(tracking_uri)
    try:
        return mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
    finally:
        mlflow.set_tracking_uri(before)
        if before is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)


def record(run: Path) -> dict:
    return json.loads((run / "mlflow.json").read_text())


def history(client: MlflowClient, run_id: str, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


@pytest.fixture(scope="session")
def digit_images(tmp_path_factory) -> Path:
    """20 raw digit images (8 x 8, values 0..16), as a user has them."""
    from sklearn.datasets import load_digits

    path = tmp_path_factory.mktemp("inputs") / "digits20.npy"
    np.save(path, load_digits().images[-20:])
    return path


def strata_predictions(run: Path, images: Path, tmp_path: Path) -> pd.DataFrame:
    out = tmp_path / "predictions.csv"
    result = strata("predict", f"run={run}", f"input={images}", f"output={out}")
    assert result.code == 0, result.text
    return pd.read_csv(out)


def test_a_run_records_params_history_artifacts_metrics_and_a_registered_model(logged_run, mlflow_server):
    client = mlflow_server.client()
    rec = record(logged_run)
    assert rec["complete"] is True and rec["not_logged"] == [] and rec["tracking_uri"] == mlflow_server.url
    run = client.get_run(rec["run_id"])
    assert run.info.status == "FINISHED"
    resolved = __import__("yaml").safe_load((logged_run / ".hydra" / "resolved.yaml").read_text())
    assert run.data.params["optimizer.learning_rate"] == str(resolved["optimizer"]["learning_rate"])
    assert run.data.params["trainer.epochs"] == "2" and run.data.params["model.name"] == "cnn"
    # per-epoch loss with the epoch as step, the values the epoch log printed
    losses = history(client, rec["run_id"], "loss")
    assert [step for step, _ in losses] == [1, 2]
    logged = [line for line in (logged_run / "train.log").read_text().splitlines() if "] epoch " in line]
    assert len(logged) == 2 and f"loss {losses[1][1]:.4g}" in logged[1]
    assert [s for s, _ in history(client, rec["run_id"], "val_accuracy")] == [1, 2]
    # final metrics under metrics.json's names
    final = json.loads((logged_run / "metrics.json").read_text())
    assert run.data.metrics["test/accuracy"] == pytest.approx(final["test"]["accuracy"])
    assert run.data.metrics["validation/loss"] == pytest.approx(final["validation"]["loss"])
    # tags: the overrides and strata's version
    assert "trainer.epochs=2" in run.data.tags["strata.overrides"]
    assert run.data.tags["strata.version"] == json.loads((logged_run / "provenance.json").read_text())["strata_version"]
    # artifacts: the report and its plots, metrics, Hydra's records, the log
    top = {a.path for a in client.list_artifacts(rec["run_id"])}
    assert {"report.html", "report", "metrics.json", ".hydra", "train.log", "task.json"} <= top
    assert any(a.path.endswith(".png") for a in client.list_artifacts(rec["run_id"], "report"))
    assert {a.path for a in client.list_artifacts(rec["run_id"], ".hydra")} >= {".hydra/config.yaml", ".hydra/overrides.yaml"}
    # the registry: one version, from this run
    versions = client.search_model_versions("name='strata-digits'")
    assert [v.run_id for v in versions] == [rec["run_id"]]


def test_the_mlflow_model_predicts_what_strata_predict_writes(logged_run, mlflow_server, digit_images, tmp_path):
    expected = strata_predictions(logged_run, digit_images, tmp_path)
    model = load_model(mlflow_server.url, record(logged_run)["run_id"])
    assert [spec.name for spec in model.metadata.get_input_schema().inputs] == ["image"]
    got = model.predict({"image": np.load(digit_images)[..., None].astype("float32")})
    assert list(got.columns) == [c for c in expected.columns if c != "id"]
    assert got["label"].astype(str).tolist() == expected["label"].astype(str).tolist()
    probs = [c for c in expected.columns if c.startswith("prob_")]
    np.testing.assert_allclose(got[probs].to_numpy(float), expected[probs].to_numpy(float), atol=1e-6)
    assert expected["label"].nunique() > 1  # a model that answers the same class for all would prove little


def test_mlflow_models_serve_answers_a_post_with_strata_predicts_classes(logged_run, mlflow_server, digit_images, tmp_path):
    expected = strata_predictions(logged_run, digit_images, tmp_path)
    port = free_port()
    log = tmp_path / "serve.log"
    # as in an activated virtual environment: MLflow starts the scoring server as `uvicorn ...`
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_server.url, "PATH": path}
    server = subprocess.Popen(
        [str(MLFLOW), "models", "serve", "-m", f"runs:/{record(logged_run)['run_id']}/model", "--env-manager", "local",
         "-h", "127.0.0.1", "-p", str(port), "-w", "1"],
        env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        wait_until_answers(f"http://127.0.0.1:{port}/ping", server, log, seconds=120)
        body = json.dumps({"inputs": {"image": np.load(digit_images)[..., None].tolist()}}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as answer:
            predictions = json.loads(answer.read())["predictions"]
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
    assert [str(p["label"]) for p in predictions] == expected["label"].astype(str).tolist()
    np.testing.assert_allclose([p["prob_3"] for p in predictions], expected["prob_3"], atol=1e-6)


def test_the_default_is_a_sqlite_file_beside_the_run_folders_with_git_provenance(tmp_path, monkeypatch):
    """No server and no URI: outputs/mlflow.db. In a git repository the commit and dirty flag are
    tags and are written into the run folder. A table's MLflow model takes the raw columns (a
    header that is no Python name, whole numbers, missing cells) and predicts what strata predict does."""
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    rng = np.random.default_rng(0)
    n = 400
    table = pd.DataFrame({"1st floor": rng.integers(400, 2500, n), "zone": rng.choice(["RL", "RM", "FV", ""], n),
                          "age": rng.integers(0, 90, n).astype(float)})
    table.loc[::17, "age"] = np.nan
    table["price"] = 100 * table["1st floor"] + 20_000 * (table["zone"] == "FV") - 300 * table["age"].fillna(40) + rng.normal(0, 5000, n)
    table.to_csv(tmp_path / "houses.csv", index=False)
    subprocess.run(["git", "add", "houses.csv"], cwd=tmp_path, check=True)
    subprocess.run(["git", "-c", "user.name=u", "-c", "user.email=u@example.com", "commit", "-qm", "start"], cwd=tmp_path, check=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip()
    table.head(3).to_csv(tmp_path / "houses.csv", index=False, mode="a", header=False)  # a change not committed
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    result = strata("train", "logger=mlflow", "data=csv", "data.path=houses.csv", "data.target=price", "trainer.epochs=3",
                    "hydra.run.dir=outputs/run1", cwd=tmp_path)
    assert result.code == 0, result.text
    run = tmp_path / "outputs" / "run1"
    made = json.loads((run / "provenance.json").read_text())
    assert made["git"] == {"commit": commit, "dirty": True, "root": str(tmp_path.resolve())}
    database = tmp_path / "outputs" / "mlflow.db"
    assert database.is_file() and (tmp_path / "outputs" / "mlartifacts").is_dir()
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "mlartifacts").exists()  # nothing lands in the working folder
    uri = f"sqlite:///{database.resolve()}"
    client = MlflowClient(tracking_uri=uri)
    rec = record(run)
    assert rec["tracking_uri"] == uri
    logged = client.get_run(rec["run_id"])
    assert client.get_experiment(logged.info.experiment_id).name == "csv_tabular"
    assert logged.data.tags["strata.git.commit"] == commit and logged.data.tags["strata.git.dirty"] == "true"
    # the model takes the raw columns, as a CSV has them
    rows = pd.DataFrame({"1st floor": [1200, 2000, 800], "zone": ["FV", None, "RM"], "age": [10, None, 75]})
    rows.to_csv(tmp_path / "new.csv", index=False)
    assert strata("predict", f"run={run}", "input=new.csv", "output=new_predictions.csv", cwd=tmp_path).code == 0
    expected = pd.read_csv(tmp_path / "new_predictions.csv")
    model = load_model(uri, rec["run_id"])
    assert [c.name for c in model.metadata.get_input_schema().inputs] == ["1st floor", "zone", "age"]
    np.testing.assert_allclose(model.predict(rows)["price"], expected["price"], rtol=1e-5)
    assert expected["price"].iloc[1] > expected["price"].iloc[2]  # the model learned the floor area, at least


def test_a_server_killed_mid_run_costs_nothing_and_strata_log_uploads_the_rest(tmp_path):
    server = Server(tmp_path / "server").start()
    run = tmp_path / "run"
    args = ["train", "logger=mlflow", f"logger.tracking_uri={server.url}", "trainer.epochs=4", "trainer.batch_size=16",
            "callbacks.early_stopping=null", f"hydra.run.dir={run}"]
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "strata"), *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 240
        while "] epoch 1/4" not in ((run / "train.log").read_text() if (run / "train.log").is_file() else ""):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read()
            time.sleep(0.05)
        server.stop()  # the tracking server dies in epoch 2
        out, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "Traceback" not in out and "strata log run=" in out
    for name in ("model.keras", "metrics.json", "task.json", "report.html", "export/saved_model/saved_model.pb"):
        assert (run / name).exists(), name
    rec = record(run)
    assert rec["complete"] is False and any("epoch" in item for item in rec["not_logged"])

    down = strata("log", f"run={run}")  # still down: one line, nothing changed
    assert_user_error(down, f"logger.tracking_uri={server.url}", "strata log again")
    assert record(run)["run_id"] == rec["run_id"]

    server.start()  # back on the same port and database
    client = server.client()
    assert len(history(client, rec["run_id"], "loss")) < 4
    result = strata("log", f"run={run}")
    assert result.code == 0, result.text
    assert record(run)["complete"] is True and record(run)["run_id"] == rec["run_id"]
    losses = history(client, rec["run_id"], "loss")
    assert [s for s, _ in losses] == [1, 2, 3, 4]
    logged = client.get_run(rec["run_id"])
    assert logged.info.status == "FINISHED"
    final = json.loads((run / "metrics.json").read_text())
    assert logged.data.metrics["test/accuracy"] == pytest.approx(final["test"]["accuracy"])
    assert load_model(server.url, rec["run_id"]).metadata.get_input_schema() is not None
    again = strata("log", f"run={run}")
    assert again.code == 0 and "already recorded" in again.text
    assert len(history(client, rec["run_id"], "loss")) == 4
    server.stop()


def test_strata_log_imports_a_run_made_without_a_logger(digits_run, tmp_path):
    run = tmp_path / "imported"
    shutil.copytree(digits_run, run)  # the shared run stays as it is
    database = tmp_path / "imported.db"
    result = strata("log", f"run={run}", f"logger.tracking_uri=sqlite:///{database}", "logger.experiment_name=imports")
    assert result.code == 0, result.text
    client = MlflowClient(tracking_uri=f"sqlite:///{database}")
    rec = record(run)
    logged = client.get_run(rec["run_id"])
    assert client.get_experiment(logged.info.experiment_id).name == "imports"
    assert [s for s, _ in history(client, rec["run_id"], "loss")] == [1, 2]
    assert logged.data.params["data.name"] == "digits" and "test/accuracy" in logged.data.metrics
    assert rec["model_uri"] and "report.html" in {a.path for a in client.list_artifacts(rec["run_id"])}


def test_a_sweep_is_one_parent_run_with_a_child_per_trial(mlflow_server, tmp_path):
    sweep = tmp_path / "sweep"
    result = strata("train", "-m", "logger=mlflow", f"logger.tracking_uri={mlflow_server.url}", "logger.experiment_name=sweeps",
                    "logger.log_model=false", "optimizer.learning_rate=0.01,0.001", "optimized_metric=validation/accuracy",
                    "report=false", *TINY, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert result.code == 0, result.text
    client = mlflow_server.client()
    parent_id = json.loads((sweep / "mlflow_sweep.json").read_text())["run_id"]
    children = client.search_runs([client.get_experiment_by_name("sweeps").experiment_id],
                                  filter_string=f"tags.mlflow.parentRunId = '{parent_id}'")
    assert sorted(c.data.params["optimizer.learning_rate"] for c in children) == ["0.001", "0.01"]
    assert sorted(record(sweep / str(i))["run_id"] for i in (0, 1)) == sorted(c.info.run_id for c in children)
    parent = client.get_run(parent_id)
    assert parent.info.status == "FINISHED" and parent.data.metrics["trials"] == 2
    best = max(c.data.metrics["validation/accuracy"] for c in children)
    assert parent.data.metrics["best/validation/accuracy"] == pytest.approx(best)
    assert parent.data.tags["strata.best_run_id"] in {c.info.run_id for c in children}
    assert all(record(sweep / str(i))["model_uri"] is None for i in (0, 1))  # logger.log_model=false


def test_logger_config_errors_are_one_line_before_tensorflow(tmp_path):
    assert_user_error(strata("train", "logger=mlflow", "logger.tracking_uri=localhost:5000", cwd=tmp_path),
                      "logger.tracking_uri", "http://")
    assert_user_error(strata("train", "logger=mlflow", "logger.log_modle=false", cwd=tmp_path), "logger.log_modle", "log_model")
    # MLflow not installed (Python's own way of hiding a module): the line says how to install it
    code = "import sys; sys.modules['mlflow'] = None; from strata.cli import main; main(['train', 'logger=mlflow'])"
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'strata[mlflow]'" in proc.stderr and "Traceback" not in proc.stderr
    assert not any(tmp_path.rglob("events.out.tfevents.*"))
