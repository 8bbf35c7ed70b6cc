"""The composition root: settings in, a running application out.

Nothing is built at import time; `build_runtime` opens the data directory, the key ring and
the database engine, and `create_app` wires them into the HTTP routes. `app_from_environment`
is what each worker process of `keyturn serve --workers N` calls to build its own. Whether the
keys open the data that exists is checked by `keyturn serve` before it builds a runtime
(cli/main.py); `/readyz` keeps checking while it runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import Engine

from keyturn import __version__
from keyturn.dashboard.pages import install_dashboard
from keyturn.delivery.worker import DeliveryWorker
from keyturn.domain.clock import Clock, SystemClock
from keyturn.domain.ids import IdSource, hash_token
from keyturn.http.errors import install_error_handlers
from keyturn.http.faults import FaultInjection
from keyturn.http.idempotency import IdempotencyKeys
from keyturn.http.limits import BodySizeLimit
from keyturn.http.openapi import install_openapi
from keyturn.http.recorder import RequestRecorder
from keyturn.http.routes import (
    admin,
    connections,
    credentials,
    deployments,
    env,
    events,
    lifecycle,
    marketplace,
    oidc,
    operations,
    projects,
    rotations,
)
from keyturn.http.routes import emulator as emulator_routes
from keyturn.outbound.partner import HttpPartnerClient
from keyturn.outbound.webhooks import WebhookSender
from keyturn.services.auth import Authenticator
from keyturn.services.context import ServiceContext
from keyturn.services.delivery import DeliveryPolicy
from keyturn.services.emulator import Emulator, new_emulator
from keyturn.services.operations import Readiness
from keyturn.settings import Settings
from keyturn.storage.data_dir import load_or_create_admin_token_digest, prepare_data_dir
from keyturn.storage.engine import create_database_engine
from keyturn.storage.master_keys import (
    KEY_FILE_NAME,
    KeysDoNotOpenData,
    MasterKeys,
    configured_master_keys,
    create_key_file,
    require_keys_for_data,
)
from keyturn.storage.unit_of_work import Store, key_ids_in_database


@dataclass(frozen=True)
class Runtime:
    """Everything a server process holds for its lifetime."""

    settings: Settings
    data_dir: Path
    context: ServiceContext
    # Emulator mode's faults, recorder and clock (the context's); None outside it.
    emulator: Emulator | None = None
    # Set only on the start that generated them, so the CLI can print them once.
    generated_admin_token: str | None = field(default=None, repr=False)
    generated_key_file: bool = False

    @property
    def store(self) -> Store:
        return self.context.store


def master_keys_of(settings: Settings, data_dir: Path) -> MasterKeys | None:
    """The key ring the settings name (or the key file holds); None when there is none yet."""
    return configured_master_keys(
        master_keys=_secret(settings.master_keys),
        master_key=_secret(settings.master_key),
        data_dir=data_dir,
    )


def build_runtime(
    settings: Settings,
    *,
    clock: Clock | None = None,
    readiness_timer: Callable[[], float] | None = None,
) -> Runtime:
    """Open everything a server holds.

    `clock` is the one source of time for every rule and timestamp (the wall clock unless a
    test or the emulator hands its own); `readiness_timer` (monotonic seconds) only spaces the
    readiness check's key recounts, which is not a rule.
    """
    ids = IdSource()
    data_dir = prepare_data_dir(settings.data_dir)
    engine = create_database_engine(settings.resolved_database_url)
    keys = master_keys_of(settings, data_dir)
    generated_key_file = False
    if keys is None:
        try:
            _refuse_new_key_over_data(engine, data_dir)
        finally:
            # The check's connection goes back to the pool; a refusal must not leak it.
            engine.dispose()
        keys, generated_key_file = create_key_file(data_dir), True
    generated_admin_token = None
    if settings.admin_token is not None:
        admin_digest = hash_token(settings.admin_token.get_secret_value())
    else:
        admin_digest, generated_admin_token = load_or_create_admin_token_digest(data_dir, ids)
    emulator = new_emulator(ids) if settings.emulator else None
    if emulator is not None:
        # The emulator's clock is the context's: `advanceMs` moves every time-based rule.
        clock = emulator.clock
    store = Store(engine, keys.ring, clock=clock or SystemClock(), ids=ids)
    context = ServiceContext(
        store=store,
        authenticator=Authenticator(admin_digest),
        readiness=Readiness(store)
        if readiness_timer is None
        else Readiness(store, clock=readiness_timer),
        partner_api=HttpPartnerClient(timeout_s=settings.partner_timeout_s),
        rotation_timeout_ms=round(settings.rotation_timeout_h * 3_600_000),
        oidc_issuer=settings.oidc_issuer,
    )
    return Runtime(
        settings=settings,
        data_dir=data_dir,
        context=context,
        emulator=emulator,
        generated_admin_token=generated_admin_token,
        generated_key_file=generated_key_file,
    )


def _refuse_new_key_over_data(engine: Engine, data_dir: Path) -> None:
    # A new key would make every stored value unreadable (a deleted master.key, say): refuse.
    in_use = key_ids_in_database(engine)
    if in_use is None:
        raise KeysDoNotOpenData(
            "no master key yet, and the database does not answer: keyturn cannot tell whether "
            "a new key would leave stored values unreadable"
        )
    require_keys_for_data(None, in_use, key_file=data_dir / KEY_FILE_NAME)


def _secret(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value()


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="keyturn",
        version=__version__,
        description="Vercel Marketplace resource secrets, self-hosted.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.context = runtime.context
    app.state.access_token_ttl_s = runtime.settings.access_token_ttl_s
    routers = [
        operations.router,
        oidc.router,
        admin.router,
        marketplace.router,
        marketplace.secrets_put,
        credentials.router,
        connections.router,
        projects.router,
        env.router,
        deployments.router,
        lifecycle.router,
        rotations.owner,
        rotations.partner,
        events.router,
    ]
    if runtime.emulator is not None:
        # Only in emulator mode: elsewhere these paths are unknown (404) and undocumented.
        app.state.emulator = runtime.emulator
        routers.append(emulator_routes.router)
    routes = [route for router in routers for route in router.routes]
    install_error_handlers(app, routes)
    # The last added runs first: bodies are capped before the key middleware buffers them.
    app.add_middleware(IdempotencyKeys, routes=routes)
    app.add_middleware(BodySizeLimit)
    if runtime.emulator is not None:
        # The last added runs first: the recorder sees what a fault answered too.
        app.add_middleware(FaultInjection, emulator=runtime.emulator)
        app.add_middleware(RequestRecorder, emulator=runtime.emulator)
    # The routers' own routes, not `include_router`: FastAPI builds an included router's
    # routes again, lazily, for every app on its first request (pydantic schemas for every
    # route, tens of milliseconds per router), while these were built once, at import.
    app.router.routes.extend(routes)
    install_dashboard(app, runtime.context, runtime.store.keys.derived_key("dashboard-session"))
    install_openapi(app)
    return app


def delivery_worker(runtime: Runtime) -> DeliveryWorker:
    """The outbox's delivery worker, sending over HTTP with the settings' timeout and attempts."""
    settings = runtime.settings
    return DeliveryWorker(
        runtime.context,
        WebhookSender(settings.webhook_timeout_s),
        policy=DeliveryPolicy(
            timeout_s=settings.webhook_timeout_s, max_attempts=settings.webhook_max_attempts
        ),
    )


def app_from_environment() -> FastAPI:
    """The app from `KEYTURN_*` variables: uvicorn's factory in each worker process.

    `keyturn serve` has already generated the admin token digest and the key file (if it had
    to) before starting the workers, so every worker reads the same ones.
    """
    return create_app(build_runtime(Settings()))
