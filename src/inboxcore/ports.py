"""The ports: what inboxcore needs from the world, as ``typing.Protocol`` interfaces.

Hosts implement these (or use the adapters in :mod:`inboxcore.adapters` and the fakes in
:mod:`inboxcore.testing`). They are synchronous: the hosts that run intake (Django, Celery, plain
scripts) are, and so are dkimpy and pyspf; async hosts call the service in a worker thread.

Every method says what it raises. The rule of thumb: "not there" is an empty result or None;
"could not find out" is a :class:`~inboxcore.domain.errors.PortError`; a broken uniqueness rule is a
:class:`~inboxcore.domain.errors.ConflictError` subclass. Never confuse the first two: a DNS timeout
treated as "no record" turns a temporary failure into a forged-mail verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from inboxcore.domain.events import DomainEvent
from inboxcore.domain.ids import (
    AccountId,
    ChannelId,
    ContactId,
    ConversationId,
    MessageId,
    RawMessageId,
    TeamId,
    TicketId,
    UserId,
)
from inboxcore.domain.model import (
    Account,
    Channel,
    Contact,
    Conversation,
    ConversationQuery,
    DkimSigningKey,
    Envelope,
    IntakeRecord,
    Message,
    MxRecord,
    OutboundMail,
    Page,
    PageCursor,
    RotationState,
    SendResult,
    SpamScore,
    StoredRawMessage,
    Team,
    Ticket,
    TicketQuery,
    User,
)

__all__ = [
    "AccountRepository",
    "BudgetedDnsResolver",
    "ChannelRepository",
    "Clock",
    "ContactRepository",
    "ConversationRepository",
    "Directory",
    "DkimKeyStore",
    "DnsResolver",
    "EventSink",
    "IdSource",
    "IntakeLogRepository",
    "JoinableRawStore",
    "MailTransport",
    "MessageRepository",
    "RawMessageStore",
    "RoutingStateRepository",
    "SpamScorer",
    "Storage",
    "TicketRepository",
    "UnitOfWork",
]


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC. Never raises."""
        ...


class IdSource(Protocol):
    def new_id(self, kind: str) -> str:
        """A new id for a record of ``kind`` (``"channel"``, ``"contact"``, ...), never reused.

        Never raises.
        """
        ...

    def token_bytes(self, n: int) -> bytes:
        """``n`` unpredictable bytes (``secrets.token_bytes`` in production). Never raises."""
        ...


class DnsResolver(Protocol):
    """DNS lookups. Names are given without the trailing dot, in A-label form.

    Every method returns ``()`` when the name does not exist (NXDOMAIN) or has no record of the
    type (NODATA), and raises :class:`~inboxcore.domain.errors.DnsTemporaryError` when the answer
    could
    not be had (SERVFAIL, timeout, refused, the lookup budget spent). It never returns ``()`` for
    a failure, and never raises for an absent record.
    """

    def txt(self, name: str) -> tuple[tuple[bytes, ...], ...]:
        """TXT records, each as its character-strings (join them to read a DKIM or SPF record)."""
        ...

    def a(self, name: str) -> tuple[str, ...]:
        """IPv4 addresses, as text."""
        ...

    def aaaa(self, name: str) -> tuple[str, ...]:
        """IPv6 addresses, as text."""
        ...

    def mx(self, name: str) -> tuple[MxRecord, ...]:
        """MX records."""
        ...

    def ptr(self, name: str) -> tuple[str, ...]:
        """PTR targets of a reverse name (``4.3.2.1.in-addr.arpa``), without trailing dots."""
        ...

    def cname(self, name: str) -> tuple[str, ...]:
        """The CNAME target of ``name`` (at most one), without the trailing dot."""
        ...


@runtime_checkable
class BudgetedDnsResolver(DnsResolver, Protocol):
    """A resolver that can give each message a time budget (the dnspython adapter can).

    Intake asks for a budgeted view per message, so that a slow or dead DNS server cannot hold a
    message (or an SMTP session) for longer than the budget: once it is spent, uncached lookups
    raise :class:`~inboxcore.domain.errors.DnsTemporaryError`, and the message is deferred or kept
    for a
    recheck, never rejected.
    """

    def budget(self, seconds: float) -> DnsResolver:
        """A view of this resolver whose uncached lookups may take ``seconds`` in all."""
        ...


