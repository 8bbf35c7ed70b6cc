"""`keyturn secrets|resources|env|deployments ...`: commands for people at a terminal.

They call a keyturn server (or Vercel) over HTTP through `keyturn.client` and nothing else of
keyturn, so they work against any server of the contract. Reads print a rich table, or JSON with
`--json` (the contract's camelCase shapes). Exit codes, which scripts can rely on:

    0  done
    1  the server refused (an APIError: its status, code and message are printed)
    2  usage: a bad option or argument, an unreadable .env file, a file not overwritten
    3  unreachable: no answer from the server within the timeout, after the retries
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel

from keyturn.cli.dotenv_files import (
    DotenvError,
    format_pulled_env,
    read_dotenv_file,
    written_by_a_pull,
)
from keyturn.client import APIError, Client, ConnectionFailed, Secret

EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
DEFAULT_URL = "http://127.0.0.1:3000"

T = TypeVar("T")

Url = Annotated[
    str,
    typer.Option("--url", envvar="KEYTURN_URL", help="The server's base URL (env KEYTURN_URL)."),
]
Token = Annotated[
    str,
    typer.Option(
        "--token",
        envvar="KEYTURN_TOKEN",
        help="A bearer token (env KEYTURN_TOKEN): the installation's for partner commands, a "
        "user token for project commands.",
        show_default=False,
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Installation = Annotated[
    str, typer.Argument(metavar="INSTALLATION", help="The installation id (icfg_...).")
]
ResourceId = Annotated[
    str, typer.Argument(metavar="RESOURCE", help="The partner's id of the resource.")
]

secrets_app = typer.Typer(help="A resource's secrets (integration token).", no_args_is_help=True)
resources_app = typer.Typer(help="An installation's resources (integration token).")
env_app = typer.Typer(help="A project's env vars (user token).", no_args_is_help=True)
deployments_app = typer.Typer(help="Deployments (user token).", no_args_is_help=True)
resources_app.info.no_args_is_help = True


def register(app: typer.Typer) -> None:
    """Add the client's commands to the `keyturn` command."""
    app.add_typer(secrets_app, name="secrets")
    app.add_typer(resources_app, name="resources")
    app.add_typer(env_app, name="env")
    app.add_typer(deployments_app, name="deployments")
    app.command("redeploy-stale")(redeploy_stale)
    app.command("rotate")(rotate)


@contextmanager
def _client(url: str, token: str) -> Iterator[Client]:
    """A client whose refusals and silences become the documented exit codes."""
    try:
        with Client(url, token) as client:
            yield client
    except APIError as exc:
        typer.secho(f"keyturn: {exc}", err=True, fg="red")
        for field in exc.fields:
            typer.secho(f"  {field.key}: {field.message}", err=True, fg="red")
        raise typer.Exit(EXIT_REFUSED) from None
    except ConnectionFailed as exc:
        typer.secho(f"keyturn: unreachable: {exc}", err=True, fg="red")
        raise typer.Exit(EXIT_UNREACHABLE) from None


def _usage(message: str) -> typer.Exit:
    typer.secho(f"keyturn: {message}", err=True, fg="red")
    return typer.Exit(EXIT_USAGE)


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, sort_keys=False))


def _dumped(items: Sequence[BaseModel]) -> list[dict[str, Any]]:
    return [item.model_dump(mode="json", by_alias=True) for item in items]


# rich is imported where a table or a bar is drawn: `keyturn serve` registers these commands
# and starts without it.


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    Console().print(table)


def _each_with_progress(
    items: Sequence[T], label: Callable[[T], str], act: Callable[[T], None]
) -> None:
    """Run `act` on each item; with more than one, under a progress bar on stderr."""
    if len(items) < 2:
        for item in items:
            act(item)
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task("", total=len(items))
        for item in items:
            progress.update(task, description=label(item))
            act(item)
            progress.advance(task)


# secrets


