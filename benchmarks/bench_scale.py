"""Per-message cost as the inbox grows: a realistic load on a pre-filled inbox.

The inbox is pre-filled with N messages (``--fill``, default 10^3, 10^4, 10^5) from customers
whose message counts follow a Zipf law (a few write every day, most once), grouped into
conversations of a few messages each over the last 90 days, with their tickets. Then
``--messages`` new ones (default 300) arrive through :meth:`InboxService.receive`, drawn from the
same customers: 30% replies threading by In-Reply-To/References, 10% replies by subject alone
(``Re: <subject>``, no headers), 60% new questions. Small helpdesk mail (about 3 KB), offline:
what is measured is the storage path, not DKIM.

For each fill level and backend (the in-memory fakes, SQLite with the table raw store as
``build_inbox`` sets it up, or the directory raw store with ``--sqlite-raw directory``, and
PostgreSQL with the table raw store when ``--postgres``/``INBOXCORE_TEST_POSTGRES`` names one):
the new messages' rate, p50/p95/p99 latency, and SQL statements per message; then each backend's
cost at the largest fill over its cost at the smallest (the flatness target: at most 1.3x at
10^5, 1.5x at 10^6). The pre-fill bypasses the service (rows go in bulk through the adapter's own
column mapping), so 10^6 takes minutes, not hours.

Run: ``python benchmarks/bench_scale.py [--fill 1000,10000,100000] [--messages 300]``. Figures
in ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from inboxcore.adapters.rawstore import DirectoryRawStore
from inboxcore.adapters.sql import SqlStorage, make_engine
from inboxcore.adapters.sql import _tables as t
from inboxcore.adapters.sql.storage import _Contacts, _Conversations, _Messages, _Tickets
from inboxcore.adapters.system import RandomIds
from inboxcore.app.service import InboxConfig, InboxService
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.ids import (
    AccountId,
    ChannelId,
    ContactId,
    ConversationId,
    MessageId,
    TicketId,
)
from inboxcore.domain.model import (
    Account,
    Channel,
    ChannelState,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    Envelope,
    Message,
    MessageKind,
    Ticket,
    default_dedup_key,
)
from inboxcore.domain.outcomes import Disposition
from inboxcore.ports import RawMessageStore, Storage
from inboxcore.testing import (
    FakeClock,
    FakeDirectory,
    InMemoryRawStore,
    InMemoryStorage,
    RecordingEventSink,
)

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
ADDRESS = "support-7f3k@acme.inbox.example.net"
ACME = AccountId("acme")
CHANNEL = ChannelId("chan-1")
ENVELOPE = Envelope(received_at=NOW, mail_from="srs0=x@helpdesk.example", rcpt_to=(ADDRESS,))
PER_CONVERSATION = 3
BODY = "Hello team,\n\nthe order still has not arrived and the tracking page says nothing. " * 30


# --- the customers and the pre-filled inbox ------------------------------------------------------


def zipf_counts(total: int, rng: random.Random) -> list[int]:
    """Messages per customer: a Zipf law (s = 1.1) over total / 5 customers, summing to total."""
    customers = max(1, total // 5)
    weights = [1 / (rank**1.1) for rank in range(1, customers + 1)]
    scale = total / sum(weights)
    counts = [max(1, round(w * scale)) for w in weights]
    while sum(counts) > total:
        counts[counts.index(max(counts))] -= 1
    counts[0] += total - sum(counts)
    return counts


def customer(n: int) -> EmailAddress:
    return EmailAddress.parse(f"Customer {n} <c{n}@shop{n % 997}.example>")


class Fill:
    """The records of a pre-filled inbox, built in order, and the threads new mail can join."""

    def __init__(self, total: int, rng: random.Random) -> None:
        self.contacts: list[Contact] = []
        self.conversations: list[Conversation] = []
        self.messages: list[Message] = []
        self.tickets: list[Ticket] = []
        self.threads: dict[int, list[tuple[str, str]]] = {}
        """Per customer: (subject, last Message-ID) of conversations in the subject window."""
        for n, count in enumerate(zipf_counts(total, rng)):
            self._customer(n, count, rng)

    def _customer(self, n: int, count: int, rng: random.Random) -> None:
        contact = Contact(
            id=ContactId(f"ct-{n}"),
            account_id=ACME,
            email=customer(n),
            created_at=NOW - timedelta(days=90),
        )
        self.contacts.append(contact)
        for first in range(0, count, PER_CONVERSATION):
            size = min(PER_CONVERSATION, count - first)
            self._conversation(contact, n, len(self.conversations), size, rng)

    def _conversation(
        self, contact: Contact, n: int, number: int, size: int, rng: random.Random
    ) -> None:
        at = NOW - timedelta(minutes=rng.randrange(1, 90 * 24 * 60))
        subject = f"Order {number} from customer {n}"
        conversation = Conversation(
            id=ConversationId(f"cv-{number}"),
            account_id=ACME,
            channel_id=CHANNEL,
            contact_id=contact.id,
            subject=subject,
            created_at=at,
            last_message_at=at + timedelta(minutes=size),
            status=ConversationStatus.CLOSED if rng.random() < 0.7 else ConversationStatus.OPEN,
        )
        self.conversations.append(conversation)
        self.tickets.append(
            Ticket(
                id=TicketId(f"tk-{number}"),
                account_id=ACME,
                channel_id=CHANNEL,
                conversation_id=conversation.id,
                name=subject,
                created_at=at,
                updated_at=at,
            )
        )
        mid = ""
        for k in range(size):
            mid = f"s{number}.{k}@shop{n % 997}.example"
            self.messages.append(
                Message(
                    id=MessageId(f"ms-{number}-{k}"),
                    account_id=ACME,
                    channel_id=CHANNEL,
                    conversation_id=conversation.id,
                    direction=Direction.INBOUND,
                    kind=MessageKind.MESSAGE,
                    fingerprint=f"fp-{number}-{k}",
                    received_at=at + timedelta(minutes=k),
                    rfc_message_id=mid,
                    sender=contact.email,
                    subject=subject,
                )
            )
        if NOW - conversation.last_message_at < timedelta(days=7):
            self.threads.setdefault(n, []).append((subject, mid))


def channel() -> Channel:
    return Channel(
        id=CHANNEL,
        account_id=ACME,
        name="Support",
        forwarding_address=EmailAddress.parse(ADDRESS),
        created_at=NOW - timedelta(days=365),
        state=ChannelState.CONNECTED,
        company_name="Acme Support",
    )


def seed_memory(fill: Fill) -> InMemoryStorage:
    storage = InMemoryStorage()
    with storage.unit_of_work() as uow:
        uow.accounts.add(Account(id=ACME, name="Acme", subdomain="acme"))
        uow.channels.add(channel())
        for contact in fill.contacts:
            uow.contacts.add(contact)
        for conversation in fill.conversations:
            uow.conversations.add(conversation)
        for ticket in fill.tickets:
            uow.tickets.add(ticket)
        for message in fill.messages:
            uow.messages.add(message)
        uow.commit()
    return storage


def _message_row(message: Message) -> dict[str, Any]:
    row = _Messages._values(message)
    row["dedup_key"] = default_dedup_key(message.rfc_message_id, message.fingerprint)
    return row


def seed_sql(storage: SqlStorage, fill: Fill) -> None:
    """The pre-fill in bulk, through the adapter's own column mapping, in large batches."""
    with storage.unit_of_work() as uow:
        uow.accounts.add(Account(id=ACME, name="Acme", subdomain="acme"))
        uow.channels.add(channel())
        uow.commit()
    batches = (
        (t.CONTACTS, [_Contacts._values(c) for c in fill.contacts]),
        (t.CONVERSATIONS, [_Conversations._values(c) for c in fill.conversations]),
        (t.TICKETS, [_Tickets._values(k) for k in fill.tickets]),
        (t.MESSAGES, [_message_row(m) for m in fill.messages]),
    )
    with storage.engine.begin() as connection:
        for table, rows in batches:
            for start in range(0, len(rows), 5000):
                connection.execute(sa.insert(table), rows[start : start + 5000])


