"""What an accepted message does to its conversation, ticket, routing and channel.

Each step works inside the caller's unit of work and returns what it changed as a value
(:class:`Step`): the events to announce after commit, the ticket and the routing decision. None
of them commits; :mod:`inboxcore.app.apply` composes them into one unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypedDict

import attrs

from inboxcore.app.context import ServiceContext
from inboxcore.channels import ChannelStep, apply_step
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import InvalidTransition
from inboxcore.domain.events import (
    ChannelStateChanged,
    ConversationAssigned,
    ConversationCreated,
    ConversationReopened,
    DeliveryFailed,
    DomainEvent,
    ForwardingConfirmationReceived,
    OwnerNotified,
    TicketCreated,
    TicketStatusChanged,
)
from inboxcore.domain.ids import AccountId, ChannelId, ConversationId, TicketId, UserId
from inboxcore.domain.model import (
    Channel,
    Contact,
    Conversation,
    ConversationKind,
    ConversationStatus,
    DeliveryStatus,
    Direction,
    Message,
    MessageKind,
    RotationState,
    Ticket,
)
from inboxcore.ingest import IntakeAccepted
from inboxcore.mail.sender import SenderSource
from inboxcore.policies.threads import ThreadAction, ThreadDecision
from inboxcore.ports import UnitOfWork
from inboxcore.routing import (
    DirectorySnapshot,
    RoutingDecision,
    candidate_ids,
    route_new_conversation,
    route_reply,
)
from inboxcore.tickets import TicketStep, apply_ticket_step, open_ticket, ticket_step_for_message

__all__ = [
    "About",
    "Step",
    "about",
    "bounced_outbound",
    "continue_conversation",
    "observe_channel",
    "open_conversation",
]

_KIND_OF_CONVERSATION = {
    MessageKind.MESSAGE: ConversationKind.CUSTOMER,
    MessageKind.FORWARDING_CONFIRMATION: ConversationKind.FORWARDING_CONFIRMATION,
    MessageKind.AUTO_REPLY: ConversationKind.NOTICE,
    MessageKind.BOUNCE: ConversationKind.NOTICE,
    MessageKind.LOOP: ConversationKind.NOTICE,
}


class About(TypedDict):
    """The fields every conversation event starts with (``**about(conversation, now)``)."""

    at: datetime
    account_id: AccountId
    channel_id: ChannelId
    conversation_id: ConversationId


def about(conversation: Conversation, at: datetime) -> About:
    """The :class:`About` fields of ``conversation``'s events at ``at``."""
    return About(
        at=at,
        account_id=conversation.account_id,
        channel_id=conversation.channel_id,
        conversation_id=conversation.id,
    )


@attrs.frozen(kw_only=True)
class Step:
    """What one step changed, for the caller to announce after commit."""

    events: tuple[DomainEvent, ...] = ()
    ticket_id: TicketId | None = None
    routing: RoutingDecision | None = None

    def then(self, other: Step) -> Step:
        """This step followed by ``other``: events in order, the later ticket and routing."""
        return Step(
            events=(*self.events, *other.events),
            ticket_id=other.ticket_id or self.ticket_id,
            routing=other.routing or self.routing,
        )


def _conversation_subject(result: IntakeAccepted) -> str:
    """The subject the team sees: for an agent's manual forward, the forwarded message's own
    subject ("Delivery missing"), not the forward's ("WG: Delivery missing")."""
    sender = result.sender
    if sender.source is SenderSource.MANUAL_FORWARD_BODY:
        forwarded = sender.forwarded
        if forwarded is not None and forwarded.subject:
            return forwarded.subject
    if sender.source is SenderSource.FORWARD_ATTACHMENT:
        for attached in result.parsed.attached_messages:
            if attached.subject:
                return attached.subject
    return result.parsed.subject


def _snapshot(
    ctx: ServiceContext, uow: UnitOfWork, channel: Channel, extra: Sequence[UserId | None]
) -> DirectorySnapshot:
    directory = ctx.directory
    teams = {}
    for team_id in channel.routing.team_ids:
        team = directory.team(team_id)
        if team is not None:
            teams[team_id] = team
    wanted = list(candidate_ids(channel.routing, teams)) + [u for u in extra if u]
    users = {}
    for user_id in dict.fromkeys(wanted):
        user = directory.user(user_id)
        if user is not None:
            users[user_id] = user
    available = {u for u in users if directory.is_available(u)}
    counts = {}
    if channel.routing.max_open_per_agent is not None:
        counts = {u: uow.conversations.count_open_assigned(u) for u in users}
    return DirectorySnapshot(users=users, teams=teams, available=available, open_counts=counts)


