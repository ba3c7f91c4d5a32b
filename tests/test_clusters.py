"""Clusters (docs/clusters.md): a sweep runs through Hydra's submitit launcher (its local executor:
each trial a submitit job), the SLURM launcher composes with the keys the docs name, and every
`strata train` command in docs/clusters.md composes and validates."""

from __future__ import annotations

import json
import math
import re
import shlex

import pytest
import yaml

from tests.conftest import ROOT, compose_config, strata

pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="the slurm extra (hydra-submitit-launcher) is not installed")

DOCS = ROOT / "docs" / "clusters.md"
# the tiniest real training: the digits MLP, 3 batches, nothing written that no assertion reads
TINY = ("model=mlp", "debug=fast", "callbacks=none", "report=false", "trainer.evaluate_test=false")


def test_a_sweep_runs_through_submitit_local(tmp_path):
    sweep = tmp_path / "sweep"
    result = strata("train", "-m", "hydra/launcher=submitit_local", *TINY, "optimizer.learning_rate=0.01,0.001",
                    f"hydra.sweep.dir={sweep}", cwd=tmp_path, timeout=300)
    assert result.code == 0, result.text
    for n in (0, 1):
        metrics = json.loads((sweep / str(n) / "metrics.json").read_text())
        assert math.isfinite(metrics["validation"]["accuracy"]), metrics
        assert (sweep / str(n) / "train.log").is_file()
    # submitit's own records: one folder per job, with the job's stdout and stderr
    logs = sorted((sweep / ".submitit").glob("*/*_log.out"))
    assert len(logs) == 2, sorted(p.relative_to(sweep) for p in (sweep / ".submitit").rglob("*"))
    for log in logs:
        assert "Job completed successfully" in log.read_text() + log.with_name(log.name.replace(".out", ".err")).read_text()


def test_the_slurm_launcher_composes_with_its_keys(tmp_path):
    result = strata("train", "hydra/launcher=submitit_slurm", "hydra.launcher.partition=gpu", "hydra.launcher.timeout_min=120",
                    "--cfg", "hydra", cwd=tmp_path)
    assert result.code == 0, result.text
    launcher = yaml.safe_load(result.out)["hydra"]["launcher"]
    assert launcher["_target_"].endswith("SlurmLauncher")
    assert launcher["partition"] == "gpu" and launcher["timeout_min"] == 120
    # the keys docs/clusters.md's table names
    documented = set(re.findall(r"^\| `(\w+)`", DOCS.read_text().split("The launcher's keys that matter")[1], re.M))
    documented |= {"account", "qos", "constraint", "exclude", "gres"}
    assert documented <= set(launcher), documented - set(launcher)


# ----------------------------------------------------------------------------- the docs' commands

# what the shell would put in place of the variables the docs' commands use
SHELL_VARIABLES = {"SLURM_JOB_ID": "12345", "RUN": "/shared/runs/12345"}


def _commands() -> list[list[str]]:
    """The arguments after `strata train` of every command in docs/clusters.md's bash and yaml
    blocks (shell variables filled in, the shell's own operators cut off)."""
    text = DOCS.read_text()
    commands = []
    for lang, body in re.findall(r"```(bash|yaml)\n(.*?)```", text, re.S):
        lines = []
        if lang == "bash":
            lines = [line for line in body.replace("\\\n", " ").splitlines() if "strata train" in line]
        else:
            for doc in yaml.safe_load_all(body):
                lines += list(_yaml_commands(doc))
        for line in lines:
            line = re.sub(r"\$\{?(\w+)\}?", lambda m: SHELL_VARIABLES.get(m.group(1), m.group(0)), line)
            words = shlex.split(line, comments=True)
            words = words[words.index("train", words.index("strata")) + 1:]
            end = next((i for i, w in enumerate(words) if w in ("&", "&&", "||", ";", "|", ">") or w.startswith(">")), len(words))
            commands.append(words[:end])
    return commands


def _yaml_commands(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from _yaml_commands(value)
    elif isinstance(node, list):
        if node[:2] == ["strata", "train"]:
            yield shlex.join(node)
        else:
            for value in node:
                yield from _yaml_commands(value)
    elif isinstance(node, str) and "strata train" in node:
        yield node


def _first_of_each_sweep(args: list[str]) -> list[str]:
    """A multirun's overrides as one of its jobs gets them: `-m` dropped, each sweep its first value."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    out = []
    for arg in args:
        if arg in ("-m", "--multirun"):
            continue
        override = OverridesParser.create().parse_overrides([arg])[0]
        if override.is_sweep_override():
            arg = f"{override.get_key_element()}={next(override.sweep_string_iterator())}"
        out.append(arg)
    return out


def test_the_docs_show_strata_commands():
    commands = _commands()
    assert len(commands) >= 6, commands
    assert any("hydra/launcher=submitit_slurm" in c for c in commands)
    assert any("trainer=tpu" in c for c in commands)


@pytest.mark.parametrize("args", _commands(), ids=lambda a: " ".join(a)[:80])
def test_every_strata_command_in_the_cluster_docs_composes(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("TF_CONFIG", "SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS"):
        monkeypatch.delenv(name, raising=False)
    config = compose_config(*_first_of_each_sweep(args), root=tmp_path)
    assert config.trainer.epochs >= 1
    if "trainer.strategy=multi_worker" in args:
        assert config.trainer.strategy == "multi_worker"
