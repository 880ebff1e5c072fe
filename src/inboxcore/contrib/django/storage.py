"""The storage port on the Django ORM: :class:`DjangoStorage`.

Each record is stored whole, as the JSON text of :data:`inboxcore.domain.serialization.converter`,
next to the columns that carry its uniqueness rules and the pipeline's lookups
(:mod:`inboxcore.contrib.django.models`); it reads back equal.

**Transactions.** A unit of work is one outermost ``transaction.atomic`` on the database alias
``using``, entered at the unit's first write; reads before it see the latest committed state
(READ COMMITTED, on SQLite too). :meth:`DjangoUnitOfWork.commit` leaves the atomic block, which
commits: when it returns, the records are committed, so "a 2xx answer means committed" holds.

- A unit never nests inside an atomic block, where its commit would be a savepoint that the
  outer block may still roll back (a view under ``ATOMIC_REQUESTS``, another open unit in the
  same thread): then it opens a database connection of its own for its lifetime.
- Uniqueness rules are database constraints; a violation raises the precise
  :class:`~inboxcore.domain.errors.ConflictError` subclass and leaves the unit usable only for
  rollback. Serialization failures, deadlocks and SQLite's "database is locked" are
  :class:`~inboxcore.domain.errors.ConflictError` too, which the service retries.
- At the end of a unit the thread's connection is closed if ``CONN_MAX_AGE`` says it is old
  (Django's rule at the end of a request): set ``CONN_MAX_AGE`` to keep connections open.
- On PostgreSQL the routing rotation is read ``SELECT ... FOR UPDATE`` on a row created (empty)
  if missing, and the retired-address check holds a transaction-scoped advisory lock per address.
  On SQLite the first statement of the transaction is a write, so it takes the database's single
  write lock at once (waiting up to the ``timeout`` option) and writers queue instead of failing
  on a stale read snapshot.

Requires ``USE_TZ = True`` (times are stored in UTC).
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self, TypeVar

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.db.utils import ConnectionDoesNotExist

from inboxcore.contrib.django import models as m
from inboxcore.contrib.django._repositories import (
    _Accounts,
    _Channels,
    _Contacts,
    _Conversations,
    _IntakeLog,
    _Messages,
    _Routing,
    _Tickets,
)
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

__all__ = ["DjangoStorage", "DjangoUnitOfWork"]

R = TypeVar("R")
_T = TypeVar("_T")

_CONFLICTS: dict[str, tuple[type[ConflictError], str]] = {
    "uq_inboxcore_accounts_id": (DuplicateRecord, "an account with this id already exists"),
    "uq_inboxcore_channels_id": (DuplicateRecord, "a channel with this id already exists"),
    "uq_inboxcore_channels_address_key": (
        ForwardingAddressTaken, "the forwarding address already receives for another channel"),
    "uq_inboxcore_channels_from_name": (
        FromNameTaken, "the from-name is used by another channel of the account"),
    "uq_inboxcore_contacts_id": (DuplicateRecord, "a contact with this id already exists"),
    "uq_inboxcore_contacts_email": (
        DuplicateRecord, "the account already has a contact with this email address"),
    "uq_inboxcore_conversations_id": (
        DuplicateRecord, "a conversation with this id already exists"),
    "uq_inboxcore_messages_id": (DuplicateRecord, "a message with this id already exists"),
    "uq_inboxcore_messages_dedup": (DuplicateMessage, "the channel already holds this message"),
    "uq_inboxcore_tickets_id": (DuplicateRecord, "a ticket with this id already exists"),
    "uq_inboxcore_tickets_conversation": (
        DuplicateRecord, "the conversation already has a ticket"),
}  # fmt: skip
"""Every unique constraint of the models, and the domain error its violation means."""

# SQLSTATEs that mean "a concurrent transaction got in the way; try again".
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected

_MODEL_OF: dict[type[Any], Any] = {
    Account: m.Account,
    Channel: m.Channel,
    Contact: m.Contact,
    Conversation: m.Conversation,
    Message: m.Message,
    Ticket: m.Ticket,
}


def _constraint_columns() -> dict[tuple[str, ...], str]:
    """Each unique constraint by its ``table.column`` list, as SQLite names a violation."""
    found: dict[tuple[str, ...], str] = {}
    for model in _MODEL_OF.values():
        table = model._meta.db_table
        for constraint in model._meta.constraints:
            columns = (model._meta.get_field(f).column for f in constraint.fields)
            found[tuple(f"{table}.{c}" for c in columns)] = str(constraint.name)
    return found


def _unique_violation(exc: IntegrityError) -> ConflictError | None:
    """The domain error for a unique violation, or None if ``exc`` is something else."""
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate is not None:  # psycopg
        if sqlstate != "23505":
            return None
        name = getattr(getattr(cause, "diag", None), "constraint_name", None)
    else:
        # "UNIQUE constraint failed: inboxcore_contacts.account_id, inboxcore_contacts.email_key"
        _, marker, columns = str(exc).partition("UNIQUE constraint failed: ")
        if not marker:
            return None
        found = tuple(c.strip() for c in columns.split(","))
        name = _constraint_columns().get(found)
    if name in _CONFLICTS:
        error, message = _CONFLICTS[name]
        return error(f"{message} ({name})")
    return ConflictError(f"unique constraint violated: {exc}")


def _translate(exc: DatabaseError, otherwise: StorageError) -> Exception:
    """The inboxcore error for a database error: a conflict if it is one, else ``otherwise``."""
    if isinstance(exc, IntegrityError):
        conflict = _unique_violation(exc)
        if conflict is not None:
            return conflict
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    if sqlstate in _RETRYABLE_SQLSTATES or "database is locked" in str(exc):
        return ConflictError(f"a concurrent unit of work got in the way: {exc}")
    return type(otherwise)(f"{otherwise}: {exc}")


class DjangoStorage:
    """The :class:`~inboxcore.ports.Storage` port on the Django database alias ``using``.

    Needs ``inboxcore.contrib.django`` in ``INSTALLED_APPS``, its migrations applied
    (``manage.py migrate``) and ``USE_TZ = True``. Units of work in different threads use each
    thread's own connection, as Django does.
    """

    def __init__(self, using: str = "default") -> None:
        if not settings.USE_TZ:
            raise InvalidValueError("DjangoStorage stores UTC times: set USE_TZ = True")
        if using not in connections.settings:
            raise InvalidValueError(f"no database alias {using!r} in DATABASES")
        self.using = using

    def unit_of_work(self) -> DjangoUnitOfWork:
        return DjangoUnitOfWork(self.using)

    def records(self, kind: type[R]) -> tuple[R, ...]:
        """Every committed record of ``kind`` (Channel, Contact, ...), in insertion order.

        For tests and admin tools, like :meth:`InMemoryStorage.records
        <inboxcore.testing.InMemoryStorage.records>`.
        """
        if kind is RotationState:
            rows = m.Rotation.objects.using(self.using).filter(data__isnull=False)
            return self._read_all(kind, rows.order_by("channel_id"))
        model = _MODEL_OF.get(kind)
        if model is None:
            raise InvalidValueError(f"no table holds {kind.__name__} records")
        return self._read_all(kind, model.objects.using(self.using).order_by("seq"))

    def intake_records(self) -> tuple[IntakeRecord, ...]:
        """The committed intake log, oldest first."""
        return self._read_all(IntakeRecord, m.IntakeEntry.objects.using(self.using).order_by("seq"))

    def _read_all(self, kind: type[R], rows: Any) -> tuple[R, ...]:
        try:
            found = list(rows.values_list("data", flat=True))
        except DatabaseError as exc:
            raise StorageError(f"storage unavailable: {exc}") from exc
        return tuple(converter.loads(str(data), kind) for data in found)


_private_aliases = itertools.count(1)
_open_units = threading.local()


def _busy_aliases() -> set[str]:
    """The aliases whose thread connection an open unit of this thread holds."""
    busy: set[str] | None = getattr(_open_units, "aliases", None)
    if busy is None:
        busy = _open_units.aliases = set()
    return busy


class DjangoUnitOfWork:
    """One unit of work: one outermost ``transaction.atomic`` on the alias of
    :class:`DjangoStorage` (see the module's notes)."""

    def __init__(self, using: str) -> None:
        self._using = using
        self._private: str | None = None
        try:
            thread_connection = connections[using]
        except ConnectionDoesNotExist as exc:
            raise StorageError(f"storage unavailable: {exc}") from exc
        if thread_connection.in_atomic_block or using in _busy_aliases():
            # Its own connection, registered under a private alias of this thread only.
            self._private = f"{using}__inboxcore_unit_{next(_private_aliases)}"
            connections[self._private] = connections.create_connection(using)
        else:
            _busy_aliases().add(using)
        self.db = self._private or using
        self._atomic: Any = None
        self._closed = False
        self._poisoned = False
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
        atomic, self._atomic = self._atomic, None
        try:
            if atomic is not None:
                atomic.__exit__(None, None, None)  # leaving the outermost block commits
        except DatabaseError as exc:
            raise _translate(exc, CommitFailed("commit failed, nothing was applied")) from exc
        finally:
            self._end()

    def rollback(self) -> None:
        if self._closed:
            return
        atomic, self._atomic = self._atomic, None
        if atomic is not None:
            with contextlib.suppress(DatabaseError):
                transaction.set_rollback(True, using=self.db)
                atomic.__exit__(None, None, None)
        self._end()

    def _end(self) -> None:
        self._closed = True
        if self._private is None:
            _busy_aliases().discard(self._using)
            # The end of a unit is the end of a request to Django: the thread's connection is
            # closed when CONN_MAX_AGE says so (0, the default: always), so that worker threads
            # leave no connection behind; a positive or None CONN_MAX_AGE keeps it.
            with contextlib.suppress(DatabaseError):
                connections[self._using].close_if_unusable_or_obsolete()
            return
        with contextlib.suppress(DatabaseError):
            connections[self._private].close()
        del connections[self._private]

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("this unit of work has ended; start a new one")

    # --- statements -----------------------------------------------------------------------------

    def run(self, call: Callable[[], _T], *, write: bool = False) -> _T:
        """Run ``call`` (ORM statements on :attr:`db`) in the unit, translating database errors.

        ``write`` marks statements that change data (or lock it): the unit's transaction begins
        with the first of them.
        """
        self._check_open()
        try:
            if write and self._atomic is None:
                atomic = transaction.atomic(using=self.db)
                atomic.__enter__()
                self._atomic = atomic
            return call()
        except DatabaseError as exc:
            self._poisoned = True
            raise _translate(exc, StorageError("storage failed")) from exc

    def lock_key(self, key: str) -> None:
        """Serialize "check, then write" on ``key`` between transactions (PostgreSQL: an
        advisory lock until the transaction ends; SQLite needs none, its writers queue)."""
        if connections[self.db].vendor != "postgresql":
            return

        def lock() -> None:
            with connections[self.db].cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])

        self.run(lock, write=True)

    def poison(self) -> None:
        """Mark the unit as failed: it may now only roll back."""
        self._poisoned = True
