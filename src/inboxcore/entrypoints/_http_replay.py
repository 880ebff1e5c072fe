"""Mailgun tokens already answered, so that a captured POST cannot be played again: a piece of
:mod:`inboxcore.entrypoints.http_intake`."""

from __future__ import annotations

import collections
import threading
from datetime import datetime, timedelta
from typing import Protocol

__all__ = ["RecentTokens", "TokenLedger"]


class TokenLedger(Protocol):
    """Where the intake remembers the one-time tokens of signed POSTs it answered finally.

    The default, :class:`RecentTokens`, lives in the process; several web processes behind one
    URL share one ledger a host implements on its cache or database."""

    def seen(self, token: str) -> bool:
        """Whether ``token`` was remembered (and not yet forgotten as older than the window)."""
        ...

    def remember(self, token: str, at: datetime) -> None:
        """Keep ``token``, signed at ``at``, for as long as a POST signed then is fresh."""
        ...


class RecentTokens:
    """The tokens of the last ``max_age`` in memory, at most ``max_entries`` of them (the oldest
    go first): a POST older than ``max_age`` is refused as stale anyway, so a token need not be
    kept longer. Safe under threads."""

    def __init__(self, max_age: timedelta, max_entries: int = 100_000) -> None:
        self.max_age, self.max_entries = max_age, max_entries
        self._tokens: collections.OrderedDict[str, datetime] = collections.OrderedDict()
        self._lock = threading.Lock()

    def seen(self, token: str) -> bool:
        with self._lock:
            return token in self._tokens

    def remember(self, token: str, at: datetime) -> None:
        with self._lock:
            self._tokens[token] = at
            self._tokens.move_to_end(token)
            newest = at  # tokens arrive about in time order: the oldest sit first
            while self._tokens and (
                len(self._tokens) > self.max_entries
                or next(iter(self._tokens.values())) < newest - self.max_age
            ):
                self._tokens.popitem(last=False)
