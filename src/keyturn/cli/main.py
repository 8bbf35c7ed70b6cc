"""`keyturn`: the operator's commands (serve, db upgrade and reencrypt, keys, version and
--version), and the client's commands of `keyturn.cli.remote` (secrets, resources, env, ...).

Settings come from `KEYTURN_*` variables; the flags here override them. Invalid settings stop
the command before anything starts, with the reason.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
import uvicorn
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from keyturn import __version__
from keyturn.app import Runtime, build_runtime, create_app, delivery_worker, master_keys_of
from keyturn.cli import remote
from keyturn.cli.seed_file import seed_fixture_from_file
from keyturn.delivery.worker import DeliveryWorker
from keyturn.domain.errors import KeyturnError, ServiceUnavailable
from keyturn.services import emulator as emulator_controls
from keyturn.services import seed
from keyturn.services.demo import DemoSeed, seed_demo
from keyturn.services.keys import DEFAULT_BATCH_SIZE, count_to_reencrypt, reencrypt
from keyturn.settings import Settings
from keyturn.storage.data_dir import ADMIN_TOKEN_DIGEST_FILE, prepare_data_dir
from keyturn.storage.encryption import CiphertextError, InvalidMasterKey, KeyRing, key_id_of
from keyturn.storage.engine import create_database_engine, describe_database, is_embedded
from keyturn.storage.master_keys import (
    KEY_FILE_NAME,
    MASTER_KEY_SETTING,
    MASTER_KEYS_SETTING,
    KeysDoNotOpenData,
    MasterKeys,
    encode_key_list,
    new_master_key,
    require_keys_for_data,
    write_key_file,
)
from keyturn.storage.migrate import pending_migrations, upgrade
from keyturn.storage.unit_of_work import Store, key_ids_in_database

app = typer.Typer(
    help="keyturn: Vercel Marketplace resource secrets, self-hosted.",
    no_args_is_help=True,
    add_completion=False,
)
db = typer.Typer(help="Database commands: schema upgrade, re-encryption.", no_args_is_help=True)
app.add_typer(db, name="db")
keys = typer.Typer(help="Master key commands: status, rotate, retire.", no_args_is_help=True)
app.add_typer(keys, name="keys")
# The commands for people at a terminal, on keyturn.client (cli/remote.py).
remote.register(app)

DatabaseURL = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="sqlite:///path.db or postgresql://user:pass@host:5432/db "
        "(env KEYTURN_DATABASE_URL; default: SQLite in the data directory).",
        show_default=False,
    ),
]


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _options(
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            # Eager: answered before the command line is checked for a command.
            is_eager=True,
            help="Print keyturn's version and exit.",
        ),
    ] = False,
) -> None:
    """keyturn: Vercel Marketplace resource secrets, self-hosted."""


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
    host: Annotated[
        str | None,
        typer.Option(help="Address to listen on (env KEYTURN_HOST; default 127.0.0.1)."),
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (env KEYTURN_PORT; default 3000).")
    ] = None,
    database_url: DatabaseURL = None,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Seed a demo team, integration, resource and connected project; print tokens "
            "and commands to try (no env variable).",
        ),
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Server processes (env KEYTURN_WORKERS; default: the number of cores).", min=1
        ),
    ] = None,
    emulator: Annotated[
        bool,
        typer.Option(
            "--emulator",
            help="Emulator mode (env KEYTURN_EMULATOR): reset, seed, faults, clock and "
            "request controls under /v1/admin; one worker.",
        ),
    ] = False,
    seed_file: Annotated[
        Path | None,
        typer.Option(
            "--seed",
            help="With --emulator: empty the database, then seed it from this JSON or YAML "
            "fixture (no env variable).",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the HTTP API.

    A flag overrides its KEYTURN_ variable; every setting is in docs/configuration.md.

    Without a flag: KEYTURN_DATA_DIR, KEYTURN_ADMIN_TOKEN, KEYTURN_ACCESS_LOG,
    KEYTURN_ACCESS_TOKEN_TTL_S.

    The master key: KEYTURN_MASTER_KEY, or a ring in KEYTURN_MASTER_KEYS.

    Rotation requests to partners: KEYTURN_OIDC_ISSUER, KEYTURN_PARTNER_TIMEOUT_S,
    KEYTURN_ROTATION_TIMEOUT_H.

    Webhooks: KEYTURN_DELIVERY, KEYTURN_WEBHOOK_TIMEOUT_S, KEYTURN_WEBHOOK_MAX_ATTEMPTS.
    """
    settings = _settings(
        host=host,
        port=port,
        database_url=database_url,
        workers=workers,
        emulator=True if emulator else None,
    )
    count = _worker_count(settings, seed_file)
    # Checked before the runtime is built: a first start that stops here must not generate an
    # admin token it never gets to print.
    schema = _prepare_schema(settings)
    _require_keys_that_open_the_data(settings)
    # Built here once, even when workers build their own: a generated admin token and key file
    # must exist before the workers start, so that all of them read the same ones.
    runtime = _runtime(settings)
    # One delivery worker per `keyturn serve`, in this process, whatever the number of HTTP
    # workers: claims keep it from sending what another process's worker sends.
    worker = delivery_worker(runtime) if settings.delivery else None
    if count == 1:
        # Bound before the start line, so that the line names the port (`--port 0` picks one).
        server, sock = _bound_server(runtime, settings)
        _print_start(runtime, port=sock.getsockname()[1], schema=schema)
        if seed_file is not None:
            _seed_from_file(runtime, seed_file)
        if demo:
            _print_demo(runtime, seed_demo(runtime.context), port=sock.getsockname()[1])
        _start_delivery(worker)
        try:
            server.run(sockets=[sock])
        finally:
            _stop_delivery(worker)
        return
    _print_start(runtime, port=settings.port, schema=schema)
    if demo:
        _print_demo(runtime, seed_demo(runtime.context), port=settings.port)
    _start_delivery(worker)
    options = _uvicorn_options(settings)
    # The pool's connections are not handed to the workers (new processes); a delivery worker
    # of this process opens new ones when it needs them.
    runtime.store.engine.dispose()
    # Workers are new processes that read their settings from the environment; host and port
    # stay with this process, which holds the socket.
    if database_url is not None:
        os.environ["KEYTURN_DATABASE_URL"] = database_url
    try:
        uvicorn.run("keyturn.app:app_from_environment", factory=True, workers=count, **options)
    finally:
        _stop_delivery(worker)


