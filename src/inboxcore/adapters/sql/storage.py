"""The storage port on SQLAlchemy Core: SQLite as the embedded default, PostgreSQL at scale.

Each record is stored whole, as the JSON of :data:`inboxcore.domain.serialization.converter`, next
to the
columns that carry its uniqueness rules and the pipeline's lookups; it reads back equal.

**Transactions.** A unit of work is one database transaction on one pooled connection.

- PostgreSQL runs READ COMMITTED: each statement sees what was committed before it started.
  Uniqueness is enforced by unique indexes, which make a competing insert wait for the first
  transaction and then fail, so the loser gets the precise
  :class:`~inboxcore.domain.errors.ConflictError` subclass at once. The routing rotation is read
  with
  ``SELECT ... FOR UPDATE`` on a row created (empty) if missing, so concurrent workers take
  turns one after the other instead of failing. Serialization failures and deadlocks become
  :class:`~inboxcore.domain.errors.ConflictError`, which the service retries.
- SQLite runs the driver in autocommit mode: reads before the unit's first write see the latest
  committed state (like READ COMMITTED); the first write (or a rotation read) takes the
  database's single write lock with ``BEGIN IMMEDIATE``, waiting up to the busy timeout. Writers
  thus serialize instead of failing with a stale snapshot, and readers never wait (WAL mode).

A constraint error leaves the unit usable only for rollback, as on PostgreSQL.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, Self, TypeVar

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection, CursorResult, Engine

from inboxcore.adapters.sql import _tables as t
from inboxcore.adapters.sql._prepared import Prepared, Rows, prepare, run_prepared

# The repositories lived here before they had a module of their own; tests and benchmarks
# still import some of them from here.
from inboxcore.adapters.sql._repositories import _Accounts as _Accounts
from inboxcore.adapters.sql._repositories import _Channels as _Channels
from inboxcore.adapters.sql._repositories import _Contacts as _Contacts
from inboxcore.adapters.sql._repositories import _Conversations as _Conversations
from inboxcore.adapters.sql._repositories import _IntakeLog as _IntakeLog
from inboxcore.adapters.sql._repositories import _Messages as _Messages
from inboxcore.adapters.sql._repositories import _Routing as _Routing
from inboxcore.adapters.sql._repositories import _Tickets as _Tickets
from inboxcore.adapters.sql.engine import make_engine, prepared_for_inboxcore
from inboxcore.adapters.sql.migrations import LATEST_VERSION, migrate, schema_version
from inboxcore.adapters.sql.rawstore import SqlRawStore
from inboxcore.domain.errors import (
    CommitFailed,
    ConflictError,
    DuplicateMessage,
    DuplicateRecord,
    ForwardingAddressTaken,
    FromNameTaken,
    InvalidValueError,
    StorageError,
)
from inboxcore.domain.ids import ContactId
from inboxcore.domain.model import (
    Account,
    Channel,
    Contact,
    Conversation,
    IntakeRecord,
    Message,
    RotationState,
    Ticket,
)
from inboxcore.domain.serialization import converter

__all__ = ["SqlStorage", "SqlUnitOfWork"]

R = TypeVar("R")
_T = TypeVar("_T")


@attrs.frozen
class _Unique:
    """A unique constraint or index, and the domain error its violation means."""

    name: str
    table: str
    columns: tuple[str, ...]
    error: type[ConflictError]
    message: str


_UNIQUES = (
    _Unique("uq_inboxcore_accounts_id", "inboxcore_accounts", ("id",), DuplicateRecord,
            "an account with this id already exists"),
    _Unique("uq_inboxcore_channels_id", "inboxcore_channels", ("id",), DuplicateRecord,
            "a channel with this id already exists"),
    _Unique("uq_inboxcore_channels_address_key", "inboxcore_channels", ("address_key",),
            ForwardingAddressTaken, "the forwarding address already receives for another channel"),
    _Unique("uq_inboxcore_channels_from_name", "inboxcore_channels",
            ("account_id", "from_name_key"), FromNameTaken,
            "the from-name is used by another channel of the account"),
    _Unique("uq_inboxcore_contacts_id", "inboxcore_contacts", ("id",), DuplicateRecord,
            "a contact with this id already exists"),
    _Unique("uq_inboxcore_contacts_email", "inboxcore_contacts", ("account_id", "email_key"),
            DuplicateRecord, "the account already has a contact with this email address"),
    _Unique("uq_inboxcore_conversations_id", "inboxcore_conversations", ("id",),
            DuplicateRecord, "a conversation with this id already exists"),
    _Unique("uq_inboxcore_messages_id", "inboxcore_messages", ("id",), DuplicateRecord,
            "a message with this id already exists"),
    _Unique("uq_inboxcore_messages_dedup", "inboxcore_messages", ("channel_id", "dedup_key"),
            DuplicateMessage, "the channel already holds this message"),
    _Unique("uq_inboxcore_tickets_id", "inboxcore_tickets", ("id",), DuplicateRecord,
            "a ticket with this id already exists"),
    _Unique("uq_inboxcore_tickets_conversation", "inboxcore_tickets", ("conversation_id",),
            DuplicateRecord, "the conversation already has a ticket"),
)  # fmt: skip
"""Every unique rule of the schema; tests check each name exists after migration."""

# SQLSTATEs that mean "a concurrent transaction got in the way; try again".
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected


# SQLite checkpoints the WAL into the database every N pages (1,000 by default, about 4 MB), two
# fsyncs each. A batch (``batch_durability``) checkpoints every 20,000 pages (80 MB): in
# ``inboxcore ingest`` the default interval cost 0.7 ms a message (271 -> 387 messages/s).
_AUTOCHECKPOINT = {"FULL": 1000, "NORMAL": 20000}


def _unique_violation(exc: sa.exc.DBAPIError) -> ConflictError | None:
    """The domain error for a unique violation, or None if ``exc`` is something else."""
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate is not None:  # psycopg
        if sqlstate != "23505":
            return None
        name = getattr(getattr(orig, "diag", None), "constraint_name", None)
        for unique in _UNIQUES:
            if unique.name == name:
                return unique.error(f"{unique.message} ({name})")
        return ConflictError(f"unique constraint {name} violated")
    if getattr(orig, "sqlite_errorname", None) in (
        "SQLITE_CONSTRAINT_UNIQUE",
        "SQLITE_CONSTRAINT_PRIMARYKEY",
    ):
        # "UNIQUE constraint failed: inboxcore_contacts.account_id, inboxcore_contacts.email_key"
        _, _, columns = str(orig).partition("failed: ")
        found = tuple(c.strip() for c in columns.split(","))
        for unique in _UNIQUES:
            if found == tuple(f"{unique.table}.{c}" for c in unique.columns):
                return unique.error(f"{unique.message} ({unique.name})")
        return ConflictError(f"unique constraint violated: {columns}")
    return None


def _retryable(exc: sa.exc.DBAPIError) -> bool:
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in _RETRYABLE_SQLSTATES:
        return True
    # A read snapshot went stale before the write; the autocommit reads make it rare.
    return getattr(orig, "sqlite_errorname", None) == "SQLITE_BUSY_SNAPSHOT"


def _translate(exc: sa.exc.DBAPIError, otherwise: StorageError) -> Exception:
    """The inboxcore error for a database error: a conflict if it is one, else ``otherwise``."""
    conflict = _unique_violation(exc)
    if conflict is not None:
        return conflict
    if _retryable(exc):
        return ConflictError(f"a concurrent unit of work got in the way: {exc.orig}")
    return type(otherwise)(f"{otherwise}: {exc.orig}")


_TABLE_OF: dict[type[Any], sa.TableClause] = {
    Account: t.ACCOUNTS,
    Channel: t.CHANNELS,
    Contact: t.CONTACTS,
    Conversation: t.CONVERSATIONS,
    Message: t.MESSAGES,
    Ticket: t.TICKETS,
}


class SqlStorage:
    """The :class:`~inboxcore.ports.Storage` port on SQLite or PostgreSQL.

    Build it with :meth:`from_url` (or give an engine from
    :func:`~inboxcore.adapters.sql.make_engine`); it migrates the schema unless told not to.
    Close it with :meth:`close` (or use it as a context manager) to release the connections.
    """

    def __init__(self, engine: Engine, *, schema: str | None = None, migrate: bool = True) -> None:
        dialect = engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise InvalidValueError(f"SqlStorage supports SQLite and PostgreSQL, not {dialect}")
        if dialect == "sqlite" and not prepared_for_inboxcore(engine):
            raise InvalidValueError(
                "a SQLite engine must come from inboxcore.adapters.sql.make_engine "
                "(autocommit driver, WAL, foreign keys, busy timeout)"
            )
        self.engine = engine
        self.dialect = dialect
        self.schema = schema
        # The hot path's statements compiled for this engine (inboxcore.adapters.sql._prepared).
        self._statements: dict[tuple[int, tuple[str, ...]], Prepared] = {}
        self.synchronous = "FULL"
        """SQLite's ``synchronous`` for the units of work: FULL (each commit flushed) except
        inside :meth:`batch_durability`."""
        if migrate:
            self.migrate()
        else:
            found = self.schema_version()
            if found != LATEST_VERSION:
                raise StorageError(
                    f"the database schema is version {found}, this code needs {LATEST_VERSION}: "
                    "run migrate() (or `SqlStorage.from_url(url, migrate=True)`) first"
                )

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        schema: str | None = None,
        migrate: bool = True,
        busy_timeout: float = 30.0,
        pool_size: int = 5,
        max_overflow: int = 10,
    ) -> SqlStorage:
        """Storage on ``url``: ``sqlite:///path/inbox.db`` or ``postgresql://user:pw@host/db``.

        ``schema`` puts the tables in their own PostgreSQL schema (created if missing). SQLite
        must be a file: an in-memory database cannot be shared by the unit of work's connections.
        """
        engine = make_engine(
            url,
            schema=schema,
            busy_timeout=busy_timeout,
            pool_size=pool_size,
            max_overflow=max_overflow,
        )
        try:
            return cls(engine, schema=schema, migrate=migrate)
        except BaseException:
            engine.dispose()
            raise

    def migrate(self, target: int | None = None) -> tuple[int, ...]:
        """Apply the missing migration steps (see :mod:`.migrations`); return those applied."""
        return migrate(self.engine, target=target, schema=self.schema)

    def schema_version(self) -> int:
        """The schema version of the database (0 when empty)."""
        try:
            return schema_version(self.engine)
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"storage unavailable: {exc}") from exc

    def unit_of_work(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self)

    def records(self, kind: type[R]) -> tuple[R, ...]:
        """Every committed record of ``kind`` (Channel, Contact, ...), in insertion order.

        For tests and admin tools, like :meth:`InMemoryStorage.records
        <inboxcore.testing.InMemoryStorage.records>`: the same scenario can inspect either store.
        """
        if kind is RotationState:
            c = t.ROTATIONS.c
            rotations = sa.select(c.data).where(c.data.is_not(None)).order_by(c.channel_id)
            return self._read_all(kind, rotations)
        table = _TABLE_OF.get(kind)
        if table is None:
            raise InvalidValueError(f"no table holds {kind.__name__} records")
        return self._read_all(kind, sa.select(table.c.data).order_by(table.c.seq))

    def intake_records(self) -> tuple[IntakeRecord, ...]:
        """The committed intake log, oldest first."""
        log = t.INTAKE_LOG
        return self._read_all(IntakeRecord, sa.select(log.c.data).order_by(log.c.seq))

    def _read_all(self, kind: type[R], statement: sa.Select[Any]) -> tuple[R, ...]:
        try:
            with self.engine.connect() as connection:
                rows = connection.execute(statement).all()
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"storage unavailable: {exc}") from exc
        return tuple(converter.structure(row[0], kind) for row in rows)

    @contextlib.contextmanager
    def batch_durability(self) -> Iterator[None]:
        """Group commit for a batch that acknowledges nothing to a sender (``inboxcore
        ingest``): on SQLite, commits inside are not flushed to disk one by one (WAL with
        ``synchronous=NORMAL``, automatic checkpoints every 80 MB of pages instead of 4 MB) and
        one checkpoint on leaving flushes them all, so everything committed inside is durable
        when the block ends. A power cut inside loses at most the commits since the last
        checkpoint; running the batch again restores them, duplicates being recognised. Each
        unit stays atomic, and a crash of the process alone loses nothing. Other units of this
        storage (a receiver answering 250) must not run inside. PostgreSQL: nothing changes."""
        if self.dialect != "sqlite":
            yield
            return
        self.synchronous = "NORMAL"
        try:
            yield
        finally:
            self.synchronous = "FULL"
            with self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(FULL)")

    def raw_store(self) -> SqlRawStore:
        """The table raw-message store on the same database."""
        return SqlRawStore(self.engine)

    def close(self) -> None:
        """Close every pooled connection. Units of work still open keep theirs until they end."""
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SqlUnitOfWork:
    """One unit of work: one transaction on one connection of :class:`SqlStorage`.

    The connection is taken from the pool at the first statement and given back when the unit
    ends, so a unit that is never used (or dropped without ending) holds none.
    """

    def __init__(self, storage: SqlStorage) -> None:
        self._engine = storage.engine
        self._storage = storage
        self._prepared = storage._statements
        dbapi: Any = storage.engine.dialect.dbapi
        self._driver_error: type[Exception] = dbapi.Error
        self._dialect = storage.dialect
        self._conn: Connection | None = None
        self._write_locked = False
        self._closed = False
        self._poisoned = False
        # Contacts this unit added and has given no conversation: the repositories answer
        # their subject lookup without a query (a new customer's first message).
        self.new_contacts: set[ContactId] = set()
        self.accounts = _Accounts(self)
        self.channels = _Channels(self)
        self.contacts = _Contacts(self)
        self.conversations = _Conversations(self)
        self.messages = _Messages(self)
        self.tickets = _Tickets(self)
        self.routing = _Routing(self)
        self.intake_log = _IntakeLog(self)

    # --- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    def commit(self) -> None:
        self._check_open()
        if self._poisoned:
            raise StorageError("the unit of work hit a constraint error; roll it back")
        if self._conn is None:  # nothing was read or written
            self._closed = True
            return
        try:
            self._conn.commit()
        except sa.exc.DBAPIError as exc:
            self._discard_failed_commit()
            raise _translate(exc, CommitFailed("commit failed, nothing was applied")) from exc
        except sa.exc.SQLAlchemyError as exc:
            self._discard_failed_commit()
            raise CommitFailed(f"commit failed, nothing was applied: {exc}") from exc
        finally:
            self._end()

    def rollback(self) -> None:
        if not self._closed:
            if self._conn is not None:
                with contextlib.suppress(sa.exc.SQLAlchemyError):
                    self._conn.rollback()
            self._end()

    def _discard_failed_commit(self) -> None:
        """Roll back at the driver: SQLAlchemy considers the transaction over after a failed
        commit, but a SQLite COMMIT refused by a deferred foreign key leaves it open, and the
        pool would hand it, uncommitted writes and all, to the next unit of work."""
        if self._conn is None:
            return
        try:
            dbapi_connection = self._conn.connection.dbapi_connection
            if dbapi_connection is not None:
                dbapi_connection.rollback()
        except Exception:  # any driver error: the connection cannot be trusted any more
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                self._conn.invalidate()

    def _end(self) -> None:
        self._closed = True
        # Closing returns the connection to the pool, which rolls back whatever is left.
        if self._conn is not None:
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                self._conn.close()
            self._conn = None

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("this unit of work has ended; start a new one")

    # --- statements -----------------------------------------------------------------------------

    def run(
        self,
        statement: sa.Executable,
        params: dict[str, Any] | None = None,
        *,
        write: bool = False,
    ) -> CursorResult[Any]:
        """Execute ``statement`` in the unit's transaction, translating database errors.

        ``write`` marks a statement that changes data (or locks it): on SQLite it first takes
        the write lock.
        """
        conn = self._connection(write)
        return self._guard(lambda: conn.execute(statement, params))

    def run_prepared(
        self, statement: sa.Executable, params: dict[str, Any], *, write: bool = False
    ) -> Rows:
        """:meth:`run` for one of the hot path's fixed statements (built once, at import):
        compiled once for this engine and run on the driver's cursor
        (:mod:`inboxcore.adapters.sql._prepared`)."""
        conn = self._connection(write)
        key = (id(statement), tuple(params))
        prepared = self._prepared.get(key)
        if prepared is None:
            prepared = self._prepared.setdefault(key, prepare(statement, self._engine, key[1]))
        try:
            return run_prepared(conn, self._engine, prepared, params)
        except self._driver_error as exc:
            self._poisoned = True
            wrapped = sa.exc.DBAPIError.instance(
                prepared.sql, params, exc, self._driver_error, dialect=self._engine.dialect
            )
            assert isinstance(wrapped, sa.exc.DBAPIError)  # exc is the driver's own error
            raise _translate(wrapped, StorageError("storage failed")) from exc

    def _connection(self, write: bool) -> Connection:
        """The unit's connection, its transaction begun; on SQLite, holding the write lock
        before a ``write``."""
        self._check_open()
        if self._conn is None:
            try:
                self._conn = self._engine.connect()
                if self._dialect == "sqlite":
                    self._synchronous(self._conn)
                # Begun explicitly: statements run on the driver's cursor do not begin
                # SQLAlchemy's transaction, and without one commit() would do nothing.
                self._conn.begin()
            except sa.exc.SQLAlchemyError as exc:
                raise StorageError(f"storage unavailable: {exc}") from exc
        conn = self._conn
        if write and self._dialect == "sqlite" and not self._write_locked:
            self._guard(lambda: conn.exec_driver_sql("BEGIN IMMEDIATE"))
            self._write_locked = True
        return conn

    def _synchronous(self, conn: Connection) -> None:
        """Give a pooled SQLite connection the storage's ``synchronous`` setting, once per
        change (:meth:`SqlStorage.batch_durability`)."""
        wanted = self._storage.synchronous
        if conn.info.get("inboxcore.synchronous", "FULL") != wanted:
            conn.exec_driver_sql(f"PRAGMA synchronous={wanted}")
            conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={_AUTOCHECKPOINT[wanted]}")
            conn.commit()
            conn.info["inboxcore.synchronous"] = wanted

    def _guard(self, call: Callable[[], _T]) -> _T:
        try:
            return call()
        except sa.exc.DBAPIError as exc:
            self._poisoned = True
            raise _translate(exc, StorageError("storage failed")) from exc
        except sa.exc.SQLAlchemyError as exc:
            self._poisoned = True
            raise StorageError(f"storage failed: {exc}") from exc

    def poison(self) -> None:
        """Mark the unit as failed: it may now only roll back."""
        self._poisoned = True

    @property
    def dialect(self) -> str:
        return self._dialect

    @property
    def engine(self) -> Engine:
        """The engine of the storage this unit belongs to."""
        return self._engine
