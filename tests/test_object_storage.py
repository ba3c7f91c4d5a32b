"""Object storage: data paths, run folders and run=/input= URLs on `s3://`, against a local
S3-compatible server (moto's server mode on 127.0.0.1, started by a fixture), through the real
`strata` command; and `strata.storage` itself (errors naming the key, the cache, pruning)."""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import assert_user_error, free_port, strata, wait_until_answers

pytest.importorskip("s3fs", reason="the test extra's s3fs (pip install -e '.[test]')")
boto3 = pytest.importorskip("boto3", reason="the test extra's moto[server] brings boto3")
MOTO = Path(sys.executable).parent / "moto_server"
DATA, RUNS = "strata-data", "strata-runs"  # buckets
ROWS, TEST_ROWS, IMAGES_PER_CLASS = 160, 30, 20
# tiny runs: a plain MLP / the default CNN, two epochs, no report or SavedModel
FAST = ("trainer.epochs=2", "trainer.batch_size=16", "report=false", "export=none")


def table(n: int, seed: int) -> pd.DataFrame:
    """Houses: price follows from area and rooms, plus a category."""
    rng = np.random.default_rng(seed)
    area = rng.uniform(40, 200, n).round(1)
    rooms = rng.integers(1, 6, n)
    city = rng.choice(["north", "south", "east"], n)
    price = (area * 1000 + rooms * 5000 + (city == "north") * 20000 + rng.normal(0, 2000, n)).round(0)
    return pd.DataFrame({"area": area, "rooms": rooms, "city": city, "price": price})


