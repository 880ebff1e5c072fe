"""Several worker processes on one database: exactly once, nothing lost, no turn lost.

Each worker is a separate process (``spawn``, as on separate machines) with its own engine. They
ingest the same batch of incoming mail at once, in different orders and with duplicates inside
the batch, retrying a unit of work whenever it raises ConflictError, the way the service does.
The storage-level rules must then hold: one message per Message-ID, one conversation per
message, one contact per sender, and a routing rotation that counted every new conversation.
"""

from __future__ import annotations

import multiprocessing
import queue
import random
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

pytest.importorskip("sqlalchemy", reason="the SQL storage needs the sql extra")

from inboxcore.adapters.sql import MIGRATIONS, SqlStorage
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import ConflictError, DuplicateMessage, DuplicateRecord
from inboxcore.domain.ids import AccountId, ChannelId, ContactId, ConversationId, MessageId, UserId
from inboxcore.domain.model import (
    Account,
    Channel,
    Contact,
    Conversation,
    Direction,
    Message,
    MessageKind,
    RotationState,
)
from tests.sql_support import postgres_url, seeded_database, throwaway_schema

pytestmark = pytest.mark.slow

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ACCOUNT = AccountId("acct-1")
CHANNEL = ChannelId("chan-1")
WORKERS = 4
MAX_ATTEMPTS = 100


@attrs.frozen
class Incoming:
    """One delivery of a message to the channel (the same message may be delivered twice)."""

    message_id: str
    sender: str
    subject: str


def _batch() -> list[Incoming]:
    senders = [f"customer{n}@example.{'com' if n % 2 else 'org'}" for n in range(12)]
    distinct = [
        Incoming(
            message_id=f"{1000 + n}.{n * 7}@mail.example.com",
            sender=senders[n % len(senders)],
            subject=f"Order #{4000 + n}: where is my parcel?",
        )
        for n in range(40)
    ]
    # The forwarding mailbox delivered some of them twice.
    return distinct + distinct[::4]


def _ingest(storage: SqlStorage, worker: int, n: int, item: Incoming) -> tuple[str, list[str]]:
    """File one delivery the way intake does; returns the outcome and the conflicts retried."""
    conflicts: list[str] = []
    for _attempt in range(MAX_ATTEMPTS):
        try:
            with storage.unit_of_work() as uow:
                if uow.messages.by_dedup_key(CHANNEL, f"mid:{item.message_id}") is not None:
                    return "duplicate", conflicts
                sender = EmailAddress.parse(item.sender)
                contact = uow.contacts.by_email(ACCOUNT, sender.key)
                if contact is None:
                    contact = Contact(
                        id=ContactId(f"contact-w{worker}-{n}"),
                        account_id=ACCOUNT,
                        email=sender,
                        created_at=T0,
                    )
                    uow.contacts.add(contact)
                conversation_id = ConversationId(f"conv-w{worker}-{n}")
                # The message first: a second delivery stops here, before it queues for the
                # rotation (taking the row lock early would make duplicates wait in line).
                uow.messages.add(
                    Message(
                        id=MessageId(f"msg-w{worker}-{n}"),
                        account_id=ACCOUNT,
                        channel_id=CHANNEL,
                        conversation_id=conversation_id,
                        direction=Direction.INBOUND,
                        kind=MessageKind.MESSAGE,
                        fingerprint=f"fp-{item.message_id}",
                        received_at=T0 + timedelta(seconds=n),
                        rfc_message_id=item.message_id,
                        sender=sender,
                        subject=item.subject,
                    )
                )
                state = uow.routing.rotation(CHANNEL) or RotationState(channel_id=CHANNEL)
                agent = UserId(f"agent-{state.assigned_count % 3}")
                uow.conversations.add(
                    Conversation(
                        id=conversation_id,
                        account_id=ACCOUNT,
                        channel_id=CHANNEL,
                        contact_id=contact.id,
                        subject=item.subject,
                        created_at=T0,
                        last_message_at=T0,
                        assignee_id=agent,
                    )
                )
                uow.routing.save_rotation(
                    attrs.evolve(
                        state,
                        assigned_count=state.assigned_count + 1,
                        last_user_id=agent,
                        at=T0,
                    )
                )
                uow.commit()
                return "accepted", conflicts
        except ConflictError as exc:
            conflicts.append(type(exc).__name__)
    return "gave up", conflicts


