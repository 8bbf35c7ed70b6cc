"""`keyturn`: the operator's commands (serve, db upgrade).

Settings come from `KEYTURN_*` variables; the flags here override them. Invalid settings stop
the command before anything starts, with the reason.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer
import uvicorn
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from keyturn import __version__
from keyturn.app import Runtime, build_runtime, create_app
from keyturn.services.demo import DemoSeed, seed_demo
from keyturn.settings import Settings
from keyturn.storage.data_dir import ADMIN_TOKEN_DIGEST_FILE, prepare_data_dir
from keyturn.storage.engine import create_database_engine
from keyturn.storage.migrate import pending_migrations, upgrade

app = typer.Typer(
    help="keyturn: Vercel Marketplace resource secrets, self-hosted.",
    no_args_is_help=True,
    add_completion=False,
)
db = typer.Typer(help="Database schema commands.", no_args_is_help=True)
app.add_typer(db, name="db")

DatabaseURL = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="sqlite:///path.db or postgresql://user:pass@host:5432/db "
        "(default: KEYTURN_DATABASE_URL, else SQLite in the data directory).",
        show_default=False,
    ),
]


def _settings(**overrides: Any) -> Settings:
    given = {name: value for name, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            where = f"--{field.replace('_', '-')}" if field in given else f"KEYTURN_{field.upper()}"
            message = str(error["msg"]).removeprefix("Value error, ")
            typer.secho(f"keyturn: invalid setting {where}: {message}", err=True, fg="red")
        raise typer.Exit(2) from None
    except ValueError as exc:
        typer.secho(f"keyturn: invalid setting: {exc}", err=True, fg="red")
        raise typer.Exit(2) from None


def _runtime(settings: Settings) -> Runtime:
    try:
        return build_runtime(settings)
    except (OSError, ValueError) as exc:
        typer.secho(f"keyturn: cannot start: {exc}", err=True, fg="red")
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on [127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [3000].")] = None,
    database_url: DatabaseURL = None,
    demo: Annotated[
        bool,
        typer.Option("--demo", help="Seed a demo team, integration, project and print tokens."),
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(help="Server processes [KEYTURN_WORKERS, else the number of cores].", min=1),
    ] = None,
) -> None:
    """Serve the HTTP API."""
    settings = _settings(host=host, port=port, database_url=database_url, workers=workers)
    # Checked before the runtime is built: a first start that stops here must not generate an
    # admin token it never gets to print.
    _require_current_schema(settings)
    # Built here once, even when workers build their own: a generated admin token and key file
    # must exist before the workers start, so that all of them read the same ones.
    runtime = _runtime(settings)
    _print_start(runtime)
    if demo:
        _print_demo(runtime, seed_demo(runtime.store))
    count = settings.resolved_workers
    # uvloop and httptools when installed (they are dependencies): "auto" picks them.
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": "info",
        "access_log": settings.access_log,
        "loop": "auto",
        "http": "auto",
    }
    if count == 1:
        uvicorn.run(create_app(runtime), **options)
        return
    runtime.store.engine.dispose()
    # Workers are new processes that read their settings from the environment; host and port
    # stay with this process, which holds the socket.
    if database_url is not None:
        os.environ["KEYTURN_DATABASE_URL"] = database_url
    uvicorn.run("keyturn.app:app_from_environment", factory=True, workers=count, **options)


def _require_current_schema(settings: Settings) -> None:
    prepare_data_dir(settings.data_dir)
    engine = create_database_engine(settings.resolved_database_url)
    try:
        behind = pending_migrations(engine)
    except SQLAlchemyError as exc:
        typer.secho(
            f"keyturn: cannot reach the database ({_where(engine)}): {exc.__class__.__name__}",
            err=True,
            fg="red",
        )
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    if behind:
        typer.secho(
            "keyturn: the database schema is not up to date; run `keyturn db upgrade` first",
            err=True,
            fg="red",
        )
        raise typer.Exit(2)


@db.command("upgrade")
def db_upgrade(database_url: DatabaseURL = None) -> None:
    """Create or migrate the database schema to the newest version."""
    settings = _settings(database_url=database_url)
    prepare_data_dir(settings.data_dir)
    engine = create_database_engine(settings.resolved_database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    typer.echo(f"keyturn: database is up to date ({_where(engine)})")


@app.command()
def version() -> None:
    """Print keyturn's version."""
    typer.echo(__version__)


def _where(engine: Engine) -> str:
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return f"SQLite {url.database}"
    return f"PostgreSQL {url.render_as_string(hide_password=True)}"


def _print_start(runtime: Runtime) -> None:
    settings = runtime.settings
    typer.echo(f"keyturn {__version__}: http://{settings.host}:{settings.port}")
    typer.echo(f"  data directory: {runtime.data_dir}")
    typer.echo(f"  database:       {_where(runtime.store.engine)}")
    if runtime.generated_key_file:
        typer.echo(f"  master key:     generated in {runtime.data_dir / 'master.key'} (mode 0600)")
    if runtime.generated_admin_token:
        typer.secho(
            f"  admin token:    {runtime.generated_admin_token}  (shown once; only its digest "
            "is kept)",
            fg="yellow",
        )
    elif settings.admin_token is None:
        digest_file = runtime.data_dir / ADMIN_TOKEN_DIGEST_FILE
        typer.echo(
            f"  admin token:    printed on first start; delete {digest_file} and restart for a "
            "new one"
        )


def _print_demo(runtime: Runtime, seed: DemoSeed) -> None:
    settings = runtime.settings
    base = f"http://{settings.host}:{settings.port}"
    admin = runtime.generated_admin_token or "(KEYTURN_ADMIN_TOKEN, or as printed on first start)"
    typer.echo("")
    typer.echo("demo data:")
    typer.echo(f"  team:              {seed.team.id} ({seed.team.slug})")
    typer.echo(f"  product:           {seed.product.id} ({seed.product.slug})")
    typer.echo(f"  installation:      {seed.installation.id}")
    typer.echo(f"  project:           {seed.project.id} ({seed.project.name})")
    typer.echo(f"  resource:          {seed.resource_id}")
    typer.echo(f"  admin token:       {admin}")
    typer.echo(f"  user token:        {seed.user_token}")
    typer.echo(f"  integration token: {seed.integration_token}")
    typer.echo("")
    typer.echo("push the resource's secrets:")
    typer.echo(
        f"  curl -sS -X PUT {base}/v1/installations/{seed.installation.id}/resources/"
        f"{seed.resource_id}/secrets -H 'Authorization: Bearer {seed.integration_token}' "
        "-H 'Content-Type: application/json' "
        """-d '{"secrets":[{"name":"DATABASE_URL","value":"postgres://demo:s3cret@db/demo"}]}' """
        "-w '%{http_code}\\n'"
    )
    typer.echo(
        f"  curl -sS {base}/v1/installations/{seed.installation.id}/resources/{seed.resource_id} "
        f"-H 'Authorization: Bearer {seed.integration_token}'"
    )
    typer.echo("")


def main() -> None:
    app()
