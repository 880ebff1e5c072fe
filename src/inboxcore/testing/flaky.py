"""Commit failures on demand for any storage: in-memory, SQL, or a host's own adapter.

:class:`~inboxcore.testing.InMemoryStorage` can fail its own commits, but a database cannot be
told to, and a failure scenario that only runs on the fake proves nothing about the real store.
:class:`FlakyStorage` wraps any :class:`~inboxcore.ports.Storage` and injects the failures a
production database produces, each in the shape the port promises for it:

- ``fail_next_commits``: the commit is refused and **nothing is applied** (the inner unit of work
  is rolled back before the error is raised), as :class:`~inboxcore.domain.errors.CommitFailed`
  means.
  Pass a :class:`~inboxcore.domain.errors.ConflictError` to play a lost race instead: the service
  retries.
- ``fail_after_next_commits``: the commit **is applied** but the answer is lost (the connection
  dropped during ``COMMIT``): the caller cannot tell what happened, so the default error is a
  plain :class:`~inboxcore.domain.errors.StorageError`, never CommitFailed.
- ``fail_next_units``: the storage is down: ``unit_of_work()`` raises StorageError.

Everything else is passed through unchanged, so with nothing scheduled the wrapper passes the
storage contract suite exactly when the inner storage does. ``records()`` and
``intake_records()`` are forwarded to the inner storage when it has them (the in-memory and SQL
stores do), so one scenario test inspects every backend the same way.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar, cast

from inboxcore.domain.errors import CommitFailed, InvalidValueError, StorageError
from inboxcore.domain.model import IntakeRecord
from inboxcore.ports import (
    AccountRepository,
    ChannelRepository,
    ContactRepository,
    ConversationRepository,
    IntakeLogRepository,
    MessageRepository,
    RoutingStateRepository,
    Storage,
    TicketRepository,
    UnitOfWork,
)

__all__ = ["FlakyStorage", "FlakyUnitOfWork"]

S = TypeVar("S", bound=Storage)
R = TypeVar("R")


class _Inspectable(Protocol):
    def records(self, kind: type[R]) -> tuple[R, ...]: ...
    def intake_records(self) -> tuple[IntakeRecord, ...]: ...


class FlakyStorage(Generic[S]):
    """Wraps ``inner`` (any Storage) and fails its commits, or its units, when told to.

    Failures are consumed in order by whichever unit of work commits next, in any thread; safe
    under threads like the stores it wraps. :attr:`injected` lists every error raised so far.
    """

    def __init__(self, inner: S) -> None:
        self.inner: S = inner
        """The wrapped storage, to reach its own API (``close()``, ``engine``...)."""
        self._lock = threading.Lock()
        self._before: deque[BaseException] = deque()
        self._after: deque[BaseException] = deque()
        self._units: deque[BaseException] = deque()
        self.injected: list[BaseException] = []
        """Every error injected so far, oldest first."""
        self.commits = 0
        """How many commits reached the inner storage and succeeded there."""

    # --- scheduling failures -------------------------------------------------------------------

    def fail_next_commits(self, count: int = 1, error: BaseException | None = None) -> None:
        """Refuse the next ``count`` commits with ``error`` (default CommitFailed); nothing of
        those units is applied."""
        self._schedule(self._before, count, error, lambda: CommitFailed("injected commit failure"))

    def fail_after_next_commits(self, count: int = 1, error: BaseException | None = None) -> None:
        """Apply the next ``count`` commits, then raise ``error`` (default StorageError) as if
        the database's answer had been lost: the outcome is unknown to the caller."""
        self._schedule(
            self._after,
            count,
            error,
            lambda: StorageError("injected: connection lost during commit, outcome unknown"),
        )

    def fail_next_units(self, count: int = 1, error: BaseException | None = None) -> None:
        """Make the next ``count`` calls of :meth:`unit_of_work` raise ``error`` (default
        StorageError): the database cannot be reached."""
        self._schedule(
            self._units, count, error, lambda: StorageError("injected: storage unavailable")
        )

    def clear(self) -> None:
        """Cancel every failure still scheduled."""
        with self._lock:
            self._before.clear()
            self._after.clear()
            self._units.clear()

    @property
    def pending(self) -> int:
        """How many scheduled failures have not happened yet."""
        with self._lock:
            return len(self._before) + len(self._after) + len(self._units)

    def _schedule(
        self,
        queue: deque[BaseException],
        count: int,
        error: BaseException | None,
        default: Callable[[], BaseException],
    ) -> None:
        if count < 0:
            raise InvalidValueError(f"cannot schedule {count} failures")
        with self._lock:
            for _ in range(count):
                queue.append(error if error is not None else default())

    def _take(self, queue: deque[BaseException]) -> BaseException | None:
        with self._lock:
            if not queue:
                return None
            error = queue.popleft()
            self.injected.append(error)
            return error

    # --- the Storage port ----------------------------------------------------------------------

    def unit_of_work(self) -> FlakyUnitOfWork:
        error = self._take(self._units)
        if error is not None:
            raise error
        return FlakyUnitOfWork(self, self.inner.unit_of_work())

    # --- inspection, forwarded -----------------------------------------------------------------

    def records(self, kind: type[R]) -> tuple[R, ...]:
        """The inner storage's committed records of ``kind``, if it can list them."""
        return self._inspectable().records(kind)

    def intake_records(self) -> tuple[IntakeRecord, ...]:
        """The inner storage's committed intake log, if it can list it."""
        return self._inspectable().intake_records()

    def _inspectable(self) -> _Inspectable:
        inner: object = self.inner
        if not (hasattr(inner, "records") and hasattr(inner, "intake_records")):
            raise InvalidValueError(
                f"{type(inner).__name__} has no records()/intake_records() to inspect"
            )
        return cast(_Inspectable, inner)

    def _committed(self) -> None:
        with self._lock:
            self.commits += 1


class FlakyUnitOfWork:
    """A unit of work of the inner storage whose commit may fail as scheduled."""

    def __init__(self, storage: FlakyStorage[Any], inner: UnitOfWork) -> None:
        self._storage = storage
        self.inner = inner
        """The inner storage's unit of work."""

    @property
    def accounts(self) -> AccountRepository:
        return self.inner.accounts

    @property
    def channels(self) -> ChannelRepository:
        return self.inner.channels

    @property
    def contacts(self) -> ContactRepository:
        return self.inner.contacts

    @property
    def conversations(self) -> ConversationRepository:
        return self.inner.conversations

    @property
    def messages(self) -> MessageRepository:
        return self.inner.messages

    @property
    def tickets(self) -> TicketRepository:
        return self.inner.tickets

    @property
    def routing(self) -> RoutingStateRepository:
        return self.inner.routing

    @property
    def intake_log(self) -> IntakeLogRepository:
        return self.inner.intake_log

    def commit(self) -> None:
        """Commit the inner unit, unless a failure is scheduled: a failure before the commit
        rolls the inner unit back first (nothing applied); one after it is raised once the inner
        commit has succeeded (everything applied)."""
        before = self._storage._take(self._storage._before)
        if before is not None:
            self.inner.rollback()
            raise before
        self.inner.commit()
        self._storage._committed()
        after = self._storage._take(self._storage._after)
        if after is not None:
            raise after

    def rollback(self) -> None:
        self.inner.rollback()

    def __enter__(self) -> Self:
        self.inner.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.inner.__exit__(exc_type, exc, tb)