class RawMessageStore(Protocol):
    """Raw messages, content-addressed by SHA-256, each received one with its envelope.

    A received message is stored with its envelope before anything is acknowledged, so that one
    whose intake was never recorded (storage failed after the bytes were safe) can be found
    (:meth:`received`) and run again as it was received
    (:meth:`~inboxcore.app.service.InboxService.recover`).
    """

    def put(self, data: bytes, envelope: Envelope | None = None) -> RawMessageId:
        """Store ``data`` durably and return its SHA-256 id; the same bytes again store nothing
        new.

        ``envelope``: the envelope of a *received* message, stored durably with the bytes; the
        first one given for these bytes is kept. Without one the bytes are our own (a copy of
        outbound mail), which :meth:`received` never lists. When ``put`` returns, the bytes and
        the envelope survive a crash. Raises :class:`~inboxcore.domain.errors.StorageError` if
        they could not be stored.
        """
        ...

    def get(self, raw_id: RawMessageId) -> bytes:
        """The bytes stored under ``raw_id``; :class:`~inboxcore.domain.errors.NotFoundError` if
        none."""
        ...

    def contains(self, raw_id: RawMessageId) -> bool:
        """Whether ``raw_id`` is stored; :class:`~inboxcore.domain.errors.StorageError` on
        failure."""
        ...

    def received(
        self,
        *,
        before: datetime,
        since: datetime | None = None,
        after: RawMessageId | None = None,
        limit: int = 100,
    ) -> tuple[StoredRawMessage, ...]:
        """One page of the received messages: at most ``limit`` (at least 1) whose
        :attr:`~inboxcore.domain.model.StoredRawMessage.received_at` is before ``before`` and
        not before ``since``, in raw-id order, starting after the id ``after`` (pass the last id
        of a page to get the next one; ``()`` past the end).

        Lists every message stored with an envelope, and those a store holds from before it
        kept envelopes (``envelope`` None, ``received_at`` when first stored or known); never
        bytes stored without an envelope since. Raises
        :class:`~inboxcore.domain.errors.StorageError` if the store cannot be read, and
        :class:`~inboxcore.domain.errors.InvalidValueError` for a ``limit`` below 1.
        """
        ...


@runtime_checkable
class JoinableRawStore(RawMessageStore, Protocol):
    """A raw store that can write a message inside a unit of work of the storage it shares a
    database with (the SQL table store on :class:`~inboxcore.adapters.sql.SqlStorage`'s own
    database).

    The service then keeps a received message's bytes in memory while intake runs and writes
    them in the unit that records the message: one commit a message instead of two, and the
    bytes never without their record nor the record without its bytes. Nothing is acknowledged
    before that commit, so a crash before it loses nothing the sender does not still hold.
    """

    def joins(self, storage: Storage) -> bool:
        """Whether :meth:`put_in` can write in the units of work of ``storage`` (the same
        database). Never raises."""
        ...

    def put_in(
        self, uow: UnitOfWork, data: bytes, envelope: Envelope | None = None
    ) -> RawMessageId:
        """What :meth:`~RawMessageStore.put` does, inside ``uow``'s transaction: durable once
        ``uow`` commits, gone if it rolls back. Raises
        :class:`~inboxcore.domain.errors.StorageError` as ``put`` does, and
        :class:`~inboxcore.domain.errors.InvalidValueError` for a unit of another storage."""
        ...


class AccountRepository(Protocol):
    def get(self, account_id: AccountId) -> Account:
        """The account; :class:`~inboxcore.domain.errors.NotFoundError` if there is none."""
        ...

    def add(self, account: Account) -> None:
        """Add a new account; :class:`~inboxcore.domain.errors.DuplicateRecord` if the id is
        taken."""
        ...

    def update(self, account: Account) -> None:
        """Replace a stored account; :class:`~inboxcore.domain.errors.NotFoundError` if absent."""
        ...


class ChannelRepository(Protocol):
    """Channels, with the uniqueness rules of hosted addresses.

    A forwarding address (compared by :attr:`EmailAddress.key`) belongs to one channel across all
    accounts, and a retired address to none ever again. A non-empty from-name (compared by
    :attr:`Channel.from_name_key`) belongs to one channel of an account that is not disconnected.
    """

    def get(self, channel_id: ChannelId) -> Channel:
        """The channel; :class:`~inboxcore.domain.errors.NotFoundError` if there is none."""
        ...

    def add(self, channel: Channel) -> None:
        """Add a channel.

        Raises :class:`~inboxcore.domain.errors.DuplicateRecord` (id taken),
        :class:`~inboxcore.domain.errors.ForwardingAddressTaken`,
        :class:`~inboxcore.domain.errors.ForwardingAddressRetired` or
        :class:`~inboxcore.domain.errors.FromNameTaken`.
        """
        ...

    def update(self, channel: Channel) -> None:
        """Replace a stored channel; the errors of :meth:`add`, or NotFoundError if absent."""
        ...

    def by_forwarding_address(self, address_key: str) -> Channel | None:
        """The channel receiving at ``address_key`` (lowercase, no plus-tag), in any state."""
        ...

    def for_account(self, account_id: AccountId) -> tuple[Channel, ...]:
        """The account's channels, oldest first."""
        ...

    def retire_address(self, address_key: str, channel_id: ChannelId, at: datetime) -> None:
        """Record that ``address_key`` may never receive for another channel. Idempotent."""
        ...

    def is_retired(self, address_key: str) -> bool:
        """Whether ``address_key`` was retired."""
        ...


