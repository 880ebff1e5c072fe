"""Domain records: accounts, people, channels, conversations, messages, tickets.

Every record is a frozen, slotted attrs class built with keyword arguments; state changes go
through ``attrs.evolve`` (and, for lifecycles, the transition tables of the policy modules). Times
are timezone-aware UTC; :func:`utc` is the validator that enforces it. Collections inside records
are tuples, frozensets or read-only mappings.

Serialization is not a concern of these classes: see :mod:`inboxcore.domain.serialization`.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Generic, TypeVar

import attrs

from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import InvalidValueError
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
from inboxcore.domain.outcomes import Disposition

_R = TypeVar("_R")

__all__ = [
    "Account",
    "Channel",
    "ChannelState",
    "Contact",
    "Conversation",
    "ConversationKind",
    "ConversationQuery",
    "ConversationSettings",
    "ConversationStatus",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "DeliveryStatus",
    "Direction",
    "DkimSigningKey",
    "DmarcFailureAction",
    "Envelope",
    "FromAddressSettings",
    "FromNameMode",
    "IntakeRecord",
    "IntakeSettings",
    "MAX_PAGE_SIZE",
    "Message",
    "MessageKind",
    "MxRecord",
    "OutboundMail",
    "Page",
    "PageCursor",
    "PropertyValue",
    "RotationState",
    "RoutingMode",
    "RoutingSettings",
    "SendResult",
    "SendStatus",
    "SignatureSettings",
    "SpamScore",
    "StoredRawMessage",
    "Team",
    "Ticket",
    "TicketQuery",
    "TicketSettings",
    "TicketStatus",
    "TicketTemplate",
    "User",
    "check_page_size",
    "default_dedup_key",
    "from_name_key",
    "held",
    "utc",
]

DEFAULT_MAX_MESSAGE_SIZE = 31_457_280
"""30 MB, attachments included: the largest message a channel accepts unless configured."""

PropertyValue = str | int | float | bool
"""The value of a ticket property: text, number or flag."""


def utc(instance: Any, attribute: attrs.Attribute[Any], value: datetime | None) -> None:
    """attrs validator: the datetime (if any) is timezone-aware UTC."""
    if value is None:
        return
    if value.tzinfo is None or value.utcoffset() != timedelta(0):
        raise ValueError(f"{attribute.name} must be a timezone-aware UTC datetime, got {value!r}")


def _utc_tuple(instance: Any, attribute: attrs.Attribute[Any], value: tuple[datetime, ...]) -> None:
    for item in value:
        utc(instance, attribute, item)


def _frozen_mapping(value: Mapping[str, PropertyValue]) -> Mapping[str, PropertyValue]:
    return MappingProxyType(dict(value))


def _str_tuple(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _str_set(values: Iterable[str]) -> frozenset[str]:
    # A typed converter: with a bare ``frozenset`` mypy cannot type the attrs __init__ argument.
    return frozenset(values)


def from_name_key(value: str) -> str:
    """The form in which from-names are compared for uniqueness within an account.

    Unicode NFKC, case folding and collapsed white space: "Acme Support" and " acme  SUPPORT"
    are the same from-name.
    """
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


# --- accounts and people -------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Account:
    """A customer of the helpdesk: one company with its own subdomain on the hosted domain."""

    id: AccountId
    name: str
    subdomain: str
    plan: str = "default"
    sending_domains: frozenset[str] = attrs.field(default=frozenset(), converter=_str_set)
    """Domains the account has connected for sending (SPF/DKIM set up); no verification needed."""


@attrs.frozen(kw_only=True)
class User:
    """An agent of the account."""

    id: UserId
    account_id: AccountId
    email: EmailAddress
    first_name: str = ""
    last_name: str = ""
    username: str | None = None
    """The local part of the agent's default from-address; the email's local part when None."""
    active: bool = True

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name.strip(), self.last_name.strip()) if p)


@attrs.frozen(kw_only=True)
class Team:
    """A named group of agents."""

    id: TeamId
    account_id: AccountId
    name: str
    member_ids: tuple[UserId, ...] = ()


@attrs.frozen(kw_only=True)
class Contact:
    """Someone who writes to the team; found by :attr:`EmailAddress.key`."""

    id: ContactId
    account_id: AccountId
    email: EmailAddress
    created_at: datetime = attrs.field(validator=utc)
    name: str | None = None
    owner_id: UserId | None = None


# --- channels --------------------------------------------------------------------------------


class ChannelState(enum.Enum):
    """Where a channel is in its life: see ``channels.CHANNEL_TRANSITIONS``."""

    DRAFT = "draft"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


class FromNameMode(enum.Enum):
    """How replies are signed in the contact's inbox."""

    AGENT_AND_COMPANY = "agent_and_company"
    COMPANY = "company"


