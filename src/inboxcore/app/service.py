"""The inbox service: the one entry point a host calls with a raw message and its envelope.

:meth:`InboxService.receive` runs intake (:func:`inboxcore.ingest.ingest`: the raw message is
stored first, then the verdict), and for an accepted message applies it in **one unit of work**:
contact found or created, conversation found (threading) or opened, message appended, routing,
ticket, channel observations, the intake log. Events are emitted only after that unit committed.

If applying fails, the unit rolls back and the message is quarantined with its raw id: never lost,
never half-applied; :meth:`InboxService.reprocess` runs it again later. A unit that loses a race to
another worker (a :class:`~inboxcore.domain.errors.ConflictError` at commit, say two workers
creating the
same contact) is retried from the start and sees the winner's records; the same message delivered
twice, or run again after a crash, is found as a duplicate and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import BinaryIO

import attrs

from inboxcore.app.outbox import Outbox
from inboxcore.channels import ChannelStep, apply_step
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import (
    ConfigurationError,
    ConflictError,
    InvalidTransition,
    NotFoundError,
    PortError,
    Problem,
)
from inboxcore.domain.events import (
    ChannelStateChanged,
    ConversationAssigned,
    ConversationCreated,
    ConversationReopened,
    DeliveryFailed,
    DomainEvent,
    ForwardingConfirmationReceived,
    MessageAppended,
    MessageQuarantined,
    MessageRejected,
    OwnerNotified,
    TicketCreated,
    TicketStatusChanged,
)
from inboxcore.domain.ids import (
    ContactId,
    ConversationId,
    MessageId,
    RawMessageId,
    TicketId,
    UserId,
)
from inboxcore.domain.model import (
    Channel,
    Contact,
    Conversation,
    ConversationKind,
    ConversationStatus,
    DeliveryStatus,
    Direction,
    Envelope,
    IntakeRecord,
    Message,
    MessageKind,
    RotationState,
    Ticket,
    default_dedup_key,
)
from inboxcore.domain.outcomes import Disposition, Reason, SmtpReply
from inboxcore.ingest import (
    IntakeConfig,
    IntakePorts,
    IntakeResult,
    channel_for_recipients,
    check_declared_size,
    find_duplicate,
    ingest,
)
from inboxcore.ingest import reprocess as reprocess_intake
from inboxcore.mail.sender import SenderSource
from inboxcore.policies.outbound import ThreadingConfig
from inboxcore.policies.threads import (
    MatchedBy,
    ThreadAction,
    ThreadContext,
    ThreadDecision,
    bounce_proofs,
    bounce_signer,
    conversation_signer,
    decide_thread,
    find_token_conversation_id,
    proof_holds,
    referenced_message_ids,
    sender_proof,
)
from inboxcore.ports import (
    Clock,
    Directory,
    DnsResolver,
    EventSink,
    IdSource,
    RawMessageStore,
    SpamScorer,
    Storage,
    UnitOfWork,
)
from inboxcore.routing import (
    DirectorySnapshot,
    RoutingDecision,
    candidate_ids,
    route_new_conversation,
    route_reply,
)
from inboxcore.tickets import apply_ticket_step, open_ticket, ticket_step_for_message

__all__ = ["Delivery", "InboxConfig", "InboxService"]

log = logging.getLogger(__name__)

_KEPT = SmtpReply(code=250, enhanced="2.0.0", text="Message accepted for review")
_DUPLICATE = SmtpReply(code=250, enhanced="2.0.0", text="Message already received")

_KIND_OF_CONVERSATION = {
    MessageKind.MESSAGE: ConversationKind.CUSTOMER,
    MessageKind.FORWARDING_CONFIRMATION: ConversationKind.FORWARDING_CONFIRMATION,
    MessageKind.AUTO_REPLY: ConversationKind.NOTICE,
    MessageKind.BOUNCE: ConversationKind.NOTICE,
    MessageKind.LOOP: ConversationKind.NOTICE,
}


def _keys(values: Sequence[bytes | str]) -> tuple[bytes, ...]:
    return tuple(v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in values)


_DELIVERY_HEADERS = ("Delivered-To", "X-Original-To")
_MAX_ADDRESSED = 20


def _addressed_to(result: IntakeResult) -> list[EmailAddress]:
    """The addresses a message was sent to, tags kept (where our tokens and bounce tags are):
    the envelope recipients, the delivery headers, To and Cc, a few dozen at most. Unusable
    ones are skipped."""
    assert result.parsed is not None
    parsed = result.parsed
    delivered = (v for h in _DELIVERY_HEADERS for v in parsed.headers(h)[:_MAX_ADDRESSED])
    found: list[EmailAddress] = []
    for value in (*result.envelope.rcpt_to[:_MAX_ADDRESSED], *delivered):
        try:
            found.append(EmailAddress.parse(value))
        except ValueError:
            continue
    return [*found, *parsed.to, *parsed.cc][: 3 * _MAX_ADDRESSED]


def _conversation_subject(result: IntakeResult) -> str:
    """The subject the team sees: for an agent's manual forward, the forwarded message's own
    subject ("Delivery missing"), not the forward's ("WG: Delivery missing")."""
    assert result.parsed is not None
    sender = result.sender
    if sender is not None and sender.source is SenderSource.MANUAL_FORWARD_BODY:
        forwarded = sender.forwarded
        if forwarded is not None and forwarded.subject:
            return forwarded.subject
    if sender is not None and sender.source is SenderSource.FORWARD_ATTACHMENT:
        for attached in result.parsed.attached_messages:
            if attached.subject:
                return attached.subject
    return result.parsed.subject