class ContactRepository(Protocol):
    def get(self, contact_id: ContactId) -> Contact:
        """The contact; :class:`~inboxcore.domain.errors.NotFoundError` if there is none."""
        ...

    def by_email(self, account_id: AccountId, email_key: str) -> Contact | None:
        """The account's contact with this :attr:`EmailAddress.key`, or None."""
        ...

    def add(self, contact: Contact) -> None:
        """Add a contact; :class:`~inboxcore.domain.errors.DuplicateRecord` if the id or the
        (account, email key) pair is taken."""
        ...

    def update(self, contact: Contact) -> None:
        """Replace a stored contact; NotFoundError if absent, DuplicateRecord on an email clash."""
        ...


class ConversationRepository(Protocol):
    def get(self, conversation_id: ConversationId) -> Conversation:
        """The conversation; :class:`~inboxcore.domain.errors.NotFoundError` if there is none."""
        ...

    def add(self, conversation: Conversation) -> None:
        """Add a conversation; :class:`~inboxcore.domain.errors.DuplicateRecord` if the id is
        taken."""
        ...

    def update(self, conversation: Conversation) -> None:
        """Replace a stored conversation; NotFoundError if absent."""
        ...

    def for_contact(
        self, channel_id: ChannelId, contact_id: ContactId, since: datetime
    ) -> tuple[Conversation, ...]:
        """The contact's conversations in the channel with a message at or after ``since``,
        newest first."""
        ...

    def for_channel(self, channel_id: ChannelId) -> tuple[Conversation, ...]:
        """All conversations of the channel, oldest first."""
        ...

    def by_subject(
        self,
        channel_id: ChannelId,
        contact_id: ContactId,
        subject_key: str,
        since: datetime,
        limit: int = 20,
    ) -> tuple[Conversation, ...]:
        """The contact's conversations in the channel whose subject compares equal to
        ``subject_key`` (:func:`inboxcore.policies.threads.subject_key` of their subject) with a
        message at or after ``since``: at most ``limit``, newest first. Threading's subject
        fallback; an indexed lookup, however many conversations the contact has."""
        ...

    def page(self, query: ConversationQuery) -> Page[Conversation]:
        """One page of the channel's conversations matching ``query``, most recent activity
        first (``last_message_at``, then id, both descending); ``Page.next`` continues it."""
        ...

    def count_open_assigned(self, user_id: UserId) -> int:
        """How many open conversations are assigned to ``user_id`` (for per-agent caps)."""
        ...


class MessageRepository(Protocol):
    def get(self, message_id: MessageId) -> Message:
        """The message; :class:`~inboxcore.domain.errors.NotFoundError` if there is none."""
        ...

    def add(self, message: Message) -> None:
        """Add a message; :class:`~inboxcore.domain.errors.DuplicateMessage` if the channel holds
        one
        with the same :attr:`Message.dedup_key`, DuplicateRecord if the id is taken."""
        ...

    def update(self, message: Message) -> None:
        """Replace a stored message (delivery status); NotFoundError if absent."""
        ...

    def by_dedup_key(self, channel_id: ChannelId, dedup_key: str) -> Message | None:
        """The channel's message with this :attr:`Message.dedup_key`, or None."""
        ...

    def by_rfc_message_ids(
        self, channel_id: ChannelId, rfc_message_ids: Sequence[str]
    ) -> tuple[Message, ...]:
        """The channel's messages (in or out) whose Message-ID is one of ``rfc_message_ids``."""
        ...

    def for_conversation(self, conversation_id: ConversationId) -> tuple[Message, ...]:
        """The conversation's messages, oldest first."""
        ...

    def page(
        self, conversation_id: ConversationId, *, after: PageCursor | None = None, limit: int = 50
    ) -> Page[Message]:
        """One page of the conversation's messages, oldest first (``received_at``, then id);
        ``Page.next`` continues it. ``limit`` is 1 to
        :data:`~inboxcore.domain.model.MAX_PAGE_SIZE`."""
        ...


class TicketRepository(Protocol):
    def get(self, ticket_id: TicketId) -> Ticket:
        """The ticket; :class:`~inboxcore.domain.errors.NotFoundError` if there is none."""
        ...

    def add(self, ticket: Ticket) -> None:
        """Add a ticket; :class:`~inboxcore.domain.errors.DuplicateRecord` if the id is taken or the
        conversation already has a ticket."""
        ...

    def update(self, ticket: Ticket) -> None:
        """Replace a stored ticket; NotFoundError if absent."""
        ...

    def for_conversation(self, conversation_id: ConversationId) -> Ticket | None:
        """The conversation's ticket, or None."""
        ...

    def for_channel(self, channel_id: ChannelId) -> tuple[Ticket, ...]:
        """All tickets of the channel, oldest first."""
        ...

    def page(self, query: TicketQuery) -> Page[Ticket]:
        """One page of the channel's tickets matching ``query``, most recently updated first
        (``updated_at``, then id, both descending); ``Page.next`` continues it."""
        ...


