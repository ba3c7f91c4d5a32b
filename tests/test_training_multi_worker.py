"""Multi-worker training: two `strata train` processes on loopback ports train one model (from
TF_CONFIG, or from the variables of a two-task SLURM step), share one run folder, survive a
worker killed mid-epoch (the job stops, and started again resumes from its backup), split the
input by row; and the Keras work-arounds in `strata.compat` are still needed.

Run as a module (`python -m tests.test_training_multi_worker [shard]` from the repository), this
file is the probe one worker runs: plain Keras under `MultiWorkerMirroredStrategy` without strata,
or strata's input pipeline under it (`shard`).
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, SlurmJob, free_port_pair


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def tf_config(ports: list[int], index: int) -> str:
    return json.dumps({"cluster": {"worker": [f"localhost:{p}" for p in ports]}, "task": {"type": "worker", "index": index}})


def test_chief_is_the_chief_task_or_worker_zero(monkeypatch):
    from strata.training import multi_worker

    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert multi_worker.is_chief() and not multi_worker.is_multi_worker()
    monkeypatch.setenv("TF_CONFIG", tf_config([1, 2], 0))
    assert multi_worker.is_chief() and multi_worker.is_multi_worker()
    monkeypatch.setenv("TF_CONFIG", tf_config([1, 2], 1))
    assert not multi_worker.is_chief()
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"chief": ["a:1"], "worker": ["b:2"]},
                                                "task": {"type": "worker", "index": 0}}))
    assert not multi_worker.is_chief() and multi_worker.current().rank == 1
    monkeypatch.delenv("TF_CONFIG")
    monkeypatch.setenv("SLURM_PROCID", "1")
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "1")  # one task: no cluster
    assert multi_worker.current() is None and multi_worker.is_chief()
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "4")
    task = multi_worker.current()
    assert (task.source, task.rank, task.workers, task.is_chief) == ("SLURM", 1, 4, False)


def _start_workers(args_for, cwd, env_extra=None):
    ports = free_ports(2)
    procs = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": tf_config(ports, index), **(env_extra or {})}
        env.pop("HYDRA_FULL_ERROR", None)
        procs.append(subprocess.Popen(args_for(index), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    outputs = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=300)
            outputs.append((proc.returncode, out, err))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    return outputs


def test_keras_still_needs_both_multi_worker_workarounds():
    """Fails once Keras fixes either bug: then delete that work-around from multi_worker.py."""
    outputs = _start_workers(lambda index: [sys.executable, "-m", "tests.test_training_multi_worker"], cwd=ROOT)
    results = []
    for code, out, err in outputs:
        assert code == 0, out + err
        results.append(json.loads(out.split("PROBE ", 1)[1]))
    for result in results:
        assert "Attempt to convert a value (PerReplica" in result["without_symbolic_build"], (
            "Keras's _maybe_symbolic_build now works under MultiWorkerMirroredStrategy: "
            "remove the symbolic_build work-around from strata.compat (pipelines/compat.py)"
        )
        assert "Invalid reduction dimension 0 for input with 0 dimensions" in result["without_reduce_per_replica"], (
            "Keras's reduce_per_replica now reduces scalars under MultiWorkerMirroredStrategy: "
            "remove the reduce_per_replica work-around from strata.compat (pipelines/compat.py)"
        )


def test_two_workers_train_one_model_and_only_the_chief_writes(tmp_path):
    runs = [tmp_path / "chief", tmp_path / "worker1"]
    args = ["trainer=multi_worker", "trainer.epochs=2", "trainer.steps_per_epoch=3", "trainer.batch_size=32",
            "trainer.evaluate_test=false", "export=none", "callbacks=none"]
    outputs = _start_workers(lambda i: [str(Path(sys.executable).parent / "strata"), "train", *args,
                                        f"hydra.run.dir={runs[i]}"], cwd=tmp_path)
    losses = []
    for code, out, err in outputs:
        assert code == 0, out + err
        epochs = re.findall(r"epoch 2/2 - .*?\bloss ([0-9.e+-]+)", out)
        assert epochs, out
        losses.append(float(epochs[0]))
    assert losses[0] == pytest.approx(losses[1], rel=1e-6)
    assert "2 replicas in sync (chief)" in outputs[0][1]
    assert (runs[0] / "model.keras").is_file() and (runs[0] / "metrics.json").is_file()
    assert not runs[1].exists(), "a non-chief worker left its run directory behind"
    metrics = json.loads((runs[0] / "metrics.json").read_text())
    assert set(metrics) == {"train", "validation", "per_class", "evaluated_rows"}  # a classifier's per-class tables too
    assert set(metrics["per_class"]) == {"train", "validation"}


def _epochs_logged(text: str) -> list[int]:
    return [int(e) for e in re.findall(r"\bepoch (\d+)/\d+ - ", text)]


def _backup_epochs(run: Path) -> int:
    metadata = run / "checkpoints" / "backup" / "training_metadata.json"
    try:
        return json.loads(metadata.read_text())["epoch"]
    except (OSError, ValueError, KeyError):  # not written yet
        return 0


def _killed_and_restarted(tmp_path: Path, args: list[str], kill: int, after: int, total: int, phase2: bool = False) -> Path:
    """Starts a two-task SLURM job sharing one run folder, SIGKILLs task `kill` once the backup
    holds `after` epochs (the job is in epoch after + 1), checks that the other task ends within
    2 minutes with exit code 75 and that the job is resumable, starts the job again and checks
    the whole run: `total` epochs, each trained once, the chief's files written once."""
    run = tmp_path / "run"
    args = [*args, "trainer.strategy=multi_worker", f"trainer.port_base={free_port_pair()}", f"hydra.run.dir={run}"]
    marker = run / "checkpoints" / "backup" / "fine_tune.json"
    job = SlurmJob(args, tmp_path).start()
    job.wait_until(lambda: _backup_epochs(run) >= after and (marker.is_file() or not phase2), f"a backup of {after} epochs")
    job.kill(kill)
    killed = time.monotonic()
    codes = job.wait(timeout=120)
    survivor = 1 - kill
    assert time.monotonic() - killed < 120
    assert codes[survivor] == 75, job.output(survivor)[-3000:]
    assert "Traceback" not in job.output(survivor)
    error = [line for line in job.output(survivor).splitlines() if line.startswith("strata: error:")]
    assert len(error) == 1 and "lost its peers" in error[0] and f"hydra.run.dir={run}" in error[0], error
    done = _backup_epochs(run)
    assert after <= done < total
    assert not (run / "metrics.json").exists() and not (run / "export").exists() and not (run / "model.keras").exists()
    first_log = (run / "train.log").read_text()

    codes = job.start().wait(timeout=400)
    assert codes == [0, 0], job.output(0)[-3000:] + job.output(1)[-3000:]
    log = (run / "train.log").read_text()
    assert log.startswith(first_log)  # the restarted chief appends to the run's log
    before, resumed = _epochs_logged(first_log), _epochs_logged(log[len(first_log):])
    assert before[:done] == list(range(1, done + 1)) and len(before) <= done + 1, before  # killed in epoch done + 1
    assert resumed == list(range(done + 1, total + 1)), resumed  # the interrupted epoch again, then the rest
    assert f"resuming {run} from its backup: {done} of {total} epochs done" in log
    records = [line for line in log.splitlines() if line.startswith("[")]
    assert f"run finished: {total} epochs" in records[-1]
    assert log.count("run finished") == 1 and log.count(f"exported SavedModel to {run}") == 1
    metrics = json.loads((run / "metrics.json").read_text())
    assert all(math.isfinite(v) for v in metrics["validation"].values())
    assert (run / "export" / "saved_model" / "saved_model.pb").is_file() and (run / "model.keras").is_file()
    worker = (run / "workers" / "1.log").read_text()  # the other worker's log, in the shared folder
    assert f"worker finished: {total} epochs" in worker and "run finished" not in worker
    assert str(run / "export") not in worker and str(run / "model.keras") not in worker
    assert sorted(p.name for p in (run / "workers").iterdir()) == ["1.log"]
    assert "hydra.output_subdir" not in (run / ".hydra" / "overrides.yaml").read_text()  # the chief's records
    return run


