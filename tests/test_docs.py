"""Documentation that must not drift from the code."""

from __future__ import annotations

from pathlib import Path

from keyturn.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_documented() -> None:
    documented = (ROOT / "docs" / "configuration.md").read_text()
    for name in Settings.model_fields:
        assert f"`KEYTURN_{name.upper()}`" in documented, name


def test_readme_shows_the_front_door_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme
    assert "make test" in readme
