"""The SQL storage passes the storage contract on SQLite and PostgreSQL, and migrates."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings

pytest.importorskip("sqlalchemy", reason="the SQL storage needs the sql extra")

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from inboxcore.adapters.sql import (
    LATEST_VERSION,
    MIGRATIONS,
    SqlStorage,
    make_engine,
    migrate,
    schema_version,
)
from inboxcore.adapters.sql import _tables as t
from inboxcore.adapters.sql._tables import ALL_TABLES
from inboxcore.adapters.sql.migrations import VERSION_TABLE
from inboxcore.adapters.sql.storage import _UNIQUES, SqlUnitOfWork, _Conversations
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import (
    CommitFailed,
    DuplicateMessage,
    ForwardingAddressRetired,
    ForwardingAddressTaken,
    InvalidValueError,
    StorageError,
)
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
    Contact,
    Conversation,
    Direction,
    Envelope,
    IntakeRecord,
    Message,
    MessageKind,
    RotationState,
    Ticket,
    TicketQuery,
    TicketStatus,
)
from inboxcore.domain.serialization import converter
from inboxcore.policies.threads import subject_key
from inboxcore.testing.contracts import StorageContract
from tests.sql_support import postgres_url, throwaway_schema
from tests.strategies import ALL_VALUES

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


class TestSqliteStorage(StorageContract):
    @pytest.fixture(autouse=True)
    def _workspace(self, tmp_path: Path) -> Iterator[None]:
        self._dir = tmp_path
        self._made: list[SqlStorage] = []
        yield
        for storage in self._made:
            storage.close()

    def make_storage(self) -> SqlStorage:
        path = self._dir / f"inbox-{len(self._made)}.db"
        storage = SqlStorage.from_url(f"sqlite:///{path}")
        self._made.append(storage)
        return storage


class TestPostgresStorage(StorageContract):
    @pytest.fixture(autouse=True)
    def _workspace(self) -> Iterator[None]:
        self._url = postgres_url()
        with ExitStack() as stack:
            self._stack = stack
            yield

    def make_storage(self) -> SqlStorage:
        schema = self._stack.enter_context(throwaway_schema(self._url))
        storage = SqlStorage.from_url(self._url, schema=schema)
        self._stack.callback(storage.close)
        return storage


# --- beyond the contract: migrations, error mapping, locking, backends ---------------------------


@attrs.define
class Backend:
    """One fresh, empty database (a SQLite file, or a PostgreSQL schema) for one test."""

    name: str
    url: str
    schema: str | None
    stack: ExitStack

    def engine(self) -> Engine:
        engine = make_engine(self.url, schema=self.schema)
        self.stack.callback(engine.dispose)
        return engine

    def storage(self, *, migrate: bool = True) -> SqlStorage:
        storage = SqlStorage.from_url(self.url, schema=self.schema, migrate=migrate)
        self.stack.callback(storage.close)
        return storage


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    with ExitStack() as stack:
        if request.param == "sqlite":
            yield Backend("sqlite", f"sqlite:///{tmp_path / 'inbox.db'}", None, stack)
        else:
            url = postgres_url()
            schema = stack.enter_context(throwaway_schema(url))
            yield Backend("postgres", url, schema, stack)


def _account(n: int = 1) -> Account:
    return Account(id=AccountId(f"acct-{n}"), name=f"Acme {n}", subdomain=f"acme{n}")


def _channel(n: int = 1, address: str | None = None, account: int = 1) -> Channel:
    return Channel(
        id=ChannelId(f"chan-{n}"),
        account_id=AccountId(f"acct-{account}"),
        name=f"Support {n}",
        forwarding_address=EmailAddress.parse(address or f"support-{n}@acme.inbox.example"),
        created_at=T0,
        company_name=f"Acme Support {n}",
    )


def _contact(n: int, email: str) -> Contact:
    return Contact(
        id=ContactId(f"contact-{n}"),
        account_id=AccountId("acct-1"),
        email=EmailAddress.parse(email),
        created_at=T0,
    )


def _message(n: int, rfc_message_id: str | None, subject: str = "Invoice") -> Message:
    return Message(
        id=MessageId(f"msg-{n}"),
        account_id=AccountId("acct-1"),
        channel_id=ChannelId("chan-1"),
        conversation_id=ConversationId("conv-1"),
        direction=Direction.INBOUND,
        kind=MessageKind.MESSAGE,
        fingerprint=f"fp-{n}",
        received_at=T0,
        rfc_message_id=rfc_message_id,
        subject=subject,
    )


def _seed(storage: SqlStorage) -> None:
    with storage.unit_of_work() as uow:
        uow.accounts.add(_account())
        uow.channels.add(_channel())
        uow.commit()


def test_fresh_database_is_at_the_latest_version(backend: Backend) -> None:
    """A new store migrates to LATEST_VERSION; migrating again applies nothing."""
    storage = backend.storage()
    assert storage.schema_version() == LATEST_VERSION
    assert storage.migrate() == ()
    assert schema_version(backend.engine()) == LATEST_VERSION


def test_raw_bytes_are_compressed_with_lz4_on_postgresql(backend: Backend) -> None:
    """Migration 6: new raw messages use lz4 (pglz took 1.2 ms a 50 KB message); SQLite has
    nothing to set."""
    storage = backend.storage()
    if backend.name == "sqlite":
        assert storage.migrate(target=LATEST_VERSION) == ()
        return
    with storage.engine.connect() as connection:
        method = connection.exec_driver_sql(
            "SELECT attcompression FROM pg_attribute "
            "WHERE attrelid = 'inboxcore_raw_messages'::regclass AND attname = 'data'"
        ).scalar()
        supported = connection.exec_driver_sql(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        ).scalar()
    assert method == ("l" if supported else "")
    text = b"Subject: a long one\r\n\r\n" + b"The invoice lists twelve seats. " * 3000
    raws = storage.raw_store()
    assert raws.get(raws.put(text)) == text


def test_schema_holds_every_rule_and_column_the_queries_use(backend: Backend) -> None:
    """Every unique rule the error mapping knows exists by name, and every queried column exists."""
    backend.storage()
    inspector = sa.inspect(backend.engine())
    for table in ALL_TABLES:
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        assert {c.name for c in table.columns} <= columns, table.name
    names: set[str | None] = set()
    for table in ALL_TABLES:
        names |= {u["name"] for u in inspector.get_unique_constraints(table.name)}
        names |= {i["name"] for i in inspector.get_indexes(table.name) if i["unique"]}
    assert {u.name for u in _UNIQUES} <= names
    indexes = {i["name"] for i in inspector.get_indexes("inboxcore_conversations")}
    assert "ix_inboxcore_conversations_open_assignee" in indexes


def test_old_schema_is_migrated_keeping_its_data(backend: Backend) -> None:
    """A version-1 database with data migrates to the latest version; the data reads back."""
    engine = backend.engine()
    assert migrate(engine, target=1, schema=backend.schema) == (1,)
    with pytest.raises(StorageError, match="version 1"):
        SqlStorage(engine, schema=backend.schema, migrate=False)
    contact = _contact(1, "ada@example.com")
    with engine.begin() as connection:
        if backend.name == "sqlite":
            connection.exec_driver_sql("BEGIN")
        connection.execute(
            sa.insert(t.ACCOUNTS).values(id="acct-1", data=converter.unstructure(_account()))
        )
        connection.execute(
            sa.insert(t.CONTACTS).values(
                id=contact.id,
                account_id=contact.account_id,
                email_key=contact.email.key,
                data=converter.unstructure(contact),
            )
        )
    storage = SqlStorage(engine, schema=backend.schema)
    assert storage.schema_version() == LATEST_VERSION
    with storage.unit_of_work() as uow:
        assert uow.contacts.by_email(AccountId("acct-1"), "ada@example.com") == contact
    raw_id = storage.raw_store().put(b"Subject: after the migration\r\n\r\nhi\r\n")
    assert storage.raw_store().contains(raw_id)


def test_version_3_rows_get_their_listing_columns(backend: Backend) -> None:
    """Conversations and tickets stored before version 4 are found by subject and in pages."""
    engine = backend.engine()
    migrate(engine, target=3, schema=backend.schema)
    conversation = Conversation(
        id=ConversationId("conv-1"),
        account_id=AccountId("acct-1"),
        channel_id=ChannelId("chan-1"),
        contact_id=ContactId("contact-1"),
        subject="Re: Invoice 1042",
        created_at=T0,
        last_message_at=T0,
    )
    ticket = Ticket(
        id=TicketId("ticket-1"),
        account_id=AccountId("acct-1"),
        channel_id=ChannelId("chan-1"),
        conversation_id=conversation.id,
        name="Invoice 1042",
        created_at=T0,
        updated_at=T0,
        status=TicketStatus.WAITING_ON_US,
    )
    with engine.begin() as connection:
        if backend.name == "sqlite":
            connection.exec_driver_sql("BEGIN")
        connection.execute(
            sa.insert(t.ACCOUNTS).values(id="acct-1", data=converter.unstructure(_account()))
        )
        channel = _channel()
        connection.execute(
            sa.insert(t.CHANNELS).values(
                id=channel.id,
                account_id=channel.account_id,
                address_key=channel.forwarding_address.key,
                from_name_key="acme support 1",
                state=channel.state.value,
                created_at=T0,
                data=converter.unstructure(channel),
            )
        )
        old = ("id", "account_id", "channel_id", "contact_id", "status", "created_at")
        values = {k: v for k, v in _Conversations._values(conversation).items() if k in old}
        connection.execute(
            sa.insert(t.CONVERSATIONS).values(
                **values, last_message_at=T0, data=converter.unstructure(conversation)
            )
        )
        connection.execute(
            sa.insert(t.TICKETS).values(
                id=ticket.id,
                account_id=ticket.account_id,
                channel_id=ticket.channel_id,
                conversation_id=ticket.conversation_id,
                created_at=T0,
                data=converter.unstructure(ticket),
            )
        )
    storage = SqlStorage(engine, schema=backend.schema)
    with storage.unit_of_work() as uow:
        found = uow.conversations.by_subject(
            ChannelId("chan-1"), ContactId("contact-1"), subject_key("invoice 1042"), T0
        )
        assert found == (conversation,)
        waiting = uow.tickets.page(
            TicketQuery(channel_id=ChannelId("chan-1"), status=TicketStatus.WAITING_ON_US)
        )
        assert waiting.items == (ticket,)


def test_newer_database_is_refused(backend: Backend) -> None:
    """A database migrated by newer code is not written to by this code."""
    storage = backend.storage()
    with storage.engine.begin() as connection:
        if backend.name == "sqlite":
            connection.exec_driver_sql("BEGIN")
        connection.execute(
            sa.text(f"INSERT INTO {VERSION_TABLE} (version, name) VALUES (99, 'from the future')")
        )
    with pytest.raises(StorageError, match="newer"):
        backend.storage()


def test_concurrent_migrations_apply_each_step_once(backend: Backend) -> None:
    """Workers starting together on an empty database migrate it exactly once between them."""
    engine = backend.engine()
    applied: list[int] = []
    barrier = threading.Barrier(4)

    def start_worker() -> None:
        barrier.wait(10)
        applied.extend(migrate(engine, schema=backend.schema))

    threads = [threading.Thread(target=start_worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(applied) == [m.version for m in MIGRATIONS]


def test_constraint_error_leaves_the_unit_only_for_rollback(backend: Backend) -> None:
    """After a uniqueness error, commit refuses; the storage itself stays usable."""
    storage = backend.storage()
    _seed(storage)
    with storage.unit_of_work() as uow:
        with pytest.raises(ForwardingAddressTaken):
            uow.channels.add(_channel(2, address="Support-1@acme.inbox.example"))
        with pytest.raises(StorageError):
            uow.commit()
    with storage.unit_of_work() as uow:
        uow.channels.add(_channel(2))
        uow.commit()
    with storage.unit_of_work() as uow:
        assert [c.id for c in uow.channels.for_account(AccountId("acct-1"))] == ["chan-1", "chan-2"]


def test_ended_unit_refuses_further_use(backend: Backend) -> None:
    """A committed unit raises StorageError when used again."""
    storage = backend.storage()
    uow = storage.unit_of_work()
    uow.commit()
    with pytest.raises(StorageError):
        uow.accounts.get(AccountId("acct-1"))
    uow.rollback()  # never raises


def test_units_hold_a_connection_only_while_in_use(backend: Backend) -> None:
    """A unit takes a pooled connection at its first statement and returns it when it ends."""
    storage = backend.storage()
    pool = storage.engine.pool
    assert isinstance(pool, sa.pool.QueuePool)
    idle = [storage.unit_of_work() for _ in range(50)]  # more than the pool holds
    assert pool.checkedout() == 0
    with storage.unit_of_work() as uow:
        uow.accounts.add(_account())
        assert pool.checkedout() == 1
        uow.commit()
    assert pool.checkedout() == 0
    for unit in idle:
        unit.commit()  # nothing to apply: no error


def test_record_referring_to_nothing_fails_the_commit(backend: Backend) -> None:
    """A channel of an account that does not exist fails the commit, and nothing is applied."""
    storage = backend.storage()
    _seed(storage)
    with storage.unit_of_work() as uow:
        uow.contacts.add(_contact(1, "ada@example.com"))
        uow.channels.add(_channel(2, account=99))
        with pytest.raises(CommitFailed):
            uow.commit()
    with storage.unit_of_work() as uow:
        assert uow.contacts.by_email(AccountId("acct-1"), "ada@example.com") is None


def test_channel_cannot_move_to_a_retired_address(backend: Backend) -> None:
    """Updating a channel to an address another channel retired raises ForwardingAddressRetired."""
    storage = backend.storage()
    _seed(storage)
    with storage.unit_of_work() as uow:
        uow.channels.add(_channel(2))
        uow.channels.retire_address("old@acme.inbox.example", ChannelId("chan-1"), T0)
        uow.commit()
    moved = attrs.evolve(
        _channel(2), forwarding_address=EmailAddress.parse("OLD@acme.inbox.example")
    )
    with storage.unit_of_work() as uow, pytest.raises(ForwardingAddressRetired):
        uow.channels.update(moved)


def test_address_retired_while_a_channel_claims_it(backend: Backend) -> None:
    """A channel claiming an address that a concurrent unit is retiring fails once that commits."""
    storage = backend.storage()
    _seed(storage)
    retiring = threading.Event()
    release = threading.Event()
    refused: list[BaseException] = []

    def retirer() -> None:
        with storage.unit_of_work() as uow:
            uow.channels.retire_address("old@acme.inbox.example", ChannelId("chan-1"), T0)
            retiring.set()
            release.wait(10)
            uow.commit()

    def claimer() -> None:
        retiring.wait(10)
        try:
            with storage.unit_of_work() as uow:
                uow.channels.add(_channel(2, address="old@acme.inbox.example"))
                uow.commit()
        except ForwardingAddressRetired as exc:
            refused.append(exc)

    threads = [threading.Thread(target=retirer), threading.Thread(target=claimer)]
    for thread in threads:
        thread.start()
    retiring.wait(10)
    time.sleep(0.3)  # the claimer is now waiting for the retirer
    release.set()
    for thread in threads:
        thread.join(30)
    assert len(refused) == 1
    with storage.unit_of_work() as uow:
        assert uow.channels.by_forwarding_address("old@acme.inbox.example") is None


def test_hostile_nul_characters_are_stored_and_found(backend: Backend) -> None:
    """A Message-ID and subject holding NUL (which PostgreSQL text refuses) still store and match."""
    storage = backend.storage()
    _seed(storage)
    message = _message(1, "evil\x00id@spam.example", subject="Free\x00money")
    with storage.unit_of_work() as uow:
        uow.messages.add(message)
        uow.commit()
    with storage.unit_of_work() as uow:
        assert uow.messages.by_dedup_key(ChannelId("chan-1"), message.dedup_key) == message
        found = uow.messages.by_rfc_message_ids(ChannelId("chan-1"), ["evil\x00id@spam.example"])
        assert found == (message,)
        with pytest.raises(DuplicateMessage):
            uow.messages.add(attrs.evolve(message, id=MessageId("msg-2")))


def test_message_lookup_by_many_message_ids(backend: Backend) -> None:
    """by_rfc_message_ids answers in the order asked, for more ids than one query takes."""
    storage = backend.storage()
    _seed(storage)
    with storage.unit_of_work() as uow:
        for n in range(5):
            uow.messages.add(_message(n, f"m{n}@example.com"))
        uow.commit()
    wanted = [f"x{n}@example.com" for n in range(1200)] + ["m3@example.com", "m1@example.com"]
    with storage.unit_of_work() as uow:
        found = uow.messages.by_rfc_message_ids(ChannelId("chan-1"), wanted)
    assert [m.id for m in found] == ["msg-3", "msg-1"]


def test_rotation_read_waits_for_the_unit_holding_it(backend: Backend) -> None:
    """A second reader of the rotation waits until the first unit commits, then sees its turn."""
    storage = backend.storage()
    _seed(storage)
    seen: list[int] = []
    holder_has_it = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with storage.unit_of_work() as uow:
            assert uow.routing.rotation(ChannelId("chan-1")) is None
            uow.routing.save_rotation(
                RotationState(channel_id=ChannelId("chan-1"), assigned_count=1, at=T0)
            )
            holder_has_it.set()
            release.wait(10)
            uow.commit()

    def follower() -> None:
        holder_has_it.wait(10)
        with storage.unit_of_work() as uow:
            state = uow.routing.rotation(ChannelId("chan-1"))
            seen.append(state.assigned_count if state else 0)
            uow.rollback()

    threads = [threading.Thread(target=holder), threading.Thread(target=follower)]
    for thread in threads:
        thread.start()
    holder_has_it.wait(10)
    time.sleep(0.3)
    assert seen == []  # still waiting for the row
    release.set()
    for thread in threads:
        thread.join(30)
    assert seen == [1]


ROUND_TRIP: dict[type[Any], tuple[Callable[[Any, Any], None], Callable[[Any, Any], Any]]] = {
    Account: (lambda u, v: u.accounts.add(v), lambda u, v: u.accounts.get(v.id)),
    Channel: (
        lambda u, v: u.channels.add(v),
        lambda u, v: u.channels.by_forwarding_address(v.forwarding_address.key),
    ),
    Contact: (
        lambda u, v: u.contacts.add(v),
        lambda u, v: u.contacts.by_email(v.account_id, v.email.key),
    ),
    Conversation: (lambda u, v: u.conversations.add(v), lambda u, v: u.conversations.get(v.id)),
    Message: (
        lambda u, v: u.messages.add(v),
        lambda u, v: u.messages.by_dedup_key(v.channel_id, v.dedup_key),
    ),
    Ticket: (
        lambda u, v: u.tickets.add(v),
        lambda u, v: u.tickets.for_conversation(v.conversation_id),
    ),
    RotationState: (
        lambda u, v: u.routing.save_rotation(v),
        lambda u, v: u.routing.rotation(v.channel_id),
    ),
    IntakeRecord: (
        lambda u, v: u.intake_log.record(v),
        lambda u, v: u.intake_log.for_raw_message(v.raw_id)[-1],
    ),
}


@pytest.mark.parametrize("kind", list(ROUND_TRIP), ids=[k.__name__ for k in ROUND_TRIP])
def test_any_record_reads_back_equal(backend: Backend, kind: type[Any]) -> None:
    """Generated records of every kind read back equal through the database."""
    storage = backend.storage()
    store, load = ROUND_TRIP[kind]

    @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(value=ALL_VALUES[kind])
    def round_trip(value: Any) -> None:
        # Rolled back, never committed: parents need not exist, and examples do not clash.
        with storage.unit_of_work() as uow:
            store(uow, value)
            assert load(uow, value) == value

    round_trip()


def test_sqlite_connections_use_wal_foreign_keys_and_full_sync(tmp_path: Path) -> None:
    """Every SQLite connection runs in WAL mode with foreign keys on and synchronous=FULL."""
    storage = SqlStorage.from_url(f"sqlite:///{tmp_path / 'inbox.db'}", busy_timeout=7.5)
    try:
        with storage.engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA synchronous").scalar() == 2
            assert pragma("PRAGMA busy_timeout").scalar() == 7500
    finally:
        storage.close()


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///:memory:", "mysql+pymysql://u:p@db/x", "oracle://u:p@db/x"]
)
def test_unsupported_urls_are_refused(url: str) -> None:
    """In-memory SQLite and other databases are refused with a typed error, not a crash."""
    with pytest.raises(InvalidValueError):
        SqlStorage.from_url(url)


def test_sqlite_engine_must_be_prepared(tmp_path: Path) -> None:
    """A plain SQLite engine is refused: the unit of work needs the driver in autocommit mode."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'inbox.db'}")
    try:
        with pytest.raises(InvalidValueError, match="make_engine"):
            SqlStorage(engine)
    finally:
        engine.dispose()