class RoutingMode(enum.Enum):
    """Who gets a new conversation."""

    UNASSIGNED = "unassigned"
    USERS_AND_TEAMS = "users_and_teams"
    CONTACT_OWNER = "contact_owner"


class DmarcFailureAction(enum.Enum):
    """What happens to mail failing a quarantine/reject DMARC policy with no trusted forwarder."""

    QUARANTINE = "quarantine"
    REJECT = "reject"


@attrs.frozen(kw_only=True)
class FromAddressSettings:
    """The default hosted from-address, or a custom one with its verification state."""

    custom: EmailAddress | None = None
    verified_at: datetime | None = attrs.field(default=None, validator=utc)
    pending_token_id: str | None = None
    """The id of the one verification token that may still confirm :attr:`custom`."""
    verification_sent_at: tuple[datetime, ...] = attrs.field(default=(), validator=_utc_tuple)
    """When verification mail was sent for the current custom address (for rate limiting)."""


@attrs.frozen(kw_only=True)
class SignatureSettings:
    """The team signature template, with tokens such as ``{agent.first_name}``."""

    html: str = ""
    text: str | None = None
    """A plain-text template; derived from the HTML when None."""


@attrs.frozen(kw_only=True)
class RoutingSettings:
    mode: RoutingMode = RoutingMode.UNASSIGNED
    user_ids: tuple[UserId, ...] = ()
    team_ids: tuple[TeamId, ...] = ()
    max_open_per_agent: int | None = None
    fallback: RoutingMode = RoutingMode.UNASSIGNED
    """Where a conversation goes when the mode finds nobody (no owner, nobody available)."""


@attrs.frozen(kw_only=True)
class TicketTemplate:
    """Properties every ticket of the channel starts with; the team edits them once."""

    pipeline: str = "support"
    stage: str = "new"
    priority: str | None = None
    category: str | None = None
    properties: Mapping[str, PropertyValue] = attrs.field(factory=dict, converter=_frozen_mapping)


@attrs.frozen(kw_only=True)
class TicketSettings:
    enabled: bool = True
    template: TicketTemplate = TicketTemplate()


@attrs.frozen(kw_only=True)
class IntakeSettings:
    """How incoming mail is checked."""

    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    trusted_forwarders: tuple[str, ...] = ()
    """ARC sealer domains trusted to vouch for forwarded mail, on top of the global list."""
    dmarc_failure_action: DmarcFailureAction = DmarcFailureAction.QUARANTINE
    spam_quarantine_threshold: float | None = None
    spam_reject_threshold: float | None = None


@attrs.frozen(kw_only=True)
class ConversationSettings:
    """Threading windows."""

    subject_match_window: timedelta = timedelta(days=7)
    """How far back a same-contact, same-subject message may join a conversation."""
    reopen_window: timedelta = timedelta(days=30)
    """A reply to a conversation closed longer ago than this opens a new one."""


