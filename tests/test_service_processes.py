"""Several worker processes running the whole inbox service on one batch, on one database.

Each worker is a separate ``spawn`` process (as on separate machines) with its own engine, its own
:class:`~inboxcore.app.service.InboxService` and the production id source (random ids), and runs
:meth:`InboxService.receive` on the same batch at the same time: customers' first messages,
replies that thread into them, a customer with two separate questions, colleagues of a customer,
and deliveries the forwarding mailbox made twice. Every worker gets every delivery, in its own
order (a thread's messages in their order, threads interleaved differently), so each message is
raced by all workers at once. Afterwards the database must hold exactly what one worker alone
would have made: one conversation per thread, one message per distinct delivery, one contact per
sender, one ticket per conversation, every raw message accepted once and a duplicate otherwise,
the events of each change emitted once, and the routing rotation still fair across the agents.

The storage-level version of this proof is tests/test_sql_concurrency.py; this one goes through
everything a message meets in production: intake, threading, contacts, routing and tickets.
"""

from __future__ import annotations

import multiprocessing
import queue
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

pytest.importorskip("sqlalchemy", reason="the SQL storage needs the sql extra")

from inboxcore.adapters.rawstore import DirectoryRawStore
from inboxcore.adapters.sql import SqlStorage
from inboxcore.adapters.system import RandomIds
from inboxcore.app.service import InboxConfig, InboxService
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.ids import AccountId, ChannelId, TeamId, UserId, raw_message_id
from inboxcore.domain.model import (
    Account,
    Channel,
    ChannelState,
    Contact,
    Conversation,
    Envelope,
    Message,
    RoutingMode,
    RoutingSettings,
    Team,
    Ticket,
    User,
)
from inboxcore.domain.outcomes import Disposition
from inboxcore.ports import RawMessageStore
from inboxcore.testing import FakeClock, FakeDirectory, RecordingEventSink
from tests.sql_support import seeded_database

pytestmark = pytest.mark.slow  # four spawned processes per backend: about 10 s each

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
ADDRESS = "support-7f3k@acme.inbox.example.net"
ACME = AccountId("acme")
CHANNEL = ChannelId("chan-1")
WORKERS = 4
AGENT_IDS = (UserId("u1"), UserId("u2"), UserId("u3"))


@attrs.frozen
class Delivery:
    """One delivery of a message to the channel; ``thread`` names the conversation it belongs to."""

    thread: int
    message_id: str
    raw: bytes


def _mail(sender: str, subject: str, message_id: str, refs: tuple[str, ...], body: str) -> bytes:
    threading = ""
    if refs:
        threading = (
            f"In-Reply-To: <{refs[-1]}>\r\nReferences: {' '.join(f'<{r}>' for r in refs)}\r\n"
        )
    return (
        f"From: {sender}\r\nTo: Acme Support <support@acme.example>\r\nSubject: {subject}\r\n"
        f"Date: Mon, 04 May 2026 09:00:00 +0200\r\nMessage-ID: <{message_id}>\r\n{threading}"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{body}\r\n"
    ).encode()


def _threads() -> list[list[Delivery]]:
    """14 threads from 11 senders at 9 organisations; 8 threads have replies (1 to 3)."""
    people = [
        ("Ada Lovelace", "ada@analytical.example"),
        ("Grace Hopper", "grace@cobol.example"),
        ("Alan Turing", "alan@bletchley.example"),
        ("Karl Becker", "k.becker@metallbau.example"),
        ("Mei Tanaka", "mei.tanaka@gmail.example"),
        ("Olu Adeyemi", "olu@lagos-logistics.example"),
        ("Ines Duarte", "ines@vinhos.example"),
        ("Sven Lund", "sven@fjord.example"),
        ("Priya Nair", "priya@spice.example"),
    ]
    colleagues = {
        0: ("Charles Babbage", "charles@analytical.example"),
        3: ("Jens", "jens@metallbau.example"),
    }
    topics = [
        "Invoice {n} lists 12 seats, we have 10",
        "Cannot log in since the update",
        "Delivery {n} is missing a pallet",
        "Please cancel order {n}",
        "Question about the API rate limit",
        "Refund for order {n}",
        "Change of billing address",
    ]
    threads: list[list[Delivery]] = []
    for n in range(14):
        person = n % len(people)  # Ada, Grace, Alan, Karl and Mei write twice, on other topics
        name, address = people[person]
        subject = topics[n % len(topics)].format(n=4000 + n)
        root = f"{n}.root.{address.split('@')[0]}@{address.split('@')[1]}"
        replies = n % 4 if n < 12 else 0  # 0, 1, 2 or 3 replies
        items = [
            Delivery(
                thread=n,
                message_id=root,
                raw=_mail(f"{name} <{address}>", subject, root, (), f"Hello, {subject.lower()}."),
            )
        ]
        refs = [root]
        for r in range(replies):
            writer = colleagues.get(person, (name, address)) if r == 1 else (name, address)
            mid = f"{n}.re{r}.{writer[1].split('@')[0]}@{writer[1].split('@')[1]}"
            body = f"Any news on this? (follow-up {r + 1})"
            items.append(
                Delivery(
                    thread=n,
                    message_id=mid,
                    raw=_mail(
                        f"{writer[0]} <{writer[1]}>", f"Re: {subject}", mid, tuple(refs), body
                    ),
                )
            )
            refs.append(mid)
        threads.append(items)
    return threads


