"""One transaction, and the repositories that work inside it.

Services open a `UnitOfWork`, call repositories, and commit; leaving the block without a commit
rolls back, so a refusal halfway through changes nothing. A write unit begins with
`BEGIN IMMEDIATE` on SQLite (see engine.py), after waiting its turn in the process's writer
queue (writer_queue.py); on PostgreSQL the repositories lock the rows they are about to change.

A read unit ends with COMMIT, never ROLLBACK: it wrote nothing, so both end it the same, but
psycopg drops every prepared statement of the connection on a ROLLBACK (`DEALLOCATE ALL`), and
keeping them across requests saves PostgreSQL re-planning the same queries.

A database that cannot be reached (refused or dropped connections, a SQLite file that cannot be
opened, an exhausted pool) is turned into the domain's `ServiceUnavailable` here, at the one
door every query goes through, so that every route answers 503 rather than a 500.
"""

from __future__ import annotations

from collections import Counter
from functools import cached_property
from types import TracebackType

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import (
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from keyturn.domain.clock import Clock, SystemClock
from keyturn.domain.errors import Code, Conflict, ServiceUnavailable
from keyturn.domain.ids import IdSource
from keyturn.storage.dialect import process_writer_queue, snapshot_engine, untransacted_engine
from keyturn.storage.encryption import KeyRing
from keyturn.storage.engine import WRITE_TRANSACTION
from keyturn.storage.repositories.accounts import AccountRepository
from keyturn.storage.repositories.ciphertexts import CiphertextRepository, key_ids_in_use
from keyturn.storage.repositories.connections import ConnectionRepository
from keyturn.storage.repositories.deliveries import DeliveryRepository
from keyturn.storage.repositories.deployments import DeploymentRepository
from keyturn.storage.repositories.emulator import EmulatorRepository
from keyturn.storage.repositories.env_vars import EnvVarRepository
from keyturn.storage.repositories.events import EventRepository
from keyturn.storage.repositories.idempotency import IdempotencyRepository
from keyturn.storage.repositories.integrations import IntegrationRepository
from keyturn.storage.repositories.ledger import LedgerRepository
from keyturn.storage.repositories.overview import OverviewRepository
from keyturn.storage.repositories.projects import ProjectRepository
from keyturn.storage.repositories.resources import ResourceRepository
from keyturn.storage.repositories.rotations import RotationRepository
from keyturn.storage.repositories.secrets import SecretRepository
from keyturn.storage.repositories.signing_keys import SigningKeyRepository
from keyturn.storage.repositories.webhooks import WebhookRepository
from keyturn.storage.writer_queue import TicketLock

# What a database that is down, unreachable or out of connections raises: DBAPI operational
# and interface errors (psycopg and sqlite3 alike), a failed pre-ping, a pool timeout.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)


def database_unavailable() -> ServiceUnavailable:
    # The driver's message is left out: it may name hosts, users or file paths.
    return ServiceUnavailable("the database is unavailable; retry later")


class Store:
    """What the services need of storage: an engine and the key ring; hands out units of work.

    `clock` and `ids` are where the repositories take timestamps and new ids from.
    """

    def __init__(
        self,
        engine: Engine,
        keys: KeyRing,
        *,
        clock: Clock | None = None,
        ids: IdSource | None = None,
    ) -> None:
        self.engine = engine
        self.keys = keys
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.ids = ids if ids is not None else IdSource()
        # One engine per isolation level, sharing the pool: snapshot reads need no
        # per-transaction option on the connection (see dialect.py).
        self.snapshot_engine = snapshot_engine(engine)
        self.untransacted_engine = untransacted_engine(engine)
        self.writer_queue: TicketLock | None = process_writer_queue(engine)

    def __repr__(self) -> str:
        return f"Store(dialect={self.engine.dialect.name})"

    def read(self) -> UnitOfWork:
        """A read-only unit that sees one snapshot, however many queries it makes."""
        return UnitOfWork(self, write=False, snapshot=True)

    def write(self, *, snapshot: bool = False) -> UnitOfWork:
        """A write unit; with `snapshot`, its reads all see one moment (PostgreSQL)."""
        return UnitOfWork(self, write=True, snapshot=snapshot)

    def one_statement(self) -> UnitOfWork:
        """A read-only unit that begins no transaction: for a read that is one statement on
        the driver's connection (storage/driver.py), which is then a transaction of its own
        and costs no `BEGIN` and `COMMIT` (dialect.untransacted_engine)."""
        return UnitOfWork(self, write=False, snapshot=False, transaction=False)

    def ping(self) -> bool:
        """Whether the database answers a trivial query."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
                connection.commit()  # not a rollback: see the module docstring
        except SQLAlchemyError:
            return False
        return True

    def key_ids_in_use(self) -> Counter[bytes] | None:
        """How many ciphertexts each key id sealed; None when the database does not answer."""
        return key_ids_in_database(self.engine)


def key_ids_in_database(engine: Engine) -> Counter[bytes] | None:
    """How many ciphertexts each key id sealed; None when the database does not answer.

    Needs no key ring: it decides whether a new key may be made at all.
    """
    try:
        with engine.connect() as connection:
            return key_ids_in_use(connection)
    except SQLAlchemyError:
        return None


class UnitOfWork:
    """A transaction and its repositories. Each repository is built the first time a use case
    asks for it: a request uses a few of the eighteen, and building all of them was a
    noticeable part of a short request's CPU (docs/performance.md, "Seventh pass")."""

    # Every change's events go through this outbox at commit, so it is built with the unit.
    events: EventRepository

    def __init__(
        self, store: Store, *, write: bool, snapshot: bool, transaction: bool = True
    ) -> None:
        self._store = store
        self._write = write
        self._snapshot = snapshot
        self._transaction = transaction
        self._connection: Connection | None = None
        self._queue = store.writer_queue if write else None

    def __enter__(self) -> UnitOfWork:
        if not self._transaction:
            engine = self._store.untransacted_engine
        elif self._snapshot:
            engine = self._store.snapshot_engine
        else:
            engine = self._store.engine
        if self._queue is not None:
            # Before the pool checkout: a writer waiting its turn holds no connection.
            self._queue.acquire()
        try:
            connection = self._begin(engine)
        except BaseException:
            if self._queue is not None:
                self._queue.release()
            raise
        self._connection = connection
        self.events = EventRepository(connection, clock=self._store.clock, ids=self._store.ids)
        return self

    @cached_property
    def accounts(self) -> AccountRepository:
        return AccountRepository(
            self._require_connection(),
            clock=self._store.clock,
            ids=self._store.ids,
        )

    @cached_property
    def integrations(self) -> IntegrationRepository:
        return IntegrationRepository(self._require_connection(), self._store.keys)

    @cached_property
    def rotations(self) -> RotationRepository:
        return RotationRepository(self._require_connection(), clock=self._store.clock)

    @cached_property
    def signing_keys(self) -> SigningKeyRepository:
        return SigningKeyRepository(self._require_connection(), self._store.keys)

    @cached_property
    def resources(self) -> ResourceRepository:
        return ResourceRepository(
            self._require_connection(),
            clock=self._store.clock,
            ids=self._store.ids,
        )

    @cached_property
    def secrets(self) -> SecretRepository:
        return SecretRepository(self._require_connection(), self._store.keys)

    @cached_property
    def projects(self) -> ProjectRepository:
        return ProjectRepository(
            self._require_connection(),
            clock=self._store.clock,
            ids=self._store.ids,
        )

    @cached_property
    def connections(self) -> ConnectionRepository:
        return ConnectionRepository(
            self._require_connection(),
            clock=self._store.clock,
            ids=self._store.ids,
        )

    @cached_property
    def env_vars(self) -> EnvVarRepository:
        return EnvVarRepository(
            self._require_connection(),
            self._store.keys,
            clock=self._store.clock,
            ids=self._store.ids,
        )

    @cached_property
    def deployments(self) -> DeploymentRepository:
        return DeploymentRepository(
            self._require_connection(),
            self._store.keys,
            clock=self._store.clock,
            ids=self._store.ids,
        )

    @cached_property
    def ciphertexts(self) -> CiphertextRepository:
        return CiphertextRepository(self._require_connection(), self._store.keys)

    @cached_property
    def ledger(self) -> LedgerRepository:
        return LedgerRepository(self._require_connection())

    @cached_property
    def idempotency(self) -> IdempotencyRepository:
        return IdempotencyRepository(
            self._require_connection(),
            self._store.keys,
            clock=self._store.clock,
            ids=self._store.ids,
        )

    @cached_property
    def emulator(self) -> EmulatorRepository:
        return EmulatorRepository(self._require_connection())

    @cached_property
    def overview(self) -> OverviewRepository:
        return OverviewRepository(self._require_connection())

    @cached_property
    def webhooks(self) -> WebhookRepository:
        return WebhookRepository(
            self._require_connection(),
            self._store.keys,
            clock=self._store.clock,
            ids=self._store.ids,
        )

    @cached_property
    def deliveries(self) -> DeliveryRepository:
        return DeliveryRepository(self._require_connection(), clock=self._store.clock)

    @property
    def clock(self) -> Clock:
        """The store's clock: what a rule inside this unit asks for the time."""
        return self._store.clock

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        connection = self._require_connection()
        try:
            if connection.in_transaction():
                if self._write or isinstance(exc, SQLAlchemyError):
                    connection.rollback()
                else:
                    connection.commit()
        except DATABASE_UNAVAILABLE:
            # The connection died with the database: the transaction is gone with it, and the
            # error that matters is the one below.
            connection.invalidate()
        finally:
            connection.close()
            self._connection = None
            if self._queue is not None:
                self._queue.release()
        if isinstance(exc, DATABASE_UNAVAILABLE):
            raise database_unavailable() from None
        if isinstance(exc, IntegrityError):
            # Two requests raced past the same uniqueness check (a team slug, a project name):
            # the database kept one; the other is a conflict, not a server error.
            raise Conflict(
                Code.CONFLICT, "the request conflicts with a concurrent change; retry it"
            ) from None

    def commit(self) -> None:
        """Write the events the change emitted (the outbox), then commit them together."""
        connection = self._require_connection()
        self.events.flush()
        connection.commit()

    def _begin(self, engine: Engine) -> Connection:
        try:
            connection = engine.connect()
        except DATABASE_UNAVAILABLE:
            raise database_unavailable() from None
        try:
            if self._write:
                connection = connection.execution_options(**{WRITE_TRANSACTION: True})
            if self._transaction:
                connection.begin()
        except DATABASE_UNAVAILABLE:
            connection.close()
            raise database_unavailable() from None
        return connection

    def _require_connection(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("the unit of work is used outside its `with` block")
        return self._connection