@attrs.frozen(kw_only=True)
class Channel:
    """A hosted email channel: a forwarding address and how its mail is handled."""

    id: ChannelId
    account_id: AccountId
    name: str
    forwarding_address: EmailAddress
    created_at: datetime = attrs.field(validator=utc)
    state: ChannelState = ChannelState.DRAFT
    connected_at: datetime | None = attrs.field(default=None, validator=utc)
    disconnected_at: datetime | None = attrs.field(default=None, validator=utc)
    confirmation_seen_at: datetime | None = attrs.field(default=None, validator=utc)
    """When the provider's forwarding-confirmation mail arrived."""
    receiving_since: datetime | None = attrs.field(default=None, validator=utc)
    """When the first real forwarded message arrived."""
    mailbox_addresses: tuple[EmailAddress, ...] = ()
    """The team's own mailboxes that forward to this channel (``support@acme.example``): mail
    from them holding a forwarded message is a manual forward, not the mailbox writing."""
    from_name_mode: FromNameMode = FromNameMode.AGENT_AND_COMPANY
    company_name: str = ""
    from_address: FromAddressSettings = FromAddressSettings()
    signature: SignatureSettings = SignatureSettings()
    routing: RoutingSettings = RoutingSettings()
    tickets: TicketSettings = TicketSettings()
    intake: IntakeSettings = IntakeSettings()
    conversations: ConversationSettings = ConversationSettings()

    @property
    def from_name_key(self) -> str:
        """The from-name as compared for uniqueness within the account."""
        return from_name_key(self.company_name)


# --- conversations, messages, tickets --------------------------------------------------------