def _pairs(pairs: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            # The pair is not echoed: what follows its `=` may be a secret.
            raise _usage(f"expected NAME=value, got an argument without a name or `=` ({name!r})")
        found[name] = value
    return found


@secrets_app.command("push")
def secrets_push(
    token: Token,
    installation_id: Installation,
    pairs: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="NAME=VALUE...",
            help="NAME=value pairs; they win over the same names of --env-file.",
        ),
    ] = None,
    resource: Annotated[
        list[str] | None,
        typer.Option(
            "--resource", "-r", help="A resource to push to; repeat it to push to several."
        ),
    ] = None,
    env_file: Annotated[
        Path | None,
        typer.Option(
            "--env-file", "-f", help="A .env file of NAME=value lines (no ${VAR} expansion)."
        ),
    ] = None,
    partial: Annotated[
        bool, typer.Option("--partial", help="Replace only the names sent; keep the others.")
    ] = False,
    prefix: Annotated[
        str | None, typer.Option("--prefix", help="The provider prefix of every secret pushed.")
    ] = None,
    url: Url = DEFAULT_URL,
) -> None:
    """Push secrets to one or more resources: the set becomes exactly these, unless --partial."""
    if not resource:
        raise _usage("name at least one resource with --resource")
    values: dict[str, str] = {}
    if env_file is not None:
        try:
            values.update(read_dotenv_file(env_file))
        except (OSError, UnicodeDecodeError) as exc:
            raise _usage(f"cannot read {env_file}: {exc.__class__.__name__}") from None
        except DotenvError as exc:
            raise _usage(str(exc)) from None
    values.update(_pairs(pairs or []))
    if not values and not partial:
        raise _usage("nothing to push: give NAME=value pairs or --env-file (or --partial)")
    secrets = [Secret(name, value, prefix=prefix) for name, value in values.items()]
    with _client(url, token) as client:

        def push(resource_id: str) -> None:
            client.update_resource_secrets(installation_id, resource_id, list(secrets), partial)

        _each_with_progress(resource, lambda resource_id: f"pushing to {resource_id}", push)
    mode = "partial" if partial else "full"
    for resource_id in resource:
        typer.echo(f"keyturn: pushed {len(secrets)} secrets to {resource_id} ({mode})")


Owner = Annotated[
    bool,
    typer.Option("--owner", help="Ask as the project owner (a user token of the team)."),
]


@secrets_app.command("versions")
def secrets_versions(
    token: Token,
    installation_id: Installation,
    resource_id: ResourceId,
    limit: Annotated[int | None, typer.Option(help="Versions to list, 1 to 100.")] = None,
    until: Annotated[int | None, typer.Option(help="List only versions below this one.")] = None,
    owner: Owner = False,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
) -> None:
    """A resource's secrets versions, newest first: names added, changed, removed (no values)."""
    with _client(url, token) as client:
        found = client.secrets_versions(
            installation_id, resource_id, limit=limit, until=until, owner=owner
        )
    if as_json:
        _print_json(found.model_dump(mode="json", by_alias=True))
        return
    rows = [
        (
            v.version,
            v.source,
            v.rotation_id,
            ", ".join(v.added),
            ", ".join(v.changed),
            ", ".join(v.removed),
        )
        for v in found.versions
    ]
    title = f"{resource_id}: current version {found.current_version}"
    _table(title, ("version", "source", "rotation", "added", "changed", "removed"), rows)


@secrets_app.command("usage")
def secrets_usage(
    token: Token,
    installation_id: Installation,
    resource_id: ResourceId,
    state: Annotated[
        str | None, typer.Option(help="Only current, in-use or revocable values.")
    ] = None,
    owner: Owner = False,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
) -> None:
    """Which value of each secret live deployments still run, and which are safe to revoke."""
    with _client(url, token) as client:
        found = client.secrets_usage(installation_id, resource_id, state=state, owner=owner)
    if as_json:
        _print_json(found.model_dump(mode="json", by_alias=True))
        return
    rows = [
        (
            v.name,
            f"{v.from_version}-{'' if v.to_version is None else v.to_version}",
            "yes" if v.current else "",
            v.live_deployments,
            v.serving_deployments,
            "yes" if v.safe_to_revoke else "no",
        )
        for v in found.values
    ]
    columns = ("name", "versions", "current", "live", "serving", "safe to revoke")
    _table(f"{resource_id}: current version {found.current_version}", columns, rows)


def rotate(
    token: Token,
    installation_id: Installation,
    resource_id: ResourceId,
    reason: Annotated[
        str | None, typer.Option(help="Why, for the partner (1 to 1000 characters).")
    ] = None,
    delay_hours: Annotated[
        float | None,
        typer.Option(
            "--delay-hours", help="Hours the old secrets stay valid after the rotation (0-720)."
        ),
    ] = None,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
) -> None:
    """Ask the partner to rotate a resource's secrets (user token): completed, or pending until
    the partner's next update. A partner's refusal exits 1 with its reason."""
    with _client(url, token) as client:
        found = client.request_rotation(
            installation_id,
            resource_id,
            reason=reason,
            delay_old_secrets_expiration_hours=delay_hours,
        )
    if as_json:
        _print_json(found.model_dump(mode="json", by_alias=True))
        return
    version = f", version {found.version}" if found.version is not None else ""
    typer.echo(f"keyturn: rotation {found.id} {found.status}{version}")