def _start_delivery(worker: DeliveryWorker | None) -> None:
    if worker is not None:
        worker.start()
        typer.echo("  webhooks:       delivered in the background (KEYTURN_DELIVERY=off stops it)")
    sys.stdout.flush()


def _stop_delivery(worker: DeliveryWorker | None) -> None:
    if worker is not None:
        worker.stop()


def _uvicorn_options(settings: Settings) -> dict[str, Any]:
    # uvloop and httptools when installed (they are dependencies): "auto" picks them.
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": "info",
        "access_log": settings.access_log,
        "loop": "auto",
        "http": "auto",
    }


def _worker_count(settings: Settings, seed_file: Path | None) -> int:
    if seed_file is not None and not settings.emulator:
        _refuse("--seed needs --emulator (it empties the database before seeding it)")
    if settings.emulator:
        if settings.workers not in (None, 1):
            # Faults, the request recorder and the clock's offset live in one process's memory.
            _refuse(
                "emulator mode runs one worker (its faults, recorded requests and clock live "
                "in that process); leave out --workers and KEYTURN_WORKERS"
            )
        return 1
    count = settings.resolved_workers
    if count > 1 and settings.port == 0:
        _refuse("port 0 (a free port) needs one worker: the workers must share a known port")
    return count


def _bound_server(runtime: Runtime, settings: Settings) -> tuple[uvicorn.Server, socket.socket]:
    config = uvicorn.Config(create_app(runtime), **_uvicorn_options(settings))
    try:
        sock = config.bind_socket()
    except SystemExit:
        # uvicorn has logged why (the address is in use, say); it exits 1, keyturn 2.
        raise typer.Exit(2) from None
    return uvicorn.Server(config), sock