def _assign(
    uow: UnitOfWork,
    conversation: Conversation,
    routing: RoutingDecision,
    previous: RotationState | None,
    now: datetime,
) -> tuple[Conversation, Step]:
    if routing.rotation is not None and routing.rotation != previous:
        uow.routing.save_rotation(routing.rotation)
    this = about(conversation, now)
    events: list[DomainEvent] = [
        ConversationAssigned(**this, assignee_id=routing.assignee_id, reason=routing.reason)
    ]
    if routing.notify_owner and routing.assignee_id is not None:
        events.append(OwnerNotified(**this, owner_id=routing.assignee_id))
    assigned = attrs.evolve(conversation, assignee_id=routing.assignee_id)
    return assigned, Step(events=tuple(events), routing=routing)


def _route_new(
    ctx: ServiceContext, uow: UnitOfWork, channel: Channel, conversation: Conversation,
    contact: Contact, now: datetime,
) -> tuple[Conversation, Step]:  # fmt: skip
    rotation = uow.routing.rotation(channel.id)
    routing = route_new_conversation(
        channel.routing,
        _snapshot(ctx, uow, channel, [contact.owner_id]),
        channel_id=channel.id,
        rotation=rotation,
        owner_id=contact.owner_id,
        now=now,
    )
    return _assign(uow, conversation, routing, rotation, now)


def _open_ticket(
    ctx: ServiceContext, uow: UnitOfWork, channel: Channel, conversation: Conversation,
    contact: Contact, now: datetime,
) -> Step:  # fmt: skip
    ticket = open_ticket(
        conversation,
        channel.tickets,
        ticket_id=TicketId(ctx.ids.new_id("ticket")),
        now=now,
        owner_id=conversation.assignee_id,
        contact_name=contact.name,
    )
    if ticket is None:
        return Step()
    uow.tickets.add(ticket)
    created = TicketCreated(
        at=now,
        account_id=channel.account_id,
        channel_id=channel.id,
        ticket_id=ticket.id,
        conversation_id=conversation.id,
    )
    return Step(events=(created,), ticket_id=ticket.id)


def open_conversation(
    ctx: ServiceContext,
    uow: UnitOfWork,
    result: IntakeAccepted,
    *,
    contact: Contact,
    sender: EmailAddress,
    decision: ThreadDecision,
    now: datetime,
) -> tuple[Conversation, Step]:
    """A new conversation of ``contact``: routed when it is a customer's, with its ticket."""
    channel = result.channel
    kind = _KIND_OF_CONVERSATION[result.classification.kind]
    conversation = Conversation(
        id=ConversationId(ctx.ids.new_id("conversation")),
        account_id=channel.account_id,
        channel_id=channel.id,
        contact_id=contact.id,
        subject=_conversation_subject(result),
        created_at=now,
        last_message_at=now,
        kind=kind,
        participants=frozenset({contact.email.key, sender.key}),
        linked_conversation_id=decision.linked_conversation_id,
    )
    step = Step(
        events=(
            ConversationCreated(
                at=now,
                account_id=channel.account_id,
                channel_id=channel.id,
                conversation_id=conversation.id,
                contact_id=contact.id,
                linked_conversation_id=decision.linked_conversation_id,
                reason=decision.reason,
            ),
        )
    )
    if kind is ConversationKind.CUSTOMER:
        conversation, routed = _route_new(ctx, uow, channel, conversation, contact, now)
        step = step.then(routed)
    uow.conversations.add(conversation)
    return conversation, step.then(_open_ticket(ctx, uow, channel, conversation, contact, now))


def _reroute_if_needed(
    ctx: ServiceContext, uow: UnitOfWork, channel: Channel, conversation: Conversation,
    now: datetime,
) -> tuple[Conversation, Step]:  # fmt: skip
    """Replies stay with the assignee; a deactivated assignee's conversation is re-routed."""
    contact = uow.contacts.get(conversation.contact_id)
    rotation = uow.routing.rotation(channel.id)
    routing = route_reply(
        conversation,
        channel.routing,
        _snapshot(ctx, uow, channel, [contact.owner_id, conversation.assignee_id]),
        rotation=rotation,
        owner_id=contact.owner_id,
        now=now,
    )
    if routing.assignee_id == conversation.assignee_id:
        return conversation, Step()
    return _assign(uow, conversation, routing, rotation, now)


def _step_ticket(uow: UnitOfWork, ticket: Ticket, step: TicketStep, now: datetime) -> Step:
    try:
        moved = apply_ticket_step(ticket, step, now)
    except InvalidTransition:
        return Step()  # a step the table does not take from this status changes nothing
    if moved is ticket or moved.status is ticket.status:
        return Step()
    uow.tickets.update(moved)
    changed = TicketStatusChanged(
        at=now,
        account_id=ticket.account_id,
        channel_id=ticket.channel_id,
        ticket_id=ticket.id,
        old=ticket.status,
        new=moved.status,
        step=step.value,
    )
    return Step(events=(changed,), ticket_id=ticket.id)


