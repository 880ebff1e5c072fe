"""Applying an accepted message in one unit of work.

Contact found or created, conversation found (threading) or opened, message appended, routing,
ticket, channel observations and the intake record: all in one unit, committed as one
(:func:`~inboxcore.app.recording.commit_logged`), or nothing. The steps
(:mod:`inboxcore.app.conversation`, :mod:`inboxcore.app.thread_inputs`) return what they
changed as values; :class:`Applied` is what the whole unit did, announced after commit.

The duplicate check runs once more inside the unit, as the race-safe one: another worker may
have stored the same message since intake looked.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from inboxcore.app.context import ServiceContext
from inboxcore.app.conversation import (
    Step,
    bounced_outbound,
    continue_conversation,
    observe_channel,
    open_conversation,
)
from inboxcore.app.recording import commit_logged
from inboxcore.app.thread_inputs import automatic_proof, thread_context
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import ConflictError
from inboxcore.domain.events import DomainEvent, MessageAppended
from inboxcore.domain.ids import ContactId, ConversationId, MessageId, TicketId, UserId
from inboxcore.domain.model import (
    Channel,
    Contact,
    Conversation,
    Direction,
    IntakeRecord,
    Message,
    default_dedup_key,
)
from inboxcore.domain.outcomes import Disposition
from inboxcore.ingest import IntakeAccepted, find_duplicate
from inboxcore.policies.threads import ThreadAction, ThreadDecision, decide_thread, sender_proof
from inboxcore.ports import UnitOfWork
from inboxcore.routing import RoutingDecision

__all__ = ["Applied", "apply_accepted"]


@attrs.frozen(kw_only=True)
class Applied:
    """What applying one accepted message did (or, with :attr:`duplicate_of`, found done)."""

    events: tuple[DomainEvent, ...] = ()
    contact_id: ContactId | None = None
    conversation_id: ConversationId | None = None
    message_id: MessageId | None = None
    ticket_id: TicketId | None = None
    created: bool = False
    thread: ThreadDecision | None = None
    routing: RoutingDecision | None = None
    duplicate_of: MessageId | None = None


def apply_accepted(ctx: ServiceContext, result: IntakeAccepted) -> Applied:
    """Apply in one unit of work; a unit that lost a race to another worker (a ConflictError)
    starts over and sees the winner's records, up to ``max_attempts`` times."""
    for _attempt in range(ctx.config.max_attempts - 1):
        try:
            return _apply(ctx, result)
        except ConflictError:
            continue
    return _apply(ctx, result)


def _apply(ctx: ServiceContext, result: IntakeAccepted) -> Applied:
    now = ctx.clock.now()
    with ctx.storage.unit_of_work() as uow:
        existing, dedup_key = find_duplicate(
            uow.messages, result.channel.id, result.parsed, result.fingerprint
        )
        if existing is not None:
            return Applied(duplicate_of=existing.id)
        sender = result.sender.sender or _fallback_sender(result.channel)
        # An agent writing by mail (an owner answering the notification, a colleague on Cc) is
        # not made a contact: their message joins the conversation as the agent's.
        author = _author(ctx, result, sender)
        contact = (
            _contact(ctx, uow, result.channel, sender, now)
            if author is None
            else uow.contacts.by_email(result.channel.account_id, sender.key)
        )
        evidence = sender_proof(result.authentication, result.sender)
        decision, conversation, step, created = _thread(
            ctx,
            uow,
            result,
            contact=contact,
            sender=sender,
            author=author,
            evidence=evidence,
            now=now,
        )
        message = _message(ctx, result, conversation, sender, author, dedup_key, evidence)
        uow.messages.add(message)
        appended = MessageAppended(
            at=now,
            account_id=message.account_id,
            channel_id=message.channel_id,
            conversation_id=conversation.id,
            message_id=message.id,
            kind=message.kind,
            direction=Direction.INBOUND,
        )
        observed = observe_channel(uow, result, conversation, now)
        _log_accepted(ctx, uow, result, message, now)
    return Applied(
        events=(*step.events, appended, *observed),
        contact_id=conversation.contact_id,
        conversation_id=conversation.id,
        message_id=message.id,
        ticket_id=step.ticket_id,
        created=created,
        thread=decision,
        routing=step.routing,
    )