def _seed_from_file(runtime: Runtime, path: Path) -> None:
    """Empty the database, then create the fixture's world; exit 2 naming the broken item."""
    assert runtime.emulator is not None
    try:
        fixture = seed_fixture_from_file(path)
        emulator_controls.reset(runtime.context, runtime.emulator)
        world = seed.seed_world(runtime.context, fixture)
    except KeyturnError as refusal:
        _refuse(f"cannot seed from {path}: {refusal.message}")
    except (OSError, ValueError) as exc:
        _refuse(f"cannot read {path}: {exc}")
    counts = ", ".join(
        f"{len(items)} {name}"
        for name, items in [
            ("teams", world.teams),
            ("integrations", world.integrations),
            ("installations", world.installations),
            ("resources", world.resources),
            ("projects", world.projects),
            ("connections", world.connections),
        ]
    )
    typer.echo(f"  seed:           {path} ({counts}), after emptying the database")


def _prepare_schema(settings: Settings) -> str:
    """On SQLite, migrate (the embedded database has no one else to do it); elsewhere, check
    the schema is current. Returns what the start line says about it."""
    prepare_data_dir(settings.data_dir)
    engine = create_database_engine(settings.resolved_database_url)
    if not is_embedded(engine):
        engine.dispose()
        _require_current_schema(settings)
        return "schema up to date"
    try:
        behind = pending_migrations(engine)
        if behind:
            upgrade(engine, _ring(settings))
    except SQLAlchemyError as exc:
        _refuse(f"cannot migrate the database ({_where(engine)}): {exc.__class__.__name__}")
    except RuntimeError as exc:  # a migration that needs the master key and was given none
        _refuse(f"cannot migrate the database ({_where(engine)}): {exc}")
    finally:
        engine.dispose()
    return "migrated to the newest schema on start" if behind else "schema up to date"


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


@app.command()
def deliver(database_url: DatabaseURL = None) -> None:
    """Deliver webhooks until stopped (Ctrl-C or SIGTERM), without serving HTTP.

    Run any number of these on one PostgreSQL database, beside or instead of the background
    delivery of `keyturn serve` (KEYTURN_DELIVERY=off): each attempt goes out from one of
    them only. KEYTURN_WEBHOOK_TIMEOUT_S and KEYTURN_WEBHOOK_MAX_ATTEMPTS apply.
    """
    settings = _settings(database_url=database_url)
    _require_current_schema(settings)
    _require_keys_that_open_the_data(settings)
    runtime = _runtime(settings)
    worker = delivery_worker(runtime)
    typer.echo(f"keyturn {__version__}: delivering webhooks from {_where(runtime.store.engine)}")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    worker.start()
    try:
        stop.wait()
    finally:
        worker.stop()
        runtime.store.engine.dispose()
    stats = worker.stats
    typer.echo(f"keyturn: stopped after {stats.attempts} attempts, {stats.delivered} delivered")


@db.command("upgrade")
def db_upgrade(database_url: DatabaseURL = None) -> None:
    """Create or migrate the database schema to the newest version."""
    settings = _settings(database_url=database_url)
    prepare_data_dir(settings.data_dir)
    engine = create_database_engine(settings.resolved_database_url)
    try:
        upgrade(engine, _ring(settings))
    except RuntimeError as exc:  # a migration that needs the master key and was given none
        _refuse(f"cannot migrate the database ({_where(engine)}): {exc}")
    finally:
        engine.dispose()
    typer.echo(f"keyturn: database is up to date ({_where(engine)})")


