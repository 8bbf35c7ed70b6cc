"""Documentation that must not drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from keyturn.app import Runtime, build_runtime, create_app
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


LINK = re.compile(r"\]\(([^)\s]+)\)")
USER_DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "CHANGELOG.md"]


@pytest.mark.parametrize("doc", USER_DOCS, ids=lambda path: path.name)
def test_every_relative_link_of_the_user_docs_stays_inside_the_repository(doc: Path) -> None:
    for target in LINK.findall(doc.read_text()):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        resolved = (doc.parent / target.split("#")[0]).resolve()
        assert resolved.is_relative_to(ROOT), f"{doc.name} links outside: {target}"
        assert resolved.exists(), f"{doc.name} links to a missing file: {target}"


@pytest.mark.parametrize("doc", USER_DOCS, ids=lambda path: path.name)
def test_user_docs_refer_to_docs_api_not_to_a_contract_outside_the_repository(doc: Path) -> None:
    assert "CONTRACT.md" not in doc.read_text()


def _route_shape(path: str) -> str:
    """A path with every `{parameter}` the same, whatever its name or converter."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def _documented_paths(text: str) -> set[str]:
    """Every path written in the text; `[/{x}]` (an optional segment) counts both ways."""
    shapes = set()
    for written in re.findall(r"(?<![\w.])/[\w{}\-./\[\]]*", text):
        without_query = written.split("?")[0]
        shapes.add(_route_shape(re.sub(r"\[[^\]]*\]", "", without_query)))
        shapes.add(_route_shape(without_query.replace("[", "").replace("]", "")))
    return shapes


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_docs_api_names_every_route_the_server_answers(runtime: Runtime) -> None:
    documented = _documented_paths((ROOT / "docs" / "api.md").read_text())
    # The OpenAPI description lists what every included router serves.
    served = {_route_shape(path) for path in create_app(runtime).openapi()["paths"]}

    assert len(served) > 20, sorted(served)
    assert not served - documented, sorted(served - documented)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_docs_api_names_every_route_of_emulator_mode(settings: Settings) -> None:
    runtime = build_runtime(settings.model_copy(update={"emulator": True}))
    try:
        served = {_route_shape(path) for path in create_app(runtime).openapi()["paths"]}
    finally:
        runtime.store.engine.dispose()
    documented = _documented_paths((ROOT / "docs" / "api.md").read_text())

    assert "/v1/admin/reset" in served
    assert not served - documented, sorted(served - documented)