# --- the new mail --------------------------------------------------------------------------------


def new_mail(fill: Fill, count: int, rng: random.Random) -> list[bytes]:
    """30% replies by References, 10% by subject alone, 60% new questions, Zipf customers."""
    weights = [1 / (rank**1.1) for rank in range(1, len(fill.contacts) + 1)]
    who = rng.choices(range(len(fill.contacts)), weights=weights, k=count)
    mail = []
    for k, n in enumerate(who):
        threads = fill.threads.get(n)
        roll = rng.random()
        extra = ""
        subject = f"New question {k} about an order"
        if threads and roll < 0.3:
            subject, mid = rng.choice(threads)
            subject, extra = f"Re: {subject}", f"In-Reply-To: <{mid}>\r\nReferences: <{mid}>\r\n"
        elif threads and roll < 0.4:
            subject = f"Re: {rng.choice(threads)[0]}"
        mail.append(
            (
                f"From: {customer(n)}\r\nTo: support@acme.example\r\nSubject: {subject}\r\n"
                f"Date: Sun, 29 Nov 2026 08:{k % 60:02d}:00 +0000\r\n"
                f"Message-ID: <new{k}.{uuid.uuid4().hex[:8]}@shop{n % 997}.example>\r\n{extra}"
                f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{BODY}\r\n"
            ).encode()
        )
    return mail