@db.command("reencrypt")
def db_reencrypt(
    database_url: DatabaseURL = None,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Ciphertexts per transaction.")
    ] = DEFAULT_BATCH_SIZE,
    max_batches: Annotated[
        int | None,
        typer.Option(min=1, help="Stop after this many batches; run again to go on."),
    ] = None,
) -> None:
    """Rewrite every ciphertext under the current master key, in batches, while servers serve."""
    settings = _settings(database_url=database_url)
    _require_current_schema(settings)
    master_keys = _require_keys_that_open_the_data(settings, refused="cannot re-encrypt")
    if master_keys is None:
        typer.echo("keyturn: no master key and no ciphertexts: nothing to re-encrypt")
        return
    engine = create_database_engine(settings.resolved_database_url)
    store = Store(engine, master_keys.ring)
    current = master_keys.key_ids[0].hex()
    # rich is imported here, for the one command that draws a bar: `keyturn serve` starts
    # without it.
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    try:
        total = count_to_reencrypt(store)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        ) as progress:
            task = progress.add_task(f"re-encrypting under key id {current}", total=total)
            result = reencrypt(
                store,
                batch_size=batch_size,
                max_batches=max_batches,
                on_batch=lambda found: progress.advance(task, found),
            )
    except (CiphertextError, ServiceUnavailable) as exc:
        # Batches committed so far stay re-encrypted; a next run picks up the rest.
        typer.secho(f"keyturn: stopped: {exc}", err=True, fg="red")
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    typer.echo(
        f"keyturn: re-encrypted {result.rewritten} ciphertexts under key id {current} "
        f"in {result.batches} batches; {result.remaining} left under other keys"
    )
    if result.remaining:
        typer.echo(
            "  run `keyturn db reencrypt` again to go on (values written meanwhile by a server "
            "that still seals with an older key are left too: restart it with the new ring)"
        )


