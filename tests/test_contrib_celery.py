"""``inboxcore.contrib.celery``: the task's logic on the fakes, then real workers on a real Redis
(``INBOXCORE_TEST_REDIS``; ``.ci/run`` starts one), one of them killed mid-batch."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

pytest.importorskip("celery")
from celery import Celery  # type: ignore[import-untyped]

from inboxcore.app.service import InboxService
from inboxcore.contrib import celery as contrib
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.ids import ChannelId, RawMessageId
from inboxcore.domain.model import Account, Channel, ChannelState
from inboxcore.domain.outcomes import Disposition
from inboxcore.testing import FlakyStorage, InMemoryDns
from tests.test_service import ACME, ADDRESS, T0, envelope, mail, make_storage, world

REDIS = os.environ.get("INBOXCORE_TEST_REDIS")
needs_redis = pytest.mark.skipif(
    not REDIS, reason="real-broker tests need INBOXCORE_TEST_REDIS=redis://... (.ci/run sets it)"
)
SRC = Path(__file__).resolve().parents[1] / "src"


# --- the task's logic, on the fakes (no broker) ----------------------------------------------


class _Retry(Exception):
    pass


@attrs.define
class _Request:
    retries: int = 0


@attrs.define
class _FakeTask:
    """What :func:`run_task` uses of a bound Celery task: its retry count and ``retry``."""

    request: _Request = attrs.Factory(_Request)
    countdowns: list[float] = attrs.Factory(list)

    def retry(self, *, countdown: float, max_retries: int) -> _Retry:
        self.countdowns.append(countdown)
        return _Retry()


def test_run_task_retries_temporary_failures_with_backoff_then_succeeds() -> None:
    flaky = FlakyStorage(make_storage())
    w = world(storage=flaky)
    raw_id = w.service.store(mail(), envelope()).raw_id
    assert raw_id is not None
    policy = contrib.RetryPolicy(max_retries=5, first_delay=2, max_delay=5)
    task = _FakeTask()
    flaky.fail_next_commits(3)
    for tries in range(3):
        task.request.retries = tries
        with pytest.raises(_Retry):
            contrib.run_task(task, w.service, raw_id, policy)
    task.request.retries = 3
    assert contrib.run_task(task, w.service, raw_id, policy) == "accepted"
    assert task.countdowns == [2, 4, 5]
    assert [r.disposition for r in flaky.intake_records()] == [Disposition.ACCEPTED]


def test_run_task_quarantines_after_the_last_retry() -> None:
    flaky = FlakyStorage(make_storage())
    w = world(storage=flaky)
    raw_id = w.service.store(mail(), envelope()).raw_id
    assert raw_id is not None
    flaky.fail_next_commits(1)
    task = _FakeTask(_Request(retries=2))
    policy = contrib.RetryPolicy(max_retries=2)
    assert contrib.run_task(task, w.service, raw_id, policy) == "quarantined"
    (held,) = w.service.quarantined()
    assert (held.raw_id, held.reason_codes) == (raw_id, ("retries_exhausted",))
    assert task.countdowns == []
    assert contrib.run_task(task, w.service, raw_id, policy) == "quarantined"  # no second record
    assert len(flaky.intake_records()) == 1


def test_run_task_retries_a_dns_failure_and_the_last_try_quarantines_it_for_a_recheck() -> None:
    """DNS down (a DMARC temperror) while retries remain: deferred and retried, nothing recorded;
    on the last try: quarantined with the DNS reason (rechecked later), never dropped."""
    w = world(dns=True)
    dns = w.service.context.intake.dns
    assert isinstance(dns, InMemoryDns)
    dns.fail("_dmarc.customer.example")
    raw_id = w.service.store(mail(), envelope()).raw_id
    assert raw_id is not None
    task, policy = _FakeTask(), contrib.RetryPolicy(max_retries=2, first_delay=3)
    with pytest.raises(_Retry):
        contrib.run_task(task, w.service, raw_id, policy)
    assert (task.countdowns, w.service.quarantined()) == ([3], ())
    task.request.retries = 2
    assert contrib.run_task(task, w.service, raw_id, policy) == "quarantined"
    (held,) = w.service.quarantined()
    assert held.raw_id == raw_id
    assert "dmarc.temperror" in held.reason_codes


def test_run_task_of_an_unknown_id_is_not_retried() -> None:
    w = world()
    task = _FakeTask()
    outcome = contrib.run_task(task, w.service, RawMessageId("a" * 64), contrib.RetryPolicy())
    assert (outcome, task.countdowns) == ("not_found", [])


@attrs.define
class _Queue:
    """A stand-in for the registered task: ``apply_async`` records, or raises like a broker."""

    down: bool = False
    sent: list[Any] = attrs.Factory(list)

    def apply_async(self, *, args: tuple[str]) -> None:
        if self.down:
            raise ConnectionRefusedError("broker down")
        self.sent.append(args)


def test_store_and_enqueue_answers_250_only_when_both_succeeded() -> None:
    w = world()
    queue = _Queue()
    tasks = contrib.InboxTasks(queue)
    stored = tasks.store_and_enqueue(w.service, mail(), envelope())
    assert stored.smtp.code == 250
    assert queue.sent == [(stored.raw_id,)]
    queue.down = True
    refused = tasks.store_and_enqueue(w.service, mail(message_id="<m2@x>"), envelope())
    assert (refused.smtp.code, refused.reason_codes) == (451, ("queue_unavailable",))
    assert refused.raw_id is not None
    assert w.raw_store.contains(refused.raw_id)  # stored: the sweep or the retry queues it


def test_retry_policy_doubles_up_to_the_cap() -> None:
    policy = contrib.RetryPolicy(first_delay=10, max_delay=60)
    assert [policy.countdown(n) for n in range(4)] == [10, 20, 40, 60]


# --- real workers on a real broker -------------------------------------------------------------


def _queue_app(queue: str) -> Celery:
    app = Celery(f"test-{queue}", broker=REDIS)
    app.conf.update(
        task_default_queue=queue,
        broker_connection_retry_on_startup=False,
        broker_transport_options={"visibility_timeout": 3},
    )
    return app


def _wait(condition: Callable[[], bool], what: str, deadline: float = 120) -> None:
    """Poll until ``condition`` holds; a generous deadline, only to end a hung test."""
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


@needs_redis
def test_a_temporary_failure_retries_on_a_real_worker_then_succeeds() -> None:
    from celery.contrib.testing.worker import start_worker  # type: ignore[import-untyped]

    flaky = FlakyStorage(make_storage())
    w = world(storage=flaky)
    app = _queue_app(f"inboxcore-test-{uuid.uuid4().hex}")
    tasks = contrib.register_tasks(
        app, lambda: w.service, retry=contrib.RetryPolicy(max_retries=3, first_delay=0.1)
    )
    flaky.fail_next_commits(2)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        stored = tasks.store_and_enqueue(w.service, mail(), envelope())
        assert stored.smtp.code == 250
        _wait(lambda: bool(flaky.intake_records()), "the message to be recorded")
    assert [r.disposition for r in flaky.intake_records()] == [Disposition.ACCEPTED]
    assert len(flaky.injected) == 2


@needs_redis
def test_the_last_retry_on_a_real_worker_quarantines() -> None:
    from celery.contrib.testing.worker import start_worker

    flaky = FlakyStorage(make_storage())
    w = world(storage=flaky)
    app = _queue_app(f"inboxcore-test-{uuid.uuid4().hex}")
    tasks = contrib.register_tasks(
        app, lambda: w.service, retry=contrib.RetryPolicy(max_retries=2, first_delay=0.1)
    )
    flaky.fail_next_commits(3)  # the first run and both retries
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        stored = tasks.store_and_enqueue(w.service, mail(), envelope())
        _wait(lambda: bool(flaky.intake_records()), "the message to be held")
    (held,) = w.service.quarantined()
    assert (held.raw_id, held.reason_codes) == (stored.raw_id, ("retries_exhausted",))


# --- separate processes: a worker killed mid-batch, the receiver, the sweep ----------------


@attrs.frozen
class Site:
    """A SQLite database and a raw store folder, shared by the test and its processes."""

    database: str
    raw_dir: Path
    queue: str

    def environment(self) -> dict[str, str]:
        return {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
            "INBOXCORE_DATABASE": self.database,
            "INBOXCORE_RAW_DIR": str(self.raw_dir),
            "INBOXCORE_BROKER": REDIS or "",
            "INBOXCORE_CONVERSATION_KEY": "conversation-key-0123456789",
            "INBOXCORE_MESSAGE_ID_DOMAIN": "acme.inbox.example.net",
            "INBOXCORE_DNS": "none",
            "INBOXCORE_VISIBILITY_TIMEOUT": "3",
            "INBOXCORE_RETRY_DELAY": "0.2",
        }

    def inbox(self) -> InboxService:
        return contrib.inbox_from_environment(self.environment())


@pytest.fixture
def site(tmp_path: Path) -> Site:
    made = Site(
        database=f"sqlite:///{tmp_path / 'inbox.db'}",
        raw_dir=tmp_path / "raw",
        queue=f"inboxcore-test-{uuid.uuid4().hex}",
    )
    inbox = made.inbox()
    with inbox.storage.unit_of_work() as uow:
        uow.accounts.add(Account(id=ACME, name="Acme", subdomain="acme"))
        uow.channels.add(
            Channel(
                id=ChannelId("chan-1"),
                account_id=ACME,
                name="Support",
                forwarding_address=EmailAddress.parse(ADDRESS),
                created_at=T0,
                state=ChannelState.CONNECTED,
                mailbox_addresses=(EmailAddress.parse("support@acme.example"),),
            )
        )
        uow.commit()
    return made


@pytest.fixture
def workers(site: Site, tmp_path: Path) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    """Starts ``celery worker`` processes (each its own process group, killed at the end)."""
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        command = [
            *(sys.executable, "-m", "celery", "-A", "inboxcore.contrib.celery.worker_app"),
            *("worker", "-P", "prefork", "-c", "2", "-Q", site.queue, "-l", "warning"),
            *("--without-mingle", "--without-gossip", "--without-heartbeat"),
        ]
        with (tmp_path / f"worker{len(started)}.log").open("wb") as log:
            process = subprocess.Popen(
                command,
                env=site.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)


def _recorded(site: Site) -> int:
    path = site.database.removeprefix("sqlite:///")
    with sqlite3.connect(path, timeout=30) as db:
        (count,) = db.execute("SELECT count(DISTINCT raw_id) FROM inboxcore_intake_log").fetchone()
    return int(count)


def _recover(site: Site, broker: str) -> str:
    """``python -m inboxcore.contrib.celery recover``: re-enqueue what no record lists."""
    command = [sys.executable, "-m", "inboxcore.contrib.celery", "recover", "--older-than", "0"]
    where = ["--database", site.database, "--raw-dir", str(site.raw_dir), "--queue", site.queue]
    done = subprocess.run(
        [*command, *where, "--broker", broker],
        env=site.environment(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


@needs_redis
def test_a_worker_killed_mid_batch_loses_nothing_and_doubles_nothing(
    site: Site, workers: Callable[[], subprocess.Popen[bytes]]
) -> None:
    """30 messages stored and queued; the worker is killed (SIGKILL) with some processed.

    The tasks it had taken come back after the visibility timeout; one it had popped off the
    Redis list but not yet marked unacknowledged is gone from the broker (kombu's Redis
    transport has that window), which is what the ``recover`` sweep is for: it re-enqueues every
    stored message with no record, some of them queued twice now. A new worker runs them all,
    and every raw id ends with exactly one message and one intake record.
    """
    inbox = site.inbox()
    tasks = contrib.register_tasks(_queue_app(site.queue), lambda: inbox)
    raw_ids = []
    for i in range(30):
        raw = mail(sender=f"c{i}@customer.example", message_id=f"<k{i}@x.example>")
        stored = tasks.store_and_enqueue(inbox, raw, envelope())
        assert stored.smtp.code == 250
        raw_ids.append(stored.raw_id)
    first = workers()
    _wait(lambda: _recorded(site) >= 3, "the first worker to process some")
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(30)
    assert _recorded(site) < 30, "all were done before the kill: the test proved nothing"
    assert _recover(site, REDIS or "").startswith("re-enqueued ")
    workers()
    _wait(lambda: _recorded(site) == 30, "a new worker to process the rest", deadline=180)
    with inbox.storage.unit_of_work() as uow:
        for raw_id in raw_ids:
            assert raw_id is not None
            (record,) = uow.intake_log.for_raw_message(raw_id)
            assert record.disposition is Disposition.ACCEPTED
            assert record.message_id is not None
            assert uow.messages.get(record.message_id).raw_id == raw_id
    path = site.database.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM inboxcore_messages").fetchone() == (30,)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@needs_redis
def test_the_receiver_answers_451_while_the_broker_is_down_and_recover_requeues(
    site: Site, workers: Callable[[], subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    """``serve`` against a broker nobody listens on: stored, answered 451; ``recover`` later
    hands it to the queue, and a worker processes it once."""
    import smtplib

    dead_broker = f"redis://127.0.0.1:{_closed_port()}/0"
    command = [sys.executable, "-m", "inboxcore.contrib.celery", "serve", "--lmtp", "127.0.0.1:0"]
    where = ["--database", site.database, "--raw-dir", str(site.raw_dir)]
    server = subprocess.Popen(
        [*command, *where, "--broker", dead_broker],
        env=site.environment(),
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert server.stderr is not None
        line = server.stderr.readline().decode()
        assert line.startswith("listening lmtp"), line
        port = int(line.split()[-1])
        client = smtplib.LMTP("127.0.0.1", port, timeout=60)
        client.ehlo("postfix.test")
        client.mail("srs0=x@acme.example")
        client.rcpt(ADDRESS)
        code, _ = client.data(mail())
        client.quit()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
        if server.stderr is not None:
            server.stderr.close()
    assert code == 451
    assert _recorded(site) == 0
    assert _recover(site, REDIS or "").startswith("re-enqueued 1 of 1")
    workers()
    _wait(lambda: _recorded(site) == 1, "the re-enqueued message to be processed")
