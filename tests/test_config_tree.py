"""Every config in conf/ composes and passes the schema."""

from __future__ import annotations

from pathlib import Path

import pytest

import strata.train  # noqa: F401  (registers strata's resolvers)
from strata.config.validate import validate
from tests.conftest import compose_raw

CONF = Path(__file__).resolve().parents[1] / "conf"
HYDRA_ONLY = {"hydra", "paths"}


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


_compose = compose_raw


GROUP_OPTIONS = [
    (group, option)
    for group in sorted(p.name for p in CONF.iterdir() if p.is_dir() and p.name not in HYDRA_ONLY | {"__pycache__"})
    for option in _options(group)
]


@pytest.mark.parametrize(("group", "option"), GROUP_OPTIONS, ids=[f"{g}={o}" for g, o in GROUP_OPTIONS])
def test_every_preset_composes_and_validates(group, option):
    config = validate(_compose(f"{group}={option}"))
    assert config.trainer.epochs >= 1
    assert config.model.family in (
        "cnn", "mlp", "tabular", "rnn", "transformer", "autoencoder", "vae", "gan", "graph", "pretrained", "two_tower",
        "matrix_factorization",
    )


def test_every_key_has_a_comment():
    """Each key line of every YAML file carries a `#` comment (the config is its own reference)."""
    missing = []
    for path in CONF.rglob("*.yaml"):
        if path.parent.name == "hydra":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            stripped = line.strip()
            if not stripped or stripped.startswith(("#", "-")) or stripped.endswith(":"):
                continue
            if ":" in stripped and "#" not in stripped:
                missing.append(f"{path.relative_to(CONF)}:{number}: {stripped}")
    assert not missing, "keys without a comment:\n" + "\n".join(missing)


def test_default_config_is_digits_cnn():
    config = validate(_compose())
    assert (config.data.source, config.data.name, config.model.family) == ("bundled", "digits", "cnn")
    assert config.task_name == "digits_cnn"
