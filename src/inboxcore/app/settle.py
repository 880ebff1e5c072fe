"""Settling intake's verdict: the reply a host gives, and the record behind it.

**A 250 means recorded.** A final reply (``250``, or a ``5xx`` refusal) for a stored message is
given only once an intake record listing it (accepted, duplicate, quarantined, rejected) is
committed. Storage failing before that (a refused commit, ``database is locked``, storage down,
too many lost races) rolls back and answers ``451 4.3.0`` with reason ``storage_unavailable``:
the sender keeps the message and retries, and no event tells of what was not recorded. A commit
whose answer was lost is checked by reading the intake log (:mod:`inboxcore.app.recording`).
Anything else failing while applying (a bug) quarantines the message with its raw id
(``internal_error``), never lost, never half-applied, once that quarantine is recorded.
"""

from __future__ import annotations

import logging
from datetime import datetime

from inboxcore.app.apply import Applied, apply_accepted
from inboxcore.app.context import ServiceContext
from inboxcore.app.conversation import about
from inboxcore.app.delivery import Delivery
from inboxcore.app.notify import notify_owners
from inboxcore.app.recording import commit_logged, latest_listing
from inboxcore.domain.errors import ConflictError, PortError
from inboxcore.domain.events import (
    ConversationAssigned,
    ConversationCreated,
    DomainEvent,
    MessageAppended,
    MessageQuarantined,
    MessageRejected,
    TicketCreated,
)
from inboxcore.domain.ids import TicketId
from inboxcore.domain.model import Conversation, ConversationKind, IntakeRecord, Message
from inboxcore.domain.outcomes import Disposition, Reason, Reply
from inboxcore.ingest import (
    IntakeAccepted,
    IntakeDeferred,
    IntakeDuplicate,
    IntakeQuarantined,
    IntakeResult,
)
from inboxcore.ports import UnitOfWork

__all__ = ["settle"]

log = logging.getLogger(__name__)


def settle(ctx: ServiceContext, result: IntakeResult, *, recovering: bool = False) -> Delivery:
    """The delivery of intake's ``result``: applied or recorded, then announced.

    ``recovering``: run by the recovery sweep, which writes no record for a message that
    another worker recorded meanwhile (the sweep checked it had none before it ran it).
    """
    try:
        if isinstance(result, IntakeAccepted):
            return _accept(ctx, result, recovering=recovering)
        if isinstance(result, IntakeDuplicate):
            recovered = _recover_unacknowledged(ctx, result)
            if recovered is not None:
                return recovered
        verdict = Delivery(
            disposition=result.disposition, reasons=result.reasons, smtp=result.smtp, intake=result
        )
        return _record_outcome(ctx, verdict, recovering=recovering)
    except (PortError, ConflictError) as exc:
        return _deferred(result, exc)


def _deferred(result: IntakeResult, exc: Exception) -> Delivery:
    """Nothing lists the message: answer 451, so that the sender keeps it and retries."""
    log.warning(
        "storage failed before raw message %s was recorded (%s: %s); answering 451",
        result.raw_id,
        type(exc).__name__,
        exc,
    )
    reason = Reason(
        code="storage_unavailable",
        message=f"Storage failed before the message was recorded ({type(exc).__name__}); "
        "nothing was acknowledged, so the sender will retry.",
    )
    return Delivery(
        disposition=Disposition.DEFERRED,
        reasons=(reason,),
        smtp=Reply.STORAGE_DOWN.value,
        intake=result,
    )


def _accept(ctx: ServiceContext, result: IntakeAccepted, *, recovering: bool) -> Delivery:
    try:
        applied = apply_accepted(ctx, result)
    except (PortError, ConflictError):
        raise  # storage failing, or too busy: nothing is recorded and the sender retries
    except Exception as exc:  # a bug: keep the message for a reprocess, once that is recorded
        log.exception("applying raw message %s failed", result.raw_id)
        return _quarantine_failed(ctx, result, exc, recovering=recovering)
    if applied.duplicate_of is not None:
        return _record_outcome(ctx, _found_duplicate(result, applied), recovering=recovering)
    ctx.publish(applied.events)
    notify_owners(ctx.outbox, applied.events, result)
    return Delivery(
        disposition=Disposition.ACCEPTED,
        reasons=result.reasons,
        smtp=result.smtp,
        intake=result,
        contact_id=applied.contact_id,
        conversation_id=applied.conversation_id,
        message_id=applied.message_id,
        ticket_id=applied.ticket_id,
        conversation_created=applied.created,
        thread=applied.thread,
        routing=applied.routing,
        events=applied.events,
    )


