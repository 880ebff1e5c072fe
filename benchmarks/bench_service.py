"""Messages per second through the whole service, on SQLite and PostgreSQL, with 1, 2, 4 workers.

Each message goes through :meth:`inboxcore.app.service.InboxService.receive`: intake (recipient to
channel, size limit, raw store, parse, classify, deduplicate, original sender) and then one unit
of work (contact found or created, threading, conversation, message, routing rotation, ticket,
channel observation, intake log), committed to disk. Routing is users-and-teams over three
available agents, so every new conversation takes a turn of the channel's rotation: the one row
all workers queue for.

The messages are the mix of ``bench_parsing`` (about 50 KB each: multipart/alternative with a
PDF, a forward carrying the original and an image, a DSN), each from its own customer, so nearly
every message opens a conversation with a contact and a ticket: the heaviest path.

Baselines in the same run, on the same messages, because the machine is shared and noisy:

- the standard library's parse alone (``policy.default`` plus ``get_content()`` of every leaf);
- the service on the in-memory fakes (one process): everything but the database.

Then each database with 1, 2 and 4 worker processes (``spawn``), each worker with its own engine
and service, taking every W-th message of the batch; throughput is the batch size over the wall
time from the common start (a barrier) to the last worker's end. SQLite is a file in WAL mode with
``synchronous=FULL`` and the directory raw store with fsync; PostgreSQL keeps its defaults (fsync,
synchronous commit) and the table raw store, in a throwaway schema.

Run: ``python benchmarks/bench_service.py`` (PostgreSQL from ``--postgres URL``, or
``INBOXCORE_BENCH_POSTGRES``, or ``INBOXCORE_TEST_POSTGRES``; skipped when none is set). The
figures are recorded in ``docs/performance.md`` and ``docs/storage-and-scale.md``.
"""

from __future__ import annotations

import argparse
import email
import multiprocessing
import os
import platform
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_parsing import alternative_with_pdf, delivery_status, forwarded_message