def _ingest_worker(
    url: str,
    schema: str | None,
    worker: int,
    barrier: Any,
    results: Any,
) -> None:
    """A worker process: wait for the others, then ingest the whole batch in its own order."""
    try:
        storage = SqlStorage.from_url(url, schema=schema, migrate=False)
        items = list(enumerate(_batch()))
        random.Random(worker).shuffle(items)
        barrier.wait(60)
        outcomes: list[tuple[str, str]] = []
        conflicts: list[str] = []
        for n, item in items:
            outcome, retried = _ingest(storage, worker, n, item)
            outcomes.append((item.message_id, outcome))
            conflicts.extend(retried)
        storage.close()
        results.put(("ok", worker, outcomes, conflicts))
    except BaseException as exc:  # reported to the parent, which fails the test
        results.put(("error", worker, repr(exc), []))


def _rotation_worker(
    url: str, schema: str | None, worker: int, barrier: Any, results: Any, turns: int
) -> None:
    """A worker process taking ``turns`` turns of the rotation, each in its own unit of work."""
    try:
        storage = SqlStorage.from_url(url, schema=schema, migrate=False)
        barrier.wait(60)
        conflicts: list[str] = []
        taken = 0
        while taken < turns:
            try:
                with storage.unit_of_work() as uow:
                    state = uow.routing.rotation(CHANNEL) or RotationState(channel_id=CHANNEL)
                    uow.routing.save_rotation(
                        attrs.evolve(
                            state,
                            assigned_count=state.assigned_count + 1,
                            last_user_id=UserId(f"agent-of-worker-{worker}"),
                        )
                    )
                    uow.commit()
                taken += 1
            except ConflictError as exc:
                conflicts.append(type(exc).__name__)
        storage.close()
        results.put(("ok", worker, taken, conflicts))
    except BaseException as exc:  # reported to the parent, which fails the test
        results.put(("error", worker, repr(exc), []))


def _startup_worker(url: str, schema: str | None, worker: int, barrier: Any, results: Any) -> None:
    """A worker process starting on a database nobody has set up yet."""
    try:
        from inboxcore.adapters.sql import make_engine, migrate

        barrier.wait(60)
        engine = make_engine(url, schema=schema)
        applied = migrate(engine, schema=schema)
        with engine.connect() as connection:
            mode = "n/a"
            if engine.dialect.name == "sqlite":
                mode = str(connection.exec_driver_sql("PRAGMA journal_mode").scalar())
        engine.dispose()
        results.put(("ok", worker, applied, mode))
    except BaseException as exc:  # reported to the parent, which fails the test
        results.put(("error", worker, repr(exc), ""))


def _run_workers(target: Any, url: str, schema: str | None, *extra: Any) -> list[tuple[Any, ...]]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    results = ctx.Queue()
    processes = [
        ctx.Process(target=target, args=(url, schema, worker, barrier, results, *extra))
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
    errors = [r for r in collected if r[0] == "error"]
    assert errors == []
    return sorted(collected, key=lambda r: r[1])


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str | None]]:
    """A migrated database with one account and one channel: (url, schema)."""
    channel = Channel(
        id=CHANNEL,
        account_id=ACCOUNT,
        name="Support",
        forwarding_address=EmailAddress.parse("support@acme.inbox.example"),
        created_at=T0,
        company_name="Acme Support",
    )
    with seeded_database(
        request.param, tmp_path, Account(id=ACCOUNT, name="Acme", subdomain="acme"), channel
    ) as database:
        yield database