def _found_duplicate(result: IntakeAccepted, applied: Applied) -> Delivery:
    """Another worker stored the same message between intake and the unit of work."""
    assert applied.duplicate_of is not None
    duplicate = IntakeDuplicate(
        reasons=result.reasons,
        smtp=Reply.DUPLICATE.value,
        envelope=result.envelope,
        size=result.size,
        raw_id=result.raw_id,
        channel=result.channel,
        duplicate_of=applied.duplicate_of,
        parsed=result.parsed,
        classification=result.classification,
        fingerprint=result.fingerprint,
        dedup_key=result.dedup_key,
        sender=result.sender,
        authentication=result.authentication,
    )
    reason = Reason(code="duplicate", message="The channel already received this message.")
    return Delivery(
        disposition=Disposition.DUPLICATE,
        reasons=(reason,),
        smtp=Reply.DUPLICATE.value,
        intake=duplicate,
    )


def _quarantine_failed(
    ctx: ServiceContext, result: IntakeAccepted, exc: BaseException, *, recovering: bool
) -> Delivery:
    reason = Reason(
        code="internal_error",
        message=f"Storing the message in the inbox failed ({type(exc).__name__}); it is kept "
        f"as {result.raw_id} and can be processed again.",
    )
    held = IntakeQuarantined(
        reasons=(reason,),
        smtp=Reply.KEPT.value,
        envelope=result.envelope,
        size=result.size,
        raw_id=result.raw_id,
        channel=result.channel,
        parsed=result.parsed,
        classification=result.classification,
        fingerprint=result.fingerprint,
        dedup_key=result.dedup_key,
        sender=result.sender,
        authentication=result.authentication,
    )
    delivery = Delivery(
        disposition=Disposition.QUARANTINED, reasons=(reason,), smtp=Reply.KEPT.value, intake=held
    )
    return _record_outcome(ctx, delivery, recovering=recovering)


def _record_outcome(ctx: ServiceContext, delivery: Delivery, *, recovering: bool) -> Delivery:
    """Commit the intake record of a verdict other than an acceptance, then announce it.

    A final verdict on a stored message stands only once its record is committed: failing that
    raises (:func:`settle` answers 451, and no event tells of it). A deferral is logged when it
    can be (its 451 stands either way).
    """
    if delivery.intake.raw_id is not None:
        if isinstance(delivery.intake, IntakeDeferred):
            try:
                _record(ctx, delivery, recovering=False)
            except Exception:  # the 451 stands whatever became of its log line
                log.exception("could not log the deferral of %s", delivery.raw_id)
        else:
            _record(ctx, delivery, recovering=recovering)
    events = _verdict_events(ctx, delivery)
    ctx.publish(events)
    return Delivery(
        disposition=delivery.disposition,
        reasons=delivery.reasons,
        smtp=delivery.smtp,
        intake=delivery.intake,
        events=events,
    )


def _record(ctx: ServiceContext, delivery: Delivery, *, recovering: bool) -> None:
    """Commit the intake record of ``delivery``; when ``recovering``, none if a record lists the
    message by now (a worker handled the same bytes meanwhile: one record is enough)."""
    raw_id = delivery.raw_id
    assert raw_id is not None  # the caller records stored messages only
    channel = delivery.intake.channel
    with ctx.storage.unit_of_work() as uow:
        if recovering and latest_listing(uow.intake_log.for_raw_message(raw_id)):
            return
        entry = IntakeRecord(
            raw_id=raw_id,
            envelope=delivery.intake.envelope,
            disposition=delivery.disposition,
            reason_codes=delivery.reason_codes,
            at=ctx.clock.now(),
            channel_id=channel.id if channel else None,
            message_id=delivery.message_id,
        )
        uow.intake_log.record(entry)
        commit_logged(ctx.storage, uow, entry, ctx.staged)