class RoutingStateRepository(Protocol):
    def rotation(self, channel_id: ChannelId) -> RotationState | None:
        """The channel's rotation, read with intent to update: SQL adapters lock the row until
        the unit of work ends (``SELECT ... FOR UPDATE``), so two workers never both take the
        same turn. None before the first assignment."""
        ...

    def save_rotation(self, state: RotationState) -> None:
        """Store the channel's rotation (insert or replace)."""
        ...


class IntakeLogRepository(Protocol):
    def record(self, entry: IntakeRecord) -> None:
        """Append one intake decision. Never raises a ConflictError: the log is append-only."""
        ...

    def quarantined(self, channel_id: ChannelId | None = None) -> tuple[IntakeRecord, ...]:
        """Quarantine entries, oldest first, whose raw message has not been accepted since."""
        ...

    def for_raw_message(self, raw_id: RawMessageId) -> tuple[IntakeRecord, ...]:
        """Every decision about one raw message, oldest first."""
        ...


class UnitOfWork(Protocol):
    """One use case's storage work, committed or rolled back as one (one transaction).

    Use as a context manager: leaving the block without :meth:`commit` rolls back. Reads see the
    unit's own writes. A uniqueness error raised by a repository leaves the unit usable only for
    :meth:`rollback`.
    """

    @property
    def accounts(self) -> AccountRepository: ...
    @property
    def channels(self) -> ChannelRepository: ...
    @property
    def contacts(self) -> ContactRepository: ...
    @property
    def conversations(self) -> ConversationRepository: ...
    @property
    def messages(self) -> MessageRepository: ...
    @property
    def tickets(self) -> TicketRepository: ...
    @property
    def routing(self) -> RoutingStateRepository: ...
    @property
    def intake_log(self) -> IntakeLogRepository: ...

    def commit(self) -> None:
        """Apply every write of the unit at once.

        Raises :class:`~inboxcore.domain.errors.CommitFailed` if nothing could be applied (then
        nothing
        was), or a :class:`~inboxcore.domain.errors.ConflictError` if a concurrent unit committed a
        clashing record first.
        """
        ...

    def rollback(self) -> None:
        """Discard every write of the unit. Never raises."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Roll back whatever was not committed; never swallows the exception."""
        ...


class Storage(Protocol):
    def unit_of_work(self) -> UnitOfWork:
        """A new unit of work. Raises :class:`~inboxcore.domain.errors.StorageError` if storage is
        down."""
        ...


class MailTransport(Protocol):
    def send(self, mail: OutboundMail) -> SendResult:
        """Hand one message to the outgoing mail system.

        A refusal is a :class:`~inboxcore.domain.model.SendResult` (temporary or permanent); raises
        :class:`~inboxcore.domain.errors.TransportError` only when the outcome is unknown.
        """
        ...


class DkimKeyStore(Protocol):
    """The host's DKIM private keys, by signing domain (where the public keys are published)."""

    def signing_keys(self, domain: str) -> tuple[DkimSigningKey, ...]:
        """The keys for ``d=domain`` (lowercase A-labels), newest first; ``()`` when the host
        holds none (the mail then goes out unsigned by that domain). Raises
        :class:`~inboxcore.domain.errors.PortError` when the keys cannot be read now."""
        ...


class Directory(Protocol):
    """The host's users and teams, and who is available now (presence)."""

    def user(self, user_id: UserId) -> User | None:
        """The user, or None if the host has none by that id."""
        ...

    def user_by_email(self, account_id: AccountId, email_key: str) -> User | None:
        """The account's user with this :attr:`EmailAddress.key`, or None."""
        ...

    def users(self, account_id: AccountId) -> tuple[User, ...]:
        """Every user of the account, active or not."""
        ...

    def team(self, team_id: TeamId) -> Team | None:
        """The team, or None."""
        ...

    def is_available(self, user_id: UserId) -> bool:
        """Whether the user is online and taking conversations now. Unknown users are not."""
        ...


class EventSink(Protocol):
    def emit(self, event: DomainEvent) -> None:
        """Deliver one event. Called after the change it reports has committed; an exception
        here is the host's and does not undo the change."""
        ...


class SpamScorer(Protocol):
    def score(self, raw: bytes, envelope: Envelope) -> SpamScore:
        """Score one message. Raises :class:`~inboxcore.domain.errors.PortError` when the scorer is
        unavailable (the message is then kept for a later recheck, never dropped)."""
        ...
