"""The production clock and id source: the system clock and :mod:`secrets`.

Hosts with their own ids (database sequences, UUIDs, prefixed ids) implement
:class:`~inboxcore.ports.IdSource` themselves; these are the ones the ``inboxcore`` command uses,
and a sensible default for any host.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType

__all__ = ["DEFAULT_ID_PREFIXES", "RandomIds", "SystemClock"]

DEFAULT_ID_PREFIXES: Mapping[str, str] = MappingProxyType(
    {
        "account": "acct",
        "channel": "ch",
        "contact": "ct",
        "conversation": "cv",
        "message": "msg",
        "team": "team",
        "ticket": "tk",
        "user": "u",
    }
)
"""Short prefixes that make an id say what it names (``cv-k3v9q2m7xd`` is a conversation)."""


class SystemClock:
    """The :class:`~inboxcore.ports.Clock` port on the system clock (timezone-aware UTC)."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class RandomIds:
    """The :class:`~inboxcore.ports.IdSource` port on :mod:`secrets`.

    Ids are short enough to type: a kind prefix and 50 random bits in lowercase base32
    (``cv-k3v9q2m7xd``); at 50 bits, a billion ids of one kind collide with odds below one in
    two thousand, and the storage's uniqueness of ids turns that into a retry, never a merge.
    """

    def __init__(self, prefixes: Mapping[str, str] = DEFAULT_ID_PREFIXES) -> None:
        self.prefixes = prefixes

    def new_id(self, kind: str) -> str:
        prefix = self.prefixes.get(kind, kind)
        token = base64.b32encode(secrets.token_bytes(7)).decode("ascii")[:10].lower()
        return f"{prefix}-{token}"

    def token_bytes(self, n: int) -> bytes:
        return secrets.token_bytes(n)
