"""The README's commands, held to the code: every `strata ...` command in its bash blocks is found
and checked against the config tree and the commands as they are now.

- Every `strata train` command composes and validates as written (Hydra's composition of the
  shipped config tree and strata's schema, what `strata train` does before it imports
  TensorFlow); a sweep (`-m`) is checked with the first value of each swept key.
- Every other `strata <command>` is started with its documented arguments (a run folder that does
  not exist in place of `<run dir>`): each argument is one the command takes, so the only
  complaint is the missing run.
- A user's own config folder (`--config-dir my_conf`, `hydra.searchpath`) holds the files the
  README shows for it (`my_conf/experiment/my_recipe.yaml`, ...), written from its yaml blocks.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.conftest import ROOT, compose_raw, strata

README = ROOT / "README.md"

# a file the README shows, introduced by its path: "A config file of your own, `my_conf/x.yaml`:"
USER_FILE = re.compile(r"`(my_conf/[\w/]+\.yaml)`:\s*\n\n```yaml\n(.*?)```", re.S)


# files of the user's whose presence validation checks, made in the commands' working folder
# (my_bert_preset: a KerasHub preset the user saved; its contents are read when the model is built)
USER_PATHS = ("my_bert_preset/config.json",)


def _commands(text: str) -> list[list[str]]:
    """The `strata ...` commands of the README's bash blocks, as argument lists after `strata`: line
    continuations joined (a synopsis's indented next line too), comments, environment assignments,
    pipes and redirections dropped; a placeholder `<run dir>` kept as one word `@run_dir@`, and
    of alternatives `a|b|c` inside a word the first."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        lines: list[str] = []
        for line in block.replace("\\\n", " ").splitlines():
            if lines and line[:1].isspace() and line.strip().startswith("[") and "strata " in lines[-1]:
                lines[-1] += " " + line.strip()
            else:
                lines.append(line)
        for line in lines:
            line = re.sub(r"<([^<>]+)>", lambda m: "@" + re.sub(r"\W+", "_", m.group(1)) + "@", line)
            line = re.sub(r"(?<=[^\s|])\|(?=[^\s|])", "\x01", line)
            lexer = shlex.shlex(line, posix=True, punctuation_chars="|&;<>")
            lexer.whitespace_split, lexer.commenters = True, "#"
            segment: list[str] = []
            for word in [*lexer, "|"]:
                if word and set(word) <= set("|&;<>"):
                    _add(segment, found)
                    segment = []
                else:
                    segment.append(re.sub(r"\x01[^\x01\]]*", "", word))
    return found


def _add(segment: list[str], found: list[list[str]]) -> None:
    words = [w for w in segment if not re.fullmatch(r"[A-Z_]+=.*", w)]  # TF_CONFIG=... before the command
    if words[:1] == ["srun"]:
        words = words[1:]
    if words[:3] in (["python", "-m", "strata"], ["python3", "-m", "strata"]):
        words = ["strata", *words[3:]]
    if words and Path(words[0]).name == "strata" and len(words) > 1 and not words[1].startswith("@"):
        found.append(words[1:])


COMMANDS = _commands(README.read_text(encoding="utf-8"))
TRAIN = [c[1:] for c in COMMANDS if c[0] == "train"]
OTHER = [c for c in COMMANDS if c[0] != "train"]


def _user_files(root: Path) -> None:
    for path, text in USER_FILE.findall(README.read_text(encoding="utf-8")):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")


def _with_user_folder(args: list[str], root: Path) -> list[str]:
    """`--config-dir D` as the search path entry it stands for, and the README's example path as
    the folder the README's files were written to."""
    out, words = [], iter(args)
    for word in words:
        if word == "--config-dir":
            out.append(f"hydra.searchpath=[file://{root / next(words)}]")
        else:
            out.append(word.replace("file:///path/to/my_conf", f"file://{root / 'my_conf'}"))
    return out


def _overrides(args: list[str]) -> list[str]:
    """A `strata train` command's overrides as one run composes them: a sweep's first value of each
    swept key, `resume=` (read by strata before Hydra) and placeholders left out."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    words = [a for a in args if a not in ("-m", "--multirun") and not a.startswith("resume=") and "@" not in a
             and not (a.startswith("[") and a.endswith("]"))]
    single = []
    for word, override in zip(words, OverridesParser.create().parse_overrides(words)):
        if override.is_sweep_override():
            sweep = override.value()
            first = getattr(sweep, "start", None)
            if first is None:
                first = next(iter(override.sweep_iterator()))
            single.append(f"{override.get_key_element()}={first}")
        else:
            single.append(word)
    return single


def test_the_readme_has_commands_of_every_kind():
    assert len(TRAIN) >= 60, TRAIN  # the parser found the train commands
    assert {c[0] for c in OTHER} >= {"evaluate", "predict", "export", "explain", "report", "log", "sweep-report"}


@pytest.mark.parametrize("args", TRAIN, ids=[" ".join(c)[:120] for c in TRAIN])
def test_every_train_command_composes_and_validates(tmp_path, monkeypatch, args):
    from strata.config.validate import validate

    _user_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    for path in USER_PATHS:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("{}")
    overrides = _overrides(_with_user_folder(args, tmp_path))
    cfg = compose_raw(*overrides, root=tmp_path)
    validate(cfg)  # a UserError (unknown key, bad value, no such option) fails the test with its message
    for word in overrides:
        key, _, value = word.lstrip("+").partition("=")
        if "/" in key or key.startswith("hydra") or key in ("experiment", "hparams_search", "debug"):
            continue  # a group choice or Hydra's own setting: composed above
        assert _value(cfg, key) is not None or value in ("null", "~"), word


def _value(cfg, key: str):
    from omegaconf import OmegaConf

    return OmegaConf.select(cfg, key, default=None)


@pytest.mark.parametrize("args", OTHER, ids=[" ".join(c)[:120] for c in OTHER])
def test_every_other_command_takes_its_documented_arguments(tmp_path, args):
    command, words = args[0], args[1:]
    given = []
    for word in words:
        word = word.strip("[]")
        if "=" not in word:
            continue
        key, _, value = word.partition("=")
        if "@" in value or "..." in value:
            value = "x"
        if key in ("run", "sweep"):
            value = str(tmp_path / f"no-such-{key}")
        given.append(f"{key}={value}")
    result = strata(command, *given, cwd=tmp_path, timeout=120)
    assert result.code == 2, result.text
    assert "unknown argument" not in result.err and "expected key=value" not in result.err, result.err
    if any(g.startswith(("run=", "sweep=")) for g in given):
        assert "no-such-" in result.err, result.err  # refused for the missing folder, nothing else


def test_the_readme_shows_the_files_its_config_folder_commands_read(tmp_path):
    _user_files(tmp_path)
    wanted = set()
    for args in TRAIN:
        if any("my_conf" in word for word in args):
            for word in args:
                group, _, name = word.partition("=")
                if group in ("experiment", "model") and name:
                    wanted.add(f"my_conf/{group}/{name}.yaml")
    assert wanted, TRAIN
    assert all((tmp_path / path).is_file() for path in wanted), wanted