def test_workers_ingesting_one_batch_file_each_message_once(
    database: tuple[str, str | None],
) -> None:
    """Processes racing on the same deliveries: one message, conversation and contact each."""
    url, schema = database
    reports = _run_workers(_ingest_worker, url, schema)
    batch = _batch()
    distinct_ids = {item.message_id for item in batch}

    outcomes = Counter(outcome for r in reports for _mid, outcome in r[2])
    assert outcomes["gave up"] == 0
    assert sum(outcomes.values()) == WORKERS * len(batch)  # every delivery got an answer
    assert outcomes["accepted"] == len(distinct_ids)  # across all workers, once per message
    accepted_ids = [mid for r in reports for mid, outcome in r[2] if outcome == "accepted"]
    assert sorted(accepted_ids) == sorted(distinct_ids)

    # Only uniqueness clashes are ever retried: writers queue, they do not fail on locks.
    retried = Counter(name for r in reports for name in r[3])
    assert set(retried) <= {
        DuplicateMessage.__name__,
        DuplicateRecord.__name__,
        ConflictError.__name__,  # PostgreSQL deadlock between two inserts, detected and retried
    }
    if url.startswith("sqlite"):
        assert ConflictError.__name__ not in retried

    storage = SqlStorage.from_url(url, schema=schema, migrate=False)
    try:
        with storage.unit_of_work() as uow:
            stored = uow.messages.by_rfc_message_ids(CHANNEL, sorted(distinct_ids))
            assert len(stored) == len(distinct_ids)
            conversations = uow.conversations.for_channel(CHANNEL)
            assert len(conversations) == len(distinct_ids)
            assert {m.conversation_id for m in stored} == {c.id for c in conversations}
            for conversation in conversations:
                assert len(uow.messages.for_conversation(conversation.id)) == 1
            senders = {item.sender for item in batch}
            contacts = [uow.contacts.by_email(ACCOUNT, s) for s in senders]
            assert all(c is not None for c in contacts)
            assert {c.id for c in conversations} == {m.conversation_id for m in stored}
            assert {c.contact_id for c in conversations} <= {c.id for c in contacts if c}
            rotation = uow.routing.rotation(CHANNEL)
            assert rotation is not None
            assert rotation.assigned_count == len(distinct_ids)
            # The rotation handed out agents in strict turn: 0, 1, 2, 0, 1, 2, ...
            per_agent = Counter(c.assignee_id for c in conversations)
            assert max(per_agent.values()) - min(per_agent.values()) <= 1
    finally:
        storage.close()


def test_rotation_turns_queue_across_processes(database: tuple[str, str | None]) -> None:
    """Processes taking turns at once never lose one, and never need a retry to do it."""
    url, schema = database
    turns = 25
    reports = _run_workers(_rotation_worker, url, schema, turns)
    assert [r[2] for r in reports] == [turns] * WORKERS
    # The row lock (FOR UPDATE / SQLite's write lock) makes them wait, not fail.
    assert [r[3] for r in reports] == [[]] * WORKERS
    storage = SqlStorage.from_url(url, schema=schema, migrate=False)
    try:
        with storage.unit_of_work() as uow:
            state = uow.routing.rotation(CHANNEL)
        assert state is not None
        assert state.assigned_count == WORKERS * turns
    finally:
        storage.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_workers_starting_on_a_new_database_set_it_up_once(kind: str, tmp_path: Path) -> None:
    """Processes opening a brand-new database together: one migrates it, all of them use it."""
    with ExitStack() as stack:
        if kind == "sqlite":
            url, schema = f"sqlite:///{tmp_path / 'new.db'}", None
        else:
            url = postgres_url()
            schema = stack.enter_context(throwaway_schema(url))
        reports = _run_workers(_startup_worker, url, schema)
        applied = sorted(v for r in reports for v in r[2])
        assert applied == [m.version for m in MIGRATIONS]
        if kind == "sqlite":
            assert {r[3] for r in reports} == {"wal"}
