"""What keeping envelopes and sweeping for unrecorded messages costs.

Three figures, each beside a baseline in the same process, because the machine is shared:

- **put**: a received message stored with its envelope by the directory store (fsync on), against
  the same bytes written the way the store wrote them before it kept envelopes (a temporary file,
  fsync, rename, fsync of the folder): the envelope file costs one more small write and fsync;
- **listing**: every received message of a store read through ``received()`` in pages of 200
  (the directory store walking its folders, the table store reading its receipts), per message;
- **a routine sweep**: :meth:`~inboxcore.app.service.InboxService.recover` over a SQLite inbox
  where every message is recorded (what a cron run finds nearly always), per message examined,
  against reading the same intake log records one by one.

Run: ``python benchmarks/bench_recover.py [--messages N]`` (default 2000). The figures are
recorded in ``docs/storage-and-scale.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from inboxcore.adapters.rawstore import DirectoryRawStore
from inboxcore.adapters.sql import SqlStorage
from inboxcore.app.service import InboxConfig, InboxService
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.ids import AccountId, ChannelId, RawMessageId, raw_message_id
from inboxcore.domain.model import Account, Channel, ChannelState, Envelope
from inboxcore.ports import RawMessageStore
from inboxcore.testing import FakeClock, FakeDirectory, RecordingEventSink, SequentialIds

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
ADDRESS = "support@acme.inbox.example.net"


def message(n: int) -> bytes:
    return (
        f"From: Customer {n} <c{n}@customer.example>\r\nTo: support@acme.example\r\n"
        f"Subject: Order {n}\r\nDate: Mon, 04 May 2026 09:00:00 +0200\r\n"
        f"Message-ID: <m{n}@customer.example>\r\nContent-Type: text/plain\r\n\r\n"
        + "Hello, where is my order?\r\n"
        * 40
    ).encode()


def envelope(n: int) -> Envelope:
    return Envelope(
        received_at=T0 + timedelta(seconds=n),
        mail_from=f"c{n}@customer.example",
        rcpt_to=(ADDRESS,),
    )


def old_put(root: Path, data: bytes) -> None:
    """The directory store's put before it kept envelopes."""
    raw_id = raw_message_id(data)
    folder = root / raw_id[:2] / raw_id[2:4]
    folder.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, folder / raw_id)
    folder_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(folder_fd)
    finally:
        os.close(folder_fd)


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def list_all(store: RawMessageStore) -> int:
    count, after = 0, None
    before = T0 + timedelta(days=365)
    while page := store.received(before=before, after=after, limit=200):
        count += len(page)
        after = page[-1].raw_id
    return count


def bench_put(folder: Path, n: int) -> None:
    store = DirectoryRawStore(folder / "new")

    def put_new() -> None:
        for i in range(n):
            store.put(message(i), envelope(i))

    def put_old() -> None:
        for i in range(n):
            old_put(folder / "old", message(i))

    new, old = timed(put_new), timed(put_old)
    print(f"put, fsync on       {new / n * 1e3:7.2f} ms/message   before: {old / n * 1e3:.2f}")


def bench_listing(folder: Path, n: int) -> None:
    directory = DirectoryRawStore(folder / "list", fsync=False)
    storage = SqlStorage.from_url(f"sqlite:///{folder / 'list.db'}")
    table = storage.raw_store()
    for i in range(n):
        directory.put(message(i), envelope(i))
        table.put(message(i), envelope(i))
    stores: tuple[tuple[str, RawMessageStore], ...] = (
        ("directory", directory),
        ("table (SQLite)", table),
    )
    for name, store in stores:
        seconds = timed(functools.partial(list_all, store))
        print(f"listing, {name:<14} {seconds / n * 1e6:7.1f} µs/message   ({n} in {seconds:.2f} s)")
    storage.close()
    # A routine sweep's window (7 days) over files written a month ago: skipped by their time.
    month_ago = time.time() - 30 * 86400
    for path in (folder / "list").rglob("*"):
        if path.is_file():
            os.utime(path, (month_ago, month_ago))
    since = datetime.now(UTC) - timedelta(days=7)
    seconds = timed(lambda: directory.received(before=datetime.now(UTC), since=since))
    print(f"listing, directory, all before the window   {seconds / n * 1e6:7.1f} µs/message")


def bench_sweep(folder: Path, n: int) -> None:
    storage = SqlStorage.from_url(f"sqlite:///{folder / 'sweep.db'}")
    channel = Channel(
        id=ChannelId("chan-1"),
        account_id=AccountId("acme"),
        name="Support",
        forwarding_address=EmailAddress.parse(ADDRESS),
        created_at=T0 - timedelta(days=1),
        state=ChannelState.CONNECTED,
    )
    with storage.unit_of_work() as uow:
        uow.accounts.add(Account(id=AccountId("acme"), name="Acme", subdomain="acme"))
        uow.channels.add(channel)
        uow.commit()
    clock = FakeClock(T0)
    service = InboxService(
        storage=storage,
        raw_store=DirectoryRawStore(folder / "sweep", fsync=False),
        clock=clock,
        ids=SequentialIds(),
        directory=FakeDirectory(),
        events=RecordingEventSink(),
        config=InboxConfig(conversation_keys=(b"k" * 32,), message_id_domain="inbox.example.net"),
    )
    ids: list[RawMessageId] = []
    for i in range(n):
        delivery = service.receive(message(i), envelope(i))
        assert delivery.raw_id is not None
        ids.append(delivery.raw_id)
    clock.advance(timedelta(days=1))
    sweep = timed(lambda: service.recover(since=T0 - timedelta(days=7), limit=n))

    def read_log() -> None:
        with storage.unit_of_work() as uow:
            for raw_id in ids:
                uow.intake_log.for_raw_message(raw_id)

    baseline = timed(read_log)
    print(
        f"sweep, all recorded {sweep / n * 1e6:7.1f} µs/message   "
        f"reading the log alone: {baseline / n * 1e6:.1f}"
    )
    storage.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=2000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as temp, contextlib.ExitStack():
        folder = Path(temp)
        print(
            f"{args.messages} messages of {len(message(0))} bytes, Python {sys.version.split()[0]}"
        )
        bench_put(folder, args.messages)
        bench_listing(folder, args.messages)
        bench_sweep(folder, args.messages)
    return 0


if __name__ == "__main__":
    sys.exit(main())