def test_unreachable_postgres_is_a_storage_error() -> None:
    """A server that does not answer makes the store raise StorageError, not a driver error."""
    pytest.importorskip("psycopg", reason="needs the postgres extra")
    with pytest.raises(StorageError):
        SqlStorage.from_url("postgresql://nobody:nothing@127.0.0.1:1/none")


def test_schema_must_lead_the_search_path() -> None:
    """Migrating into a schema through an engine that would write elsewhere is refused."""
    url = postgres_url()
    with throwaway_schema(url) as schema:
        engine = make_engine(url)  # no schema: its search_path starts with "$user"/public
        try:
            with pytest.raises(InvalidValueError, match="search_path"):
                migrate(engine, schema=schema)
            assert not sa.inspect(engine).has_table(VERSION_TABLE)
            assert schema not in sa.inspect(engine).get_schema_names()
        finally:
            engine.dispose()


def test_records_lists_committed_records_in_insertion_order(backend: Backend) -> None:
    """records() and intake_records() show what was committed, as InMemoryStorage does."""
    storage = backend.storage()
    _seed(storage)
    with storage.unit_of_work() as uow:
        uow.contacts.add(_contact(2, "zoe@example.com"))
        uow.contacts.add(_contact(1, "ada@example.com"))
        uow.routing.rotation(ChannelId("chan-1"))  # an empty rotation row is not a record
        uow.commit()
    with storage.unit_of_work() as uow:
        uow.contacts.add(_contact(3, "uncommitted@example.com"))
        assert [c.id for c in storage.records(Contact)] == ["contact-2", "contact-1"]
    assert storage.records(Channel) == (_channel(),)
    assert storage.records(RotationState) == ()
    assert storage.intake_records() == ()
    with pytest.raises(InvalidValueError):
        storage.records(Envelope)


