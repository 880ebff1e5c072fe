"""FlakyStorage and FlakyRawStore: failures on demand around any store, nothing else changed."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import (
    CommitFailed,
    ConflictError,
    InvalidValueError,
    StorageError,
)
from inboxcore.domain.ids import AccountId, ContactId
from inboxcore.domain.model import Account, Contact, Envelope
from inboxcore.ports import Storage
from inboxcore.testing import FlakyRawStore, FlakyStorage, InMemoryRawStore, InMemoryStorage
from inboxcore.testing.contracts import RawStoreContract, StorageContract
from tests.sql_support import postgres_url, throwaway_schema

T = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)


def _account(n: int) -> Account:
    return Account(id=AccountId(f"a{n}"), name=f"Account {n}", subdomain=f"a{n}")


def _add(storage: Storage, n: int) -> None:
    with storage.unit_of_work() as uow:
        uow.accounts.add(_account(n))
        uow.commit()


class TestFlakyInMemoryContract(StorageContract):
    """With nothing scheduled the wrapper is invisible: the contract holds through it."""

    def make_storage(self) -> FlakyStorage[InMemoryStorage]:
        return FlakyStorage(InMemoryStorage())


class TestFlakyRawStoreContract(RawStoreContract):
    """With nothing scheduled the raw-store wrapper is invisible too."""

    def make_store(self) -> FlakyRawStore:
        return FlakyRawStore(InMemoryRawStore())


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def flaky(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FlakyStorage[Storage]]:
    """A FlakyStorage around the in-memory store, a SQLite file and a PostgreSQL schema."""
    if request.param == "memory":
        yield FlakyStorage(InMemoryStorage())
        return
    sql = pytest.importorskip("inboxcore.adapters.sql", reason="needs the sql extra")
    with ExitStack() as stack:
        if request.param == "sqlite":
            url, schema = f"sqlite:///{tmp_path / 'flaky.db'}", None
        else:
            url = postgres_url()
            schema = stack.enter_context(throwaway_schema(url))
        inner = sql.SqlStorage.from_url(url, schema=schema)
        stack.callback(inner.close)
        yield FlakyStorage(inner)


def test_refused_commit_applies_nothing_and_the_next_one_works(
    flaky: FlakyStorage[Storage],
) -> None:
    """fail_next_commits: CommitFailed, nothing written; the following commit goes through."""
    flaky.fail_next_commits()
    with flaky.unit_of_work() as uow:
        uow.accounts.add(_account(1))
        with pytest.raises(CommitFailed):
            uow.commit()
    assert flaky.records(Account) == ()
    _add(flaky, 1)
    assert [a.id for a in flaky.records(Account)] == ["a1"]
    assert flaky.commits == 1
    assert [type(e) for e in flaky.injected] == [CommitFailed]
    assert flaky.pending == 0


def test_the_given_error_is_raised_count_times(flaky: FlakyStorage[Storage]) -> None:
    """A ConflictError plays a lost race; it is raised for exactly the scheduled commits."""
    race = ConflictError("another worker committed first")
    flaky.fail_next_commits(2, error=race)
    for _ in range(2):
        with flaky.unit_of_work() as uow:
            uow.accounts.add(_account(1))
            with pytest.raises(ConflictError) as raised:
                uow.commit()
            assert raised.value is race
    _add(flaky, 1)
    assert len(flaky.records(Account)) == 1


def test_a_refused_unit_holds_nothing_back(flaky: FlakyStorage[Storage]) -> None:
    """After a refused commit the inner unit is rolled back: a new unit can write the same id."""
    flaky.fail_next_commits()
    uow = flaky.unit_of_work()
    uow.contacts.add(
        Contact(
            id=ContactId("c1"),
            account_id=AccountId("a1"),
            email=EmailAddress.parse("ada@customer.example"),
            created_at=T,
        )
    )
    with pytest.raises(CommitFailed):
        uow.commit()
    _add(flaky, 1)
    with flaky.unit_of_work() as again:
        again.contacts.add(
            Contact(
                id=ContactId("c1"),
                account_id=AccountId("a1"),
                email=EmailAddress.parse("ada@customer.example"),
                created_at=T,
            )
        )
        again.commit()
    assert [c.id for c in flaky.records(Contact)] == ["c1"]


def test_lost_acknowledgement_applies_the_commit(flaky: FlakyStorage[Storage]) -> None:
    """fail_after_next_commits: the data is committed, yet the caller gets a StorageError."""
    flaky.fail_after_next_commits()
    with flaky.unit_of_work() as uow:
        uow.accounts.add(_account(1))
        with pytest.raises(StorageError) as raised:
            uow.commit()
    assert not isinstance(raised.value, CommitFailed)  # CommitFailed would promise nothing applied
    assert [a.id for a in flaky.records(Account)] == ["a1"]
    assert flaky.commits == 1


def test_storage_down_refuses_units(flaky: FlakyStorage[Storage]) -> None:
    """fail_next_units: unit_of_work() raises StorageError, then storage is back."""
    flaky.fail_next_units(1)
    with pytest.raises(StorageError):
        flaky.unit_of_work()
    _add(flaky, 1)
    assert len(flaky.records(Account)) == 1


def test_clear_cancels_what_is_scheduled() -> None:
    """clear() drops every pending failure; negative counts are a programming error."""
    flaky = FlakyStorage(InMemoryStorage())
    flaky.fail_next_commits(3)
    flaky.fail_next_units(1)
    flaky.fail_after_next_commits(1)
    assert flaky.pending == 5
    flaky.clear()
    assert flaky.pending == 0
    _add(flaky, 1)
    assert flaky.injected == []
    with pytest.raises(InvalidValueError):
        flaky.fail_next_commits(-1)


def test_inspection_needs_an_inspectable_inner_store() -> None:
    """records() on a wrapped store without records() is refused with a clear error."""

    class Bare:
        def __init__(self) -> None:
            self._inner = InMemoryStorage()

        def unit_of_work(self) -> object:
            return self._inner.unit_of_work()

    flaky = FlakyStorage(Bare())  # type: ignore[type-var]
    _add(flaky, 1)
    with pytest.raises(InvalidValueError, match="Bare has no records"):
        flaky.records(Account)


def test_failures_are_shared_out_across_threads() -> None:
    """Eight threads committing at once: exactly the scheduled number of them fail."""
    flaky = FlakyStorage(InMemoryStorage())
    flaky.fail_next_commits(3)
    barrier = threading.Barrier(8)
    failed: list[int] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        barrier.wait(10)
        try:
            _add(flaky, n)
        except CommitFailed:
            with lock:
                failed.append(n)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(failed) == 3
    stored = {a.id for a in flaky.records(Account)}
    assert stored == {AccountId(f"a{n}") for n in range(8) if n not in failed}


@settings(max_examples=30, deadline=None)
@given(plan=st.lists(st.sampled_from(["ok", "before", "after"]), max_size=12))
def test_each_commit_is_applied_exactly_when_not_refused_before(plan: list[str]) -> None:
    """Any mix of scheduled failures: a commit lands unless refused before it, never twice."""
    flaky = FlakyStorage(InMemoryStorage())
    for n, step in enumerate(plan):
        if step == "before":
            flaky.fail_next_commits()
        elif step == "after":
            flaky.fail_after_next_commits()
        with contextlib.suppress(StorageError):
            _add(flaky, n)
    expected = [AccountId(f"a{n}") for n, step in enumerate(plan) if step != "before"]
    assert [a.id for a in flaky.records(Account)] == expected
    assert flaky.commits == len(expected)
    assert len(flaky.injected) == sum(step != "ok" for step in plan)


def test_a_failing_statement_fails_that_call_only(flaky: FlakyStorage[Storage]) -> None:
    """fail_next_statements: the repository call raises, nothing of the unit is applied."""
    flaky.fail_next_statements(skip=1)
    with flaky.unit_of_work() as uow:
        uow.accounts.add(_account(1))  # let through
        with pytest.raises(StorageError, match="locked"):
            uow.accounts.add(_account(2))
        uow.rollback()
    assert flaky.records(Account) == ()
    _add(flaky, 3)
    assert [a.id for a in flaky.records(Account)] == ["a3"]
    assert flaky.pending == 0


def test_skip_reaches_each_step_of_a_run(flaky: FlakyStorage[Storage]) -> None:
    """steps counts a clean run; skip=k fails exactly the k-th step of its kind."""
    _add(flaky, 1)
    _add(flaky, 2)
    assert flaky.steps == {"unit": 2, "statement": 2, "commit": 2}
    flaky.fail_next_commits(skip=1)
    _add(flaky, 3)
    with pytest.raises(CommitFailed):
        _add(flaky, 4)
    flaky.fail_next_units(skip=1)
    _add(flaky, 5)
    with pytest.raises(StorageError):
        _add(flaky, 6)
    flaky.fail_after_next_commits(skip=1)
    _add(flaky, 7)
    with pytest.raises(StorageError):
        _add(flaky, 8)  # applied, answer lost
    assert [a.id for a in flaky.records(Account)] == ["a1", "a2", "a3", "a5", "a7", "a8"]
    with pytest.raises(InvalidValueError):
        flaky.fail_next_statements(skip=-1)


ARRIVAL = Envelope(received_at=T, rcpt_to=("support@acme.example",))


def test_flaky_raw_store_fails_puts_and_reads_as_told() -> None:
    """A failed put stores nothing; a failed read raises once; steps count both kinds."""
    store = FlakyRawStore(InMemoryRawStore())
    store.fail_next_puts()
    with pytest.raises(StorageError):
        store.put(b"Subject: one\r\n\r\nhi\r\n", ARRIVAL)
    assert store.received(before=datetime(2030, 1, 1, tzinfo=UTC)) == ()
    raw_id = store.put(b"Subject: one\r\n\r\nhi\r\n", ARRIVAL)
    store.fail_next_reads(2, skip=1)
    assert store.contains(raw_id)
    with pytest.raises(StorageError):
        store.get(raw_id)
    with pytest.raises(StorageError):
        store.received(before=datetime(2030, 1, 1, tzinfo=UTC))
    assert store.get(raw_id).startswith(b"Subject: one")
    assert store.steps == {"put": 2, "read": 5}
    assert len(store.injected) == 3
    assert store.pending == 0
    store.fail_next_puts(2)
    store.fail_next_reads()
    store.clear()
    assert store.pending == 0
    assert store.contains(store.put(b"Subject: two\r\n\r\nhi\r\n"))
