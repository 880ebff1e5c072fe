"""The repositories of :class:`~inboxcore.contrib.django.storage.DjangoUnitOfWork`: one per
record kind, each reading and writing through the unit (private to
:mod:`inboxcore.contrib.django.storage`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from django.db.models import Exists, OuterRef, Q

from inboxcore.contrib.django import models as m
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
    from inboxcore.contrib.django.storage import DjangoUnitOfWork

R = TypeVar("R")
_Keyed = TypeVar("_Keyed", Conversation, Ticket, Message)

# Message-ID lists come from mail headers; keep each IN (...) well under any driver's limit.
_IN_CHUNK = 500


def _key(value: str) -> str:
    """A lookup key as stored: PostgreSQL text cannot hold NUL, which hostile mail may carry
    (the SQL adapter stores its keys the same way)."""
    return value.replace("\x00", "\ufffd")


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _pairs(rows: Any, key: str) -> list[tuple[Any, Any]]:
    """Each row's ``key`` column and document."""
    return list(rows.values_list(key, "data"))


def _data(record: Any) -> str:
    return converter.dumps(record)


def _read(kind: type[R], data: Any) -> R:
    return converter.loads(str(data), kind)


class _Repo:
    model: Any
    kind: type[Any]

    def __init__(self, uow: DjangoUnitOfWork) -> None:
        self._uow = uow

    def _rows(self) -> Any:
        """The model's manager on the unit's database connection."""
        return self.model.objects.using(self._uow.db)

    def _many(self, kind: type[R], queryset: Any) -> tuple[R, ...]:
        rows = self._uow.run(lambda: list(queryset.values_list("data", flat=True)))
        return tuple(_read(kind, data) for data in rows)

    def _one(self, kind: type[R], queryset: Any) -> R | None:
        found = self._many(kind, queryset[:1])
        return found[0] if found else None

    def _must(self, key: str) -> Any:
        found = self._one(self.kind, self._rows().filter(record_id=key))
        if found is None:
            raise NotFoundError(f"no {self.kind.__name__} {key!r}")
        return found

    def _insert(self, values: dict[str, Any]) -> None:
        self._uow.run(lambda: self.model(**values).save(using=self._uow.db), write=True)

    def _update(self, values: dict[str, Any]) -> None:
        key = values["record_id"]
        changed = self._uow.run(
            lambda: int(self._rows().filter(record_id=key).update(**values)), write=True
        )
        if changed == 0:
            raise NotFoundError(f"no {self.kind.__name__} {key!r}")

    def _newest_first(
        self, queryset: Any, at: str, after: PageCursor | None, limit: int
    ) -> tuple[Any, ...]:
        """``limit + 1`` records newest first by (``at``, id), after the cursor: keyset
        pagination, an index range scan however deep the page."""
        if after is not None:
            when = _utc(after.at)
            newer = Q(**{f"{at}__lt": when}) | Q(**{at: when, "record_id__lt": after.id})
            queryset = queryset.filter(newer)
        return self._many(self.kind, queryset.order_by(f"-{at}", "-record_id")[: limit + 1])


class _Accounts(_Repo):
    model, kind = m.Account, Account

    def get(self, account_id: AccountId) -> Account:
        found: Account = self._must(account_id)
        return found

    def add(self, account: Account) -> None:
        self._insert({"record_id": account.id, "data": _data(account)})

    def update(self, account: Account) -> None:
        self._update({"record_id": account.id, "data": _data(account)})