from inboxcore.adapters.system import RandomIds
from inboxcore.app.service import InboxConfig, InboxService
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.ids import AccountId, ChannelId, TeamId, UserId
from inboxcore.domain.model import (
    Account,
    Channel,
    ChannelState,
    Envelope,
    RoutingMode,
    RoutingSettings,
    Team,
    User,
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
AGENTS = (UserId("u1"), UserId("u2"), UserId("u3"))
ENVELOPE = Envelope(received_at=NOW, mail_from="srs0=x@helpdesk.example", rcpt_to=(ADDRESS,))
WARM_UP = 3


# --- the messages --------------------------------------------------------------------------


def batch(count: int, first: int = 0) -> list[bytes]:
    """``count`` distinct messages of the bench_parsing mix, each from its own customer."""
    rng = random.Random(first + 7)
    makers = (alternative_with_pdf, forwarded_message, delivery_status)
    messages = []
    for n in range(first, first + count):
        raw = makers[n % 3](rng, n)
        raw = raw.replace(b"kunde@shop.example", f"kunde{n}@shop.example".encode())
        raw = raw.replace(b"alex@customer.example", f"alex{n}@customer.example".encode())
        messages.append(raw)
    return messages


def stdlib_parse(raw: bytes) -> None:
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    for part in message.walk():
        if not part.is_multipart():
            try:
                part.get_content()
            except (KeyError, LookupError, ValueError):
                part.get_payload(decode=True)


# --- the service -----------------------------------------------------------------------------


def seed(storage: Storage) -> None:
    """The account and its connected channel, routing users-and-teams over three agents."""
    with storage.unit_of_work() as uow:
        uow.accounts.add(Account(id=ACME, name="Acme", subdomain="acme"))
        uow.channels.add(
            Channel(
                id=ChannelId("chan-1"),
                account_id=ACME,
                name="Support",
                forwarding_address=EmailAddress.parse(ADDRESS),
                created_at=NOW - timedelta(days=1),
                state=ChannelState.CONNECTED,
                mailbox_addresses=(EmailAddress.parse("support@helpdesk.example"),),
                company_name="Acme Support",
                routing=RoutingSettings(
                    mode=RoutingMode.USERS_AND_TEAMS,
                    user_ids=(AGENTS[0],),
                    team_ids=(TeamId("t1"),),
                ),
            )
        )
        uow.commit()


def service(storage: Storage, raw_store: RawMessageStore, worker: int) -> InboxService:
    agents = [
        User(
            id=uid,
            account_id=ACME,
            email=EmailAddress.parse(f"agent{i}@acme.example"),
            first_name=f"Agent{i}",
        )
        for i, uid in enumerate(AGENTS, 1)
    ]
    team = Team(id=TeamId("t1"), account_id=ACME, name="Tier 1", member_ids=AGENTS[1:])
    return InboxService(
        storage=storage,
        raw_store=raw_store,
        clock=FakeClock(NOW),
        ids=RandomIds(),
        directory=FakeDirectory(users=agents, teams=[team], available=AGENTS),
        events=RecordingEventSink(),
        config=InboxConfig(
            conversation_keys=(b"bench-conversation-key-0123456789",),
            message_id_domain="acme.inbox.example.net",
        ),
    )


def receive_all(svc: InboxService, messages: list[bytes]) -> None:
    for raw in messages:
        delivery = svc.receive(raw, ENVELOPE)
        if delivery.disposition is not Disposition.ACCEPTED:
            raise RuntimeError(f"not accepted: {delivery.disposition} {delivery.reason_codes}")


# --- worker processes ------------------------------------------------------------------------


def _open(url: str, schema: str | None, raw_dir: str) -> tuple[Any, RawMessageStore]:
    from inboxcore.adapters.rawstore import DirectoryRawStore
    from inboxcore.adapters.sql import SqlStorage

    storage = SqlStorage.from_url(url, schema=schema, migrate=False, pool_size=2)
    if raw_dir:
        return storage, DirectoryRawStore(raw_dir)
    return storage, storage.raw_store()  # the table store, written in the unit of work


def _worker(
    url: str,
    schema: str | None,
    raw_dir: str,
    worker: int,
    workers: int,
    count: int,
    barrier: Any,
    results: Any,
) -> None:
    """Receive every ``workers``-th message of the batch after a common start."""
    try:
        storage, raw_store = _open(url, schema, raw_dir)
        svc = service(storage, raw_store, worker)
        mine = batch(count)[worker::workers]
        receive_all(svc, batch(WARM_UP, first=100_000 + worker * WARM_UP))  # not timed
        barrier.wait(120)
        started = time.monotonic()
        receive_all(svc, mine)
        ended = time.monotonic()
        storage.close()
        results.put(("ok", worker, started, ended, len(mine)))
    except BaseException as exc:  # reported to the parent
        results.put(("error", worker, repr(exc), 0.0, 0))


def run_workers(url: str, schema: str | None, raw_dir: str, workers: int, count: int) -> float:
    """Messages per second of ``workers`` processes sharing one batch of ``count`` messages."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(workers)
    results = ctx.Queue()
    processes = [
        ctx.Process(
            target=_worker, args=(url, schema, raw_dir, w, workers, count, barrier, results)
        )
        for w in range(workers)
    ]
    for p in processes:
        p.start()
    reports = [results.get(timeout=600) for _ in processes]
    for p in processes:
        p.join(60)
    errors = [r for r in reports if r[0] != "ok"]
    if errors:
        raise RuntimeError(f"worker failed: {errors}")
    wall: float = max(r[3] for r in reports) - min(r[2] for r in reports)
    assert sum(r[4] for r in reports) == count
    return count / wall


@contextmanager
def fresh_database(kind: str, postgres: str | None) -> Iterator[tuple[str, str | None, str]]:
    """A new, migrated, seeded database: (url, schema, raw directory)."""
    from inboxcore.adapters.sql import SqlStorage, make_engine

    with tempfile.TemporaryDirectory(prefix="bench-service-") as folder:
        if kind == "sqlite":
            url, schema = f"sqlite:///{folder}/inbox.db", None
        else:
            assert postgres is not None
            url, schema = postgres, f"bench_{uuid.uuid4().hex[:12]}"
        storage = SqlStorage.from_url(url, schema=schema)
        if kind == "sqlite":  # as a deployment's store is after a while: no put makes a folder
            from inboxcore.adapters.rawstore import DirectoryRawStore

            DirectoryRawStore(f"{folder}/raw").create_folders()
        try:
            seed(storage)
        finally:
            storage.close()
        try:
            yield url, schema, f"{folder}/raw"
        finally:
            if schema is not None:
                engine = make_engine(url, pool_size=1)
                with engine.begin() as connection:
                    connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                engine.dispose()


# --- in-process baselines --------------------------------------------------------------------


def per_second(fn: Callable[[], int], rounds: int) -> float:
    """The best rate of ``rounds`` runs of ``fn`` (which returns how many messages it did)."""
    best = 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        done = fn()
        best = max(best, done / (time.perf_counter() - started))
    return best


def in_memory_rate(messages: list[bytes], rounds: int) -> float:
    """The best rate of the service on the fakes, a fresh store each round, after a warm-up."""
    best = 0.0
    for _ in range(rounds):
        storage = InMemoryStorage()
        seed(storage)
        svc = service(storage, InMemoryRawStore(), 0)
        receive_all(svc, batch(WARM_UP, first=100_000))
        started = time.perf_counter()
        receive_all(svc, messages)
        best = max(best, len(messages) / (time.perf_counter() - started))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=240, help="batch size (default 240)")
    parser.add_argument("--workers", default="1,2,4", help="worker counts (default 1,2,4)")
    parser.add_argument("--rounds", type=int, default=2, help="runs per row; the best counts")
    parser.add_argument(
        "--sqlite-raw",
        default="table,directory",
        help="raw stores beside SQLite: table (build_inbox's default, written in the unit of "
        "work), directory (files, fsync each); default both",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("INBOXCORE_BENCH_POSTGRES")
        or os.environ.get("INBOXCORE_TEST_POSTGRES"),
        help="a PostgreSQL URL the benchmark may create schemas in",
    )
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    messages = batch(args.messages)
    mean_kb = sum(map(len, messages)) / len(messages) / 1024
    print(
        f"{args.messages} messages, mean {mean_kb:.1f} KB; {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, load average "
        f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}"
    )

    def parse_all() -> int:
        for raw in messages:
            stdlib_parse(raw)
        return len(messages)

    stdlib = per_second(parse_all, args.rounds)
    memory = in_memory_rate(messages, args.rounds)
    print(f"{'configuration':<34} {'messages/s':>10} {'ms/message':>10}  vs in-memory  vs stdlib")
    print(f"{'stdlib parse only (1 process)':<34} {stdlib:10.0f} {1000 / stdlib:10.2f}")
    print(f"{'service, in-memory (1 process)':<34} {memory:10.0f} {1000 / memory:10.2f}")
    backends = [f"sqlite+{raw}" for raw in args.sqlite_raw.split(",")]
    backends += ["postgres+table"] if args.postgres else []
    if not args.postgres:
        print("(PostgreSQL skipped: pass --postgres URL or set INBOXCORE_BENCH_POSTGRES)")
    for backend in backends:
        kind, _, raw = backend.partition("+")
        for workers in counts:
            rate = 0.0
            for _ in range(args.rounds):
                with fresh_database(kind, args.postgres) as (url, schema, raw_dir):
                    raw_dir = raw_dir if raw == "directory" else ""
                    rate = max(rate, run_workers(url, schema, raw_dir, workers, args.messages))
            label = f"{kind}, {raw} raw, {workers} worker{'s' if workers > 1 else ''}"
            print(
                f"{label:<34} {rate:10.0f} {1000 / rate:10.2f}  {rate / memory:11.2f}x "
                f"{rate / stdlib:8.2f}x"
            )
    print(f"load average after: {' '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
