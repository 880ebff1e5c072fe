"""In-memory storage: a unit-of-work store that behaves like a small database.

Each unit of work writes into a private overlay; reads see the committed state plus the unit's own
writes. :meth:`InMemoryUnitOfWork.commit` takes the store's lock, re-checks every uniqueness rule
against what other units committed meanwhile, and applies all writes or none: the same rules a
database's unique constraints enforce, so the storage contract suite means the same thing here as
on SQL. Reads of the routing rotation are remembered; if another unit committed a new rotation
since, the commit fails with :class:`~inboxcore.domain.errors.ConflictError` (a serialization
failure
that the service retries), which is how "two workers never take the same turn" holds here.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar

import attrs

from inboxcore.domain.errors import (
    CommitFailed,
    ConflictError,
    DuplicateMessage,
    DuplicateRecord,
    ForwardingAddressRetired,
    ForwardingAddressTaken,
    FromNameTaken,
    InvalidValueError,
    NotFoundError,
    StorageError,
)
from inboxcore.domain.ids import (
    AccountId,
    ChannelId,
    ContactId,
    ConversationId,
    MessageId,
    RawMessageId,
    TicketId,
    UserId,
    raw_message_id,
)
from inboxcore.domain.model import (
    Account,
    Channel,
    ChannelState,
    Contact,
    Conversation,
    ConversationQuery,
    ConversationStatus,
    Envelope,
    IntakeRecord,
    Message,
    Page,
    PageCursor,
    RotationState,
    StoredRawMessage,
    Ticket,
    TicketQuery,
    check_page_size,
    held,
)
from inboxcore.policies import threads

__all__ = ["InMemoryRawStore", "InMemoryStorage", "InMemoryUnitOfWork"]

R = TypeVar("R")


@attrs.frozen
class _Retired:
    address_key: str
    channel_id: ChannelId
    at: datetime


@attrs.frozen
class _Unique:
    """A unique index: records whose key is not None may not share it."""

    key: Callable[[Any], Any]
    error: Callable[[Any], ConflictError]


def _channel_address(c: Channel) -> str:
    return c.forwarding_address.key


def _channel_from_name(c: Channel) -> tuple[str, str] | None:
    if c.state is ChannelState.DISCONNECTED or not c.from_name_key:
        return None
    return (c.account_id, c.from_name_key)


_TABLES: dict[type[Any], tuple[Callable[[Any], Any], tuple[_Unique, ...]]] = {
    Account: (lambda r: r.id, ()),
    Channel: (
        lambda r: r.id,
        (
            _Unique(
                _channel_address,
                lambda c: ForwardingAddressTaken(
                    f"{c.forwarding_address.key} already receives for another channel"
                ),
            ),
            _Unique(
                _channel_from_name,
                lambda c: FromNameTaken(
                    f"from-name {c.company_name!r} is used by another channel of the account"
                ),
            ),
        ),
    ),
    _Retired: (lambda r: r.address_key, ()),
    Contact: (
        lambda r: r.id,
        (
            _Unique(
                lambda c: (c.account_id, c.email.key),
                lambda c: DuplicateRecord(f"the account already has a contact {c.email.key}"),
            ),
        ),
    ),
    Conversation: (lambda r: r.id, ()),
    Message: (
        lambda r: r.id,
        (
            _Unique(
                lambda m: (m.channel_id, m.dedup_key),
                lambda m: DuplicateMessage(f"channel already holds message {m.dedup_key}"),
            ),
        ),
    ),
    Ticket: (
        lambda r: r.id,
        (
            _Unique(
                lambda t: t.conversation_id,
                lambda t: DuplicateRecord(f"conversation {t.conversation_id} already has a ticket"),
            ),
        ),
    ),
    RotationState: (lambda r: r.channel_id, ()),
}


class _State:
    """The committed state: one dict per record type, plus a version per record."""

    def __init__(self) -> None:
        self.rows: dict[type[Any], dict[Any, Any]] = {t: {} for t in _TABLES}
        self.versions: dict[tuple[type[Any], Any], int] = {}
        self.indexes: dict[tuple[type[Any], int], dict[Any, Any]] = {
            (t, i): {} for t, (_, uniques) in _TABLES.items() for i in range(len(uniques))
        }
        self.intake_log: list[IntakeRecord] = []


class InMemoryStorage:
    """The :class:`~inboxcore.ports.Storage` port in memory; safe under threads.

    Inspect with :meth:`records`; inject failures with :meth:`fail_next_commits`.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._state = _State()
        self._failures: list[BaseException] = []
        self.commits = 0
        """How many units of work committed."""

    def unit_of_work(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self)

    def fail_next_commits(self, count: int = 1, error: BaseException | None = None) -> None:
        """Make the next ``count`` commits fail (with ``error``, default CommitFailed)."""
        with self._lock:
            for _ in range(count):
                self._failures.append(error or CommitFailed("injected commit failure"))

    def records(self, kind: type[R]) -> tuple[R, ...]:
        """Every committed record of ``kind`` (Channel, Contact, ...), in insertion order."""
        with self._lock:
            return tuple(self._state.rows[kind].values())

    def intake_records(self) -> tuple[IntakeRecord, ...]:
        """The committed intake log."""
        with self._lock:
            return tuple(self._state.intake_log)

    # --- used by the unit of work -----------------------------------------------------------

    def _read(self, kind: type[Any], key: Any) -> tuple[Any, int]:
        with self._lock:
            return self._state.rows[kind].get(key), self._state.versions.get((kind, key), 0)

    def _scan(self, kind: type[Any]) -> list[Any]:
        with self._lock:
            return list(self._state.rows[kind].values())

    def _index_lookup(self, kind: type[Any], i: int, key: Any) -> Any:
        with self._lock:
            return self._state.indexes[(kind, i)].get(key)

    def _intake(self) -> list[IntakeRecord]:
        with self._lock:
            return list(self._state.intake_log)

    def _apply(
        self,
        writes: dict[tuple[type[Any], Any], Any],
        reads: dict[tuple[type[Any], Any], int],
        log: list[IntakeRecord],
    ) -> None:
        with self._lock:
            if self._failures:
                raise self._failures.pop(0)
            state = self._state
            for (kind, key), version in reads.items():
                if state.versions.get((kind, key), 0) != version:
                    raise ConflictError(f"{kind.__name__} {key!r} changed since it was read")
            for (kind, key), record in writes.items():
                _, uniques = _TABLES[kind]
                for i, unique in enumerate(uniques):
                    ukey = unique.key(record)
                    if ukey is None:
                        continue
                    owner = state.indexes[(kind, i)].get(ukey)
                    if owner is None or owner == key:
                        continue
                    # The owner may be re-keyed by this very unit (say, a from-name moved).
                    moved = writes.get((kind, owner))
                    if moved is not None and unique.key(moved) != ukey:
                        continue
                    raise unique.error(record)
                if kind is Channel:
                    retired = state.rows[_Retired].get(record.forwarding_address.key)
                    if retired is not None and retired.channel_id != record.id:
                        raise ForwardingAddressRetired(
                            f"{record.forwarding_address.key} was retired and cannot be reused"
                        )
            for (kind, key), record in writes.items():
                _, uniques = _TABLES[kind]
                old = state.rows[kind].get(key)
                for i, unique in enumerate(uniques):
                    index = state.indexes[(kind, i)]
                    if old is not None:
                        old_key = unique.key(old)
                        if old_key is not None and index.get(old_key) == key:
                            del index[old_key]
                for i, unique in enumerate(uniques):
                    ukey = unique.key(record)
                    if ukey is not None:
                        state.indexes[(kind, i)][ukey] = key
                state.rows[kind][key] = record
                state.versions[(kind, key)] = state.versions.get((kind, key), 0) + 1
            state.intake_log.extend(log)
            self.commits += 1