class _Channels(_Repo):
    model, kind = m.Channel, Channel

    @staticmethod
    def _values(channel: Channel) -> dict[str, Any]:
        return {
            "record_id": channel.id,
            "account_id": channel.account_id,
            "address_key": _key(channel.forwarding_address.key),
            "from_name_key": _key(channel.from_name_key),
            "state": channel.state.value,
            "created_at": _utc(channel.created_at),
            "data": _data(channel),
        }

    def _check_retired(self, channel: Channel) -> None:
        key = _key(channel.forwarding_address.key)
        self._uow.lock_key(key)
        owners = m.RetiredAddress.objects.using(self._uow.db).filter(address_key=key)
        owner = self._uow.run(lambda: owners.values_list("channel_id", flat=True).first())
        if owner is not None and owner != channel.id:
            self._uow.poison()
            raise ForwardingAddressRetired(f"{key} was retired and cannot be reused")

    def get(self, channel_id: ChannelId) -> Channel:
        found: Channel = self._must(channel_id)
        return found

    def add(self, channel: Channel) -> None:
        self._insert(self._values(channel))
        self._check_retired(channel)

    def update(self, channel: Channel) -> None:
        self._update(self._values(channel))
        self._check_retired(channel)

    def by_forwarding_address(self, address_key: str) -> Channel | None:
        return self._one(Channel, self._rows().filter(address_key=_key(address_key.lower())))

    def for_account(self, account_id: AccountId) -> tuple[Channel, ...]:
        rows = self._rows().filter(account_id=account_id).order_by("created_at", "seq")
        return self._many(Channel, rows)

    def retire_address(self, address_key: str, channel_id: ChannelId, at: datetime) -> None:
        key = _key(address_key.lower())
        self._uow.lock_key(key)
        row = m.RetiredAddress(address_key=key, channel_id=channel_id, retired_at=_utc(at))
        retired = m.RetiredAddress.objects.using(self._uow.db)
        self._uow.run(lambda: retired.bulk_create([row], ignore_conflicts=True), write=True)

    def is_retired(self, address_key: str) -> bool:
        key = _key(address_key.lower())
        found = m.RetiredAddress.objects.using(self._uow.db).filter(address_key=key)
        return bool(self._uow.run(found.exists))


class _Contacts(_Repo):
    model, kind = m.Contact, Contact

    @staticmethod
    def _values(contact: Contact) -> dict[str, Any]:
        return {
            "record_id": contact.id,
            "account_id": contact.account_id,
            "email_key": _key(contact.email.key),
            "data": _data(contact),
        }

    def get(self, contact_id: ContactId) -> Contact:
        found: Contact = self._must(contact_id)
        return found

    def by_email(self, account_id: AccountId, email_key: str) -> Contact | None:
        rows = self._rows().filter(account_id=account_id, email_key=_key(email_key.lower()))
        return self._one(Contact, rows)

    def add(self, contact: Contact) -> None:
        self._insert(self._values(contact))

    def update(self, contact: Contact) -> None:
        self._update(self._values(contact))