def _deliveries_for(worker: int) -> list[Delivery]:
    """Every delivery, threads interleaved in the worker's own order, some delivered twice."""
    rng = random.Random(worker)
    pending = [list(t) for t in _threads()]
    order: list[Delivery] = []
    while any(pending):
        thread = rng.choice([t for t in pending if t])
        item = thread.pop(0)
        order.append(item)
        if item.thread % 3 == 0:  # the forwarding mailbox delivered these twice
            order.append(item)
    return order


def _directory() -> FakeDirectory:
    agents = [
        User(
            id=uid,
            account_id=ACME,
            email=EmailAddress.parse(f"agent{i}@acme.example"),
            first_name=f"Agent{i}",
        )
        for i, uid in enumerate(AGENT_IDS, 1)
    ]
    team = Team(id=TeamId("t1"), account_id=ACME, name="Tier 1", member_ids=AGENT_IDS[1:])
    return FakeDirectory(users=agents, teams=[team], available=AGENT_IDS)


def _raw_store(storage: SqlStorage, raw_dir: str) -> RawMessageStore:
    """SQLite with a directory store (one machine); PostgreSQL with the table store."""
    if storage.dialect == "sqlite":
        return DirectoryRawStore(raw_dir)
    return storage.raw_store()


def _worker(
    url: str, schema: str | None, raw_dir: str, worker: int, barrier: Any, results: Any
) -> None:
    """A worker process: build the service, wait for the others, receive every delivery."""
    try:
        storage = SqlStorage.from_url(url, schema=schema, migrate=False)
        events = RecordingEventSink()
        service = InboxService(
            storage=storage,
            raw_store=_raw_store(storage, raw_dir),
            clock=FakeClock(T0),
            ids=RandomIds(),
            directory=_directory(),
            events=events,
            config=InboxConfig(
                conversation_keys=(b"conversation-key-0123456789",),
                message_id_domain="acme.inbox.example.net",
            ),
        )
        envelope = Envelope(received_at=T0, mail_from="srs0=x@acme.example", rcpt_to=(ADDRESS,))
        deliveries = _deliveries_for(worker)
        barrier.wait(60)
        started = time.monotonic()
        outcomes = []
        for item in deliveries:
            delivery = service.receive(item.raw, envelope)
            outcomes.append(
                (
                    item.message_id,
                    delivery.disposition.value,
                    delivery.reason_codes,
                    delivery.conversation_id,
                )
            )
        elapsed = time.monotonic() - started
        storage.close()
        kinds = Counter(type(e).__name__ for e in events.events)
        results.put(("ok", worker, outcomes, dict(kinds), elapsed))
    except BaseException as exc:  # reported to the parent, which fails the test
        results.put(("error", worker, repr(exc), {}, 0.0))


def _run(url: str, schema: str | None, raw_dir: Path) -> list[tuple[Any, ...]]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    results = ctx.Queue()
    processes = [
        ctx.Process(target=_worker, args=(url, schema, str(raw_dir), worker, barrier, results))
        for worker in range(WORKERS)
    ]
    for process in processes:
        process.start()
    collected: list[tuple[Any, ...]] = []
    try:
        for _ in processes:
            collected.append(results.get(timeout=120))
    except queue.Empty:  # pragma: no cover - a hung worker fails the test
        pytest.fail(f"only {len(collected)} of {WORKERS} workers reported")
    finally:
        for process in processes:
            process.join(30)
            if process.is_alive():  # pragma: no cover
                process.terminate()
    assert [r for r in collected if r[0] == "error"] == []
    return sorted(collected, key=lambda r: r[1])


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str | None]]:
    """A migrated database holding the account and the connected channel: (url, schema)."""
    channel = Channel(
        id=CHANNEL,
        account_id=ACME,
        name="Support",
        forwarding_address=EmailAddress.parse(ADDRESS),
        created_at=T0 - timedelta(days=1),
        state=ChannelState.CONNECTED,
        mailbox_addresses=(EmailAddress.parse("support@acme.example"),),
        company_name="Acme Support",
        routing=RoutingSettings(
            mode=RoutingMode.USERS_AND_TEAMS,
            user_ids=(UserId("u1"),),
            team_ids=(TeamId("t1"),),
        ),
    )
    with seeded_database(
        request.param, tmp_path, Account(id=ACME, name="Acme", subdomain="acme"), channel
    ) as database:
        yield database


