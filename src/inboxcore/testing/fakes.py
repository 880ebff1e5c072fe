"""Deterministic, inspectable fakes of the non-storage ports."""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from inboxcore.domain.errors import InvalidValueError, PortError, TransportError
from inboxcore.domain.events import DomainEvent
from inboxcore.domain.ids import AccountId, TeamId, UserId
from inboxcore.domain.model import (
    Envelope,
    OutboundMail,
    SendResult,
    SendStatus,
    SpamScore,
    Team,
    User,
)

__all__ = [
    "FakeClock",
    "FakeDirectory",
    "FakeSpamScorer",
    "RecordingEventSink",
    "RecordingTransport",
    "SequentialIds",
]

E = TypeVar("E")

DEFAULT_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime = DEFAULT_START) -> None:
        self._check(start)
        self._now = start
        self._lock = threading.Lock()

    @staticmethod
    def _check(when: datetime) -> None:
        if when.tzinfo is None or when.utcoffset() != timedelta(0):
            raise InvalidValueError("FakeClock needs timezone-aware UTC datetimes")

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta`` and return the new time."""
        if delta < timedelta(0):
            raise InvalidValueError("time does not go backwards")
        with self._lock:
            self._now += delta
            return self._now

    def set(self, when: datetime) -> None:
        self._check(when)
        with self._lock:
            self._now = when


class SequentialIds:
    """Ids ``<kind>-1``, ``<kind>-2``, ... and seeded pseudo-random token bytes.

    Deterministic, so that runs under the fakes repeat exactly; never use it in production.
    """

    def __init__(self, seed: int = 0) -> None:
        self._counters: dict[str, itertools.count[int]] = {}
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def new_id(self, kind: str) -> str:
        with self._lock:
            counter = self._counters.setdefault(kind, itertools.count(1))
            return f"{kind}-{next(counter)}"

    def token_bytes(self, n: int) -> bytes:
        with self._lock:
            return self._random.randbytes(n)


class RecordingTransport:
    """Keeps every message handed to it in :attr:`sent`; refusals and failures can be scripted."""

    def __init__(self) -> None:
        self.sent: list[OutboundMail] = []
        self._script: list[SendResult | BaseException] = []
        self._lock = threading.Lock()

    def refuse_next(self, result: SendResult) -> None:
        """Answer the next send with ``result`` (a temporary or permanent failure)."""
        with self._lock:
            self._script.append(result)

    def break_next(self, error: BaseException | None = None) -> None:
        """Make the next send raise (default :class:`TransportError`: outcome unknown)."""
        with self._lock:
            self._script.append(error or TransportError("injected transport failure"))

    def send(self, mail: OutboundMail) -> SendResult:
        with self._lock:
            scripted = self._script.pop(0) if self._script else None
            if isinstance(scripted, BaseException):
                raise scripted
            if scripted is not None:
                return scripted
            self.sent.append(mail)
            return SendResult(status=SendStatus.ACCEPTED, smtp_code=250, detail="queued")


class FakeDirectory:
    """Users, teams and presence, held in memory."""

    def __init__(
        self,
        users: Iterable[User] = (),
        teams: Iterable[Team] = (),
        available: Iterable[UserId] = (),
    ) -> None:
        self._users: dict[UserId, User] = {}
        self._teams: dict[TeamId, Team] = {}
        self._available: set[UserId] = set(available)
        self._lock = threading.Lock()
        for user in users:
            self.add_user(user)
        for team in teams:
            self.add_team(team)

    def add_user(self, user: User, *, available: bool | None = None) -> None:
        with self._lock:
            self._users[user.id] = user
            if available is not None:
                (self._available.add if available else self._available.discard)(user.id)

    def add_team(self, team: Team) -> None:
        with self._lock:
            self._teams[team.id] = team

    def set_available(self, user_id: UserId, available: bool = True) -> None:
        with self._lock:
            (self._available.add if available else self._available.discard)(user_id)

    def user(self, user_id: UserId) -> User | None:
        with self._lock:
            return self._users.get(user_id)

    def user_by_email(self, account_id: AccountId, email_key: str) -> User | None:
        key = email_key.lower()
        with self._lock:
            for user in self._users.values():
                if user.account_id == account_id and user.email.key == key:
                    return user
        return None

    def users(self, account_id: AccountId) -> tuple[User, ...]:
        with self._lock:
            return tuple(u for u in self._users.values() if u.account_id == account_id)

    def team(self, team_id: TeamId) -> Team | None:
        with self._lock:
            return self._teams.get(team_id)

    def is_available(self, user_id: UserId) -> bool:
        with self._lock:
            user = self._users.get(user_id)
            return user is not None and user.active and user_id in self._available


class RecordingEventSink:
    """Keeps every event in :attr:`events`."""

    def __init__(self) -> None:
        self.events: list[DomainEvent] = []
        self._lock = threading.Lock()

    def emit(self, event: DomainEvent) -> None:
        with self._lock:
            self.events.append(event)

    def of_type(self, kind: type[E]) -> list[E]:
        """The events of one class, in order."""
        with self._lock:
            return [e for e in self.events if isinstance(e, kind)]


class FakeSpamScorer:
    """Scores by a substring found in the raw message, else ``default``; can be made to fail."""

    def __init__(self, default: float = 0.0, rules: Iterable[tuple[bytes, float]] = ()) -> None:
        self.default = default
        self.rules = list(rules)
        self.calls: list[Envelope] = []
        self._failing = False

    def fail(self, failing: bool = True) -> None:
        """Make the scorer unavailable (it raises PortError) until called with False."""
        self._failing = failing

    def score(self, raw: bytes, envelope: Envelope) -> SpamScore:
        self.calls.append(envelope)
        if self._failing:
            raise PortError("spam scorer unavailable (injected)")
        for needle, value in self.rules:
            if needle in raw:
                return SpamScore(score=value, detail=f"rule {needle!r}", scorer="fake")
        return SpamScore(score=self.default, detail="default", scorer="fake")