@attrs.frozen(kw_only=True)
class InboxConfig:
    """Host-wide settings of the service."""

    conversation_keys: tuple[bytes, ...] = attrs.field(converter=_keys, repr=False)
    """Secret keys for conversation tokens, oldest first (the newest signs): key rotation."""
    message_id_domain: str
    """The domain of the Message-IDs our outbound mail carries (``inbox.example.net``)."""
    intake: IntakeConfig = attrs.field(factory=IntakeConfig)
    max_attempts: int = 5
    """How often a unit of work that lost a race is retried before the message is quarantined."""

    def intake_config(self) -> IntakeConfig:
        """The intake settings, with our own Message-ID domain known for loop detection."""
        domains = self.intake.own_message_id_domains | {self.message_id_domain.lower()}
        return attrs.evolve(self.intake, own_message_id_domains=domains)

    @property
    def threading(self) -> ThreadingConfig:
        """The conversation keys and Message-ID domain as one value, for the outbox's
        :class:`~inboxcore.policies.outbound.OutboundConfig`: one source for both sides."""
        return ThreadingConfig(
            conversation_keys=self.conversation_keys, message_id_domain=self.message_id_domain
        )


@attrs.frozen(kw_only=True)
class Delivery:
    """What became of one incoming message, end to end."""

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


@attrs.define
class _Applied:
    """What one attempt at applying an accepted message produced (inside the unit of work)."""

    events: list[DomainEvent] = attrs.field(factory=list)
    contact_id: ContactId | None = None
    conversation_id: ConversationId | None = None
    message_id: MessageId | None = None
    ticket_id: TicketId | None = None
    created: bool = False
    thread: ThreadDecision | None = None
    routing: RoutingDecision | None = None
    duplicate_of: MessageId | None = None