class _Conversations(_Repo):
    model, kind = m.Conversation, Conversation

    @staticmethod
    def _values(conversation: Conversation) -> dict[str, Any]:
        return {
            "record_id": conversation.id,
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
        found: Conversation = self._must(conversation_id)
        return found

    def add(self, conversation: Conversation) -> None:
        self._insert(self._values(conversation))

    def update(self, conversation: Conversation) -> None:
        self._update(self._values(conversation))

    def for_contact(
        self, channel_id: ChannelId, contact_id: ContactId, since: datetime
    ) -> tuple[Conversation, ...]:
        rows = self._rows().filter(
            channel_id=channel_id, contact_id=contact_id, last_message_at__gte=_utc(since)
        )
        return self._many(Conversation, rows.order_by("-last_message_at", "seq"))

    def for_channel(self, channel_id: ChannelId) -> tuple[Conversation, ...]:
        rows = self._rows().filter(channel_id=channel_id).order_by("created_at", "seq")
        return self._many(Conversation, rows)

    def by_subject(
        self,
        channel_id: ChannelId,
        contact_id: ContactId,
        subject_key: str,
        since: datetime,
        limit: int = 20,
    ) -> tuple[Conversation, ...]:
        check_page_size(limit)
        rows = self._rows().filter(
            channel_id=channel_id,
            contact_id=contact_id,
            subject_key=_key(subject_key),
            last_message_at__gte=_utc(since),
        )
        return self._many(Conversation, rows.order_by("-last_message_at", "-record_id")[:limit])

    def page(self, query: ConversationQuery) -> Page[Conversation]:
        rows = self._rows().filter(channel_id=query.channel_id)
        if query.status is not None:
            rows = rows.filter(status=query.status.value)
        if query.kind is not None:
            rows = rows.filter(kind=query.kind.value)
        if query.assignee is not None:
            rows = rows.filter(assignee_id=query.assignee)
        if query.unassigned:
            rows = rows.filter(assignee_id__isnull=True)
        if query.contact_id is not None:
            rows = rows.filter(contact_id=query.contact_id)
        found = self._newest_first(rows, "last_message_at", query.after, query.limit)
        return _page(found, query.limit, lambda r: r.last_message_at)

    def count_open_assigned(self, user_id: UserId) -> int:
        rows = self._rows().filter(assignee_id=user_id, status=ConversationStatus.OPEN.value)
        return int(self._uow.run(rows.count))


class _Messages(_Repo):
    model, kind = m.Message, Message

    @staticmethod
    def _values(message: Message) -> dict[str, Any]:
        return {
            "record_id": message.id,
            "account_id": message.account_id,
            "channel_id": message.channel_id,
            "conversation_id": message.conversation_id,
            "dedup_key": _key(message.dedup_key),
            "received_at": _utc(message.received_at),
            "data": _data(message),
        }

    def get(self, message_id: MessageId) -> Message:
        found: Message = self._must(message_id)
        return found

    def add(self, message: Message) -> None:
        self._insert(self._values(message))

    def update(self, message: Message) -> None:
        self._update(self._values(message))

    def by_dedup_key(self, channel_id: ChannelId, dedup_key: str) -> Message | None:
        rows = self._rows().filter(channel_id=channel_id, dedup_key=_key(dedup_key))
        return self._one(Message, rows)

    def by_rfc_message_ids(
        self, channel_id: ChannelId, rfc_message_ids: Sequence[str]
    ) -> tuple[Message, ...]:
        keys = list(dict.fromkeys(_key(f"mid:{mid}") for mid in rfc_message_ids))
        found: dict[str, Message] = {}
        for start in range(0, len(keys), _IN_CHUNK):
            rows = self._rows().filter(
                channel_id=channel_id, dedup_key__in=keys[start : start + _IN_CHUNK]
            )
            for key, data in self._uow.run(partial(_pairs, rows, "dedup_key")):
                found[str(key)] = _read(Message, data)
        return tuple(found[k] for k in keys if k in found)

    def for_conversation(self, conversation_id: ConversationId) -> tuple[Message, ...]:
        rows = self._rows().filter(conversation_id=conversation_id)
        return self._many(Message, rows.order_by("received_at", "seq"))

    def page(
        self, conversation_id: ConversationId, *, after: PageCursor | None = None, limit: int = 50
    ) -> Page[Message]:
        check_page_size(limit)
        rows = self._rows().filter(conversation_id=conversation_id)
        if after is not None:
            when = _utc(after.at)
            rows = rows.filter(
                Q(received_at__gt=when) | Q(received_at=when, record_id__gt=after.id)
            )
        found = self._many(Message, rows.order_by("received_at", "record_id")[: limit + 1])
        return _page(found, limit, lambda r: r.received_at)


def _page(found: tuple[_Keyed, ...], limit: int, at: Callable[[_Keyed], datetime]) -> Page[_Keyed]:
    """A page of at most ``limit`` records from ``limit + 1`` read: the extra one says there is
    a next page, whose cursor is the last record shown."""
    items = found[:limit]
    if len(found) <= limit or not items:
        return Page(items=items)
    return Page(items=items, next=PageCursor(at=at(items[-1]), id=items[-1].id))


class _Tickets(_Repo):
    model, kind = m.Ticket, Ticket

    @staticmethod
    def _values(ticket: Ticket) -> dict[str, Any]:
        return {
            "record_id": ticket.id,
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
        found: Ticket = self._must(ticket_id)
        return found

    def add(self, ticket: Ticket) -> None:
        self._insert(self._values(ticket))

    def update(self, ticket: Ticket) -> None:
        self._update(self._values(ticket))

    def for_conversation(self, conversation_id: ConversationId) -> Ticket | None:
        return self._one(Ticket, self._rows().filter(conversation_id=conversation_id))

    def for_channel(self, channel_id: ChannelId) -> tuple[Ticket, ...]:
        rows = self._rows().filter(channel_id=channel_id).order_by("created_at", "seq")
        return self._many(Ticket, rows)

    def page(self, query: TicketQuery) -> Page[Ticket]:
        rows = self._rows().filter(channel_id=query.channel_id)
        if query.status is not None:
            rows = rows.filter(status=query.status.value)
        if query.owner_id is not None:
            rows = rows.filter(owner_id=query.owner_id)
        found = self._newest_first(rows, "updated_at", query.after, query.limit)
        return _page(found, query.limit, lambda r: r.updated_at)


class _Routing(_Repo):
    model, kind = m.Rotation, RotationState

    def _placeholder(self, channel_id: ChannelId) -> None:
        # An empty row first, so that there is always a row to lock: two workers making the
        # first assignment then queue on it like all later ones instead of racing to insert.
        row = m.Rotation(channel_id=channel_id, data=None)
        self._uow.run(lambda: self._rows().bulk_create([row], ignore_conflicts=True), write=True)

    def rotation(self, channel_id: ChannelId) -> RotationState | None:
        self._placeholder(channel_id)
        locked = self._rows().select_for_update().filter(channel_id=channel_id)
        data = self._uow.run(lambda: locked.values_list("data", flat=True).first(), write=True)
        return None if data is None else _read(RotationState, data)

    def save_rotation(self, state: RotationState) -> None:
        self._placeholder(state.channel_id)
        rows = self._rows().filter(channel_id=state.channel_id)
        self._uow.run(lambda: rows.update(data=_data(state)), write=True)


class _IntakeLog(_Repo):
    model, kind = m.IntakeEntry, IntakeRecord

    def record(self, entry: IntakeRecord) -> None:
        values = {
            "raw_id": entry.raw_id,
            "channel_id": entry.channel_id,
            "disposition": entry.disposition.value,
            "at": _utc(entry.at),
            "data": _data(entry),
        }
        self._uow.run(lambda: m.IntakeEntry(**values).save(using=self._uow.db), write=True)

    def quarantined(self, channel_id: ChannelId | None = None) -> tuple[IntakeRecord, ...]:
        # A raw message accepted, found duplicate or discarded after it was quarantined is no
        # longer held; one accepted *before* it (a commit whose answer was lost) still is.
        released = self._rows().filter(
            raw_id=OuterRef("raw_id"),
            seq__gt=OuterRef("seq"),
            disposition__in=("accepted", "duplicate", "discarded"),
        )
        rows = self._rows().filter(~Exists(released), disposition="quarantined")
        if channel_id is not None:
            rows = rows.filter(channel_id=channel_id)
        pairs = self._uow.run(partial(_pairs, rows.order_by("seq"), "raw_id"))
        first: dict[RawMessageId, IntakeRecord] = {}
        for raw_id, data in pairs:
            if raw_id not in first:
                first[raw_id] = _read(IntakeRecord, data)
        return tuple(first.values())

    def for_raw_message(self, raw_id: RawMessageId) -> tuple[IntakeRecord, ...]:
        return self._many(IntakeRecord, self._rows().filter(raw_id=raw_id).order_by("seq"))