def png(value: int, seed: int) -> bytes:
    """An 8x8 greyscale PNG around `value` (bright or dark)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    pixels = np.clip(value + rng.integers(-20, 21, (8, 8)), 0, 255).astype("uint8")
    out = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(out, format="PNG")
    return out.getvalue()


class S3:
    """moto's S3 server on 127.0.0.1 and a free port, with the environment that points at it."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.env = {
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.endpoint, "AWS_CONFIG_FILE": str(folder / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(folder / "no-aws-credentials"),
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> S3:
        log = self.folder / "moto.log"
        self.process = subprocess.Popen([str(MOTO), "-H", "127.0.0.1", "-p", str(self.port)], stdout=open(log, "w"),
                                        stderr=subprocess.STDOUT, start_new_session=True)
        wait_until_answers(self.endpoint, self.process, log, seconds=30, any_status=True)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def client(self):
        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id="testing",
                            aws_secret_access_key="testing", region_name="us-east-1")

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))

    def put(self, bucket: str, key: str, body: bytes) -> None:
        self.client().put_object(Bucket=bucket, Key=key, Body=body)


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """The server, with the data the tests read: a table (and a separate test table) and an image
    folder of two classes in the data bucket, an empty bucket for run folders."""
    server = S3(tmp_path_factory.mktemp("moto")).start()
    try:
        client = server.client()
        for bucket in (DATA, RUNS):
            client.create_bucket(Bucket=bucket)
        server.put(DATA, "tables/houses.csv", table(ROWS, 0).to_csv(index=False).encode())
        server.put(DATA, "tables/houses_test.csv", table(TEST_ROWS, 1).to_csv(index=False).encode())
        server.put(DATA, "inputs/new_houses.csv", table(25, 2).drop(columns="price").to_csv(index=False).encode())
        for i in range(IMAGES_PER_CLASS):
            server.put(DATA, f"images/bright/{i:02d}.png", png(220, i))
            server.put(DATA, f"images/dark/{i:02d}.png", png(35, 100 + i))
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_env(s3, tmp_path, monkeypatch):
    """This process pointed at the server, with its own cache folder (for `strata.storage` itself)."""
    for name, value in s3.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("STRATA_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def run_strata(s3: S3, *args: str, cache: Path, cwd: Path):
    return strata(*args, cwd=cwd, env={**s3.env, "STRATA_CACHE_DIR": str(cache)}, timeout=300)


def finite_metrics(run: Path) -> dict:
    metrics = json.loads((run / "metrics.json").read_text())
    for split in ("train", "validation", "test"):
        values = [v for v in metrics[split].values() if isinstance(v, (int, float))]
        assert values and all(math.isfinite(v) for v in values), metrics[split]
    return metrics


@pytest.fixture(scope="module")
def bucket_run(s3, tmp_path_factory):
    """One run trained from the table in the bucket (with a separate test table there too), its
    run folder written to s3://strata-runs/outputs: (result, its URL, the cache folder)."""
    cache, cwd = tmp_path_factory.mktemp("cache"), tmp_path_factory.mktemp("cwd")
    result = run_strata(s3, "train", "data=csv", f"data.path=s3://{DATA}/tables/houses.csv", "data.target=price",
                        f"data.test_path=s3://{DATA}/tables/houses_test.csv", "data.split.test=0", "model=mlp",
                        "optimizer=adam", f"paths.output_dir=s3://{RUNS}/outputs", *FAST, cache=cache, cwd=cwd)
    assert result.code == 0, result.text
    uploaded = [line for line in result.out.splitlines() if line.startswith("uploaded run folder to ")]
    assert len(uploaded) == 1, result.out
    url = uploaded[0].split()[4]
    return result, url, cache


# ----------------------------------------------------------------------------- through the CLI


def test_trains_from_a_csv_in_a_bucket(bucket_run):
    result, _, cache = bucket_run
    validation = round((ROWS) * 0.1)
    assert f"train {ROWS - validation}, validation {validation}, test {TEST_ROWS}" in result.out, result.out
    objects = cache / "objects" / "s3" / DATA / "tables"
    assert sorted(p.name for p in objects.iterdir()) == ["houses.csv", "houses_test.csv"]
    assert len(pd.read_csv(objects / "houses.csv")) == ROWS
    # the run's config keeps the URLs (evaluate and predict read them again), not the cache's paths
    staged = Path(json.loads(next((cache / "staging").rglob("remote.json")).read_text())["local"])
    resolved = (staged / ".hydra" / "resolved.yaml").read_text()
    assert f"path: s3://{DATA}/tables/houses.csv" in resolved and f"test_path: s3://{DATA}/tables/houses_test.csv" in resolved
    finite_metrics(staged)


def test_run_folder_is_uploaded_to_the_bucket(s3, bucket_run):
    result, url, cache = bucket_run
    assert url.startswith(f"s3://{RUNS}/outputs/csv_mlp/"), url
    prefix = url.removeprefix(f"s3://{RUNS}/") + "/"
    keys = {k.removeprefix(prefix) for k in s3.keys(RUNS, prefix)}
    for name in ("model.keras", "metrics.json", "task.json", "train.log", "remote.json", ".hydra/config.yaml",
                 ".hydra/resolved.yaml", ".hydra/overrides.yaml", "checkpoints/best.weights.h5"):
        assert name in keys, sorted(keys)
    assert ".lock" not in keys
    assert any(k.startswith("tensorboard/") for k in keys)
    # the staging folder mirrors the bucket's path, and stays after the upload
    staged = cache / "staging" / "s3" / url.removeprefix("s3://")
    assert (staged / "model.keras").is_file()
    assert json.loads((staged / "remote.json").read_text()) == {"url": url, "local": str(staged)}
    body = s3.client().get_object(Bucket=RUNS, Key=prefix + "metrics.json")["Body"].read()
    assert json.loads(body) == json.loads((staged / "metrics.json").read_text())
    assert all(math.isfinite(v) for v in json.loads(body)["test"].values() if isinstance(v, (int, float)))


def test_predict_from_a_run_in_the_bucket(s3, bucket_run, tmp_path):
    """run= and input= in the bucket, from a cache that holds nothing of them yet; the default
    output lands in the run's local copy, not in the bucket."""
    _, url, _ = bucket_run
    cache = tmp_path / "fresh-cache"
    result = run_strata(s3, "predict", f"run={url}", f"input=s3://{DATA}/inputs/new_houses.csv", cache=cache, cwd=tmp_path)
    assert result.code == 0, result.text
    local_run = cache / "objects" / "s3" / url.removeprefix("s3://")
    assert (local_run / "model.keras").is_file() and (local_run / ".hydra" / "config.yaml").is_file()
    written = local_run / "predictions" / "new_houses.csv"
    assert f"wrote 25 predictions to {written}" in result.out, result.text
    predictions = pd.read_csv(written)
    assert len(predictions) == 25 and np.isfinite(predictions["price"]).all()
    assert predictions["price"].std() > 0  # a model, not a constant
    assert not any(k.endswith("/predictions/new_houses.csv") for k in s3.keys(RUNS))  # outputs stay local


def test_trains_from_an_image_folder_in_a_bucket(s3, tmp_path):
    cache, run = tmp_path / "cache", tmp_path / "run"
    result = run_strata(s3, "train", "data=images", f"data.path=s3://{DATA}/images", "data.color_mode=grayscale",
                        *FAST, f"hydra.run.dir={run}", cache=cache, cwd=tmp_path)
    assert result.code == 0, result.text
    assert "(binary)" in result.out and f"train {2 * IMAGES_PER_CLASS - 8}" in result.out, result.out
    folder = cache / "objects" / "s3" / DATA / "images"
    assert sorted(p.name for p in folder.iterdir()) == ["bright", "dark"]
    assert len(list(folder.rglob("*.png"))) == 2 * IMAGES_PER_CLASS
    assert json.loads((run / "task.json").read_text())["task"]["classes"] == ["bright", "dark"]
    finite_metrics(run)


def test_missing_object_names_the_key_and_the_closest_object(s3, tmp_path):
    started = time.monotonic()
    result = run_strata(s3, "train", "data=csv", f"data.path=s3://{DATA}/tables/house.csv", "data.target=price",
                        *FAST, f"hydra.run.dir={tmp_path / 'run'}", cache=tmp_path / "cache", cwd=tmp_path)
    assert_user_error(result, f"data.path=s3://{DATA}/tables/house.csv", "no such object", f"s3://{DATA}/tables/houses.csv")
    assert not (tmp_path / "run").exists()
    assert time.monotonic() - started < 30  # reported before TensorFlow loads


def test_missing_output_bucket_is_refused_before_training(s3, tmp_path):
    started = time.monotonic()
    result = run_strata(s3, "train", "paths.output_dir=s3://no-such-bucket/outputs", *FAST, cache=tmp_path / "cache", cwd=tmp_path)
    assert_user_error(result, "paths.output_dir=s3://no-such-bucket/outputs", "no such bucket 'no-such-bucket'")
    assert "epoch" not in result.out and time.monotonic() - started < 30


def test_gs_url_without_gcsfs_says_which_extra_to_install(tmp_path):
    if importlib.util.find_spec("gcsfs") is not None:
        pytest.skip("gcsfs is installed here; test_filesystem_hint_for_a_missing_package checks the message")
    result = strata("train", "data=csv", "data.path=gs://some-bucket/houses.csv", f"hydra.run.dir={tmp_path / 'run'}",
                    cwd=tmp_path, env={"STRATA_CACHE_DIR": str(tmp_path / "cache")})
    assert_user_error(result, "data.path=gs://some-bucket/houses.csv", "gcsfs", "pip install 'strata[cloud]'")


# ----------------------------------------------------------------------------- strata.storage


def test_local_copy_errors_name_the_key(s3_env):
    from strata import storage
    from strata.errors import DataError

    with pytest.raises(DataError) as missing:
        storage.local_copy(f"s3://{DATA}/tables/houses.tsv", "data.validation_path")
    message = str(missing.value)
    assert message.startswith(f"data.validation_path=s3://{DATA}/tables/houses.tsv: no such object")
    assert "houses.csv" in message and "houses_test.csv" in message and "\n" not in message
    with pytest.raises(DataError, match=r"data.path=s3://nobody-s-bucket/x.csv: no such bucket 'nobody-s-bucket'"):
        storage.local_copy("s3://nobody-s-bucket/x.csv", "data.path")
    with pytest.raises(DataError, match="no object matches the pattern"):
        storage.local_copy(f"s3://{DATA}/tables/*.parquet", "data.path")
    with pytest.raises(DataError, match="no such bucket"):
        storage.upload_tree(Path(__file__).parent, "s3://nobody-s-bucket/runs/x", "paths.output_dir")


def test_unreachable_endpoint_is_one_line(s3_env, monkeypatch):
    from strata import storage
    from strata.errors import DataError

    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with pytest.raises(DataError, match=r"^data.path=s3://b-x/y.csv: cannot reach the object store at http://127.0.0.1:"):
        storage.local_copy("s3://b-x/y.csv", "data.path")


def test_filesystem_hint_for_a_missing_package(monkeypatch):
    import fsspec

    from strata.errors import DataError
    from strata.storage import filesystems

    real = fsspec.filesystem

    def without_gcsfs(protocol, **kwargs):
        if protocol in ("gs", "gcs"):
            raise ImportError("Please install gcsfs to access Google Storage")
        return real(protocol, **kwargs)

    monkeypatch.setattr(fsspec, "filesystem", without_gcsfs)
    with pytest.raises(DataError) as error:
        filesystems.filesystem(filesystems.parse("gcs://b-x/y.csv", "data.path"), "data.path")
    assert str(error.value) == ("data.path=gcs://b-x/y.csv: gs:// URLs need gcsfs, which is not installed; "
                                "install it with: pip install 'strata[cloud]'")


def test_cache_downloads_only_what_changed(s3, s3_env, caplog):
    from strata import storage

    s3.put(DATA, "cache/one.csv", b"a,b\n1,2\n")
    caplog.set_level(logging.INFO, logger="strata.storage")
    first = storage.local_copy(f"s3://{DATA}/cache/one.csv", "data.path")
    assert first == s3_env / "objects" / "s3" / DATA / "cache" / "one.csv" and first.read_bytes() == b"a,b\n1,2\n"
    stamp = (first.stat().st_ino, first.stat().st_mtime_ns)
    caplog.clear()
    again = storage.local_copy(f"s3://{DATA}/cache/one.csv", "data.path")
    assert again == first and (again.stat().st_ino, again.stat().st_mtime_ns) == stamp  # not written again
    assert "unchanged in the cache" in caplog.text and "downloaded" not in caplog.text

    s3.put(DATA, "cache/one.csv", b"a,b\n1,2\n3,4\n")  # a new version: downloaded again
    assert storage.local_copy(f"s3://{DATA}/cache/one.csv", "data.path").read_bytes() == b"a,b\n1,2\n3,4\n"


def test_prefix_and_glob_copies_follow_the_bucket(s3, s3_env):
    from strata import storage
    from strata.data import file_paths

    for name in ("a.csv", "b.csv", "notes.txt"):
        s3.put(DATA, f"prefix/{name}", b"x,y\n1,2\n")
    folder = storage.local_copy(f"s3://{DATA}/prefix", "data.path")
    assert sorted(p.name for p in folder.iterdir()) == ["a.csv", "b.csv", "notes.txt"]
    files = file_paths.matching_files(f"s3://{DATA}/prefix/*.csv", None)
    assert [f.name for f in files] == ["a.csv", "b.csv"] and all(f.parent == folder for f in files)

    s3.client().delete_object(Bucket=DATA, Key="prefix/b.csv")  # gone from the bucket: gone from the copy
    assert [f.name for f in file_paths.matching_files(f"s3://{DATA}/prefix/*.csv", None)] == ["a.csv"]
    assert sorted(p.name for p in storage.local_copy(f"s3://{DATA}/prefix", "data.path").iterdir()) == ["a.csv", "notes.txt"]
    assert file_paths.existing_folder(f"s3://{DATA}/prefix", None) == folder


def test_staging_folder_and_remote_location(monkeypatch, tmp_path):
    from strata import storage

    monkeypatch.setenv("STRATA_CACHE_DIR", str(tmp_path))
    assert storage.staging_dir("/data/outputs") == "/data/outputs"
    staged = storage.staging_dir("s3://bkt/team/outputs/")
    assert staged == str(tmp_path / "staging" / "s3" / "bkt" / "team" / "outputs")
    run = Path(staged) / "csv_mlp" / "2026-01-01_00-00-00-000000"
    assert storage.remote_location("s3://bkt/team/outputs", run) == "s3://bkt/team/outputs/csv_mlp/2026-01-01_00-00-00-000000"
    assert storage.remote_location("gs://bkt/out", tmp_path / "elsewhere" / "run1") == "gs://bkt/out/run1"
    assert storage.is_remote("s3://b/x") and storage.is_remote("GS://b/x") and storage.is_remote("gcs://b/x")
    assert not storage.is_remote("/tmp/s3://x") and not storage.is_remote("data/x.csv") and not storage.is_remote("http://x")


def test_a_run_in_the_bucket_resumes_from_its_copy_and_is_explained_there(s3, tmp_path):
    """resume=s3://... continues the run from its backup and uploads it back to the same place;
    explain reads run= and input= from the bucket."""
    first = run_strata(s3, "train", "data=csv", f"data.path=s3://{DATA}/tables/houses.csv", "data.target=price",
                       "model=mlp", "optimizer=adam", f"paths.output_dir=s3://{RUNS}/resumed", *FAST, "trainer.epochs=1",
                       cache=tmp_path / "cache1", cwd=tmp_path)
    assert first.code == 0, first.text
    url = next(line.split()[4] for line in first.out.splitlines() if line.startswith("uploaded run folder to "))
    resumed = run_strata(s3, "train", f"resume={url}", "trainer.epochs=2", cache=tmp_path / "cache2", cwd=tmp_path)
    assert resumed.code == 0, resumed.text
    assert "from its backup: 1 of 2 epochs done" in resumed.out and "epoch 2/2" in resumed.out, resumed.out
    assert f"uploaded run folder to {url} " in resumed.out, resumed.out
    prefix = url.removeprefix(f"s3://{RUNS}/") + "/"
    log = s3.client().get_object(Bucket=RUNS, Key=prefix + "train.log")["Body"].read().decode()
    assert "epoch 1/1" in log and "epoch 2/2" in log and "run finished: 2 epochs" in log  # one folder, both processes
    assert {"/".join(k.split("/")[:3]) for k in s3.keys(RUNS, "resumed/")} == {prefix.rstrip("/")}  # no second run folder

    explained = run_strata(s3, "explain", f"run={url}", f"input=s3://{DATA}/inputs/new_houses.csv", "method=saliency",
                           "limit=5", cache=tmp_path / "cache3", cwd=tmp_path)
    assert explained.code == 0, explained.text
    written = list((tmp_path / "cache3" / "objects").rglob("explain/*/attributions.csv"))
    assert len(written) == 1, explained.text
    attributions = pd.read_csv(written[0])
    assert len(attributions) == 5 and np.isfinite(attributions.select_dtypes("number").to_numpy()).all()