def test_a_subject_holding_nul_is_stored_and_found(backend: Backend) -> None:
    """PostgreSQL text holds no NUL: a conversation whose subject has one (a host's own value;
    intake replaces control characters) is stored, reads back equal and is found by subject."""
    storage = backend.storage()
    conversation = Conversation(
        id=ConversationId("conv-nul"),
        account_id=AccountId("acct-1"),
        channel_id=ChannelId("chan-1"),
        contact_id=ContactId("contact-1"),
        subject="Invoice\x00 1042",
        created_at=T0,
        last_message_at=T0,
    )
    # Rolled back, never committed: the parents need not exist.
    with storage.unit_of_work() as uow:
        uow.conversations.add(conversation)
        assert uow.conversations.get(conversation.id) == conversation
        found = uow.conversations.by_subject(
            conversation.channel_id,
            conversation.contact_id,
            subject_key(conversation.subject),
            T0 - timedelta(days=1),
        )
        assert [c.id for c in found] == [conversation.id]


def test_sqlite_threads_by_subject_on_the_subject_index(tmp_path: Path) -> None:
    """The subject lookup orders by (last_message_at, id) with a limit; the planner must use the
    subject index, not walk the channel's recent index over every conversation (9.5 ms a message
    at 10^5 stored, before migration 5)."""
    from inboxcore.adapters.sql._repositories import _CONVERSATIONS_BY_SUBJECT

    storage = SqlStorage.from_url(f"sqlite:///{tmp_path / 'inbox.db'}")
    try:
        compiled = _CONVERSATIONS_BY_SUBJECT.compile(storage.engine)
        params = {"channel": "c", "contact": "k", "key": "s", "since": "2026-01-01", "limit": 20}
        values = tuple(params.get(name, 0) for name in compiled.positiontup or ())
        with storage.engine.connect() as connection:
            plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), values).all()
    finally:
        storage.close()
    details = " ".join(str(row[-1]) for row in plan)
    assert "ix_inboxcore_conversations_subject_recent" in details
    assert "TEMP B-TREE" not in details  # no sort: the index gives the order


