"""Fakes of every port, for hosts' tests and for trying inboxcore out.

They are deterministic (ids count up, the clock moves only when told), inspectable
(``transport.sent``, ``events.events``, ``storage.records(Conversation)``, ``dns.calls``) and can
inject failures (``storage.fail_next_commits()``, ``raw_store.fail_next_puts()``,
``dns.fail("slow.example", "TIMEOUT")``, ``transport.refuse_next(...)``). The in-memory storage
enforces the uniqueness rules a database would and is safe under threads; it passes the storage
contract suite in :mod:`inboxcore.testing.contracts`. :class:`FlakyStorage` wraps any storage
(SQL, a host's own) to inject the same commit failures there.
"""

from inboxcore.adapters.dns_static import StaticResolver as InMemoryDns
from inboxcore.testing.fakes import (
    FakeClock,
    FakeDirectory,
    FakeSpamScorer,
    RecordingEventSink,
    RecordingTransport,
    SequentialIds,
)
from inboxcore.testing.flaky import FlakyStorage, FlakyUnitOfWork
from inboxcore.testing.memory import InMemoryRawStore, InMemoryStorage, InMemoryUnitOfWork

__all__ = [
    "FakeClock",
    "FakeDirectory",
    "FakeSpamScorer",
    "FlakyStorage",
    "FlakyUnitOfWork",
    "InMemoryDns",
    "InMemoryRawStore",
    "InMemoryStorage",
    "InMemoryUnitOfWork",
    "RecordingEventSink",
    "RecordingTransport",
    "SequentialIds",
]