class InMemoryUnitOfWork:
    """One unit of work against :class:`InMemoryStorage`."""

    def __init__(self, storage: InMemoryStorage) -> None:
        self._storage = storage
        self._writes: dict[tuple[type[Any], Any], Any] = {}
        self._reads: dict[tuple[type[Any], Any], int] = {}
        self._log: list[IntakeRecord] = []
        self._closed = False
        self._poisoned = False
        self.accounts = _Accounts(self)
        self.channels = _Channels(self)
        self.contacts = _Contacts(self)
        self.conversations = _Conversations(self)
        self.messages = _Messages(self)
        self.tickets = _Tickets(self)
        self.routing = _Routing(self)
        self.intake_log = _IntakeLog(self)

    # --- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.rollback()

    def commit(self) -> None:
        self._check_open()
        if self._poisoned:
            raise StorageError("the unit of work hit a constraint error; roll it back")
        try:
            self._storage._apply(self._writes, self._reads, self._log)
        finally:
            self._closed = True
            self._writes = {}
            self._log = []

    def rollback(self) -> None:
        self._closed = True
        self._writes = {}
        self._reads = {}
        self._log = []

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("this unit of work has ended; start a new one")

    # --- record access used by the repositories ------------------------------------------------

    def get(self, kind: type[R], key: Any) -> R | None:
        self._check_open()
        if (kind, key) in self._writes:
            record: R = self._writes[(kind, key)]
            return record
        found, _ = self._storage._read(kind, key)
        return found  # type: ignore[no-any-return]

    def scan(self, kind: type[R]) -> Iterator[R]:
        """Committed records overlaid with this unit's writes, in insertion order."""
        self._check_open()
        keyfn, _ = _TABLES[kind]
        seen: set[Any] = set()
        for record in self._storage._scan(kind):
            key = keyfn(record)
            seen.add(key)
            yield self._writes.get((kind, key), record)
        for (k, key), record in self._writes.items():
            if k is kind and key not in seen:
                yield record

    def lookup_unique(self, kind: type[R], i: int, ukey: Any) -> R | None:
        """The record holding unique key ``ukey`` in index ``i``, as this unit sees it."""
        _, uniques = _TABLES[kind]
        for (k, _key), record in self._writes.items():
            if k is kind and uniques[i].key(record) == ukey:
                return record  # type: ignore[no-any-return]
        owner = self._storage._index_lookup(kind, i, ukey)
        if owner is None:
            return None
        found: R | None = self.get(kind, owner)
        if found is None or uniques[i].key(found) != ukey:
            return None
        return found

    def put(self, kind: type[Any], record: Any, *, new: bool) -> None:
        self._check_open()
        keyfn, uniques = _TABLES[kind]
        key = keyfn(record)
        existing = self.get(kind, key)
        if new and existing is not None:
            self._poisoned = True
            raise DuplicateRecord(f"{kind.__name__} {key!r} already exists")
        if not new and existing is None:
            raise NotFoundError(f"no {kind.__name__} {key!r}")
        for i, unique in enumerate(uniques):
            ukey = unique.key(record)
            if ukey is None:
                continue
            holder = self.lookup_unique(kind, i, ukey)
            if holder is not None and keyfn(holder) != key:
                self._poisoned = True
                raise unique.error(record)
        if kind is Channel:
            retired = self.get(_Retired, record.forwarding_address.key)
            if retired is not None and retired.channel_id != record.id:
                self._poisoned = True
                raise ForwardingAddressRetired(
                    f"{record.forwarding_address.key} was retired and cannot be reused"
                )
        self._writes[(kind, key)] = record

    def remember_read(self, kind: type[Any], key: Any) -> None:
        if (kind, key) not in self._reads and (kind, key) not in self._writes:
            _, version = self._storage._read(kind, key)
            self._reads[(kind, key)] = version

    def log(self, entry: IntakeRecord) -> None:
        self._check_open()
        self._log.append(entry)

    def logged(self) -> list[IntakeRecord]:
        self._check_open()
        return self._storage._intake() + self._log


