"""A 250 means recorded: a fault at every storage step never yields a reply the records belie.

Each scenario delivers one message down one path (accepted, duplicate, quarantined, and an
internal error while applying it) with a fault injected at one storage step: a unit of work
refused, a statement failing, a commit refused or its answer lost, the raw store failing. Every
step of a clean delivery is reached in turn (``skip`` runs over the steps counted in a clean
run), on the in-memory storage and on SQLite; Hypothesis adds pairs of faults, and PostgreSQL.

The rule checked after every delivery:

- a 2xx reply ⇒ a committed intake record lists the message, with that verdict, once;
- a 4xx reply ⇒ nothing was announced, and a retry (the mail server's, with the same bytes and
  envelope, or the recovery sweep's) ends with exactly one record listing the message, and at
  most one message made of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inboxcore.app.service import Delivery, InboxService
from inboxcore.domain.ids import raw_message_id
from inboxcore.domain.model import Message
from inboxcore.domain.outcomes import Disposition
from inboxcore.testing import FlakyRawStore, FlakyStorage, InMemoryStorage, SequentialIds
from tests import test_service as scenarios
from tests.sql_support import postgres_url, throwaway_schema

ADDRESS_DOMAIN = "acme.inbox.example.net"

ORIGINAL = scenarios.mail(extra="X-Delivery: first\r\n")
"""Received before the duplicate path's message: the same Message-ID and Date, other bytes."""

MESSAGES = {
    "accepted": scenarios.mail(),
    "duplicate": scenarios.mail(extra="X-Delivery: second\r\n"),
    "quarantined": scenarios.mail(message_id=f"<loop.1@{ADDRESS_DOMAIN}>"),  # our own: a loop
    "internal_error": scenarios.mail(),
}
"""The message each path delivers."""

OUTCOMES = {
    "accepted": {Disposition.ACCEPTED},
    "duplicate": {Disposition.DUPLICATE},
    "quarantined": {Disposition.QUARANTINED},
    # The bug strikes once: a delivery deferred before it reached the bug is quarantined on the
    # retry; one that reached it and was deferred is accepted on the retry.
    "internal_error": {Disposition.QUARANTINED, Disposition.ACCEPTED},
}

FAULTS: dict[str, Callable[[Case, int], None]] = {
    "unit": lambda c, i: c.storage.fail_next_units(skip=i),
    "statement": lambda c, i: c.storage.fail_next_statements(skip=i),
    "commit": lambda c, i: c.storage.fail_next_commits(skip=i),
    "commit_lost": lambda c, i: c.storage.fail_after_next_commits(skip=i),
    "raw_put": lambda c, i: c.raw.fail_next_puts(skip=i),
    "raw_read": lambda c, i: c.raw.fail_next_reads(skip=i),
}

Backend = Callable[[], Any]


@attrs.define
class Case:
    """One inbox on a fresh storage, its service seeing the storage and raw store through the
    fault injectors."""

    world: scenarios.World
    storage: FlakyStorage[Any]
    raw: FlakyRawStore
    service: InboxService
    path: str

    @property
    def message(self) -> bytes:
        return MESSAGES[self.path]

    def steps(self) -> dict[str, int]:
        """Steps taken so far, by fault kind (a lost answer can only follow a commit that
        went through)."""
        return {
            **self.storage.steps,
            "commit_lost": self.storage.commits,
            "raw_put": self.raw.steps["put"],
            "raw_read": self.raw.steps["read"],
        }

    def deliver(self) -> Delivery:
        return self.service.receive(self.message, scenarios.envelope())

    def listing(self) -> list[Disposition]:
        """The committed records listing the message (a deferral lists nothing)."""
        raw_id = raw_message_id(self.message)
        return [
            r.disposition
            for r in self.storage.intake_records()
            if r.raw_id == raw_id and r.disposition is not Disposition.DEFERRED
        ]

    def made_of_it(self) -> int:
        raw_id = raw_message_id(self.message)
        return sum(m.raw_id == raw_id for m in self.storage.records(Message))