class ConversationStatus(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


class ConversationKind(enum.Enum):
    CUSTOMER = "customer"
    FORWARDING_CONFIRMATION = "forwarding_confirmation"
    """The provider's confirm-forwarding mail: shown to the team, never routed or ticketed."""
    NOTICE = "notice"
    """Bounces and auto-replies that match no conversation: visible, never work."""


@attrs.frozen(kw_only=True)
class Conversation:
    id: ConversationId
    account_id: AccountId
    channel_id: ChannelId
    contact_id: ContactId
    subject: str
    created_at: datetime = attrs.field(validator=utc)
    last_message_at: datetime = attrs.field(validator=utc)
    kind: ConversationKind = ConversationKind.CUSTOMER
    status: ConversationStatus = ConversationStatus.OPEN
    closed_at: datetime | None = attrs.field(default=None, validator=utc)
    assignee_id: UserId | None = None
    participants: frozenset[str] = attrs.field(default=frozenset(), converter=_str_set)
    """Address keys (see :attr:`EmailAddress.key`) of everyone who took part."""
    linked_conversation_id: ConversationId | None = None
    """The older conversation this one was split from (hijack protection, late reopen)."""


class Direction(enum.Enum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class MessageKind(enum.Enum):
    """What an incoming message is, as classification decides."""

    MESSAGE = "message"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    FORWARDING_CONFIRMATION = "forwarding_confirmation"
    LOOP = "loop"


class DeliveryStatus(enum.Enum):
    """For outbound messages: what became of them."""

    NOT_APPLICABLE = "not_applicable"
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


@attrs.frozen(kw_only=True)
class Message:
    """One message of a conversation, in or out."""

    id: MessageId
    account_id: AccountId
    channel_id: ChannelId
    conversation_id: ConversationId
    direction: Direction
    kind: MessageKind
    fingerprint: str
    """SHA-256 of the content that identifies a message without a Message-ID."""
    received_at: datetime = attrs.field(validator=utc)
    rfc_message_id: str | None = None
    """The Message-ID header without angle brackets."""
    raw_id: RawMessageId | None = None
    sender: EmailAddress | None = None
    forwarder: EmailAddress | None = None
    to: tuple[EmailAddress, ...] = ()
    cc: tuple[EmailAddress, ...] = ()
    subject: str = ""
    sent_at: datetime | None = attrs.field(default=None, validator=utc)
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    author_id: UserId | None = None
    """The agent who wrote it (outbound, or an agent's reply that came in by mail)."""
    delivery_status: DeliveryStatus = DeliveryStatus.NOT_APPLICABLE
    delivery_detail: str | None = None
    message_id_reused: bool = False
    """The Message-ID was already held by a *different* message of the channel (see
    :func:`inboxcore.ingest.find_duplicate`): deduplicate by Message-ID and content together."""
    sender_evidence: str | None = None
    """For inbound mail, what proved at intake that :attr:`sender` wrote it: a DKIM signature
    or a trusted ARC seal aligned with the sender's domain (``DKIM of customer.example``; see
    :func:`inboxcore.policies.threads.sender_proof`). None when nothing did (offline, SPF alone,
    no signature, a sender read from a quoted message): then the message may not set the Cc of
    a reply, nor bind automatic mail to a conversation."""
    authentication_results: str | None = None
    """For inbound mail, our own Authentication-Results value as intake computed it (RFC 8601:
    ``inboxcore; spf=pass ...; dkim=...; arc=...; dmarc=...``): why it was let in, kept with the
    record. None for outbound mail and for records stored before it was kept."""

    @property
    def dedup_key(self) -> str:
        """Unique per channel: ``mid:<Message-ID>`` where there is one, else ``fp:<fingerprint>``;
        ``mid:<Message-ID>|fp:<fingerprint>`` for a message that reuses a Message-ID, so that it
        is not lost as a false duplicate."""
        key = default_dedup_key(self.rfc_message_id, self.fingerprint)
        if self.message_id_reused and self.rfc_message_id:
            return f"{key}|fp:{self.fingerprint}"
        return key


def default_dedup_key(rfc_message_id: str | None, fingerprint: str) -> str:
    """The deduplication key of a message: its Message-ID, else its content fingerprint."""
    if rfc_message_id:
        return f"mid:{rfc_message_id}"
    return f"fp:{fingerprint}"


class TicketStatus(enum.Enum):
    """See ``tickets.TICKET_TRANSITIONS``."""

    NEW = "new"
    WAITING_ON_CONTACT = "waiting_on_contact"
    WAITING_ON_US = "waiting_on_us"
    CLOSED = "closed"


@attrs.frozen(kw_only=True)
class Ticket:
    id: TicketId
    account_id: AccountId
    channel_id: ChannelId
    conversation_id: ConversationId
    name: str
    created_at: datetime = attrs.field(validator=utc)
    updated_at: datetime = attrs.field(validator=utc)
    pipeline: str = "support"
    stage: str = "new"
    status: TicketStatus = TicketStatus.NEW
    priority: str | None = None
    category: str | None = None
    owner_id: UserId | None = None
    properties: Mapping[str, PropertyValue] = attrs.field(factory=dict, converter=_frozen_mapping)


@attrs.frozen(kw_only=True)
class RotationState:
    """Where the fair rotation of a channel stands; stored so that it is fair across workers."""

    channel_id: ChannelId
    last_user_id: UserId | None = None
    assigned_count: int = 0
    at: datetime | None = attrs.field(default=None, validator=utc)


# --- the vocabulary of the ports --------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Envelope:
    """What the host's SMTP/LMTP session (or webhook, or IMAP fetch) saw around a message."""

    received_at: datetime = attrs.field(validator=utc)
    mail_from: str | None = None
    """The SMTP MAIL FROM (return path); ``""`` is the null sender of bounces, None is unknown."""
    rcpt_to: tuple[str, ...] = attrs.field(default=(), converter=_str_tuple)
    client_ip: str | None = None
    helo: str | None = None


@attrs.frozen(kw_only=True)
class StoredRawMessage:
    """A received message as the raw store lists it: what recovery needs to run it again."""

    raw_id: RawMessageId
    received_at: datetime = attrs.field(validator=utc)
    """When it was received (the envelope's time), or first stored when the envelope is unknown."""
    envelope: Envelope | None = None
    """The envelope it came with; None when it was stored before raw stores kept envelopes."""


@attrs.frozen(kw_only=True)
class IntakeRecord:
    """The log line of one intake decision; quarantined messages are re-processed from it."""

    raw_id: RawMessageId
    envelope: Envelope
    disposition: Disposition = attrs.field(converter=Disposition)
    """What became of the message (its value, ``"accepted"``, is accepted too)."""
    reason_codes: tuple[str, ...] = ()
    at: datetime = attrs.field(validator=utc)
    channel_id: ChannelId | None = None
    message_id: MessageId | None = None


# --- pages: the lists an agent's screen shows, read a page at a time -------------------------

MAX_PAGE_SIZE = 500
"""The most records one page may hold."""


def check_page_size(limit: int) -> None:
    """Raise :class:`~inboxcore.domain.errors.InvalidValueError` unless ``limit`` is a page size
    (1 to :data:`MAX_PAGE_SIZE`)."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidValueError(f"a page holds 1 to {MAX_PAGE_SIZE} records, not {limit}")


def _page_size(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    check_page_size(value)


@attrs.frozen(kw_only=True)
class PageCursor:
    """Where a page ended (keyset pagination): the last record's sort time and id. Pass it back
    to get the records after it; it stays valid however many records are added meanwhile."""

    at: datetime = attrs.field(validator=utc)
    id: str


@attrs.frozen(kw_only=True)
class ConversationQuery:
    """Which conversations of a channel, most recent activity first (``last_message_at``).

    ``assignee`` and ``unassigned`` select by owner of the work; ``after`` continues a listing.
    """

    channel_id: ChannelId
    status: ConversationStatus | None = None
    kind: ConversationKind | None = None
    assignee: UserId | None = None
    unassigned: bool = False
    contact_id: ContactId | None = None
    after: PageCursor | None = None
    limit: int = attrs.field(default=50, validator=_page_size)

    def __attrs_post_init__(self) -> None:
        if self.unassigned and self.assignee is not None:
            raise InvalidValueError("a conversation is either assigned to someone or unassigned")


@attrs.frozen(kw_only=True)
class TicketQuery:
    """Which tickets of a channel, most recently updated first."""

    channel_id: ChannelId
    status: TicketStatus | None = None
    owner_id: UserId | None = None
    after: PageCursor | None = None
    limit: int = attrs.field(default=50, validator=_page_size)


@attrs.frozen(kw_only=True)
class Page(Generic[_R]):
    """One page of a listing, and the cursor of the next (None: this was the last page)."""

    items: tuple[_R, ...]
    next: PageCursor | None = None


_CLOSING = frozenset({Disposition.ACCEPTED, Disposition.DUPLICATE, Disposition.DISCARDED})


def held(history: Iterable[IntakeRecord]) -> IntakeRecord | None:
    """The quarantine record that still holds a raw message back, given its intake log lines
    in order: the first quarantine not followed by an acceptance, a duplicate or a discard.

    The order matters: a unit that committed but whose answer was lost logs ``accepted`` and
    then ``quarantined``, and that message stays held until a re-run recovers it.
    """
    holding: IntakeRecord | None = None
    for entry in history:
        if entry.disposition in _CLOSING:
            holding = None
        elif entry.disposition is Disposition.QUARANTINED and holding is None:
            holding = entry
    return holding


@attrs.frozen(kw_only=True)
class MxRecord:
    preference: int
    exchange: str


class SendStatus(enum.Enum):
    ACCEPTED = "accepted"
    TEMPORARY_FAILURE = "temporary_failure"
    PERMANENT_FAILURE = "permanent_failure"


@attrs.frozen(kw_only=True)
class OutboundMail:
    """One composed message ready for the transport: envelope and raw bytes."""

    mail_from: str
    rcpt_to: tuple[str, ...] = attrs.field(converter=_str_tuple)
    data: bytes
    rfc_message_id: str | None = None


@attrs.frozen(kw_only=True)
class SendResult:
    """What the transport made of one message; refusals are results, not exceptions."""

    status: SendStatus
    smtp_code: int | None = None
    detail: str = ""
    refused_recipients: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class DkimSigningKey:
    """One DKIM private key of a signing domain, as the host's key store hands it out.

    ``private_key`` is PEM (PKCS#8 or PKCS#1 RSA, PKCS#8 Ed25519), or for Ed25519 the base64
    32-byte seed that dkimpy and ``rspamadm dkim_keygen`` write; the algorithm follows from the
    key. A store lists several keys per domain, newest first, to rotate selectors.
    """

    selector: str
    private_key: bytes = attrs.field(repr=False)
    not_before: datetime | None = attrs.field(default=None, validator=utc)
    """Not used before then: a new key whose DNS record may not have reached every resolver."""
    sign_until: datetime | None = attrs.field(default=None, validator=utc)
    """An older key keeps signing alongside the newest until then (a rotation window)."""


@attrs.frozen(kw_only=True)
class SpamScore:
    """A spam scorer's opinion; higher is spammier (SpamAssassin/rspamd scale)."""

    score: float
    detail: str = ""
    scorer: str = ""