class _Repo:
    def __init__(self, uow: InMemoryUnitOfWork) -> None:
        self._uow = uow

    def _must(self, kind: type[R], key: Any) -> R:
        record = self._uow.get(kind, key)
        if record is None:
            raise NotFoundError(f"no {kind.__name__} {key!r}")
        return record


class _Accounts(_Repo):
    def get(self, account_id: AccountId) -> Account:
        return self._must(Account, account_id)

    def add(self, account: Account) -> None:
        self._uow.put(Account, account, new=True)

    def update(self, account: Account) -> None:
        self._uow.put(Account, account, new=False)


class _Channels(_Repo):
    def get(self, channel_id: ChannelId) -> Channel:
        return self._must(Channel, channel_id)

    def add(self, channel: Channel) -> None:
        self._uow.put(Channel, channel, new=True)

    def update(self, channel: Channel) -> None:
        self._uow.put(Channel, channel, new=False)

    def by_forwarding_address(self, address_key: str) -> Channel | None:
        return self._uow.lookup_unique(Channel, 0, address_key.lower())

    def for_account(self, account_id: AccountId) -> tuple[Channel, ...]:
        found = [c for c in self._uow.scan(Channel) if c.account_id == account_id]
        return tuple(sorted(found, key=lambda c: c.created_at))

    def retire_address(self, address_key: str, channel_id: ChannelId, at: datetime) -> None:
        key = address_key.lower()
        if self._uow.get(_Retired, key) is None:
            self._uow.put(_Retired, _Retired(key, channel_id, at), new=True)

    def is_retired(self, address_key: str) -> bool:
        return self._uow.get(_Retired, address_key.lower()) is not None