def test_workers_racing_through_the_service_file_everything_once(
    database: tuple[str, str | None], tmp_path: Path
) -> None:
    """Four processes, every delivery each: one conversation per thread, nothing lost or doubled."""
    url, schema = database
    raw_dir = tmp_path / "raw"
    reports = _run(url, schema, raw_dir)
    threads = _threads()
    distinct = [item for thread in threads for item in thread]
    thread_of = {item.message_id: item.thread for item in distinct}

    # Every delivery was answered; each distinct message accepted by exactly one worker.
    outcomes = [o for r in reports for o in r[2]]
    assert sum(len(_deliveries_for(w)) for w in range(WORKERS)) == len(outcomes)
    by_disposition = Counter(disposition for _mid, disposition, _codes, _cid in outcomes)
    assert set(by_disposition) <= {Disposition.ACCEPTED.value, Disposition.DUPLICATE.value}, (
        outcomes
    )
    accepted = sorted(mid for mid, disposition, _c, _cid in outcomes if disposition == "accepted")
    assert accepted == sorted(thread_of)

    storage = SqlStorage.from_url(url, schema=schema, migrate=False)
    try:
        messages = storage.records(Message)
        conversations = storage.records(Conversation)
        contacts = storage.records(Contact)
        tickets = storage.records(Ticket)
        log = storage.intake_records()
        raw_store = _raw_store(storage, str(raw_dir))

        # One message per distinct delivery, each with its raw bytes stored.
        assert sorted(m.rfc_message_id or "" for m in messages) == sorted(thread_of)
        raw_of = {item.message_id: raw_message_id(item.raw) for item in distinct}
        for m in messages:
            assert m.raw_id == raw_of[m.rfc_message_id or ""]
            assert raw_store.contains(m.raw_id)

        # One conversation per thread, holding exactly that thread's messages.
        conversation_of_thread: dict[int, set[str]] = defaultdict(set)
        for m in messages:
            conversation_of_thread[thread_of[m.rfc_message_id or ""]].add(m.conversation_id)
        assert all(len(ids) == 1 for ids in conversation_of_thread.values())
        assert len(conversations) == len(threads)
        assert {c.id for c in conversations} == {
            cid for ids in conversation_of_thread.values() for cid in ids
        }

        # One contact per customer (colleagues' replies join as themselves, not as new threads).
        senders = {m.sender.key for m in messages if m.sender is not None}
        assert sorted(c.email.key for c in contacts) == sorted(senders)
        assert len(tickets) == len(conversations)
        assert {t.conversation_id for t in tickets} == {c.id for c in conversations}

        # The intake log: per raw message one "accepted", the other deliveries "duplicate".
        per_raw = Counter((r.raw_id, r.disposition) for r in log)
        deliveries_per_raw = Counter(
            raw_message_id(item.raw) for w in range(WORKERS) for item in _deliveries_for(w)
        )
        for raw_id, count in deliveries_per_raw.items():
            assert per_raw[(raw_id, Disposition.ACCEPTED)] == 1
            assert per_raw[(raw_id, Disposition.DUPLICATE)] == count - 1
        assert {r.disposition for r in log} == {Disposition.ACCEPTED, Disposition.DUPLICATE}

        # Events of each change emitted once, by the worker whose unit committed it.
        emitted: Counter[str] = Counter()
        for r in reports:
            emitted.update(r[3])
        assert emitted["ConversationCreated"] == len(threads)
        assert emitted["TicketCreated"] == len(threads)
        assert emitted["MessageAppended"] == len(distinct)

        # The rotation stayed fair: users-and-teams over three available agents.
        per_agent = Counter(c.assignee_id for c in conversations)
        assert set(per_agent) == set(AGENT_IDS)
        assert max(per_agent.values()) - min(per_agent.values()) <= 1
    finally:
        storage.close()
