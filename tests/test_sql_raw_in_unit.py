"""The SQL table raw store joined to the unit of work (inboxcore.app.staged): a received
message's bytes are written in the unit that records it, one commit instead of two, and never
the one without the other. Run on SQLite and (when INBOXCORE_TEST_POSTGRES is set) PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sqlalchemy", reason="the SQL storage needs the sql extra")

import sqlalchemy as sa

from inboxcore.adapters.rawstore import DirectoryRawStore
from inboxcore.adapters.sql import SqlStorage
from inboxcore.adapters.sql.rawstore import SqlRawStore
from inboxcore.adapters.sql.storage import SqlUnitOfWork
from inboxcore.app import settle as settle_module
from inboxcore.app.service import InboxService
from inboxcore.domain.errors import CommitFailed, InvalidValueError
from inboxcore.domain.ids import raw_message_id
from inboxcore.domain.model import Conversation, Message
from inboxcore.domain.outcomes import Disposition
from inboxcore.ports import JoinableRawStore, RawMessageStore
from tests import test_service as scenarios
from tests.sql_support import database_url


@pytest.fixture(params=["sqlite", "postgres"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStorage]:
    with ExitStack() as stack:
        url, schema = database_url(request.param, tmp_path, stack)
        made = SqlStorage.from_url(url, schema=schema)
        stack.callback(made.close)
        yield made


def service_on(storage: SqlStorage, raw_store: RawMessageStore) -> InboxService:
    """The scenarios' world (channel, agents, clock) on ``storage`` with ``raw_store``."""
    w = scenarios.world(storage)  # type: ignore[arg-type]
    s = w.service
    return InboxService(
        storage=storage,
        raw_store=raw_store,
        clock=s.clock,
        ids=s.ids,
        directory=s.directory,
        events=s.events,
        config=s.config,
    )


def commits_during(storage: SqlStorage, call: Any) -> tuple[Any, int]:
    seen: list[object] = []

    def count(_connection: object) -> None:
        seen.append(_connection)

    sa.event.listen(storage.engine, "commit", count)
    try:
        return call(), len(seen)
    finally:
        sa.event.remove(storage.engine, "commit", count)