class _Contacts(_Repo):
    def get(self, contact_id: ContactId) -> Contact:
        return self._must(Contact, contact_id)

    def by_email(self, account_id: AccountId, email_key: str) -> Contact | None:
        return self._uow.lookup_unique(Contact, 0, (account_id, email_key.lower()))

    def add(self, contact: Contact) -> None:
        self._uow.put(Contact, contact, new=True)

    def update(self, contact: Contact) -> None:
        self._uow.put(Contact, contact, new=False)


_Dated = TypeVar("_Dated", Conversation, Ticket)


def _newest_first(
    records: list[_Dated],
    at: Callable[[_Dated], datetime],
    after: PageCursor | None,
    limit: int,
) -> Page[_Dated]:
    """Keyset pagination newest first by (time, id), as the SQL adapter orders it."""
    ordered = sorted(records, key=lambda r: (at(r), r.id), reverse=True)
    if after is not None:
        ordered = [r for r in ordered if (at(r), r.id) < (after.at, after.id)]
    items = tuple(ordered[:limit])
    more = len(ordered) > limit
    cursor = PageCursor(at=at(items[-1]), id=items[-1].id) if more and items else None
    return Page(items=items, next=cursor)


class _Conversations(_Repo):
    def get(self, conversation_id: ConversationId) -> Conversation:
        return self._must(Conversation, conversation_id)

    def add(self, conversation: Conversation) -> None:
        self._uow.put(Conversation, conversation, new=True)

    def update(self, conversation: Conversation) -> None:
        self._uow.put(Conversation, conversation, new=False)

    def for_contact(
        self, channel_id: ChannelId, contact_id: ContactId, since: datetime
    ) -> tuple[Conversation, ...]:
        found = [
            c
            for c in self._uow.scan(Conversation)
            if c.channel_id == channel_id
            and c.contact_id == contact_id
            and c.last_message_at >= since
        ]
        return tuple(sorted(found, key=lambda c: c.last_message_at, reverse=True))

    def for_channel(self, channel_id: ChannelId) -> tuple[Conversation, ...]:
        found = [c for c in self._uow.scan(Conversation) if c.channel_id == channel_id]
        return tuple(sorted(found, key=lambda c: c.created_at))

    def by_subject(
        self,
        channel_id: ChannelId,
        contact_id: ContactId,
        subject_key: str,
        since: datetime,
        limit: int = 20,
    ) -> tuple[Conversation, ...]:
        found = [
            c
            for c in self.for_contact(channel_id, contact_id, since)
            if threads.subject_key(c.subject) == subject_key
        ]
        return tuple(sorted(found, key=lambda c: (c.last_message_at, c.id), reverse=True)[:limit])

    def page(self, query: ConversationQuery) -> Page[Conversation]:
        def wanted(c: Conversation) -> bool:
            return (
                c.channel_id == query.channel_id
                and query.status in (None, c.status)
                and query.kind in (None, c.kind)
                and query.contact_id in (None, c.contact_id)
                and (query.assignee is None or c.assignee_id == query.assignee)
                and not (query.unassigned and c.assignee_id is not None)
            )

        found = [c for c in self._uow.scan(Conversation) if wanted(c)]
        return _newest_first(found, lambda c: c.last_message_at, query.after, query.limit)

    def count_open_assigned(self, user_id: UserId) -> int:
        return sum(
            1
            for c in self._uow.scan(Conversation)
            if c.assignee_id == user_id and c.status is ConversationStatus.OPEN
        )