class InboxService:
    """Receives messages for every channel and turns accepted ones into inbox work."""

    def __init__(
        self,
        *,
        storage: Storage,
        raw_store: RawMessageStore,
        clock: Clock,
        ids: IdSource,
        directory: Directory,
        events: EventSink,
        config: InboxConfig,
        dns: DnsResolver | None = None,
        spam: SpamScorer | None = None,
        outbox: Outbox | None = None,
    ) -> None:
        self.storage = storage
        self.raw_store = raw_store
        self.clock = clock
        self.ids = ids
        self.directory = directory
        self.events = events
        self.config = config
        self.outbox = outbox
        """Sends the owner-offline notifications routing asks for, after commit (optional)."""
        if outbox is not None and outbox.config.threading != config.threading:
            # Replies would carry tokens and Message-IDs this service cannot read back.
            raise ConfigurationError(
                [
                    Problem(
                        code="outbound.threading_mismatch",
                        message="the outbox's conversation keys or Message-ID domain differ from "
                        "the service's; build its OutboundConfig with threading=config.threading",
                        field="outbox",
                    )
                ]
            )
        self.signer = conversation_signer(config.conversation_keys)
        self.bounce_signer = bounce_signer(config.conversation_keys)
        self._intake_config = config.intake_config()
        self._ports = IntakePorts(
            storage=storage,
            raw_store=raw_store,
            clock=clock,
            dns=dns,
            directory=directory,
            spam=spam,
        )

    # --- entry points --------------------------------------------------------------------------

    def check_size(self, declared: int, rcpt_to: Sequence[str]) -> SmtpReply | None:
        """For SMTP SIZE: the refusal to give before the data, or None."""
        channel = channel_for_recipients(self.storage, rcpt_to)
        return check_declared_size(declared, channel, self._intake_config)

    def receive(
        self, message: bytes | BinaryIO, envelope: Envelope, *, live_smtp: bool = False
    ) -> Delivery:
        """Take one message as received. Never raises for a bad message; a broken port may."""
        result = ingest(
            message, envelope, ports=self._ports, config=self._intake_config, live_smtp=live_smtp
        )
        return self._settle(result)

    def reprocess(self, raw_id: RawMessageId) -> Delivery:
        """Run a stored raw message through again (after a quarantine), with the envelope it first
        came with. Raises :class:`~inboxcore.domain.errors.NotFoundError` for an id never
        received."""
        return self._rerun(raw_id, release=False)

    def _rerun(self, raw_id: RawMessageId, *, release: bool) -> Delivery:
        with self.storage.unit_of_work() as uow:
            history = uow.intake_log.for_raw_message(raw_id)
        if not history:
            raise NotFoundError(f"no intake record for raw message {raw_id}")
        envelope = history[0].envelope
        result = reprocess_intake(
            raw_id, envelope, ports=self._ports, config=self._intake_config, release=release
        )
        return self._settle(result)

    def release(self, raw_id: RawMessageId) -> Delivery:
        """Let in a message that authentication or spam checks held back, because the team has
        looked at it and trusts it (the "this is good mail" button). The checks' results stay on
        record beside the reason ``released``. Loops, duplicates and messages with no usable
        sender stay where they are. Raises :class:`~inboxcore.domain.errors.NotFoundError` for an id
        never received."""
        return self._rerun(raw_id, release=True)

    def quarantined(self) -> tuple[IntakeRecord, ...]:
        """Messages held back and not accepted since, oldest first."""
        with self.storage.unit_of_work() as uow:
            return uow.intake_log.quarantined()

    # --- settling a verdict ----------------------------------------------------------------

    def _settle(self, result: IntakeResult) -> Delivery:
        if result.disposition is Disposition.ACCEPTED:
            return self._accept(result)
        if result.disposition is Disposition.DUPLICATE:
            recovered = self._recover_unacknowledged(result)
            if recovered is not None:
                return recovered
        delivery = Delivery(
            disposition=result.disposition,
            reasons=result.reasons,
            smtp=result.smtp,
            intake=result,
        )
        return self._record_outcome(delivery)

    def _recover_unacknowledged(self, result: IntakeResult) -> Delivery | None:
        """A "duplicate" of itself: the unit that stored this very raw message did commit, but the
        answer was lost (the connection broke), so it was quarantined as ``internal_error``. The
        message is in the inbox; what never happened is the host hearing of it. Log it accepted
        and emit the events rebuilt from the stored records, so no conversation goes unnoticed.
        """
        raw_id, message_id = result.raw_id, result.duplicate_of
        if raw_id is None or message_id is None:
            return None
        now = self.clock.now()
        events: list[DomainEvent] = []
        with self.storage.unit_of_work() as uow:
            history = uow.intake_log.for_raw_message(raw_id)
            if not history or history[-1].disposition != Disposition.QUARANTINED.value:
                return None
            if "internal_error" not in history[-1].reason_codes:
                return None
            message = uow.messages.get(message_id)
            if message.raw_id != raw_id:
                return None
            conversation = uow.conversations.get(message.conversation_id)
            ticket = uow.tickets.for_conversation(conversation.id)
            first = uow.messages.for_conversation(conversation.id)[0]
            if first.id == message.id:
                events.append(
                    ConversationCreated(
                        at=now,
                        account_id=conversation.account_id,
                        channel_id=conversation.channel_id,
                        conversation_id=conversation.id,
                        contact_id=conversation.contact_id,
                        linked_conversation_id=conversation.linked_conversation_id,
                        reason="recovered",
                    )
                )
                if conversation.kind is ConversationKind.CUSTOMER:
                    events.append(
                        ConversationAssigned(
                            at=now,
                            account_id=conversation.account_id,
                            channel_id=conversation.channel_id,
                            conversation_id=conversation.id,
                            assignee_id=conversation.assignee_id,
                            reason="recovered",
                        )
                    )
                if ticket is not None:
                    events.append(
                        TicketCreated(
                            at=now,
                            account_id=conversation.account_id,
                            channel_id=conversation.channel_id,
                            ticket_id=ticket.id,
                            conversation_id=conversation.id,
                        )
                    )
            events.append(
                MessageAppended(
                    at=now,
                    account_id=message.account_id,
                    channel_id=message.channel_id,
                    conversation_id=conversation.id,
                    message_id=message.id,
                    kind=message.kind,
                    direction=message.direction,
                )
            )
            reasons = (
                Reason(
                    code="recovered",
                    message="The message had been stored, but the storage's answer was lost; "
                    "it is in the inbox.",
                ),
            )
            uow.intake_log.record(
                IntakeRecord(
                    raw_id=raw_id,
                    envelope=result.envelope,
                    disposition=Disposition.ACCEPTED.value,
                    reason_codes=("recovered",),
                    at=now,
                    channel_id=message.channel_id,
                    message_id=message.id,
                )
            )
            uow.commit()
        self._emit(events)
        return Delivery(
            disposition=Disposition.ACCEPTED,
            reasons=reasons,
            smtp=SmtpReply(code=250, enhanced="2.0.0", text="Message accepted"),
            intake=result,
            contact_id=conversation.contact_id,
            conversation_id=conversation.id,
            message_id=message.id,
            ticket_id=ticket.id if ticket else None,
            events=tuple(events),
        )

    def _record_outcome(self, delivery: Delivery) -> Delivery:
        """Log a non-accepted verdict and tell the host; a failure to log is logged, not raised,
        because the verdict itself stands (the raw message is already stored)."""
        result = delivery.intake
        now = self.clock.now()
        channel = result.channel
        events: list[DomainEvent] = []
        if delivery.disposition is Disposition.QUARANTINED and result.raw_id is not None:
            events.append(
                MessageQuarantined(
                    at=now,
                    raw_id=result.raw_id,
                    reasons=delivery.reason_codes,
                    account_id=channel.account_id if channel else None,
                    channel_id=channel.id if channel else None,
                )
            )
        elif delivery.disposition is Disposition.REJECTED:
            events.append(
                MessageRejected(
                    at=now,
                    reasons=delivery.reason_codes,
                    raw_id=result.raw_id,
                    account_id=channel.account_id if channel else None,
                    channel_id=channel.id if channel else None,
                )
            )
        if result.raw_id is not None:
            try:
                with self.storage.unit_of_work() as uow:
                    uow.intake_log.record(self._log_entry(delivery, now))
                    uow.commit()
            except PortError:
                log.exception("could not record the intake decision for %s", result.raw_id)
        self._emit(events)
        return attrs.evolve(delivery, events=tuple(events))

    def _log_entry(self, delivery: Delivery, at: datetime) -> IntakeRecord:
        result = delivery.intake
        assert result.raw_id is not None
        return IntakeRecord(
            raw_id=result.raw_id,
            envelope=result.envelope,
            disposition=delivery.disposition.value,
            reason_codes=delivery.reason_codes,
            at=at,
            channel_id=result.channel.id if result.channel else None,
            message_id=delivery.message_id,
        )

    def _accept(self, result: IntakeResult) -> Delivery:
        last_conflict: ConflictError | None = None
        for _attempt in range(self.config.max_attempts):
            try:
                applied = self._apply(result)
            except ConflictError as exc:
                # Lost a race to another worker: start over; the winner's records are visible.
                last_conflict = exc
                continue
            except Exception as exc:  # never lose an accepted message: quarantine it
                log.exception("applying raw message %s failed", result.raw_id)
                return self._quarantine_failed(result, exc)
            if applied.duplicate_of is not None:
                delivery = Delivery(
                    disposition=Disposition.DUPLICATE,
                    reasons=(
                        Reason(
                            code="duplicate", message="The channel already received this message."
                        ),
                    ),
                    smtp=_DUPLICATE,
                    intake=attrs.evolve(result, duplicate_of=applied.duplicate_of),
                )
                return self._record_outcome(delivery)
            self._emit(applied.events)
            self._notify_owners(applied.events, result)
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
                events=tuple(applied.events),
            )
        return self._quarantine_failed(result, last_conflict or ConflictError("too many retries"))

    def _quarantine_failed(self, result: IntakeResult, exc: BaseException) -> Delivery:
        delivery = Delivery(
            disposition=Disposition.QUARANTINED,
            reasons=(
                Reason(
                    code="internal_error",
                    message=f"Storing the message in the inbox failed ({type(exc).__name__}); "
                    f"it is kept as {result.raw_id} and can be processed again.",
                ),
            ),
            smtp=_KEPT,
            intake=result,
        )
        return self._record_outcome(delivery)

    def _notify_owners(self, events: Sequence[DomainEvent], result: IntakeResult) -> None:
        """Email each owner routing said to notify. The message is accepted and committed
        already: a failure is logged, never raised into the SMTP session."""
        if self.outbox is None:
            return
        for event in events:
            if not isinstance(event, OwnerNotified):
                continue
            try:
                text = (result.parsed.text or "") if result.parsed is not None else ""
                outcome = self.outbox.notify_owner(event.conversation_id, event.owner_id, text=text)
            except Exception:
                log.exception("could not notify owner %s", event.owner_id)
                continue
            if outcome.status is not DeliveryStatus.SENT:
                log.warning(
                    "owner notification to %s not sent (%s): %s",
                    event.owner_id,
                    outcome.status.value,
                    outcome.detail,
                )

    def _emit(self, events: Sequence[DomainEvent]) -> None:
        for event in events:
            try:
                self.events.emit(event)
            except Exception:  # the change is committed; a host's sink failing cannot undo it
                log.exception("event sink failed for %s", type(event).__name__)

    # --- applying an accepted message ----------------------------------------------------------

    def _apply(self, result: IntakeResult) -> _Applied:
        assert result.channel is not None
        assert result.parsed is not None
        assert result.classification is not None
        assert result.sender is not None
        applied = _Applied()
        now = self.clock.now()
        parsed = result.parsed
        kind = result.classification.kind
        with self.storage.unit_of_work() as uow:
            channel = uow.channels.get(result.channel.id)
            # Checked again inside the unit: another worker may have stored it since intake.
            fingerprint = result.fingerprint or ""
            existing, dedup_key = find_duplicate(uow.messages, channel.id, parsed, fingerprint)
            if existing is not None:
                applied.duplicate_of = existing.id
                return applied
            sender = result.sender.sender or self._fallback_sender(result)
            # An agent writing by mail (an owner answering the notification, a colleague on Cc)
            # is not made a contact: their message joins the conversation as the agent's.
            author = self._author(channel, sender)
            contact: Contact | None
            if author is None:
                contact = self._contact(uow, channel, sender, now)
            else:
                contact = uow.contacts.by_email(channel.account_id, sender.key)

            evidence = sender_proof(result.authentication, result.sender)
            proof = self._automatic_proof(uow, channel, result, now)
            if proof is not None:
                self._bounced_outbound(uow, channel, result, proof[0], now, applied)
            decision = decide_thread(
                self._thread_context(uow, channel, result, contact, sender, now, proof, evidence),
                now=now,
                settings=channel.conversations,
            )
            applied.thread = decision

            if decision.action is ThreadAction.NEW:
                if contact is None:  # an agent starting a conversation is its contact
                    contact = self._contact(uow, channel, sender, now)
                conversation = self._open_conversation(
                    uow, channel, result, contact, sender, decision, now, applied
                )
            else:
                assert decision.conversation_id is not None
                conversation = self._continue_conversation(
                    uow, channel, result, sender, author, decision, now, applied
                )
            applied.conversation_id = conversation.id
            applied.contact_id = conversation.contact_id

            message = Message(
                id=MessageId(self.ids.new_id("message")),
                account_id=channel.account_id,
                channel_id=channel.id,
                conversation_id=conversation.id,
                direction=Direction.INBOUND,
                kind=kind,
                fingerprint=fingerprint,
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
                message_id_reused=dedup_key != default_dedup_key(parsed.message_id, fingerprint),
                sender_evidence=evidence,
            )
            uow.messages.add(message)
            applied.message_id = message.id
            applied.events.append(
                MessageAppended(
                    at=now,
                    account_id=channel.account_id,
                    channel_id=channel.id,
                    conversation_id=conversation.id,
                    message_id=message.id,
                    kind=kind,
                    direction=Direction.INBOUND,
                )
            )
            self._observe_channel(uow, channel, result, conversation, now, applied)
            uow.intake_log.record(
                IntakeRecord(
                    raw_id=result.raw_id or RawMessageId(""),
                    envelope=result.envelope,
                    disposition=Disposition.ACCEPTED.value,
                    reason_codes=result.reason_codes,
                    at=now,
                    channel_id=channel.id,
                    message_id=message.id,
                )
            )
            uow.commit()
        return applied

    def _fallback_sender(self, result: IntakeResult) -> EmailAddress:
        """Automatic mail with no usable author (a bounce from ``<>``) still needs a contact to
        hang its notice on: the mail system of the channel's domain stands in."""
        assert result.channel is not None
        return EmailAddress(
            local="mailer-daemon",
            domain=result.channel.forwarding_address.domain,
            display_name="Mail Delivery System",
        )

    def _contact(
        self, uow: UnitOfWork, channel: Channel, sender: EmailAddress, now: datetime
    ) -> Contact:
        contact = uow.contacts.by_email(channel.account_id, sender.key)
        if contact is None:
            contact = Contact(
                id=ContactId(self.ids.new_id("contact")),
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

    def _author(self, channel: Channel, sender: EmailAddress) -> UserId | None:
        user = self.directory.user_by_email(channel.account_id, sender.key)
        return user.id if user else None

    def _automatic_proof(
        self, uow: UnitOfWork, channel: Channel, result: IntakeResult, now: datetime
    ) -> tuple[Message, MatchedBy] | None:
        """The outbound message a bounce or auto-reply proves to answer (a valid bounce tag in an
        address it was sent to, or in the headers of our original it quotes), and how; None for
        other mail, and for claims (a Message-ID it names, a Reply-To token) that prove nothing.
        """
        assert result.classification is not None
        if result.classification.kind not in (MessageKind.AUTO_REPLY, MessageKind.BOUNCE):
            return None
        proofs = bounce_proofs(
            recipients=_addressed_to(result), parsed=result.parsed, signer=self.bounce_signer
        )
        for proof in proofs:
            try:
                message = uow.messages.get(proof.message_id)
            except NotFoundError:
                continue
            if proof_holds(proof, message, channel_id=channel.id, now=now):
                return message, proof.matched_by
        return None

    def _bounced_outbound(
        self,
        uow: UnitOfWork,
        channel: Channel,
        result: IntakeResult,
        message: Message,
        now: datetime,
        applied: _Applied,
    ) -> None:
        """A bounce proven to be about our outbound ``message`` marks it failed (delivery
        feedback); a delay report (the server still tries) leaves it as it is."""
        classification = result.classification
        assert classification is not None
        bounce = classification.bounce
        if classification.kind is not MessageKind.BOUNCE or bounce is None:
            return
        if bounce.permanent is False:
            return
        status = bounce.status or "5.0.0"
        uow.messages.update(
            attrs.evolve(
                message,
                delivery_status=DeliveryStatus.FAILED,
                delivery_detail=f"{status} {bounce.diagnostic or ''}".strip(),
            )
        )
        applied.events.append(
            DeliveryFailed(
                at=now,
                account_id=channel.account_id,
                channel_id=channel.id,
                message_id=message.id,
                status=status,
                detail=bounce.diagnostic,
            )
        )

    def _thread_context(
        self,
        uow: UnitOfWork,
        channel: Channel,
        result: IntakeResult,
        contact: Contact | None,
        sender: EmailAddress,
        now: datetime,
        proof: tuple[Message, MatchedBy] | None,
        evidence: str | None,
    ) -> ThreadContext:
        parsed = result.parsed
        assert parsed is not None
        assert result.classification is not None
        ids = referenced_message_ids(parsed.in_reply_to, parsed.references)
        known = {
            m.rfc_message_id: m.conversation_id
            for m in uow.messages.by_rfc_message_ids(channel.id, ids)
            if m.rfc_message_id
        }
        token_id = find_token_conversation_id(
            recipients=_addressed_to(result),
            in_reply_to=parsed.in_reply_to,
            references=parsed.references,
            signer=self.signer,
            now=now,
        )
        same_contact = (
            uow.conversations.for_contact(
                channel.id, contact.id, now - channel.conversations.subject_match_window
            )
            if contact is not None
            else ()
        )
        conversations: dict[ConversationId, Conversation] = {c.id: c for c in same_contact}
        proven_id = proof[0].conversation_id if proof is not None else None
        for cid in [*known.values(), *(c for c in (token_id, proven_id) if c)]:
            if cid not in conversations:
                try:
                    conversations[cid] = uow.conversations.get(cid)
                except NotFoundError:
                    continue
        contact_addresses: dict[ContactId, EmailAddress] = (
            {contact.id: contact.email} if contact is not None else {}
        )
        for conversation in conversations.values():
            if conversation.contact_id not in contact_addresses:
                try:
                    contact_addresses[conversation.contact_id] = uow.contacts.get(
                        conversation.contact_id
                    ).email
                except NotFoundError:
                    continue
        insiders = {u.email.key for u in self.directory.users(channel.account_id)}
        insiders.add(channel.forwarding_address.key)
        insiders.update(a.key for a in channel.mailbox_addresses)
        return ThreadContext(
            channel_id=channel.id,
            kind=result.classification.kind,
            sender=sender,
            contact_id=contact.id if contact is not None else None,
            subject=parsed.subject,
            in_reply_to=parsed.in_reply_to,
            references=parsed.references,
            known_message_ids=known,
            token_conversation_id=token_id,
            conversations=conversations,
            same_contact=same_contact,
            contact_addresses=contact_addresses,
            insiders=frozenset(insiders),
            proven_conversation_id=proven_id,
            proven_by=proof[1] if proof is not None else MatchedBy.NONE,
            sender_evidence=evidence,
        )

    def _snapshot(
        self, uow: UnitOfWork, channel: Channel, extra: Sequence[UserId | None]
    ) -> DirectorySnapshot:
        teams = {}
        for team_id in channel.routing.team_ids:
            team = self.directory.team(team_id)
            if team is not None:
                teams[team_id] = team
        wanted = list(candidate_ids(channel.routing, teams)) + [u for u in extra if u]
        users = {}
        for user_id in dict.fromkeys(wanted):
            user = self.directory.user(user_id)
            if user is not None:
                users[user_id] = user
        available = {u for u in users if self.directory.is_available(u)}
        counts = {}
        if channel.routing.max_open_per_agent is not None:
            counts = {u: uow.conversations.count_open_assigned(u) for u in users}
        return DirectorySnapshot(users=users, teams=teams, available=available, open_counts=counts)

    def _open_conversation(
        self,
        uow: UnitOfWork,
        channel: Channel,
        result: IntakeResult,
        contact: Contact,
        sender: EmailAddress,
        decision: ThreadDecision,
        now: datetime,
        applied: _Applied,
    ) -> Conversation:
        assert result.parsed is not None
        assert result.classification is not None
        kind = _KIND_OF_CONVERSATION[result.classification.kind]
        conversation = Conversation(
            id=ConversationId(self.ids.new_id("conversation")),
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
        applied.created = True
        applied.events.append(
            ConversationCreated(
                at=now,
                account_id=channel.account_id,
                channel_id=channel.id,
                conversation_id=conversation.id,
                contact_id=contact.id,
                linked_conversation_id=decision.linked_conversation_id,
                reason=decision.reason,
            )
        )
        if kind is ConversationKind.CUSTOMER:
            rotation = uow.routing.rotation(channel.id)
            routing = route_new_conversation(
                channel.routing,
                self._snapshot(uow, channel, [contact.owner_id]),
                channel_id=channel.id,
                rotation=rotation,
                owner_id=contact.owner_id,
                now=now,
            )
            conversation = self._assign(uow, channel, conversation, routing, rotation, now, applied)
        uow.conversations.add(conversation)
        ticket = open_ticket(
            conversation,
            channel.tickets,
            ticket_id=TicketId(self.ids.new_id("ticket")),
            now=now,
            owner_id=conversation.assignee_id,
            contact_name=contact.name,
        )
        if ticket is not None:
            uow.tickets.add(ticket)
            applied.ticket_id = ticket.id
            applied.events.append(
                TicketCreated(
                    at=now,
                    account_id=channel.account_id,
                    channel_id=channel.id,
                    ticket_id=ticket.id,
                    conversation_id=conversation.id,
                )
            )
        return conversation

    def _assign(
        self,
        uow: UnitOfWork,
        channel: Channel,
        conversation: Conversation,
        routing: RoutingDecision,
        previous: RotationState | None,
        now: datetime,
        applied: _Applied,
    ) -> Conversation:
        applied.routing = routing
        if routing.rotation is not None and routing.rotation != previous:
            uow.routing.save_rotation(routing.rotation)
        applied.events.append(
            ConversationAssigned(
                at=now,
                account_id=channel.account_id,
                channel_id=channel.id,
                conversation_id=conversation.id,
                assignee_id=routing.assignee_id,
                reason=routing.reason,
            )
        )
        if routing.notify_owner and routing.assignee_id is not None:
            applied.events.append(
                OwnerNotified(
                    at=now,
                    account_id=channel.account_id,
                    channel_id=channel.id,
                    conversation_id=conversation.id,
                    owner_id=routing.assignee_id,
                )
            )
        return attrs.evolve(conversation, assignee_id=routing.assignee_id)

    def _continue_conversation(
        self,
        uow: UnitOfWork,
        channel: Channel,
        result: IntakeResult,
        sender: EmailAddress,
        author: UserId | None,
        decision: ThreadDecision,
        now: datetime,
        applied: _Applied,
    ) -> Conversation:
        assert decision.conversation_id is not None
        assert result.classification is not None
        kind = result.classification.kind
        conversation = uow.conversations.get(decision.conversation_id)
        automatic = kind is not MessageKind.MESSAGE
        updated = attrs.evolve(
            conversation,
            last_message_at=max(conversation.last_message_at, now),
            participants=conversation.participants
            if automatic
            else conversation.participants | {sender.key},
        )
        if decision.action is ThreadAction.REOPEN:
            updated = attrs.evolve(updated, status=ConversationStatus.OPEN, closed_at=None)
            applied.events.append(
                ConversationReopened(
                    at=now,
                    account_id=channel.account_id,
                    channel_id=channel.id,
                    conversation_id=conversation.id,
                )
            )
        if (
            not automatic
            and updated.kind is ConversationKind.CUSTOMER
            and updated.status is ConversationStatus.OPEN
        ):
            updated = self._reroute_if_needed(uow, channel, updated, now, applied)
        uow.conversations.update(updated)
        ticket = uow.tickets.for_conversation(conversation.id)
        # An agent's emailed reply moves the ticket as an agent reply (waiting on the contact).
        step = ticket_step_for_message(kind, Direction.OUTBOUND if author else Direction.INBOUND)
        if ticket is not None and step is not None:
            self._step_ticket(uow, channel, ticket, step, now, applied)
        return updated

    def _reroute_if_needed(
        self,
        uow: UnitOfWork,
        channel: Channel,
        conversation: Conversation,
        now: datetime,
        applied: _Applied,
    ) -> Conversation:
        """Replies stay with the assignee; a deactivated assignee's conversation is re-routed."""
        contact = uow.contacts.get(conversation.contact_id)
        rotation = uow.routing.rotation(channel.id)
        routing = route_reply(
            conversation,
            channel.routing,
            self._snapshot(uow, channel, [contact.owner_id, conversation.assignee_id]),
            rotation=rotation,
            owner_id=contact.owner_id,
            now=now,
        )
        if routing.assignee_id == conversation.assignee_id:
            return conversation
        return self._assign(uow, channel, conversation, routing, rotation, now, applied)

    def _step_ticket(
        self,
        uow: UnitOfWork,
        channel: Channel,
        ticket: Ticket,
        step: str,
        now: datetime,
        applied: _Applied,
    ) -> None:
        try:
            moved = apply_ticket_step(ticket, step, now)
        except InvalidTransition:
            return  # a step the table does not take from this status changes nothing
        if moved is ticket or moved.status is ticket.status:
            return
        uow.tickets.update(moved)
        applied.ticket_id = ticket.id
        applied.events.append(
            TicketStatusChanged(
                at=now,
                account_id=channel.account_id,
                channel_id=channel.id,
                ticket_id=ticket.id,
                old=ticket.status,
                new=moved.status,
                step=str(step),
            )
        )

    def _observe_channel(
        self,
        uow: UnitOfWork,
        channel: Channel,
        result: IntakeResult,
        conversation: Conversation,
        now: datetime,
        applied: _Applied,
    ) -> None:
        """The confirmation mail and the first real forwarded message move the channel's state."""
        assert result.classification is not None
        kind = result.classification.kind
        step: ChannelStep | None = None
        if kind is MessageKind.FORWARDING_CONFIRMATION:
            step = ChannelStep.OBSERVE_CONFIRMATION
            confirmation = result.classification.forwarding_confirmation
            applied.events.append(
                ForwardingConfirmationReceived(
                    at=now,
                    account_id=channel.account_id,
                    channel_id=channel.id,
                    provider=confirmation.provider if confirmation else "unknown",
                    requesting_address=confirmation.requesting_address if confirmation else None,
                    code=confirmation.code if confirmation else None,
                    url=confirmation.url if confirmation else None,
                    conversation_id=conversation.id,
                )
            )
        elif kind is MessageKind.MESSAGE and channel.receiving_since is None:
            step = ChannelStep.OBSERVE_FIRST_MAIL
        if step is None:
            return
        try:
            moved = apply_step(channel, step, now)
        except InvalidTransition:
            return
        uow.channels.update(moved)
        # Emitted for observations too (the state may stay CONNECTED): hosts show "receiving".
        if moved != channel:
            applied.events.append(
                ChannelStateChanged(
                    at=now,
                    account_id=channel.account_id,
                    channel_id=channel.id,
                    old=channel.state,
                    new=moved.state,
                    step=step.value,
                )
            )
