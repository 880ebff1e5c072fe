"""Fakes of every port, for hosts' tests and for trying inboxcore out.

They are deterministic (ids count up, the clock moves only when told), inspectable
(``transport.sent``, ``events.events``, ``storage.records(Conversation)``, ``dns.calls``) and can
inject failures (``storage.fail_next_commits()``, ``raw_store.fail_next_puts()``,
``dns.fail("slow.example", "TIMEOUT")``, ``transport.refuse_next(...)``). The in-memory storage
enforces the uniqueness rules a database would and is safe under threads; it passes the storage
contract suite in :mod:`inboxcore.testing.contracts`. :class:`FlakyStorage` wraps any storage
(SQL, a host's own) to inject the same failures there (commits, units, single statements), and
:class:`FlakyRawStore` any raw store (puts, reads). :class:`InMemoryDkimKeys` holds DKIM
keys made by :func:`generate_rsa_key` or :func:`generate_ed25519_key` and publishes their records
(:mod:`inboxcore.testing.keys`).
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
from inboxcore.testing.flaky import FlakyRawStore, FlakyStorage, FlakyUnitOfWork
from inboxcore.testing.keys import (
    GeneratedDkimKey,
    InMemoryDkimKeys,
    dkim_record,
    generate_ed25519_key,
    generate_rsa_key,
)
from inboxcore.testing.memory import InMemoryRawStore, InMemoryStorage, InMemoryUnitOfWork

__all__ = [
    "FakeClock",
    "FakeDirectory",
    "FakeSpamScorer",
    "FlakyRawStore",
    "FlakyStorage",
    "FlakyUnitOfWork",
    "GeneratedDkimKey",
    "InMemoryDkimKeys",
    "InMemoryDns",
    "InMemoryRawStore",
    "InMemoryStorage",
    "InMemoryUnitOfWork",
    "RecordingEventSink",
    "RecordingTransport",
    "SequentialIds",
    "dkim_record",
    "generate_ed25519_key",
    "generate_rsa_key",
]
