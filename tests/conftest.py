"""Shared test helpers: run the real `strata` CLI in a subprocess, and train tiny runs once."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STRATA = Path(sys.executable).parent / "strata"


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def strata(
    *args: str, cwd: Path | str | None = None, env: dict | None = None, timeout: float = 600, stdin: str | None = None
) -> Result:
    """Runs the installed `strata` command with `args` (and `stdin` as its standard input, else
    none); returns exit code and output."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("HYDRA_FULL_ERROR", None)
    proc = subprocess.run(
        [str(STRATA), *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout, input=stdin
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def train_until_killed(args: list[str], cwd: Path, ready, what: str, timeout: float = 240) -> None:
    """Starts `strata train args`, polls `ready()` until it is true and then kills the process with
    SIGKILL (a crash, a preempted machine); fails when the run ends first or `timeout` passes."""
    import signal
    import time

    env = {k: v for k, v in os.environ.items() if k not in ("HYDRA_FULL_ERROR", "TF_CONFIG") and not k.startswith("SLURM_")}
    proc = subprocess.Popen([str(STRATA), "train", *args], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, f"{what} after {timeout:.0f} s"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()


def assert_user_error(result: Result, *fragments: str) -> None:
    """Exit code 2, one `strata: error:` line naming every fragment, and no traceback."""
    assert result.code == 2, result.text
    assert "Traceback" not in result.text, result.text
    errors = [line for line in result.err.splitlines() if line.startswith("strata: error:")]
    assert len(errors) == 1, result.text
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


# a few batches of the default digits CNN: enough to check artifacts, fast on 2 cores
def compose_raw(*overrides: str, root: Path | str = "/tmp/strata-root"):
    """The config tree composed with `overrides` as `strata train` composes it, outside a Hydra
    run: the `${hydra:...}` paths get concrete values under `root`, the hydra node is dropped.
    Not validated (see `compose_config`)."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    import strata.train  # noqa: F401  (registers strata's resolvers)

    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="strata.conf", version_base="1.3"):
        cfg = compose(config_name="config", overrides=list(overrides), return_hydra_config=True)
    OmegaConf.set_struct(cfg, False)
    cfg.paths.root_dir = str(root)
    cfg.paths.run_dir = str(Path(root) / "run")
    cfg.pop("hydra")
    return cfg


def compose_config(*overrides: str, root: Path | str = "/tmp/strata-root"):
    """`compose_raw`, validated: the typed config the trainer gets."""
    from strata.config.validate import validate

    return validate(compose_raw(*overrides, root=root))


TINY = ("trainer.epochs=2", "trainer.steps_per_epoch=5", "trainer.batch_size=32")


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory) -> Path:
    """One finished run of the default config (digits + CNN), shared by the tests that read it."""
    run = tmp_path_factory.mktemp("runs") / "digits"
    result = strata("train", *TINY, f"hydra.run.dir={run}", cwd=tmp_path_factory.mktemp("cwd"))
    assert result.code == 0, result.text
    return run


def free_port_pair() -> int:
    """A port p with p and p + 1 free on 127.0.0.1: `trainer.port_base` of a two-task SLURM step."""
    import socket

    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            if port >= 65535:
                continue
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port
    raise RuntimeError("no two adjacent free ports on 127.0.0.1")


class SlurmJob:
    """A two-task SLURM job step on this machine: two `strata train` processes with the
    variables `srun -n 2` sets on one node (and no TF_CONFIG), started, watched and killed."""

    def __init__(self, args: list[str], cwd: Path, tasks: int = 2):
        self.args, self.cwd, self.tasks = list(args), cwd, tasks
        self.procs: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    def start(self) -> SlurmJob:
        self.procs, self.logs = [], []
        for rank in range(self.tasks):
            env = {k: v for k, v in os.environ.items()
                   if k not in ("HYDRA_FULL_ERROR", "TF_CONFIG") and not k.startswith("SLURM_")}
            env.update(SLURM_PROCID=str(rank), SLURM_LOCALID=str(rank), SLURM_NODEID="0", SLURM_NTASKS=str(self.tasks),
                       SLURM_STEP_NUM_TASKS=str(self.tasks), SLURM_STEP_NODELIST="localhost",
                       SLURM_STEP_TASKS_PER_NODE=str(self.tasks), SLURM_JOB_ID="4242")
            out = self.cwd / f"task{rank}.{len(list(self.cwd.glob(f'task{rank}.*')))}.out"
            self.logs.append(out)
            self.procs.append(subprocess.Popen([str(STRATA), "train", *self.args], cwd=self.cwd, env=env,
                                               stdout=open(out, "w"), stderr=subprocess.STDOUT))
        return self

    def output(self, rank: int) -> str:
        return self.logs[rank].read_text()

    def wait_until(self, ready, what: str, timeout: float = 240) -> None:
        """Polls `ready()` (every 0.1 s) until it is true; fails when a task ends first or on timeout."""
        import time

        deadline = time.monotonic() + timeout
        while not ready():
            ended = [r for r, p in enumerate(self.procs) if p.poll() is not None]
            assert not ended, f"task {ended[0]} ended before {what}: {self.output(ended[0])[-3000:]}"
            assert time.monotonic() < deadline, f"no {what} after {timeout:.0f} s"
            time.sleep(0.1)

    def kill(self, rank: int) -> None:
        import signal

        self.procs[rank].send_signal(signal.SIGKILL)
        self.procs[rank].wait(timeout=30)

    def wait(self, timeout: float) -> list[int]:
        """Every task's exit code; a task still running after `timeout` seconds is killed and fails the test."""
        import time

        deadline = time.monotonic() + timeout
        codes = []
        try:
            for proc in self.procs:
                codes.append(proc.wait(timeout=max(0.1, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            pytest.fail(f"a task of the job was still running {timeout:.0f} s on: {[p.poll() for p in self.procs]}")
        finally:
            self.stop()
        return codes

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)


def free_port() -> int:
    """A free TCP port on 127.0.0.1, for a server a test starts."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_answers(url: str, process: subprocess.Popen, log: Path, seconds: float, any_status: bool = False) -> None:
    """Polls `url` (bounded by `seconds`) until the server started as `process` answers with 200,
    or with any HTTP status when `any_status`; fails with the end of its `log` if it dies or never does."""
    import time
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200 or any_status:
                    return
        except urllib.error.HTTPError:
            if any_status:
                return  # an HTTP error is an answer
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer in {seconds:.0f} s:\n{log.read_text()[-3000:]}")
