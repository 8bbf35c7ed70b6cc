"""docs/client.md must name every method of the client and every command built on it."""

from __future__ import annotations

import inspect
from pathlib import Path

import typer

from keyturn.cli import remote
from keyturn.client import Client

DOC = (Path(__file__).resolve().parent.parent / "docs" / "client.md").read_text()


def test_every_public_client_method_is_in_docs_client() -> None:
    names = [
        name
        for name, _ in inspect.getmembers(Client, inspect.isfunction)
        if not name.startswith("_") and name != "close"
    ]
    assert names
    missing = [name for name in names if f"{name}(" not in DOC]
    assert missing == []


def remote_top_level() -> list[typer.models.CommandInfo]:
    """The client's commands registered on `keyturn` itself (not in a group)."""
    probe = typer.Typer()
    remote.register(probe)
    return probe.registered_commands


def test_every_client_command_is_in_docs_client() -> None:
    groups: dict[str, typer.Typer] = {
        "secrets": remote.secrets_app,
        "resources": remote.resources_app,
        "env": remote.env_app,
        "deployments": remote.deployments_app,
    }
    commands = [
        f"keyturn {group} {command.name}"
        for group, typer_app in groups.items()
        for command in typer_app.registered_commands
    ]
    commands += [f"keyturn {command.name}" for command in remote_top_level()]
    assert len(commands) == 10
    missing = [command for command in commands if f"`{command} " not in DOC]
    assert missing == []