def continue_conversation(
    ctx: ServiceContext,
    uow: UnitOfWork,
    result: IntakeAccepted,
    *,
    sender: EmailAddress,
    author: UserId | None,
    decision: ThreadDecision,
    now: datetime,
) -> tuple[Conversation, Step]:
    """The message joins (or reopens) the conversation threading chose; its ticket moves."""
    assert decision.conversation_id is not None  # decide_thread names one unless NEW
    channel, kind = result.channel, result.classification.kind
    conversation = uow.conversations.get(decision.conversation_id)
    automatic = kind is not MessageKind.MESSAGE
    updated = attrs.evolve(
        conversation,
        last_message_at=max(conversation.last_message_at, now),
        participants=conversation.participants
        if automatic
        else conversation.participants | {sender.key},
    )
    step = Step()
    if decision.action is ThreadAction.REOPEN:
        updated = attrs.evolve(updated, status=ConversationStatus.OPEN, closed_at=None)
        reopened = ConversationReopened(
            at=now, account_id=channel.account_id, channel_id=channel.id, conversation_id=updated.id
        )
        step = Step(events=(reopened,))
    if (
        not automatic
        and updated.kind is ConversationKind.CUSTOMER
        and updated.status is ConversationStatus.OPEN
    ):
        updated, rerouted = _reroute_if_needed(ctx, uow, channel, updated, now)
        step = step.then(rerouted)
    uow.conversations.update(updated)
    ticket = uow.tickets.for_conversation(conversation.id)
    # An agent's emailed reply moves the ticket as an agent reply (waiting on the contact).
    move = ticket_step_for_message(kind, Direction.OUTBOUND if author else Direction.INBOUND)
    if ticket is not None and move is not None:
        step = step.then(_step_ticket(uow, ticket, move, now))
    return updated, step


def bounced_outbound(
    uow: UnitOfWork, result: IntakeAccepted, message: Message, now: datetime
) -> tuple[DomainEvent, ...]:
    """A bounce proven to be about our outbound ``message`` marks it failed (delivery
    feedback); a delay report (the server still tries) leaves it as it is."""
    bounce = result.classification.bounce
    if result.classification.kind is not MessageKind.BOUNCE or bounce is None:
        return ()
    if bounce.permanent is False:
        return ()
    status = bounce.status or "5.0.0"
    detail = f"{status} {bounce.diagnostic or ''}".strip()
    uow.messages.update(
        attrs.evolve(message, delivery_status=DeliveryStatus.FAILED, delivery_detail=detail)
    )
    failed = DeliveryFailed(
        at=now,
        account_id=message.account_id,
        channel_id=message.channel_id,
        message_id=message.id,
        status=status,
        detail=bounce.diagnostic,
    )
    return (failed,)


def _confirmation_seen(
    result: IntakeAccepted, conversation: Conversation, now: datetime
) -> tuple[ChannelStep | None, DomainEvent]:
    """A confirmation nothing proves the provider sent is reported without its link and code,
    and moves nothing: a forger's link must never pass for the provider's."""
    channel = result.channel
    confirmation = result.classification.forwarding_confirmation
    verified = confirmation is not None and confirmation.verified
    event = ForwardingConfirmationReceived(
        at=now,
        account_id=channel.account_id,
        channel_id=channel.id,
        provider=confirmation.provider if confirmation else "unknown",
        requesting_address=confirmation.requesting_address if confirmation else None,
        code=confirmation.code if confirmation and verified else None,
        url=confirmation.url if confirmation and verified else None,
        conversation_id=conversation.id,
        verified=verified,
    )
    return (ChannelStep.OBSERVE_CONFIRMATION if verified else None), event


def observe_channel(
    uow: UnitOfWork, result: IntakeAccepted, conversation: Conversation, now: datetime
) -> tuple[DomainEvent, ...]:
    """The provider's confirmation mail and the first real forwarded message move the
    channel's state (read again inside the unit, so a concurrent change is not lost)."""
    kind = result.classification.kind
    events: list[DomainEvent] = []
    step: ChannelStep | None = None
    if kind is MessageKind.FORWARDING_CONFIRMATION:
        step, seen = _confirmation_seen(result, conversation, now)
        events.append(seen)
    elif kind is MessageKind.MESSAGE and result.channel.receiving_since is None:
        step = ChannelStep.OBSERVE_FIRST_MAIL
    if step is None:
        return tuple(events)
    channel = uow.channels.get(result.channel.id)
    try:
        moved = apply_step(channel, step, now)
    except InvalidTransition:
        return tuple(events)
    uow.channels.update(moved)
    # Emitted for observations too (the state may stay CONNECTED): hosts show "receiving".
    if moved != channel:
        events.append(
            ChannelStateChanged(
                at=now,
                account_id=channel.account_id,
                channel_id=channel.id,
                old=channel.state,
                new=moved.state,
                step=step.value,
            )
        )
    return tuple(events)