def test_rotation_is_made_locked_and_read_in_one_statement(backend: Backend) -> None:
    """Taking the rotation's turn costs one statement (the row made if missing, locked and read
    by one upsert), before and after the first save; the lock itself is tested above."""
    storage = backend.storage()
    _seed(storage)
    executed: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.startswith("BEGIN"):
            executed.append(statement)

    sa.event.listen(storage.engine, "before_cursor_execute", count)
    for assigned in (1, 2):
        with storage.unit_of_work() as uow:
            executed.clear()
            state = uow.routing.rotation(ChannelId("chan-1"))
            assert len(executed) == 1
            assert (state.assigned_count if state else 0) == assigned - 1
            uow.routing.save_rotation(
                RotationState(channel_id=ChannelId("chan-1"), assigned_count=assigned, at=T0)
            )
            uow.commit()


def test_a_contact_new_in_the_unit_is_threaded_by_subject_without_a_query(
    backend: Backend,
) -> None:
    """A new customer's first message: the unit that made the contact knows it has no
    conversation, and asks the database only once it has given it one."""
    storage = backend.storage()
    _seed(storage)
    executed: list[str] = []
    sa.event.listen(storage.engine, "before_cursor_execute", lambda *args: executed.append(args[2]))
    contact = _contact(1, "ada@example.com")
    conversation = Conversation(
        id=ConversationId("conv-1"),
        account_id=AccountId("acct-1"),
        channel_id=ChannelId("chan-1"),
        contact_id=contact.id,
        subject="Invoice 1042",
        created_at=T0,
        last_message_at=T0,
    )
    since, chan = T0 - timedelta(days=1), ChannelId("chan-1")
    with storage.unit_of_work() as uow:
        uow.contacts.add(contact)
        executed.clear()
        assert uow.conversations.by_subject(chan, contact.id, "invoice 1042", since) == ()
        assert executed == []
        uow.conversations.add(conversation)
        found = uow.conversations.by_subject(chan, contact.id, "invoice 1042", since)
        assert [c.id for c in found] == [conversation.id]
        uow.commit()
    with storage.unit_of_work() as uow:  # a later unit asks the database again
        found = uow.conversations.by_subject(chan, contact.id, "invoice 1042", since)
        assert [c.id for c in found] == [conversation.id]