def _thread(
    ctx: ServiceContext,
    uow: UnitOfWork,
    result: IntakeAccepted,
    *,
    contact: Contact | None,
    sender: EmailAddress,
    author: UserId | None,
    evidence: str | None,
    now: datetime,
) -> tuple[ThreadDecision, Conversation, Step, bool]:
    """Which conversation the message belongs to, opened or continued; a proven bounce of our
    own mail marks that mail failed on the way."""
    proof = automatic_proof(ctx, uow, result.channel, result, now)
    step = Step(events=bounced_outbound(uow, result, proof[0], now)) if proof else Step()
    context = thread_context(
        ctx, uow, result, contact=contact, sender=sender, now=now, proof=proof, evidence=evidence
    )
    decision = decide_thread(context, now=now, settings=result.channel.conversations)
    if decision.action is ThreadAction.NEW:
        if contact is None:  # an agent starting a conversation is its contact
            contact = _contact(ctx, uow, result.channel, sender, now)
        conversation, opened = open_conversation(
            ctx, uow, result, contact=contact, sender=sender, decision=decision, now=now
        )
        return decision, conversation, step.then(opened), True
    conversation, continued = continue_conversation(
        ctx, uow, result, sender=sender, author=author, decision=decision, now=now
    )
    return decision, conversation, step.then(continued), False


def _message(
    ctx: ServiceContext,
    result: IntakeAccepted,
    conversation: Conversation,
    sender: EmailAddress,
    author: UserId | None,
    dedup_key: str,
    evidence: str | None,
) -> Message:
    parsed, channel = result.parsed, result.channel
    return Message(
        id=MessageId(ctx.ids.new_id("message")),
        account_id=channel.account_id,
        channel_id=channel.id,
        conversation_id=conversation.id,
        direction=Direction.INBOUND,
        kind=result.classification.kind,
        fingerprint=result.fingerprint,
        received_at=result.envelope.received_at,
        rfc_message_id=parsed.message_id,
        raw_id=result.raw_id,
        sender=sender,
        forwarder=result.sender.forwarder,
        to=parsed.to,
        cc=parsed.cc,
        subject=parsed.subject,
        sent_at=parsed.date,
        in_reply_to=parsed.in_reply_to[0] if parsed.in_reply_to else None,
        references=parsed.references[-32:],
        author_id=author,
        message_id_reused=dedup_key != default_dedup_key(parsed.message_id, result.fingerprint),
        sender_evidence=evidence,
        authentication_results=result.authentication.header,
    )


def _log_accepted(
    ctx: ServiceContext, uow: UnitOfWork, result: IntakeAccepted, message: Message, now: datetime
) -> None:
    entry = IntakeRecord(
        raw_id=result.raw_id,
        envelope=result.envelope,
        disposition=Disposition.ACCEPTED,
        reason_codes=result.reason_codes,
        at=now,
        channel_id=result.channel.id,
        message_id=message.id,
    )
    uow.intake_log.record(entry)
    commit_logged(ctx.storage, uow, entry, ctx.staged)


def _fallback_sender(channel: Channel) -> EmailAddress:
    """Automatic mail with no usable author (a bounce from ``<>``) still needs a contact to hang
    its notice on: the mail system of the channel's domain stands in."""
    return EmailAddress(
        local="mailer-daemon",
        domain=channel.forwarding_address.domain,
        display_name="Mail Delivery System",
    )


def _contact(
    ctx: ServiceContext, uow: UnitOfWork, channel: Channel, sender: EmailAddress, now: datetime
) -> Contact:
    contact = uow.contacts.by_email(channel.account_id, sender.key)
    if contact is None:
        contact = Contact(
            id=ContactId(ctx.ids.new_id("contact")),
            account_id=channel.account_id,
            email=sender,
            created_at=now,
            name=sender.display_name,
        )
        uow.contacts.add(contact)
    elif contact.name is None and sender.display_name:
        contact = attrs.evolve(contact, name=sender.display_name)
        uow.contacts.update(contact)
    return contact


def _author(ctx: ServiceContext, result: IntakeAccepted, sender: EmailAddress) -> UserId | None:
    """The agent who wrote this by mail: only a sender proven to be the team's
    (:attr:`~inboxcore.mail.sender.SenderResolution.team_member`), never a From alone."""
    team_member = result.sender.team_member
    if team_member is None or team_member.key != sender.key:
        return None
    user = ctx.directory.user_by_email(result.channel.account_id, sender.key)
    return user.id if user else None
