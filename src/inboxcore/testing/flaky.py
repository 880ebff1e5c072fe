"""Storage failures on demand for any storage and raw store: in-memory, SQL, or a host's own.

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
- ``fail_next_statements``: one read or write inside a unit fails (``database is locked`` past
  the busy timeout, a reset connection): the repository call raises StorageError, and the unit
  can only be rolled back.

Each takes ``skip``: let that many steps of its kind through first, so that a test can fail
*every* step of a use case in turn (:attr:`FlakyStorage.steps` counts them in a clean run).
:class:`FlakyRawStore` does the same for a :class:`~inboxcore.ports.RawMessageStore`
(``fail_next_puts``, ``fail_next_reads``).

Everything else is passed through unchanged, so with nothing scheduled the wrappers pass the
contract suites exactly when the inner stores do. ``records()`` and ``intake_records()`` are
forwarded to the inner storage when it has them (the in-memory and SQL stores do), so one
scenario test inspects every backend the same way.
"""

from __future__ import annotations

import functools
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar, cast

from inboxcore.domain.errors import CommitFailed, InvalidValueError, StorageError
from inboxcore.domain.ids import RawMessageId
from inboxcore.domain.model import Envelope, IntakeRecord, StoredRawMessage
from inboxcore.ports import (
    AccountRepository,
    ChannelRepository,
    ContactRepository,
    ConversationRepository,
    IntakeLogRepository,
    MessageRepository,
    RawMessageStore,
    RoutingStateRepository,
    Storage,
    TicketRepository,
    UnitOfWork,
)

__all__ = ["FlakyRawStore", "FlakyStorage", "FlakyUnitOfWork"]

S = TypeVar("S", bound=Storage)
R = TypeVar("R")


class _Inspectable(Protocol):
    def records(self, kind: type[R]) -> tuple[R, ...]: ...
    def intake_records(self) -> tuple[IntakeRecord, ...]: ...


class _Schedule:
    """The failures waiting for the steps of one kind, in order; ``None`` lets a step through.

    Every step takes from the queue, whichever thread it runs in; what it takes is recorded in
    the shared ``injected`` list.
    """

    def __init__(self, lock: threading.Lock, injected: list[BaseException]) -> None:
        self._lock = lock
        self._injected = injected
        self._queue: deque[BaseException | None] = deque()
        self.taken = 0
        """How many steps of this kind were taken, failed or not."""

    def add(
        self,
        count: int,
        error: BaseException | None,
        default: Callable[[], BaseException],
        skip: int,
    ) -> None:
        if count < 0 or skip < 0:
            raise InvalidValueError(f"cannot schedule {count} failures after {skip} steps")
        with self._lock:
            self._queue.extend([None] * skip)
            self._queue.extend(error if error is not None else default() for _ in range(count))

    def take(self) -> BaseException | None:
        with self._lock:
            self.taken += 1
            if not self._queue:
                return None
            error = self._queue.popleft()
            if error is not None:
                self._injected.append(error)
            return error

    def pending(self) -> int:
        with self._lock:
            return sum(e is not None for e in self._queue)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()


class FlakyStorage(Generic[S]):
    """Wraps ``inner`` (any Storage) and fails its commits, units or statements when told to.

    Failures are consumed in order by whichever unit of work reaches the step next, in any
    thread; safe under threads like the stores it wraps. :attr:`injected` lists every error
    raised so far, :attr:`steps` counts the steps taken.
    """

    def __init__(self, inner: S) -> None:
        self.inner: S = inner
        """The wrapped storage, to reach its own API (``close()``, ``engine``...)."""
        self._lock = threading.Lock()
        self.injected: list[BaseException] = []
        """Every error injected so far, oldest first."""
        self._units = _Schedule(self._lock, self.injected)
        self._statements = _Schedule(self._lock, self.injected)
        self._before = _Schedule(self._lock, self.injected)
        self._after = _Schedule(self._lock, self.injected)
        self.commits = 0
        """How many commits reached the inner storage and succeeded there."""

    # --- scheduling failures -------------------------------------------------------------------

    def fail_next_commits(
        self, count: int = 1, error: BaseException | None = None, *, skip: int = 0
    ) -> None:
        """Refuse the next ``count`` commits (after ``skip`` that go through) with ``error``
        (default CommitFailed); nothing of those units is applied."""
        self._before.add(count, error, lambda: CommitFailed("injected commit failure"), skip)

    def fail_after_next_commits(
        self, count: int = 1, error: BaseException | None = None, *, skip: int = 0
    ) -> None:
        """Apply the next ``count`` commits (after ``skip`` that succeed), then raise ``error``
        (default StorageError) as if the database's answer had been lost: the outcome is
        unknown to the caller."""
        self._after.add(
            count,
            error,
            lambda: StorageError("injected: connection lost during commit, outcome unknown"),
            skip,
        )

    def fail_next_units(
        self, count: int = 1, error: BaseException | None = None, *, skip: int = 0
    ) -> None:
        """Make the next ``count`` calls of :meth:`unit_of_work` (after ``skip``) raise
        ``error`` (default StorageError): the database cannot be reached."""
        self._units.add(count, error, lambda: StorageError("injected: storage unavailable"), skip)

    def fail_next_statements(
        self, count: int = 1, error: BaseException | None = None, *, skip: int = 0
    ) -> None:
        """Make the next ``count`` repository calls inside units (reads or writes, after
        ``skip``) raise ``error`` (default StorageError), as a statement fails on a locked or
        lost database; the unit can then only be rolled back."""
        self._statements.add(
            count, error, lambda: StorageError("injected: database is locked"), skip
        )

    def clear(self) -> None:
        """Cancel every failure still scheduled."""
        for schedule in self._schedules():
            schedule.clear()

    @property
    def pending(self) -> int:
        """How many scheduled failures have not happened yet."""
        return sum(schedule.pending() for schedule in self._schedules())

    @property
    def steps(self) -> dict[str, int]:
        """How many units (``"unit"``), statements (``"statement"``) and commits (``"commit"``)
        were attempted, failed or not: in a clean run, the ``skip`` values that reach each."""
        with self._lock:
            return {
                "unit": self._units.taken,
                "statement": self._statements.taken,
                "commit": self._before.taken,
            }

    def _schedules(self) -> tuple[_Schedule, ...]:
        return (self._units, self._statements, self._before, self._after)

    # --- the Storage port ----------------------------------------------------------------------

    def unit_of_work(self) -> FlakyUnitOfWork:
        error = self._units.take()
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