def test_a_slurm_job_whose_worker_is_killed_in_epoch_3_resumes_and_finishes_6_epochs(tmp_path):
    """Two tasks of a SLURM step (no TF_CONFIG), one run folder: task 1 is SIGKILLed in epoch 3."""
    args = ["model=mlp", "trainer.epochs=6", "trainer.steps_per_epoch=40", "trainer.batch_size=32",
            "callbacks.early_stopping=null", "trainer.evaluate_test=false", "report=false"]
    run = _killed_and_restarted(tmp_path, args, kill=1, after=2, total=6)
    log = (run / "train.log").read_text()
    assert "MultiWorkerMirroredStrategy (SLURM): worker 0, rank 0 of 2 workers, 2 replicas in sync (chief)" in log


def test_a_gan_job_whose_chief_is_killed_resumes_from_the_backup(tmp_path):
    args = ["experiment=digits_gan", "trainer.epochs=4", "trainer.steps_per_epoch=30", "trainer.validation_steps=2",
            "trainer.evaluate_test=false", "report=false"]
    _killed_and_restarted(tmp_path, args, kill=0, after=2, total=4)


def test_each_worker_reads_its_own_rows_of_every_global_batch():
    """strata's input pipelines (a CSV held in memory, and streamed) under a real two-worker
    strategy: every training row once per epoch across the workers, none twice, a new order each
    epoch, the same number of steps on both workers, and each global batch split evenly."""
    outputs = _start_workers(lambda index: [sys.executable, "-m", "tests.test_training_multi_worker", "shard"], cwd=ROOT)
    seen = []
    for code, out, err in outputs:
        assert code == 0, out + err
        seen.append(json.loads(out.split("PROBE ", 1)[1]))
    batch = seen[0]["batch"]
    for source in ("in_memory", "streamed"):
        whole = seen[0][source]["whole"]
        assert seen[1][source]["whole"] == whole and len(whole) > 60
        epochs = [[worker[source]["epochs"][e] for worker in seen] for e in range(2)]
        for parts in epochs:
            ids = [i for part in parts for batch_ids in part for i in batch_ids]
            assert sorted(ids) == sorted(whole), f"{source}: rows missing or read twice"
            assert len(parts[0]) == len(parts[1]) == math.ceil(len(whole) / batch), f"{source}: steps differ"
            assert all(len(b) == batch // 2 for part in parts for b in part[:-1]), f"{source}: uneven batches"
        if source == "in_memory":
            assert epochs[0] != epochs[1], "the same order in two epochs"


def _shard_probe() -> None:
    """One worker: the rows each global batch of strata's training pipeline gives this worker
    over two epochs, for a 100-row CSV loaded in memory and streamed; and the whole split."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tempfile

    import numpy as np
    import tensorflow as tf

    from strata.data.loading import load_data
    from tests.conftest import compose_config

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    batch = 8
    result = {"batch": batch}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rows.csv"
        path.write_text("x,y\n" + "".join(f"{i},{i % 7 * 1.5}\n" for i in range(100)))
        for source, limit in (("in_memory", "100"), ("streamed", "0.0001")):
            config = compose_config("data=csv", f"data.path={path}", "data.target=y", f"data.in_memory_max_mb={limit}",
                                    "model=mlp", root=folder)
            bundle = load_data(config)

            def rows(batch_x):
                return [int(v) for v in np.asarray(batch_x["x"]).reshape(-1)]

            ds = bundle.dataset("train", batch, training=True)
            whole = sorted(i for x, _ in ds for i in rows(x))
            dist = strategy.experimental_distribute_dataset(ds)
            epochs = [[rows({"x": strategy.experimental_local_results(x["x"])[0]}) for x, _ in dist] for _ in range(2)]
            result[source] = {"whole": whole, "epochs": epochs}
    print("PROBE " + json.dumps(result), flush=True)


def _probe() -> None:
    """One worker of the probe: fit a tiny model with each work-around left out in turn (with both
    in place, `test_two_workers_train_one_model_and_only_the_chief_writes` trains)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import numpy as np
    import tensorflow as tf

    from strata import compat

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = (x.sum(axis=1) > 0).astype("float32")

    def fit():
        keras.utils.set_random_seed(1)
        with strategy.scope():
            model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
            model.compile("sgd", "binary_crossentropy")
        try:
            history = model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(16), epochs=1, verbose=0)
            return float(history.history["loss"][-1])
        except Exception as ex:  # the bug being probed for
            return f"{type(ex).__name__}: {ex}"[:2000]

    result = {}
    for left_out in compat.WORKAROUNDS:
        compat.patch_keras(only=tuple(w for w in compat.WORKAROUNDS if w != left_out))
        result[f"without_{left_out}"] = fit()
        compat.unpatch_keras()
    print("PROBE " + json.dumps(result), flush=True)


if __name__ == "__main__":
    _shard_probe() if sys.argv[1:] == ["shard"] else _probe()