def _verdict_events(ctx: ServiceContext, delivery: Delivery) -> tuple[DomainEvent, ...]:
    result, now = delivery.intake, ctx.clock.now()
    account = result.channel.account_id if result.channel else None
    channel = result.channel.id if result.channel else None
    codes = delivery.reason_codes
    if delivery.disposition is Disposition.QUARANTINED and result.raw_id is not None:
        held = MessageQuarantined(
            at=now, raw_id=result.raw_id, reasons=codes, account_id=account, channel_id=channel
        )
        return (held,)
    if delivery.disposition is Disposition.REJECTED:
        refused = MessageRejected(
            at=now, reasons=codes, raw_id=result.raw_id, account_id=account, channel_id=channel
        )
        return (refused,)
    return ()


def _recover_unacknowledged(ctx: ServiceContext, result: IntakeDuplicate) -> Delivery | None:
    """A "duplicate" of itself: the unit that stored this very raw message did commit, but the
    answer was lost (the connection broke), so it was quarantined as ``internal_error``. The
    message is in the inbox; what never happened is the host hearing of it. Log it accepted and
    announce the events rebuilt from the stored records, so no conversation goes unnoticed."""
    now = ctx.clock.now()
    with ctx.storage.unit_of_work() as uow:
        history = uow.intake_log.for_raw_message(result.raw_id)
        if not history or history[-1].disposition is not Disposition.QUARANTINED:
            return None
        if "internal_error" not in history[-1].reason_codes:
            return None
        message = uow.messages.get(result.duplicate_of)
        if message.raw_id != result.raw_id:
            return None
        events, conversation, ticket = _rebuilt_events(uow, message, now)
        entry = IntakeRecord(
            raw_id=result.raw_id,
            envelope=result.envelope,
            disposition=Disposition.ACCEPTED,
            reason_codes=("recovered",),
            at=now,
            channel_id=message.channel_id,
            message_id=message.id,
        )
        uow.intake_log.record(entry)
        commit_logged(ctx.storage, uow, entry, ctx.staged)
    ctx.publish(events)
    reason = Reason(
        code="recovered",
        message="The message had been stored, but the storage's answer was lost; it is in the "
        "inbox.",
    )
    return Delivery(
        disposition=Disposition.ACCEPTED,
        reasons=(reason,),
        smtp=Reply.ACCEPTED.value,
        intake=result,
        contact_id=conversation.contact_id,
        conversation_id=conversation.id,
        message_id=message.id,
        ticket_id=ticket,
        events=events,
    )


def _rebuilt_events(
    uow: UnitOfWork, message: Message, now: datetime
) -> tuple[tuple[DomainEvent, ...], Conversation, TicketId | None]:
    """The events the lost commit would have announced, rebuilt from what it stored."""
    conversation = uow.conversations.get(message.conversation_id)
    ticket = uow.tickets.for_conversation(conversation.id)
    this = about(conversation, now)
    events: list[DomainEvent] = []
    first = uow.messages.page(conversation.id, limit=1).items
    if first and first[0].id == message.id:
        events.append(
            ConversationCreated(
                **this,
                contact_id=conversation.contact_id,
                linked_conversation_id=conversation.linked_conversation_id,
                reason="recovered",
            )
        )
        if conversation.kind is ConversationKind.CUSTOMER:
            assignee = conversation.assignee_id
            events.append(ConversationAssigned(**this, assignee_id=assignee, reason="recovered"))
        if ticket is not None:
            events.append(TicketCreated(**this, ticket_id=ticket.id))
    appended = MessageAppended(
        **this, message_id=message.id, kind=message.kind, direction=message.direction
    )
    return (*events, appended), conversation, ticket.id if ticket else None