def service(storage: Storage, raw_store: RawMessageStore) -> InboxService:
    return InboxService(
        storage=storage,
        raw_store=raw_store,
        clock=FakeClock(NOW),
        ids=RandomIds(),
        directory=FakeDirectory(),
        events=RecordingEventSink(),
        config=InboxConfig(
            conversation_keys=(b"bench-conversation-key-0123456789",),
            message_id_domain="acme.inbox.example.net",
        ),
    )


def measure(svc: InboxService, mail: list[bytes]) -> list[float]:
    """Seconds per message, each accepted (or the run is wrong)."""
    latencies = []
    for raw in mail:
        started = time.perf_counter()
        delivery = svc.receive(raw, ENVELOPE)
        latencies.append(time.perf_counter() - started)
        if delivery.disposition is not Disposition.ACCEPTED:
            raise RuntimeError(f"not accepted: {delivery.reason_codes}")
    return latencies


# --- the backends --------------------------------------------------------------------------------


@contextlib.contextmanager
def sql_backend(
    kind: str, postgres: str | None, sqlite_raw: str = "table"
) -> Iterator[tuple[SqlStorage, RawMessageStore]]:
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as folder:
        if kind == "sqlite":
            storage = SqlStorage.from_url(f"sqlite:///{folder}/inbox.db")
            raw: RawMessageStore = (
                DirectoryRawStore(os.path.join(folder, "raw"))
                if sqlite_raw == "directory"
                else storage.raw_store()
            )
            schema = None
        else:
            assert postgres is not None
            schema = f"bench_{uuid.uuid4().hex[:12]}"
            storage = SqlStorage.from_url(postgres, schema=schema)
            raw = storage.raw_store()
        try:
            yield storage, raw
        finally:
            storage.close()
            if schema is not None:
                engine = make_engine(postgres or "", pool_size=1)
                with engine.begin() as connection:
                    connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                engine.dispose()


def run_sql(
    kind: str, postgres: str | None, fill: Fill, mail: list[bytes], sqlite_raw: str = "table"
) -> tuple[list[float], float]:
    with sql_backend(kind, postgres, sqlite_raw) as (storage, raw):
        seed_sql(storage, fill)
        statements = [0]

        def count(*_: Any) -> None:
            statements[0] += 1

        sa.event.listen(storage.engine, "before_cursor_execute", count)
        svc = service(storage, raw)
        measure(svc, mail[:5])  # warm-up: caches, first folders
        statements[0] = 0
        latencies = measure(svc, mail[5:])
        return latencies, statements[0] / len(latencies)


def row(name: str, latencies: list[float], statements: float | None) -> tuple[str, float]:
    ms = sorted(x * 1000 for x in latencies)
    q = statistics.quantiles(ms, n=100)
    rate = len(ms) / (sum(ms) / 1000)
    per = f"{statements:5.1f}" if statements is not None else "    -"
    print(f"  {name:<10} {rate:8.0f} {q[49]:8.2f} {q[94]:8.2f} {q[98]:8.2f}   {per}")
    return name, statistics.mean(ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fill", default="1000,10000,100000", help="messages pre-filled")
    parser.add_argument("--messages", type=int, default=300, help="new messages per run")
    parser.add_argument("--postgres", default=os.environ.get("INBOXCORE_TEST_POSTGRES"))
    parser.add_argument("--no-memory", action="store_true", help="skip the in-memory fakes")
    parser.add_argument("--sqlite-raw", default="table", help="table (default) or directory")
    args = parser.parse_args()
    fills = [int(x) for x in args.fill.split(",")]
    backends = ["sqlite"] + (["postgres"] if args.postgres else [])
    print(f"{args.messages} new messages per run; {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    means: dict[str, list[float]] = {}
    for total in fills:
        rng = random.Random(total)
        started = time.perf_counter()
        fill = Fill(total, rng)
        mail = new_mail(fill, args.messages + 5, rng)
        built = time.perf_counter() - started
        print(
            f"\nfill {total:,} messages ({len(fill.contacts):,} customers, "
            f"{len(fill.conversations):,} conversations; built in {built:.0f} s)"
        )
        print(f"  {'backend':<10} {'msg/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}   stmts")
        if not args.no_memory:
            svc = service(seed_memory(fill), InMemoryRawStore())
            measure(svc, mail[:5])
            name, mean = row("memory", measure(svc, mail[5:]), None)
            means.setdefault(name, []).append(mean)
        for kind in backends:
            latencies, statements = run_sql(kind, args.postgres, fill, mail, args.sqlite_raw)
            name, mean = row(kind, latencies, statements)
            means.setdefault(name, []).append(mean)
    if len(fills) > 1:
        print(f"\ncost at {fills[-1]:,} over cost at {fills[0]:,}:")
        for name, values in means.items():
            print(f"  {name:<10} {values[-1] / values[0]:.2f}x")


if __name__ == "__main__":
    main()
