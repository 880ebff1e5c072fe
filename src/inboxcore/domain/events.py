"""Domain events: what happened, for hosts to drive UIs, webhooks and audit logs.

The service emits events through the :class:`~inboxcore.ports.EventSink` port only after the unit
of work that caused them has committed, so a host never hears of a change that was rolled back.
"""

from __future__ import annotations

from datetime import datetime

import attrs

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
from inboxcore.domain.model import ChannelState, Direction, MessageKind, TicketStatus, utc

__all__ = [
    "ChannelStateChanged",
    "ConversationAssigned",
    "ConversationCreated",
    "ConversationReopened",
    "DeliveryFailed",
    "DomainEvent",
    "ForwardingConfirmationReceived",
    "MessageAppended",
    "MessageDiscarded",
    "MessageQuarantined",
    "MessageRejected",
    "OwnerNotified",
    "TicketCreated",
    "TicketStatusChanged",
]


@attrs.frozen(kw_only=True)
class ChannelStateChanged:
    at: datetime = attrs.field(validator=utc)
    account_id: AccountId
    channel_id: ChannelId
    old: ChannelState
    new: ChannelState
    step: str


@attrs.frozen(kw_only=True)
class ConversationCreated:
    at: datetime = attrs.field(validator=utc)
    account_id: AccountId
    channel_id: ChannelId
    conversation_id: ConversationId
    contact_id: ContactId
    linked_conversation_id: ConversationId | None = None
    reason: str = "new"
    """Why a new conversation: ``new``, ``hijack_protection``, ``reopen_window_passed``, ..."""


@attrs.frozen(kw_only=True)
class ConversationReopened:
    at: datetime = attrs.field(validator=utc)
    account_id: AccountId
    channel_id: ChannelId
    conversation_id: ConversationId


@attrs.frozen(kw_only=True)
class MessageAppended:
    at: datetime = attrs.field(validator=utc)
    account_id: AccountId
    channel_id: ChannelId
    conversation_id: ConversationId
    message_id: MessageId
    kind: MessageKind
    direction: Direction


@attrs.frozen(kw_only=True)
class ConversationAssigned:
    at: datetime = attrs.field(validator=utc)
    account_id: AccountId
    channel_id: ChannelId
    conversation_id: ConversationId
    assignee_id: UserId | None
    reason: str
    """The routing decision's reason code."""


@attrs.frozen(kw_only=True)
class OwnerNotified:
    at: datetime = attrs.field(validator=utc)
    account_id: AccountId
    channel_id: ChannelId
    conversation_id: ConversationId
    owner_id: UserId


@attrs.frozen(kw_only=True)
class TicketCreated:
    at: datetime = attrs.field(validator=utc)
    account_id: AccountId
    channel_id: ChannelId
    ticket_id: TicketId
    conversation_id: ConversationId


@attrs.frozen(kw_only=True)
class TicketStatusChanged:
    at: datetime = attrs.field(validator=utc)
    account_id: AccountId
    channel_id: ChannelId
    ticket_id: TicketId
    old: TicketStatus
    new: TicketStatus
    step: str


@attrs.frozen(kw_only=True)
class ForwardingConfirmationReceived:
    """A mail provider's "confirm forwarding" mail arrived for the channel.

    ``verified``: the provider is proven to have sent it (authenticated as its own domain). Only
    then does it carry the ``code`` and ``url`` a setup screen may present as the provider's; an
    unverified one (a forgery, or any confirmation offline) carries neither, and the team reads the
    message itself in its conversation.
    """

    at: datetime = attrs.field(validator=utc)
    account_id: AccountId
    channel_id: ChannelId
    provider: str
    requesting_address: str | None
    code: str | None
    url: str | None
    conversation_id: ConversationId | None = None
    verified: bool = False


@attrs.frozen(kw_only=True)
class MessageQuarantined:
    at: datetime = attrs.field(validator=utc)
    raw_id: RawMessageId
    reasons: tuple[str, ...]
    account_id: AccountId | None = None
    channel_id: ChannelId | None = None


@attrs.frozen(kw_only=True)
class MessageDiscarded:
    """A person dropped a held message (:meth:`InboxService.discard`)."""

    at: datetime = attrs.field(validator=utc)
    raw_id: RawMessageId
    note: str = ""
    account_id: AccountId | None = None
    channel_id: ChannelId | None = None


@attrs.frozen(kw_only=True)
class MessageRejected:
    at: datetime = attrs.field(validator=utc)
    reasons: tuple[str, ...]
    raw_id: RawMessageId | None = None
    account_id: AccountId | None = None
    channel_id: ChannelId | None = None


@attrs.frozen(kw_only=True)
class DeliveryFailed:
    at: datetime = attrs.field(validator=utc)
    account_id: AccountId
    channel_id: ChannelId
    message_id: MessageId
    status: str
    detail: str | None = None


DomainEvent = (
    ChannelStateChanged
    | ConversationAssigned
    | ConversationCreated
    | ConversationReopened
    | DeliveryFailed
    | ForwardingConfirmationReceived
    | MessageAppended
    | MessageDiscarded
    | MessageQuarantined
    | MessageRejected
    | OwnerNotified
    | TicketCreated
    | TicketStatusChanged
)
"""Every event the service emits."""