def new_case(backend: Backend, path: str) -> Case:
    storage = FlakyStorage(backend())
    world = scenarios.world(storage=storage)
    raw = FlakyRawStore(world.raw_store)
    service = InboxService(
        storage=storage,
        raw_store=raw,
        clock=world.clock,
        ids=SequentialIds(seed=7),
        directory=world.directory,
        events=world.events,
        config=world.service.config,
    )
    case = Case(world=world, storage=storage, raw=raw, service=service, path=path)
    if path == "duplicate":
        assert service.receive(ORIGINAL, scenarios.envelope()).disposition is Disposition.ACCEPTED
    if path == "internal_error":
        # A bug while applying (the apply unit's commit raises what no storage error is).
        storage.fail_next_commits(error=RuntimeError("a bug while applying"))
    return case


def check(case: Case, first: Delivery, faults: set[str], *, retry_by: str) -> None:
    """The rule, for one delivery and its retry."""
    if first.smtp.code < 300:
        assert case.listing() == [first.disposition]
        assert first.disposition in OUTCOMES[case.path]
        assert case.made_of_it() == (1 if first.disposition is Disposition.ACCEPTED else 0)
        return
    assert (first.smtp.code, first.smtp.enhanced) == (451, "4.3.0")
    assert first.disposition is Disposition.DEFERRED
    assert first.events == ()
    # Only a commit that applied with its answer lost (and could not be checked) leaves a
    # record behind a 451; the retry then finds the message stored.
    lost = "commit_lost" in faults
    assert case.listing() == [] or (lost and case.listing() == [Disposition.ACCEPTED])
    events_before = len(case.world.events.events)
    if retry_by == "sweep" and first.raw_id is not None:
        case.world.clock.advance(timedelta(hours=1))
        recovery = case.service.recover()
        assert recovery.still_unrecorded == ()
    else:
        second = case.deliver()
        assert second.smtp.code == 250
    final = case.listing()
    assert len(final) == 1 or (lost and final == [Disposition.ACCEPTED, Disposition.DUPLICATE])
    assert final[0] in OUTCOMES[case.path]
    assert case.made_of_it() == (1 if final[0] == Disposition.ACCEPTED else 0)
    if final[0] == Disposition.QUARANTINED or (final[0] == Disposition.ACCEPTED and not lost):
        assert len(case.world.events.events) > events_before  # the host hears of it


def clean_steps(backend: Backend, path: str) -> dict[str, int]:
    """How many steps of each kind one clean delivery takes (its faults' skip range)."""
    case = new_case(backend, path)
    before = case.steps()
    case.deliver()
    after = case.steps()
    return {kind: after[kind] - before[kind] for kind in FAULTS}


def run_every_single_fault(backend: Backend, path: str, retry_by: str) -> int:
    """Deliver once per (fault kind, step), each on a fresh case; return how many ran."""
    ran = 0
    for kind, count in clean_steps(backend, path).items():
        for skip in range(count + 1):  # + 1: a fault scheduled past the last step is harmless
            case = new_case(backend, path)
            FAULTS[kind](case, skip)
            first = case.deliver()
            check(case, first, {kind}, retry_by=retry_by)
            ran += 1
    return ran


PATHS = sorted(MESSAGES)


def memory() -> InMemoryStorage:
    return InMemoryStorage()


@pytest.mark.parametrize("retry_by", ["mail_server", "sweep"])
@pytest.mark.parametrize("path", PATHS)
def test_every_single_fault_in_memory(path: str, retry_by: str) -> None:
    """In memory: each storage step of each path failed in turn keeps the rule."""
    assert run_every_single_fault(memory, path, retry_by) > 10


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[Backend]:
    """A fresh SQLite file per case."""
    sql = pytest.importorskip("inboxcore.adapters.sql", reason="needs the sql extra")
    with ExitStack() as stack:
        made: list[int] = []

        def backend() -> Any:
            made.append(1)
            storage = sql.SqlStorage.from_url(f"sqlite:///{tmp_path / f'case-{len(made)}.db'}")
            stack.callback(storage.close)
            return storage

        yield backend


