"""Config fuzzing: a hundred generated override sets through the real composition and
validation. Each ends in a valid config or in one clean config error line; never a crash."""

from __future__ import annotations

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import strata.train  # noqa: F401  (registers strata's resolvers)
from strata.config.hydra_errors import describe
from strata.errors import UserError
from tests.conftest import assert_user_error, compose_config, strata

REAL_KEYS = [
    "seed", "task", "task_name", "trainer.epochs", "trainer.batch_size", "trainer.precision", "trainer.strategy",
    "trainer.steps_per_epoch", "trainer.jit_compile", "trainer.verbose", "optimizer.name", "optimizer.learning_rate",
    "optimizer.momentum", "optimizer.schedule.name", "optimizer.schedule.boundaries", "optimizer.schedule.values",
    "model.filters", "model.kernel_size", "model.dropout", "model.pool", "model.dense_units", "data.name",
    "data.split.validation", "data.split.test", "data.limit", "data.pipeline.shuffle_buffer",
    "callbacks.early_stopping.patience", "callbacks.early_stopping.monitor", "callbacks.checkpoint.mode",
    "export.format",
]
GROUPS = ["model", "data", "optimizer", "trainer", "callbacks", "export", "debug", "experiment"]


def _misspell(key: str, edits: list[tuple[int, str]]) -> str:
    chars = list(key)
    for position, letter in edits:
        i = position % len(chars)
        if chars[i] != ".":
            chars[i] = letter
    return "".join(chars)


identifier = st.text(string.ascii_lowercase + "_", min_size=1, max_size=8)
keys = st.one_of(
    st.sampled_from(REAL_KEYS),
    st.builds(_misspell, st.sampled_from(REAL_KEYS), st.lists(st.tuples(st.integers(0, 40), st.sampled_from("aeioxz_")), max_size=2)),
    st.lists(identifier, min_size=1, max_size=6).map(".".join),
    st.builds(lambda k, extra: f"{k}.{extra}", st.sampled_from(REAL_KEYS), identifier),
)
scalars = st.one_of(
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["true", "false", "null", "abc", "''", "adam", "nan", "-inf", "1e400", "[]", "{}", "[1,2,3]",
                     "[a,[b,[c]]]", "{a:{b:{c:1}}}", "${oc.env:NOPE}", "${nope}", "float61", "cnn", "1,2", "x=y"]),
    st.text(string.printable, max_size=12),
)
overrides = st.one_of(
    st.builds(lambda k, v: f"{k}={v}", keys, scalars),
    st.builds(lambda k, v: f"+{k}={v}", keys, scalars),
    st.builds(lambda k: f"~{k}", keys),
    st.builds(
        lambda g, v: f"{g}={v}",
        st.sampled_from(GROUPS),
        st.one_of(identifier, st.sampled_from(["cnn", "mlp", "digits", "fast", "null"])),
    ),
)


def _outcome(args: list[str]) -> str:
    """'ok' or the one-line error message that the CLI would print with exit code 2."""
    try:
        compose_config(*args, root="/tmp/strata-fuzz")
        return "ok"
    except UserError as ex:
        return str(ex)
    except Exception as ex:  # noqa: BLE001 - must be a composition error the CLI reports cleanly
        message = describe(ex)
        assert message is not None, f"{args} -> unhandled {type(ex).__name__}: {ex}"
        return message


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(overrides, min_size=1, max_size=4))
def test_generated_overrides_validate_or_fail_cleanly(args):
    outcome = _outcome(args)
    if outcome != "ok":
        assert outcome.strip(), args
        assert "Traceback" not in outcome


@settings(max_examples=40, deadline=None)
@given(
    st.builds(
        _misspell,
        st.sampled_from(REAL_KEYS),
        st.lists(st.tuples(st.integers(0, 40), st.sampled_from("qxz")), min_size=1, max_size=2),
    )
)
def test_misspelt_keys_are_named_in_the_error(key):
    outcome = _outcome([f"{key}=1"])
    if key in REAL_KEYS:
        return
    assert outcome != "ok"
    assert key in outcome or key.rsplit(".", 1)[0] in outcome, outcome


def test_cli_agrees_on_a_sample_of_fuzzed_overrides(tmp_path):
    """The real CLI: exit 2, one line, no traceback, for a fixed sample of nonsense."""
    for args in (["trainer.batch_size={a:{b:1}}"], ["model.filters=[a,[b]]"], ["+a.b.c.d.e=1"],
                 ["optimizer.schedule.name=cosin"], ["data.split.test=nan"], ["seed=${nope}"]):
        assert_user_error(strata("train", *args, cwd=tmp_path))