def test_the_table_store_joins_its_own_storage_only(storage: SqlStorage, tmp_path: Path) -> None:
    raw_store = storage.raw_store()
    assert isinstance(raw_store, JoinableRawStore)
    assert raw_store.joins(storage)
    other = SqlStorage.from_url(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        assert not other.raw_store().joins(storage)
        assert not raw_store.joins(other)
        with other.unit_of_work() as foreign, pytest.raises(InvalidValueError):
            raw_store.put_in(foreign, b"Subject: x\r\n\r\nbody\r\n")
    finally:
        other.close()


def test_a_received_message_is_recorded_with_its_bytes_in_one_commit(
    storage: SqlStorage,
) -> None:
    raw_store = storage.raw_store()
    service = service_on(storage, raw_store)
    delivery, commits = commits_during(
        storage, lambda: service.receive(scenarios.mail(), scenarios.envelope())
    )
    assert delivery.disposition is Disposition.ACCEPTED
    assert commits == 1  # was two: the raw put's own, then the unit's
    assert delivery.raw_id == raw_message_id(scenarios.mail())
    assert raw_store.get(delivery.raw_id) == scenarios.mail()
    later = scenarios.T0 + timedelta(days=1)
    (listed,) = raw_store.received(before=later)
    assert listed.raw_id == delivery.raw_id
    assert listed.envelope == scenarios.envelope()


def test_the_same_store_not_joined_commits_twice(storage: SqlStorage) -> None:
    """The twin of the test above: a raw store that cannot join puts on its own commit."""

    class Apart(SqlRawStore):
        def joins(self, storage: object) -> bool:
            return False

    service = service_on(storage, Apart(storage.engine))
    delivery, commits = commits_during(
        storage, lambda: service.receive(scenarios.mail(), scenarios.envelope())
    )
    assert delivery.disposition is Disposition.ACCEPTED
    assert commits == 2


def test_a_refused_commit_keeps_neither_bytes_nor_records(
    storage: SqlStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw_store = storage.raw_store()
    service = service_on(storage, raw_store)
    real_commit = SqlUnitOfWork.commit
    refused: list[bool] = []

    def refuse_once(self: SqlUnitOfWork) -> None:
        if not refused:
            refused.append(True)
            self.rollback()
            raise CommitFailed("refused by the test")
        real_commit(self)

    monkeypatch.setattr(SqlUnitOfWork, "commit", refuse_once)
    held = service.receive(scenarios.mail(), scenarios.envelope())
    assert (held.smtp.code, held.reason_codes) == (451, ("storage_unavailable",))
    assert held.raw_id is not None
    assert not raw_store.contains(held.raw_id)
    assert storage.intake_records() == ()
    again = service.receive(scenarios.mail(), scenarios.envelope())
    assert again.disposition is Disposition.ACCEPTED
    assert raw_store.contains(held.raw_id)
    assert [r.disposition for r in storage.intake_records()] == [Disposition.ACCEPTED]
    assert len(storage.records(Message)) == 1


def test_a_directory_store_keeps_the_bytes_of_a_refused_commit(
    storage: SqlStorage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The twin: a store that cannot join writes at once, so the recovery sweep finds it."""
    raw_store = DirectoryRawStore(tmp_path / "raw")
    service = service_on(storage, raw_store)

    def refuse(self: SqlUnitOfWork) -> None:
        self.rollback()
        raise CommitFailed("refused by the test")

    monkeypatch.setattr(SqlUnitOfWork, "commit", refuse)
    held = service.receive(scenarios.mail(), scenarios.envelope())
    assert held.smtp.code == 451
    assert held.raw_id is not None
    assert raw_store.contains(held.raw_id)


def test_a_bug_while_applying_quarantines_the_message_with_its_bytes(
    storage: SqlStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw_store = storage.raw_store()
    service = service_on(storage, raw_store)

    def broken(*_args: object, **_kw: object) -> None:
        raise RuntimeError("a bug")

    with monkeypatch.context() as patched:
        patched.setattr(settle_module, "apply_accepted", broken)
        kept = service.receive(scenarios.mail(), scenarios.envelope())
    assert kept.disposition is Disposition.QUARANTINED
    assert kept.reason_codes == ("internal_error",)
    assert kept.raw_id is not None
    assert raw_store.get(kept.raw_id) == scenarios.mail()
    assert service.reprocess(kept.raw_id).disposition is Disposition.ACCEPTED
    assert len(storage.records(Conversation)) == 1


def test_a_duplicate_is_listed_and_its_bytes_stored_once(storage: SqlStorage) -> None:
    raw_store = storage.raw_store()
    service = service_on(storage, raw_store)
    first = service.receive(scenarios.mail(), scenarios.envelope())
    again = service.receive(scenarios.mail(), scenarios.envelope())
    assert [first.disposition, again.disposition] == [Disposition.ACCEPTED, Disposition.DUPLICATE]
    assert list(raw_store.ids()) == [first.raw_id]
    assert [r.disposition for r in storage.intake_records()] == [
        Disposition.ACCEPTED,
        Disposition.DUPLICATE,
    ]


def test_a_put_in_a_rolled_back_unit_is_gone(storage: SqlStorage) -> None:
    raw_store = storage.raw_store()
    data = b"Subject: x\r\n\r\nbody\r\n"
    with storage.unit_of_work() as uow:
        raw_id = raw_store.put_in(uow, data, scenarios.envelope())
        uow.rollback()
    assert not raw_store.contains(raw_id)
    with storage.unit_of_work() as uow:
        assert raw_store.put_in(uow, data, scenarios.envelope()) == raw_id
        uow.commit()
    assert raw_store.get(raw_id) == data