class _Messages(_Repo):
    def get(self, message_id: MessageId) -> Message:
        return self._must(Message, message_id)

    def add(self, message: Message) -> None:
        self._uow.put(Message, message, new=True)

    def update(self, message: Message) -> None:
        self._uow.put(Message, message, new=False)

    def by_dedup_key(self, channel_id: ChannelId, dedup_key: str) -> Message | None:
        return self._uow.lookup_unique(Message, 0, (channel_id, dedup_key))

    def by_rfc_message_ids(
        self, channel_id: ChannelId, rfc_message_ids: Sequence[str]
    ) -> tuple[Message, ...]:
        found: list[Message] = []
        for mid in dict.fromkeys(rfc_message_ids):
            message = self.by_dedup_key(channel_id, f"mid:{mid}")
            if message is not None:
                found.append(message)
        return tuple(found)

    def for_conversation(self, conversation_id: ConversationId) -> tuple[Message, ...]:
        found = [m for m in self._uow.scan(Message) if m.conversation_id == conversation_id]
        return tuple(sorted(found, key=lambda m: m.received_at))

    def page(
        self, conversation_id: ConversationId, *, after: PageCursor | None = None, limit: int = 50
    ) -> Page[Message]:
        check_page_size(limit)
        found = sorted(
            (m for m in self._uow.scan(Message) if m.conversation_id == conversation_id),
            key=lambda m: (m.received_at, m.id),
        )
        if after is not None:
            found = [m for m in found if (m.received_at, m.id) > (after.at, after.id)]
        items = tuple(found[:limit])
        more = len(found) > limit
        last = items[-1] if items else None
        cursor = PageCursor(at=last.received_at, id=last.id) if more and last else None
        return Page(items=items, next=cursor)


class _Tickets(_Repo):
    def get(self, ticket_id: TicketId) -> Ticket:
        return self._must(Ticket, ticket_id)

    def add(self, ticket: Ticket) -> None:
        self._uow.put(Ticket, ticket, new=True)

    def update(self, ticket: Ticket) -> None:
        self._uow.put(Ticket, ticket, new=False)

    def for_conversation(self, conversation_id: ConversationId) -> Ticket | None:
        return self._uow.lookup_unique(Ticket, 0, conversation_id)

    def for_channel(self, channel_id: ChannelId) -> tuple[Ticket, ...]:
        found = [t for t in self._uow.scan(Ticket) if t.channel_id == channel_id]
        return tuple(sorted(found, key=lambda t: t.created_at))

    def page(self, query: TicketQuery) -> Page[Ticket]:
        found = [
            t
            for t in self._uow.scan(Ticket)
            if t.channel_id == query.channel_id
            and query.status in (None, t.status)
            and (query.owner_id is None or t.owner_id == query.owner_id)
        ]
        return _newest_first(found, lambda t: t.updated_at, query.after, query.limit)