def _pragma(storage: SqlStorage, name: str) -> int:
    """A SQLite setting as a unit of work's connection has it."""
    with storage.unit_of_work() as uow:
        assert isinstance(uow, SqlUnitOfWork)
        return int(uow.run(sa.text(f"PRAGMA {name}")).scalar() or 0)


def test_batch_durability_defers_flushes_to_one_checkpoint_on_sqlite(backend: Backend) -> None:
    """Inside, SQLite commits without a flush each (NORMAL = 1); on leaving, one full
    checkpoint flushes them all, and units flush each commit again (FULL = 2)."""
    storage = backend.storage()
    if backend.name != "sqlite":
        with storage.batch_durability():
            assert storage.synchronous == "FULL"  # PostgreSQL: nothing relaxed
        return
    executed: list[str] = []
    sa.event.listen(storage.engine, "before_cursor_execute", lambda *a: executed.append(a[2]))
    assert (_pragma(storage, "synchronous"), _pragma(storage, "wal_autocheckpoint")) == (2, 1000)
    with storage.batch_durability():
        assert _pragma(storage, "synchronous") == 1
        assert _pragma(storage, "wal_autocheckpoint") == 20000
        _seed(storage)
        with storage.unit_of_work() as uow:
            uow.contacts.add(_contact(1, "ada@example.com"))
            uow.commit()
        assert "PRAGMA wal_checkpoint(FULL)" not in executed
    assert executed[-1] == "PRAGMA wal_checkpoint(FULL)"
    assert (_pragma(storage, "synchronous"), _pragma(storage, "wal_autocheckpoint")) == (2, 1000)
    assert [c.id for c in storage.records(Contact)] == ["contact-1"]
