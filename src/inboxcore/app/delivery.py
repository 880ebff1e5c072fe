"""What became of a message: the values the service hands back to its host."""

from __future__ import annotations

from datetime import datetime

import attrs

from inboxcore.domain.events import DomainEvent
from inboxcore.domain.ids import ContactId, ConversationId, MessageId, RawMessageId, TicketId
from inboxcore.domain.outcomes import Disposition, Reason, SmtpReply
from inboxcore.ingest import IntakeResult
from inboxcore.policies.threads import ThreadDecision
from inboxcore.routing import RoutingDecision

__all__ = ["Delivery", "RecoveredMessage", "Recovery"]


@attrs.frozen(kw_only=True)
class Delivery:
    """What became of one incoming message, end to end. ``smtp`` is the reply to give: a final
    one only once the record listing the message was committed."""

    disposition: Disposition
    reasons: tuple[Reason, ...]
    smtp: SmtpReply
    intake: IntakeResult
    contact_id: ContactId | None = None
    conversation_id: ConversationId | None = None
    message_id: MessageId | None = None
    ticket_id: TicketId | None = None
    conversation_created: bool = False
    thread: ThreadDecision | None = None
    routing: RoutingDecision | None = None
    events: tuple[DomainEvent, ...] = ()

    @property
    def raw_id(self) -> RawMessageId | None:
        return self.intake.raw_id

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)


@attrs.frozen(kw_only=True)
class RecoveredMessage:
    """One received message that no intake record listed, and what the sweep did with it."""

    raw_id: RawMessageId
    received_at: datetime
    reasons: tuple[Reason, ...]
    """Why it was run (``unrecorded``) and how (``envelope_missing``), or why not
    (``own_message``); the delivery's own reasons follow in :attr:`delivery`."""
    delivery: Delivery | None = None
    """What became of it; None when it was not run (a dry run, or a copy of our own mail)."""

    @property
    def disposition(self) -> Disposition | None:
        return self.delivery.disposition if self.delivery is not None else None

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)


@attrs.frozen(kw_only=True)
class Recovery:
    """What one run of :meth:`~inboxcore.app.service.InboxService.recover` looked at and did."""

    examined: int
    """Received messages of the window looked at, recorded or not."""
    messages: tuple[RecoveredMessage, ...]
    """The ones no record listed, in raw-id order, each with what became of it."""
    complete: bool
    """False when ``limit`` stopped the run before the end of the window: run it again."""
    dry_run: bool = False

    @property
    def still_unrecorded(self) -> tuple[RecoveredMessage, ...]:
        """Messages run but deferred again (storage still failing): the next run retries."""
        return tuple(m for m in self.messages if m.disposition is Disposition.DEFERRED)