class _Routing(_Repo):
    def rotation(self, channel_id: ChannelId) -> RotationState | None:
        self._uow.remember_read(RotationState, channel_id)
        return self._uow.get(RotationState, channel_id)

    def save_rotation(self, state: RotationState) -> None:
        self._uow.remember_read(RotationState, state.channel_id)
        exists = self._uow.get(RotationState, state.channel_id) is not None
        self._uow.put(RotationState, state, new=not exists)


class _IntakeLog(_Repo):
    def record(self, entry: IntakeRecord) -> None:
        self._uow.log(entry)

    def quarantined(self, channel_id: ChannelId | None = None) -> tuple[IntakeRecord, ...]:
        logged = self._uow.logged()
        histories: dict[RawMessageId, list[IntakeRecord]] = {}
        for entry in logged:
            histories.setdefault(entry.raw_id, []).append(entry)
        holding = {id(h) for h in map(held, histories.values()) if h is not None}
        # Oldest first, in log order, as a database orders by its sequence.
        return tuple(
            e
            for e in logged
            if id(e) in holding and (channel_id is None or e.channel_id == channel_id)
        )

    def for_raw_message(self, raw_id: RawMessageId) -> tuple[IntakeRecord, ...]:
        return tuple(e for e in self._uow.logged() if e.raw_id == raw_id)


class InMemoryRawStore:
    """The :class:`~inboxcore.ports.RawMessageStore` port in memory; safe under threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._blobs: dict[RawMessageId, bytes] = {}
        self._received: dict[RawMessageId, StoredRawMessage] = {}
        self._failures = 0
        self.puts = 0
        """How many times :meth:`put` was called successfully."""

    def fail_next_puts(self, count: int = 1) -> None:
        """Make the next ``count`` calls to :meth:`put` raise StorageError."""
        with self._lock:
            self._failures += count

    def put(self, data: bytes, envelope: Envelope | None = None) -> RawMessageId:
        raw_id = raw_message_id(data)
        with self._lock:
            if self._failures:
                self._failures -= 1
                raise StorageError("injected raw-store failure")
            self._blobs.setdefault(raw_id, bytes(data))
            known = self._received.get(raw_id)
            if envelope is not None and (known is None or known.envelope is None):
                self._received[raw_id] = StoredRawMessage(
                    raw_id=raw_id, received_at=envelope.received_at, envelope=envelope
                )
            self.puts += 1
        return raw_id

    def put_legacy(self, data: bytes, *, stored_at: datetime) -> RawMessageId:
        """Hold ``data`` as a store written before envelopes were kept holds a received
        message: listed by :meth:`received` without an envelope (to test recovering one)."""
        raw_id = raw_message_id(data)
        with self._lock:
            self._blobs.setdefault(raw_id, bytes(data))
            self._received.setdefault(
                raw_id, StoredRawMessage(raw_id=raw_id, received_at=stored_at)
            )
        return raw_id

    def get(self, raw_id: RawMessageId) -> bytes:
        with self._lock:
            try:
                return self._blobs[raw_id]
            except KeyError:
                raise NotFoundError(f"no raw message {raw_id}") from None

    def contains(self, raw_id: RawMessageId) -> bool:
        with self._lock:
            return raw_id in self._blobs

    def received(
        self,
        *,
        before: datetime,
        since: datetime | None = None,
        after: RawMessageId | None = None,
        limit: int = 100,
    ) -> tuple[StoredRawMessage, ...]:
        if limit < 1:
            raise InvalidValueError(f"a page holds at least one message, not {limit}")
        with self._lock:
            listed = sorted(self._received.values(), key=lambda s: s.raw_id)
        page = (
            s
            for s in listed
            if (after is None or s.raw_id > after)
            and s.received_at < before
            and (since is None or s.received_at >= since)
        )
        return tuple(itertools.islice(page, limit))

    def ids(self) -> tuple[RawMessageId, ...]:
        """Every stored id, in insertion order."""
        with self._lock:
            return tuple(self._blobs)
