"""The repositories of :class:`~inboxcore.adapters.sql.storage.SqlUnitOfWork`: one per record
kind, each running its statements in the unit's transaction (private to
:mod:`inboxcore.adapters.sql.storage`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from inboxcore.adapters.sql import _tables as t
from inboxcore.domain.errors import ForwardingAddressRetired, NotFoundError
from inboxcore.domain.ids import (
    AccountId,
    ChannelId,
    ContactId,
    ConversationId,
    MessageId,
    RawMessageId,
    TicketId,
    UserId,
)
from inboxcore.domain.model import (
    Account,
    Channel,
    Contact,
    Conversation,
    ConversationQuery,
    ConversationStatus,
    IntakeRecord,
    Message,
    Page,
    PageCursor,
    RotationState,
    Ticket,
    TicketQuery,
    check_page_size,
)
from inboxcore.domain.serialization import converter
from inboxcore.policies.threads import subject_key

if TYPE_CHECKING:
    from inboxcore.adapters.sql.storage import SqlUnitOfWork

# The repositories keep the private names they had in the storage module, which re-imports them.
__all__ = [
    "_Accounts",
    "_Channels",
    "_Contacts",
    "_Conversations",
    "_IntakeLog",
    "_Messages",
    "_Routing",
    "_Tickets",
]

R = TypeVar("R")
_Keyed = TypeVar("_Keyed", Conversation, Ticket, Message)

# Message-ID lists come from mail headers; keep each IN (...) well under any driver's limit.
_IN_CHUNK = 500


def _key(value: str) -> str:
    """A lookup key as stored: PostgreSQL text cannot hold NUL, which hostile mail may carry."""
    return value.replace("\x00", "\ufffd")


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


# --- statements built once ----------------------------------------------------------------------
# Building a SQLAlchemy statement and its cache key costs more than running it on SQLite (about
# 140 µs against 80 µs a lookup here), so the hot path's statements are built once, with bound
# parameters, and executed with a parameter dict.

_RECORD_TABLES = (t.ACCOUNTS, t.CHANNELS, t.CONTACTS, t.CONVERSATIONS, t.MESSAGES, t.TICKETS)
_GET = {x.name: sa.select(x.c.data).where(x.c.id == sa.bindparam("id")) for x in _RECORD_TABLES}
_INSERT = {x.name: sa.insert(x) for x in (*_RECORD_TABLES, t.INTAKE_LOG)}
_UPDATE = {x.name: sa.update(x).where(x.c.id == sa.bindparam("record_id")) for x in _RECORD_TABLES}
_CHANNEL_BY_ADDRESS = sa.select(t.CHANNELS.c.data).where(
    t.CHANNELS.c.address_key == sa.bindparam("key")
)
_CONTACT_BY_EMAIL = sa.select(t.CONTACTS.c.data).where(
    t.CONTACTS.c.account_id == sa.bindparam("account"),
    t.CONTACTS.c.email_key == sa.bindparam("key"),
)
_MESSAGE_BY_KEY = sa.select(t.MESSAGES.c.data).where(
    t.MESSAGES.c.channel_id == sa.bindparam("channel"),
    t.MESSAGES.c.dedup_key == sa.bindparam("key"),
)
_MESSAGES_BY_KEYS = sa.select(t.MESSAGES.c.dedup_key, t.MESSAGES.c.data).where(
    t.MESSAGES.c.channel_id == sa.bindparam("channel"),
    t.MESSAGES.c.dedup_key.in_(sa.bindparam("keys", expanding=True)),
)
_CONVERSATIONS_BY_SUBJECT = (
    sa.select(t.CONVERSATIONS.c.data)
    .where(
        t.CONVERSATIONS.c.channel_id == sa.bindparam("channel"),
        t.CONVERSATIONS.c.contact_id == sa.bindparam("contact"),
        t.CONVERSATIONS.c.subject_key == sa.bindparam("key"),
        t.CONVERSATIONS.c.last_message_at >= sa.bindparam("since", type_=t.TIME),
    )
    .order_by(t.CONVERSATIONS.c.last_message_at.desc(), t.CONVERSATIONS.c.id.desc())
    .limit(sa.bindparam("limit"))
)
_OPEN_ASSIGNED = sa.select(sa.func.count()).where(
    t.CONVERSATIONS.c.assignee_id == sa.bindparam("user"),
    t.CONVERSATIONS.c.status == ConversationStatus.OPEN.value,
)
_TICKET_OF = sa.select(t.TICKETS.c.data).where(
    t.TICKETS.c.conversation_id == sa.bindparam("conversation")
)


def _rotation_locked(dialect: str) -> sa.Insert:
    """The channel's rotation row, created empty if missing and locked for the unit, in one
    statement: an upsert whose update keeps the row as it is. Its row lock is what a
    ``SELECT ... FOR UPDATE`` would take (PostgreSQL; SQLite holds its one write lock), and two
    workers making the first assignment queue on the insert like all later ones instead of
    racing. It replaced an insert-if-missing followed by that select (one statement fewer)."""
    keep = {"data": t.ROTATIONS.c.data}
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(t.ROTATIONS).values(channel_id=sa.bindparam("channel"), data=None)
    upsert: sa.Insert = statement.on_conflict_do_update(index_elements=["channel_id"], set_=keep)
    return upsert.returning(t.ROTATIONS.c.data)


_ROTATION_LOCKED = {dialect: _rotation_locked(dialect) for dialect in ("sqlite", "postgresql")}
_ROTATION_SAVE = {
    dialect: t.upsert(dialect, t.ROTATIONS, {"channel_id": "", "data": None}, ["channel_id"])
    for dialect in ("sqlite", "postgresql")
}
_INTAKE_OF_RAW = (
    sa.select(t.INTAKE_LOG.c.data)
    .where(t.INTAKE_LOG.c.raw_id == sa.bindparam("raw_id"))
    .order_by(t.INTAKE_LOG.c.seq)
)


class _Repo:
    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow

    def _one(self, kind: type[R], statement: sa.Select[Any], params: dict[str, Any]) -> R | None:
        """The record a fixed statement (built once, above) finds, or None."""
        row = self._uow.run_prepared(statement, params).first()
        return None if row is None else converter.structure(row[0], kind)

    def _fixed_many(
        self, kind: type[R], statement: sa.Select[Any], params: dict[str, Any]
    ) -> tuple[R, ...]:
        """The records a fixed statement (built once, above) finds."""
        rows = self._uow.run_prepared(statement, params).all()
        return tuple(converter.structure(row[0], kind) for row in rows)

    def _many(self, kind: type[R], statement: sa.Select[Any]) -> tuple[R, ...]:
        """The records a statement built for this call finds (lists, pages: off the hot
        path)."""
        rows = self._uow.run(statement).all()
        return tuple(converter.structure(row[0], kind) for row in rows)

    def _must(self, kind: type[R], table: sa.TableClause, key: str) -> R:
        found = self._one(kind, _GET[table.name], {"id": key})
        if found is None:
            raise NotFoundError(f"no {kind.__name__} {key!r}")
        return found

    def _newest_first(
        self,
        kind: type[R],
        statement: sa.Select[Any],
        at: sa.ColumnClause[Any],
        key: sa.ColumnClause[Any],
        after: PageCursor | None,
        limit: int,
    ) -> tuple[R, ...]:
        """``limit + 1`` records of ``statement`` newest first by (``at``, ``key``), after the
        cursor: keyset pagination, an index range scan however deep the page."""
        if after is not None:
            when = _utc(after.at)
            statement = statement.where(sa.or_(at < when, sa.and_(at == when, key < after.id)))
        return self._many(kind, statement.order_by(at.desc(), key.desc()).limit(limit + 1))

    def _insert(self, table: sa.TableClause, values: dict[str, Any]) -> None:
        self._uow.run_prepared(_INSERT[table.name], values, write=True)

    def _update(self, kind: type[Any], table: sa.TableClause, values: dict[str, Any]) -> None:
        key = values["id"]
        update = _UPDATE[table.name]
        result = self._uow.run_prepared(update, {**values, "record_id": key}, write=True)
        if result.rowcount == 0:
            raise NotFoundError(f"no {kind.__name__} {key!r}")


def _data(record: Any) -> Any:
    return converter.unstructure(record)


class _Accounts(_Repo):
    @staticmethod
    def _values(account: Account) -> dict[str, Any]:
        return {"id": account.id, "data": _data(account)}

    def get(self, account_id: AccountId) -> Account:
        return self._must(Account, t.ACCOUNTS, account_id)

    def add(self, account: Account) -> None:
        self._insert(t.ACCOUNTS, self._values(account))

    def update(self, account: Account) -> None:
        self._update(Account, t.ACCOUNTS, self._values(account))


class _Channels(_Repo):
    @staticmethod
    def _values(channel: Channel) -> dict[str, Any]:
        return {
            "id": channel.id,
            "account_id": channel.account_id,
            "address_key": _key(channel.forwarding_address.key),
            "from_name_key": _key(channel.from_name_key),
            "state": channel.state.value,
            "created_at": _utc(channel.created_at),
            "data": _data(channel),
        }

    def _lock_address(self, key: str) -> None:
        """Serialize the retired check and retirement of one address between transactions.

        No constraint spans channels and retired addresses, so on PostgreSQL a transaction-scoped
        advisory lock per address makes "check, then write" atomic. SQLite needs none: the
        check runs after the channel write, under the database's single write lock.
        """
        if self._uow.dialect == "postgresql":
            lock = sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(key, 0))
            self._uow.run(sa.select(lock), write=True)

    def _check_retired(self, channel: Channel) -> None:
        key = _key(channel.forwarding_address.key)
        self._lock_address(key)
        owner = self._uow.run(
            sa.select(t.RETIRED.c.channel_id).where(t.RETIRED.c.address_key == key)
        ).scalar()
        if owner is not None and owner != channel.id:
            self._uow.poison()
            raise ForwardingAddressRetired(f"{key} was retired and cannot be reused")

    def get(self, channel_id: ChannelId) -> Channel:
        return self._must(Channel, t.CHANNELS, channel_id)

    def add(self, channel: Channel) -> None:
        self._insert(t.CHANNELS, self._values(channel))
        self._check_retired(channel)

    def update(self, channel: Channel) -> None:
        self._update(Channel, t.CHANNELS, self._values(channel))
        self._check_retired(channel)

    def by_forwarding_address(self, address_key: str) -> Channel | None:
        return self._one(Channel, _CHANNEL_BY_ADDRESS, {"key": _key(address_key.lower())})

    def for_account(self, account_id: AccountId) -> tuple[Channel, ...]:
        c = t.CHANNELS.c
        return self._many(
            Channel,
            sa.select(c.data).where(c.account_id == account_id).order_by(c.created_at, c.seq),
        )

    def retire_address(self, address_key: str, channel_id: ChannelId, at: datetime) -> None:
        key = _key(address_key.lower())
        self._lock_address(key)
        values = {"address_key": key, "channel_id": channel_id, "retired_at": at}
        statement = t.insert_ignoring(self._uow.dialect, t.RETIRED, values, ["address_key"])
        self._uow.run(statement, write=True)

    def is_retired(self, address_key: str) -> bool:
        c = t.RETIRED.c
        key = _key(address_key.lower())
        found = self._uow.run(sa.select(c.address_key).where(c.address_key == key))
        return found.first() is not None


class _Contacts(_Repo):
    @staticmethod
    def _values(contact: Contact) -> dict[str, Any]:
        return {
            "id": contact.id,
            "account_id": contact.account_id,
            "email_key": _key(contact.email.key),
            "data": _data(contact),
        }

    def get(self, contact_id: ContactId) -> Contact:
        return self._must(Contact, t.CONTACTS, contact_id)

    def by_email(self, account_id: AccountId, email_key: str) -> Contact | None:
        params = {"account": account_id, "key": _key(email_key.lower())}
        return self._one(Contact, _CONTACT_BY_EMAIL, params)

    def add(self, contact: Contact) -> None:
        self._insert(t.CONTACTS, self._values(contact))
        self._uow.new_contacts.add(contact.id)

    def update(self, contact: Contact) -> None:
        self._update(Contact, t.CONTACTS, self._values(contact))


class _Conversations(_Repo):
    @staticmethod
    def _values(conversation: Conversation) -> dict[str, Any]:
        return {
            "id": conversation.id,
            "account_id": conversation.account_id,
            "channel_id": conversation.channel_id,
            "contact_id": conversation.contact_id,
            "status": conversation.status.value,
            "assignee_id": conversation.assignee_id,
            "created_at": _utc(conversation.created_at),
            "last_message_at": _utc(conversation.last_message_at),
            "subject_key": _key(subject_key(conversation.subject)),
            "kind": conversation.kind.value,
            "data": _data(conversation),
        }

    def get(self, conversation_id: ConversationId) -> Conversation:
        return self._must(Conversation, t.CONVERSATIONS, conversation_id)

    def add(self, conversation: Conversation) -> None:
        self._insert(t.CONVERSATIONS, self._values(conversation))
        self._uow.new_contacts.discard(conversation.contact_id)

    def update(self, conversation: Conversation) -> None:
        self._update(Conversation, t.CONVERSATIONS, self._values(conversation))

    def for_contact(
        self, channel_id: ChannelId, contact_id: ContactId, since: datetime
    ) -> tuple[Conversation, ...]:
        c = t.CONVERSATIONS.c
        return self._many(
            Conversation,
            sa.select(c.data)
            .where(
                c.channel_id == channel_id,
                c.contact_id == contact_id,
                c.last_message_at >= _utc(since),
            )
            .order_by(c.last_message_at.desc(), c.seq),
        )

    def for_channel(self, channel_id: ChannelId) -> tuple[Conversation, ...]:
        c = t.CONVERSATIONS.c
        return self._many(
            Conversation,
            sa.select(c.data).where(c.channel_id == channel_id).order_by(c.created_at, c.seq),
        )

    def by_subject(
        self,
        channel_id: ChannelId,
        contact_id: ContactId,
        subject_key: str,
        since: datetime,
        limit: int = 20,
    ) -> tuple[Conversation, ...]:
        check_page_size(limit)
        if contact_id in self._uow.new_contacts:
            # Made in this unit, uncommitted, with no conversation yet: none can match (no
            # other unit sees the contact, so none can have given it one).
            return ()
        params = {
            "channel": channel_id,
            "contact": contact_id,
            "key": _key(subject_key),
            "since": _utc(since),
            "limit": limit,
        }
        return self._fixed_many(Conversation, _CONVERSATIONS_BY_SUBJECT, params)

    def page(self, query: ConversationQuery) -> Page[Conversation]:
        c = t.CONVERSATIONS.c
        statement = sa.select(c.data).where(c.channel_id == query.channel_id)
        if query.status is not None:
            statement = statement.where(c.status == query.status.value)
        if query.kind is not None:
            statement = statement.where(c.kind == query.kind.value)
        if query.assignee is not None:
            statement = statement.where(c.assignee_id == query.assignee)
        if query.unassigned:
            statement = statement.where(c.assignee_id.is_(None))
        if query.contact_id is not None:
            statement = statement.where(c.contact_id == query.contact_id)
        found = self._newest_first(
            Conversation, statement, c.last_message_at, c.id, query.after, query.limit
        )
        return _page(found, query.limit, lambda r: r.last_message_at)

    def count_open_assigned(self, user_id: UserId) -> int:
        return int(self._uow.run_prepared(_OPEN_ASSIGNED, {"user": user_id}).scalar() or 0)


class _Messages(_Repo):
    @staticmethod
    def _values(message: Message) -> dict[str, Any]:
        return {
            "id": message.id,
            "account_id": message.account_id,
            "channel_id": message.channel_id,
            "conversation_id": message.conversation_id,
            "dedup_key": _key(message.dedup_key),
            "received_at": _utc(message.received_at),
            "data": _data(message),
        }

    def get(self, message_id: MessageId) -> Message:
        return self._must(Message, t.MESSAGES, message_id)

    def add(self, message: Message) -> None:
        self._insert(t.MESSAGES, self._values(message))

    def update(self, message: Message) -> None:
        self._update(Message, t.MESSAGES, self._values(message))

    def by_dedup_key(self, channel_id: ChannelId, dedup_key: str) -> Message | None:
        params = {"channel": channel_id, "key": _key(dedup_key)}
        return self._one(Message, _MESSAGE_BY_KEY, params)

    def by_rfc_message_ids(
        self, channel_id: ChannelId, rfc_message_ids: Sequence[str]
    ) -> tuple[Message, ...]:
        keys = list(dict.fromkeys(_key(f"mid:{mid}") for mid in rfc_message_ids))
        found: dict[str, Message] = {}
        for start in range(0, len(keys), _IN_CHUNK):
            chunk = keys[start : start + _IN_CHUNK]
            params = {"channel": channel_id, "keys": chunk}
            rows: Sequence[Any] = self._uow.run(_MESSAGES_BY_KEYS, params).all()
            for key, data in rows:
                found[key] = converter.structure(data, Message)
        return tuple(found[k] for k in keys if k in found)

    def for_conversation(self, conversation_id: ConversationId) -> tuple[Message, ...]:
        c = t.MESSAGES.c
        return self._many(
            Message,
            sa.select(c.data)
            .where(c.conversation_id == conversation_id)
            .order_by(c.received_at, c.seq),
        )

    def page(
        self, conversation_id: ConversationId, *, after: PageCursor | None = None, limit: int = 50
    ) -> Page[Message]:
        check_page_size(limit)
        c = t.MESSAGES.c
        statement = sa.select(c.data).where(c.conversation_id == conversation_id)
        if after is not None:
            when = _utc(after.at)
            statement = statement.where(
                sa.or_(c.received_at > when, sa.and_(c.received_at == when, c.id > after.id))
            )
        found = self._many(Message, statement.order_by(c.received_at, c.id).limit(limit + 1))
        return _page(found, limit, lambda m: m.received_at)


def _page(found: tuple[_Keyed, ...], limit: int, at: Callable[[_Keyed], datetime]) -> Page[_Keyed]:
    """A page of at most ``limit`` records from ``limit + 1`` read: the extra one says there is
    a next page, whose cursor is the last record shown."""
    items = found[:limit]
    if len(found) <= limit or not items:
        return Page(items=items)
    return Page(items=items, next=PageCursor(at=at(items[-1]), id=items[-1].id))


class _Tickets(_Repo):
    @staticmethod
    def _values(ticket: Ticket) -> dict[str, Any]:
        return {
            "id": ticket.id,
            "account_id": ticket.account_id,
            "channel_id": ticket.channel_id,
            "conversation_id": ticket.conversation_id,
            "created_at": _utc(ticket.created_at),
            "status": ticket.status.value,
            "owner_id": ticket.owner_id,
            "updated_at": _utc(ticket.updated_at),
            "data": _data(ticket),
        }

    def get(self, ticket_id: TicketId) -> Ticket:
        return self._must(Ticket, t.TICKETS, ticket_id)

    def add(self, ticket: Ticket) -> None:
        self._insert(t.TICKETS, self._values(ticket))

    def update(self, ticket: Ticket) -> None:
        self._update(Ticket, t.TICKETS, self._values(ticket))

    def for_conversation(self, conversation_id: ConversationId) -> Ticket | None:
        return self._one(Ticket, _TICKET_OF, {"conversation": conversation_id})

    def for_channel(self, channel_id: ChannelId) -> tuple[Ticket, ...]:
        c = t.TICKETS.c
        return self._many(
            Ticket,
            sa.select(c.data).where(c.channel_id == channel_id).order_by(c.created_at, c.seq),
        )

    def page(self, query: TicketQuery) -> Page[Ticket]:
        c = t.TICKETS.c
        statement = sa.select(c.data).where(c.channel_id == query.channel_id)
        if query.status is not None:
            statement = statement.where(c.status == query.status.value)
        if query.owner_id is not None:
            statement = statement.where(c.owner_id == query.owner_id)
        found = self._newest_first(Ticket, statement, c.updated_at, c.id, query.after, query.limit)
        return _page(found, query.limit, lambda r: r.updated_at)


class _Routing(_Repo):
    def rotation(self, channel_id: ChannelId) -> RotationState | None:
        locked = _ROTATION_LOCKED[self._uow.dialect]
        row = self._uow.run_prepared(locked, {"channel": channel_id}, write=True).first()
        if row is None or row[0] is None:
            return None
        return converter.structure(row[0], RotationState)

    def save_rotation(self, state: RotationState) -> None:
        values = {"channel_id": state.channel_id, "data": _data(state)}
        self._uow.run_prepared(_ROTATION_SAVE[self._uow.dialect], values, write=True)


class _IntakeLog(_Repo):
    def record(self, entry: IntakeRecord) -> None:
        values = {
            "raw_id": entry.raw_id,
            "channel_id": entry.channel_id,
            "disposition": entry.disposition.value,
            "at": _utc(entry.at),
            "data": _data(entry),
        }
        self._insert(t.INTAKE_LOG, values)

    def quarantined(self, channel_id: ChannelId | None = None) -> tuple[IntakeRecord, ...]:
        log = t.INTAKE_LOG
        later = log.alias("released")
        # A raw message accepted, found duplicate or discarded after it was quarantined is no
        # longer held;
        # one accepted *before* it (a commit whose answer was lost) still is.
        released = (
            sa.select(later.c.seq)
            .where(
                later.c.raw_id == log.c.raw_id,
                later.c.seq > log.c.seq,
                later.c.disposition.in_(("accepted", "duplicate", "discarded")),
            )
            .exists()
        )
        statement = sa.select(log.c.raw_id, log.c.data).where(
            log.c.disposition == "quarantined", ~released
        )
        if channel_id is not None:
            statement = statement.where(log.c.channel_id == channel_id)
        first: dict[RawMessageId, IntakeRecord] = {}
        rows: Sequence[Any] = self._uow.run(statement.order_by(log.c.seq)).all()
        for raw_id, data in rows:
            if raw_id not in first:
                first[raw_id] = converter.structure(data, IntakeRecord)
        return tuple(first.values())

    def for_raw_message(self, raw_id: RawMessageId) -> tuple[IntakeRecord, ...]:
        return self._fixed_many(IntakeRecord, _INTAKE_OF_RAW, {"raw_id": raw_id})