def redeploy_stale(
    token: Token,
    installation_id: Installation,
    resource_id: ResourceId,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
) -> None:
    """Redeploy every newest deployment that runs an older secrets version of the resource."""
    with _client(url, token) as client:
        found = client.redeploy_stale(installation_id, resource_id)
    if as_json:
        _print_json(_dumped(found))
        return
    for deployment in found:
        typer.echo(f"{deployment.id}  {deployment.project_id}  {deployment.target}")
    typer.echo(f"keyturn: {len(found)} deployments redeployed", err=True)


# resources


@resources_app.command("ls")
def resources_ls(
    token: Token,
    installation_id: Installation,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
) -> None:
    """List an installation's resources."""
    with _client(url, token) as client:
        found = client.list_resources(installation_id)
    if as_json:
        _print_json(_dumped(found))
        return
    rows = [(r.partner_id, r.name, r.status, r.secrets_version, len(r.secret_names)) for r in found]
    _table(installation_id, ("id", "name", "status", "version", "secrets"), rows)


@resources_app.command("get")
def resources_get(
    token: Token,
    installation_id: Installation,
    resource_id: ResourceId,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
) -> None:
    """Show one resource: status, secrets version and secret names (never a value)."""
    with _client(url, token) as client:
        found = client.get_resource(installation_id, resource_id)
    if as_json:
        _print_json(found.model_dump(mode="json", by_alias=True))
        return
    rows = [
        ("id", found.id),
        ("internal id", found.internal_id),
        ("name", found.name),
        ("status", found.status),
        ("product", found.product_id),
        ("secrets version", found.secrets_version),
        ("secrets", ", ".join(found.secret_names)),
    ]
    _table(resource_id, ("field", "value"), rows)


# env


@env_app.command("ls")
def env_ls(
    token: Token,
    project: Annotated[str, typer.Argument(metavar="PROJECT", help="The project's id or name.")],
    target: Annotated[str | None, typer.Option(help="production, preview or development.")] = None,
    git_branch: Annotated[str | None, typer.Option("--git-branch")] = None,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
) -> None:
    """List a project's env vars: keys, types, targets and where they come from (no values)."""
    with _client(url, token) as client:
        found = client.list_env(project, target=target, git_branch=git_branch)
    if as_json:
        _print_json(_dumped(found))
        return
    rows = [
        (
            e.key,
            e.type,
            ",".join(e.target),
            f"integration {e.configuration_id}" if e.configuration_id else "user",
        )
        for e in found
    ]
    _table(project, ("key", "type", "targets", "from"), rows)


@env_app.command("pull")
def env_pull(
    token: Token,
    project_id: Annotated[str, typer.Argument(metavar="PROJECT", help="The project's id.")],
    target: Annotated[
        str, typer.Argument(metavar="TARGET", help="production, preview or development.")
    ],
    file: Annotated[
        str, typer.Argument(metavar="FILE", help="The dotenv file to write; `-` prints it.")
    ] = ".env.local",
    git_branch: Annotated[
        str | None, typer.Option("--git-branch", help="Add the branch's preview overrides.")
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Overwrite a file not written by a pull.")
    ] = False,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
) -> None:
    """Write a project's env for a target to a dotenv file, as `vercel env pull` does."""
    path = Path(file)
    if file != "-" and not as_json and path.exists() and not yes and not written_by_a_pull(path):
        raise _usage(f"{file} exists and was not written by a pull; --yes overwrites it")
    with _client(url, token) as client:
        env = client.pull_env(project_id, target, git_branch)
    if as_json:
        _print_json(env)
        return
    contents = format_pulled_env(env)
    if file == "-":
        sys.stdout.write(contents)
        return
    path.write_text(contents, encoding="utf-8")
    typer.echo(f"keyturn: wrote {len(env)} variables of {target} to {file}", err=True)


# deployments


@deployments_app.command("ls")
def deployments_ls(
    token: Token,
    project_id: Annotated[str | None, typer.Option("--project", help="A project's id.")] = None,
    target: Annotated[str | None, typer.Option(help="production or preview.")] = None,
    as_json: AsJson = False,
    url: Url = DEFAULT_URL,
) -> None:
    """List deployments and the secrets version of each resource they were built with."""
    with _client(url, token) as client:
        found = client.list_deployments(project_id=project_id, target=target)
    if as_json:
        _print_json(_dumped(found))
        return
    rows = [
        (
            d.id,
            d.project_id,
            d.target,
            d.git_branch,
            ", ".join(f"{v.resource_id}@{v.secrets_version}" for v in d.secrets_versions),
        )
        for d in found
    ]
    _table("deployments", ("id", "project", "target", "branch", "secrets versions"), rows)