class _FlakyRepository:
    """A repository whose every call may fail as scheduled, before it reaches the inner one."""

    def __init__(self, statements: _Schedule, inner: object) -> None:
        self._statements = statements
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._inner, name)

        @functools.wraps(method)
        def call(*args: Any, **kwargs: Any) -> Any:
            error = self._statements.take()
            if error is not None:
                raise error
            return method(*args, **kwargs)

        return call


class FlakyUnitOfWork:
    """A unit of work of the inner storage whose statements and commit may fail as scheduled."""

    def __init__(self, storage: FlakyStorage[Any], inner: UnitOfWork) -> None:
        self._storage = storage
        self.inner = inner
        """The inner storage's unit of work."""

    def _flaky(self, repository: R) -> R:
        return cast(R, _FlakyRepository(self._storage._statements, repository))

    @property
    def accounts(self) -> AccountRepository:
        return self._flaky(self.inner.accounts)

    @property
    def channels(self) -> ChannelRepository:
        return self._flaky(self.inner.channels)

    @property
    def contacts(self) -> ContactRepository:
        return self._flaky(self.inner.contacts)

    @property
    def conversations(self) -> ConversationRepository:
        return self._flaky(self.inner.conversations)

    @property
    def messages(self) -> MessageRepository:
        return self._flaky(self.inner.messages)

    @property
    def tickets(self) -> TicketRepository:
        return self._flaky(self.inner.tickets)

    @property
    def routing(self) -> RoutingStateRepository:
        return self._flaky(self.inner.routing)

    @property
    def intake_log(self) -> IntakeLogRepository:
        return self._flaky(self.inner.intake_log)

    def commit(self) -> None:
        """Commit the inner unit, unless a failure is scheduled: a failure before the commit
        rolls the inner unit back first (nothing applied); one after it is raised once the inner
        commit has succeeded (everything applied)."""
        before = self._storage._before.take()
        if before is not None:
            self.inner.rollback()
            raise before
        self.inner.commit()
        self._storage._committed()
        after = self._storage._after.take()
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


class FlakyRawStore:
    """Wraps ``inner`` (any RawMessageStore) and fails its puts or its reads when told to.

    Reads are :meth:`get`, :meth:`contains` and :meth:`received`; a failed put stores nothing.
    Safe under threads; :attr:`injected` lists every error raised so far, :attr:`steps` counts
    the puts and reads attempted.
    """

    def __init__(self, inner: RawMessageStore) -> None:
        self.inner = inner
        """The wrapped store."""
        self._lock = threading.Lock()
        self.injected: list[BaseException] = []
        """Every error injected so far, oldest first."""
        self._puts = _Schedule(self._lock, self.injected)
        self._reads = _Schedule(self._lock, self.injected)

    def fail_next_puts(
        self, count: int = 1, error: BaseException | None = None, *, skip: int = 0
    ) -> None:
        """Make the next ``count`` puts (after ``skip``) raise ``error`` (default
        StorageError) without storing anything: the disk is full, the bucket unreachable."""
        self._puts.add(count, error, lambda: StorageError("injected: raw store unavailable"), skip)

    def fail_next_reads(
        self, count: int = 1, error: BaseException | None = None, *, skip: int = 0
    ) -> None:
        """Make the next ``count`` reads (after ``skip``) raise ``error`` (default
        StorageError)."""
        self._reads.add(count, error, lambda: StorageError("injected: raw store unreadable"), skip)

    def clear(self) -> None:
        """Cancel every failure still scheduled."""
        self._puts.clear()
        self._reads.clear()

    @property
    def pending(self) -> int:
        """How many scheduled failures have not happened yet."""
        return self._puts.pending() + self._reads.pending()

    @property
    def steps(self) -> dict[str, int]:
        """How many puts (``"put"``) and reads (``"read"``) were attempted, failed or not."""
        with self._lock:
            return {"put": self._puts.taken, "read": self._reads.taken}

    @staticmethod
    def _check(schedule: _Schedule) -> None:
        error = schedule.take()
        if error is not None:
            raise error

    def put(self, data: bytes, envelope: Envelope | None = None) -> RawMessageId:
        self._check(self._puts)
        return self.inner.put(data, envelope)

    def get(self, raw_id: RawMessageId) -> bytes:
        self._check(self._reads)
        return self.inner.get(raw_id)

    def contains(self, raw_id: RawMessageId) -> bool:
        self._check(self._reads)
        return self.inner.contains(raw_id)

    def received(
        self,
        *,
        before: datetime,
        since: datetime | None = None,
        after: RawMessageId | None = None,
        limit: int = 100,
    ) -> tuple[StoredRawMessage, ...]:
        self._check(self._reads)
        return self.inner.received(before=before, since=since, after=after, limit=limit)
