"""SQLite writers take turns on a file lock beside the database, not in SQLite's busy handler.

SQLite has one writer at a time. A unit of work that finds the write lock taken waits in the
busy handler, which sleeps 1, 2, 5, 10, 15, 20, 25 ... up to 100 ms between tries: with several
workers, a waiter often sleeps on long after the lock was freed, and more workers were measured
slower than one (``docs/performance.md``). So a unit first takes its turn here: an exclusive
``flock`` on ``<database>-writer.lock``, tried every 0.1 to 1 ms, and only then ``BEGIN
IMMEDIATE`` (which then finds the database free unless another program writes). The turn is
given back when the unit ends, after its COMMIT or rollback, or when the process dies (the
kernel drops the lock). Waiting is bounded by the engine's busy timeout, as before: a unit that
gets no turn in time fails with :class:`~inboxcore.domain.errors.StorageError`, which intake
answers with a temporary failure.

Where ``fcntl`` does not exist (Windows) there are no turns and SQLite's busy handler alone
serializes writers, as before.
"""

from __future__ import annotations

import contextlib
import os
import time

from inboxcore.domain.errors import StorageError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["WriterTurn", "WriterTurns"]

_FIRST_PAUSE = 0.0001
_LONGEST_PAUSE = 0.001


class WriterTurn:
    """One unit's turn to write; :meth:`end` gives it back (also done if it is dropped)."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    def end(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.close(fd)  # closing the file drops its lock

    def __del__(self) -> None:
        self.end()


class WriterTurns:
    """The turns of one SQLite database file, shared by every process that opens it here."""

    def __init__(self, database: str, timeout: float) -> None:
        self.path = os.path.abspath(database) + "-writer.lock"
        self.timeout = timeout

    @staticmethod
    def available() -> bool:
        return fcntl is not None

    def take(self) -> WriterTurn:
        """Wait for the turn (at most the busy timeout); raises StorageError if none came."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StorageError(f"storage unavailable: cannot open {self.path}: {exc}") from exc
        turn = WriterTurn(fd)
        deadline = time.monotonic() + self.timeout
        pause = _FIRST_PAUSE
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return turn
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    turn.end()
                    raise StorageError(
                        f"database is locked: no turn to write within {self.timeout:g} s"
                    ) from None
                time.sleep(pause)
                pause = min(pause * 2, _LONGEST_PAUSE)
            except OSError as exc:
                turn.end()
                raise StorageError(f"storage unavailable: cannot lock {self.path}: {exc}") from exc
