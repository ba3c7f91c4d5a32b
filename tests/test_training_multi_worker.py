"""Multi-worker training: two `strata train` processes on loopback ports train one model, and the
Keras work-arounds in `strata.compat` are still needed.

Run as a module (`python -m tests.test_training_multi_worker` from the repository), this file is
the probe one worker runs: plain Keras under `MultiWorkerMirroredStrategy`, without strata.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


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
    assert not multi_worker.is_chief()


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
    assert set(metrics) == {"train", "validation", "per_class"}  # a classifier's per-class tables too
    assert set(metrics["per_class"]) == {"train", "validation"}


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
    _probe()