@pytest.mark.parametrize("path", PATHS)
def test_every_single_fault_on_sqlite(sqlite: Backend, path: str) -> None:
    """On SQLite: each storage step of each path failed in turn keeps the rule."""
    assert run_every_single_fault(sqlite, path, "mail_server") > 10


fault = st.tuples(st.sampled_from(sorted(FAULTS)), st.integers(min_value=0, max_value=24))


@settings(max_examples=150, deadline=None)
@given(
    path=st.sampled_from(PATHS),
    faults=st.lists(fault, min_size=1, max_size=3),
    retry_by=st.sampled_from(["mail_server", "sweep"]),
)
def test_any_faults_keep_the_rule_in_memory(
    path: str, faults: list[tuple[str, int]], retry_by: str
) -> None:
    """Several faults at once, anywhere in the delivery: the rule holds."""
    case = new_case(memory, path)
    for kind, skip in faults:
        FAULTS[kind](case, skip)
    first = case.deliver()
    case.storage.clear()  # the retry runs on a storage that works again
    case.raw.clear()
    check(case, first, {kind for kind, _ in faults}, retry_by=retry_by)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(path=st.sampled_from(PATHS), faults=st.lists(fault, min_size=1, max_size=2))
def test_faults_keep_the_rule_on_postgres(path: str, faults: list[tuple[str, int]]) -> None:
    """On PostgreSQL, a sample of fault combinations keeps the rule."""
    sql = pytest.importorskip("inboxcore.adapters.sql", reason="needs the sql extra")
    url = postgres_url()
    with ExitStack() as stack:

        def backend() -> Any:
            schema = stack.enter_context(throwaway_schema(url))
            storage = sql.SqlStorage.from_url(url, schema=schema)
            stack.callback(storage.close)
            return storage

        case = new_case(backend, path)
        for kind, skip in faults:
            FAULTS[kind](case, skip)
        first = case.deliver()
        case.storage.clear()
        case.raw.clear()
        check(case, first, {kind for kind, _ in faults}, retry_by="mail_server")


# --- on the wire -----------------------------------------------------------------------------


def test_the_receiver_answers_451_when_nothing_was_recorded() -> None:
    """Through LMTP: a refused commit is a 451 4.3.0 to the mail server; its retry gets 250."""
    receiver_module = pytest.importorskip("inboxcore.entrypoints.receiver")
    import asyncio
    import smtplib
    import threading

    case = new_case(memory, "accepted")
    lmtp = receiver_module.ReceiverProtocol.LMTP
    listener = receiver_module.ListenAddress.parse(lmtp, "127.0.0.1:0")
    receiver = receiver_module.Receiver(case.service, [listener])
    loop = asyncio.new_event_loop()
    bound = loop.run_until_complete(receiver.start())
    thread = threading.Thread(target=loop.run_until_complete, args=(receiver.serve(),))
    thread.start()
    try:
        case.storage.fail_next_commits()
        replies = []
        for _attempt in range(2):
            client = smtplib.LMTP("127.0.0.1", bound[0].port, timeout=10)
            client.ehlo("postfix.test")
            client.mail("srs0=x@acme.example")
            client.rcpt(scenarios.ADDRESS)
            replies.append(client.data(case.message))
            client.quit()
    finally:
        loop.call_soon_threadsafe(receiver.request_stop)
        thread.join(30)
        loop.close()
    assert replies[0] == (451, b"4.3.0 Temporary failure, try again later")
    assert replies[1][0] == 250
    assert case.listing() == [Disposition.ACCEPTED]
