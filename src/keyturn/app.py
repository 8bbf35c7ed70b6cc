"""The composition root: settings in, a running application out.

Nothing is built at import time; `build_runtime` opens the data directory, the key ring and
the database engine, and `create_app` wires them into the HTTP routes. `app_from_environment`
is what each worker process of `keyturn serve --workers N` calls to build its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI

from keyturn import __version__
from keyturn.domain.ids import hash_token
from keyturn.http.errors import install_error_handlers
from keyturn.http.limits import BodySizeLimit
from keyturn.http.routes import (
    admin,
    connections,
    deployments,
    env,
    marketplace,
    operations,
    projects,
)
from keyturn.services.auth import Authenticator
from keyturn.services.context import ServiceContext
from keyturn.settings import Settings
from keyturn.storage.data_dir import load_or_create_admin_token_digest, prepare_data_dir
from keyturn.storage.encryption import KeyRing, decode_master_key, load_or_create_key_file
from keyturn.storage.engine import create_database_engine
from keyturn.storage.unit_of_work import Store


@dataclass(frozen=True)
class Runtime:
    """Everything a server process holds for its lifetime."""

    settings: Settings
    data_dir: Path
    store: Store
    authenticator: Authenticator
    # Set only on the start that generated them, so the CLI can print them once.
    generated_admin_token: str | None = field(default=None, repr=False)
    generated_key_file: bool = False


def build_runtime(settings: Settings) -> Runtime:
    data_dir = prepare_data_dir(settings.data_dir)
    generated_key_file = False
    if settings.master_key is not None:
        key = decode_master_key(settings.master_key.get_secret_value())
    else:
        key, generated_key_file = load_or_create_key_file(data_dir)
    generated_admin_token = None
    if settings.admin_token is not None:
        admin_digest = hash_token(settings.admin_token.get_secret_value())
    else:
        admin_digest, generated_admin_token = load_or_create_admin_token_digest(data_dir)
    engine = create_database_engine(settings.resolved_database_url)
    store = Store(engine, KeyRing(key))
    return Runtime(
        settings=settings,
        data_dir=data_dir,
        store=store,
        authenticator=Authenticator(admin_digest),
        generated_admin_token=generated_admin_token,
        generated_key_file=generated_key_file,
    )


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="keyturn",
        version=__version__,
        description="Vercel Marketplace resource secrets, self-hosted.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.context = ServiceContext(store=runtime.store, authenticator=runtime.authenticator)
    routers = [
        operations.router,
        admin.router,
        marketplace.router,
        connections.router,
        projects.router,
        env.router,
        deployments.router,
    ]
    install_error_handlers(app, [route for router in routers for route in router.routes])
    app.add_middleware(BodySizeLimit)
    for router in routers:
        app.include_router(router)
    return app


def app_from_environment() -> FastAPI:
    """The app from `KEYTURN_*` variables: uvicorn's factory in each worker process.

    `keyturn serve` has already generated the admin token digest and the key file (if it had
    to) before starting the workers, so every worker reads the same ones.
    """
    return create_app(build_runtime(Settings()))