@keys.command("status")
def keys_status(
    database_url: DatabaseURL = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Which key ids the master keys hold and how many ciphertexts each sealed.

    Exits 1 when the data needs a key the ring does not hold.
    """
    settings = _settings(database_url=database_url)
    _require_current_schema(settings)
    data_dir = prepare_data_dir(settings.data_dir)
    master_keys = _master_keys(settings)
    total = _ciphertexts_by_key_id(settings)
    held = master_keys.key_ids if master_keys else ()
    rows = [
        {
            "keyId": key_id.hex(),
            "current": position == 0,
            "held": True,
            "ciphertexts": total.get(key_id, 0),
        }
        for position, key_id in enumerate(held)
    ] + [
        {"keyId": key_id.hex(), "current": False, "held": False, "ciphertexts": count}
        for key_id, count in sorted(total.items())
        if key_id not in held
    ]
    source = master_keys.source if master_keys else f"none ({data_dir / KEY_FILE_NAME} absent)"
    if as_json:
        typer.echo(json.dumps({"source": source, "keys": rows}))
    else:
        typer.echo(f"master keys: {source}")
        for row in rows:
            role = "current" if row["current"] else ("older" if row["held"] else "NOT HELD")
            typer.echo(f"  {row['keyId']}  {role:<8}  {row['ciphertexts']} ciphertexts")
    if any(not row["held"] for row in rows):
        raise typer.Exit(1)


@keys.command("rotate")
def keys_rotate() -> None:
    """Make a new master key current; older keys stay in the ring to open what they sealed.

    With the key file, the new key is written into it. With KEYTURN_MASTER_KEYS or
    KEYTURN_MASTER_KEY, the new ring is printed as a KEYTURN_MASTER_KEYS=... line to set.
    Nothing is re-encrypted: restart the servers, then run `keyturn db reencrypt`.
    """
    settings = _settings()
    prepare_data_dir(settings.data_dir)
    master_keys = _master_keys(settings)
    if master_keys is None:
        _refuse(
            f"no master key to rotate: {MASTER_KEY_SETTING} and {MASTER_KEYS_SETTING} are unset "
            f"and there is no {KEY_FILE_NAME}; `keyturn serve` makes one on first start"
        )
    new_key = new_master_key()
    _keep_ring(
        master_keys,
        (new_key, *master_keys.keys),
        done=f"new current key id {key_id_of(new_key).hex()}",
    )
    typer.echo(
        "  next: restart every server, run `keyturn db reencrypt`, then "
        f"`keyturn keys retire {master_keys.key_ids[0].hex()}`",
        err=True,
    )


@keys.command("retire")
def keys_retire(
    key_id: Annotated[
        str, typer.Argument(help="The key id to remove (see `keyturn keys status`).")
    ],
    database_url: DatabaseURL = None,
) -> None:
    """Remove an older key from the ring, once no ciphertext needs it."""
    settings = _settings(database_url=database_url)
    prepare_data_dir(settings.data_dir)
    master_keys = _master_keys(settings)
    ids = [held.hex() for held in master_keys.key_ids] if master_keys else []
    if master_keys is None or key_id.lower() not in ids:
        _refuse(f"key id {key_id} is not in the master keys ({', '.join(ids) or 'none'})")
    position = ids.index(key_id.lower())
    if position == 0:
        _refuse(f"key id {key_id} is the current key; `keyturn keys rotate` first")
    _require_current_schema(settings)
    in_use = _ciphertexts_by_key_id(settings, purpose=" to check that no data needs it")
    still = in_use.get(master_keys.key_ids[position], 0)
    if still:
        _refuse(
            f"{still} ciphertexts are still sealed with key id {key_id}; "
            "run `keyturn db reencrypt` first"
        )
    ring = tuple(key for index, key in enumerate(master_keys.keys) if index != position)
    _keep_ring(master_keys, ring, done=f"retired key id {key_id}")


@app.command()
def version() -> None:
    """Print keyturn's version."""
    typer.echo(__version__)


def _master_keys(settings: Settings) -> MasterKeys | None:
    try:
        return master_keys_of(settings, prepare_data_dir(settings.data_dir))
    except (OSError, InvalidMasterKey) as exc:
        _refuse(f"cannot read the master keys: {exc}")


def _ring(settings: Settings) -> KeyRing | None:
    """The configured key ring, for migrations that move sealed values; None when none is."""
    master_keys = _master_keys(settings)
    return None if master_keys is None else master_keys.ring


def _require_keys_that_open_the_data(
    settings: Settings, *, refused: str = "cannot start"
) -> MasterKeys | None:
    """The master keys, when they open every ciphertext stored; else exit 2 saying which."""
    master_keys = _master_keys(settings)
    in_use = _ciphertexts_by_key_id(settings)
    key_file = prepare_data_dir(settings.data_dir) / KEY_FILE_NAME
    try:
        require_keys_for_data(master_keys, in_use, key_file=key_file)
    except KeysDoNotOpenData as exc:
        _refuse(f"{refused}: {exc}")
    return master_keys


def _keep_ring(master_keys: MasterKeys, ring: tuple[bytes, ...], *, done: str) -> None:
    """Write the new ring where the old one came from, or print it when a setting holds it."""
    if master_keys.key_file is not None:
        write_key_file(master_keys.key_file, ring)
        typer.echo(f"keyturn: {done} in {master_keys.key_file}")
        return
    # The operator keeps the keys in a setting, so only they can store the new ring: print it.
    typer.echo(f"{MASTER_KEYS_SETTING}={encode_key_list(ring)}")
    unset = f" and unset {MASTER_KEY_SETTING}" if master_keys.source == MASTER_KEY_SETTING else ""
    typer.echo(f"keyturn: {done}; set {MASTER_KEYS_SETTING} to the value above{unset}", err=True)


def _ciphertexts_by_key_id(settings: Settings, *, purpose: str = "") -> Counter[bytes]:
    """How many ciphertexts each key id sealed; exit 2 when the database does not answer."""
    engine = create_database_engine(settings.resolved_database_url)
    try:
        in_use = key_ids_in_database(engine)
    finally:
        engine.dispose()
    if in_use is None:
        _refuse(f"cannot reach the database ({_where(engine)}){purpose}")
    return in_use


def _refuse(message: str) -> NoReturn:
    typer.secho(f"keyturn: {message}", err=True, fg="red")
    raise typer.Exit(2)


def _where(engine: Engine) -> str:
    return describe_database(engine)


def _print_start(runtime: Runtime, *, port: int, schema: str) -> None:
    settings = runtime.settings
    typer.echo(f"keyturn {__version__}: http://{settings.host}:{port}")
    typer.echo(f"  dashboard:      http://{settings.host}:{port}/dashboard")
    typer.echo(f"  data directory: {runtime.data_dir}")
    typer.echo(f"  database:       {_where(runtime.store.engine)} ({schema})")
    if runtime.emulator is not None:
        typer.echo(
            "  emulator mode:  one worker; /v1/admin/reset, seed, faults, clock and requests "
            "(admin token)"
        )
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


def _print_demo(runtime: Runtime, seed: DemoSeed, *, port: int) -> None:
    settings = runtime.settings
    base = f"http://{settings.host}:{port}"
    admin = runtime.generated_admin_token or "(KEYTURN_ADMIN_TOKEN, or as printed on first start)"
    resource = f"$B/v1/installations/{seed.installation.id}/resources/{seed.resource_id}"
    json_body = "-H 'Content-Type: application/json'"
    typer.echo("")
    typer.echo("demo data:")
    typer.echo(f"  team:              {seed.team.id} ({seed.team.slug})")
    typer.echo(f"  product:           {seed.product.id} ({seed.product.slug})")
    typer.echo(f"  installation:      {seed.installation.id}")
    typer.echo(f"  resource:          {seed.resource_id} (secret DATABASE_URL)")
    typer.echo(f"  project:           {seed.project.id} ({seed.project.name}), connected to it")
    typer.echo(f"  admin token:       {admin}")
    typer.echo(f"  user token:        {seed.user_token}")
    typer.echo(f"  integration token: {seed.integration_token}")
    typer.echo("")
    typer.echo("try it: paste these lines into a shell (python3 reads the deployment's id)")
    lines = [
        f"B={base} U={seed.user_token} T={seed.integration_token}",
        "# the project's owner (user token) deploys to production",
        f'D=$(curl -sS -X POST $B/v13/deployments -H "Authorization: Bearer $U" {json_body} '
        f"""-d '{{"name":"{seed.project.name}","target":"production"}}' """
        """| python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'); echo $D""",
        "# the partner (integration token) rotates the secret, then reads the resource",
        f'curl -sS -X PUT {resource}/secrets -H "Authorization: Bearer $T" {json_body} '
        """-d '{"secrets":[{"name":"DATABASE_URL","value":"postgres://demo:two@db.example/demo"}],"""
        """"partial":true}' -w '%{http_code}\\n'""",
        f'curl -sS {resource} -H "Authorization: Bearer $T"; echo',
        "# the project sees the new value at once",
        f'curl -sS $B/v3/env/pull/{seed.project.id}/production -H "Authorization: Bearer $U"; echo',
        "# the deployment keeps the value it was built with, until it is redeployed",
        'curl -sS $B/v3/env/pull/$D -H "Authorization: Bearer $U"; echo',
        "# the same pull with the vercel CLI (npm i -g vercel, or write npx vercel)",
        f"mkdir -p {seed.project.name}/.vercel && echo "
        f"""'{{"orgId":"{seed.team.id}","projectId":"{seed.project.id}"}}' """
        f"> {seed.project.name}/.vercel/project.json",
        f"(cd {seed.project.name} && vercel env pull .env.production --environment production "
        "--yes --api $B --token $U && cat .env.production)",
    ]
    for line in lines:
        typer.echo(f"  {line}")
    typer.echo("")


def main() -> None:
    app()
