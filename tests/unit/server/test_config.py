from __future__ import annotations

from pathlib import Path

import pytest

from specrunner.errors import SpecRunnerError
from specrunner.server.config import load_config


def test_default_is_one_free_environment_sized_to_the_machine(tmp_path: Path) -> None:
    config = load_config(None, tmp_path)
    (env,) = config.environments
    assert env.is_free and env.cpuNumber >= 1 and env.ramGB > 0 and env.sandboxed


def test_environments_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("environments:\n  - id: a\n    priceMin: 1\n  - id: b\n")
    config = load_config(path, tmp_path)
    assert [e.id for e in config.environments] == ["a", "b"]
    assert config.environment("a") is not None and not config.environment("a").is_free  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("environments: [\n", "c.yaml:2:1: provider config is not valid YAML"),
        ("- 1\n", "must be a mapping"),
        ("environments:\n  - id: a\n  - id: a\n", "duplicate environment id: a"),
        ("environments:\n  - id: a\n    ramGB: -1\n", "environments.0.ramGB"),
        ("environments:\n  - id: a\n    colour: red\n", "environments.0.colour"),
        ("environments:\n  - id: ../x\n", "environments.0.id"),
    ],
)
def test_bad_config_names_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(SpecRunnerError, match=message.replace("[", r"\[").replace(".", r"\.")):
        load_config(path, tmp_path)
