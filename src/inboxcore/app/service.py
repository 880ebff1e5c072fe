"""The inbox service: the one entry point a host calls with a raw message and its envelope.

:meth:`InboxService.receive` runs intake (:func:`inboxcore.ingest.ingest`: the raw message is
stored first, with its envelope, then the verdict), and for an accepted message applies it in
**one unit of work**: contact found or created, conversation found (threading) or opened, message
appended, routing, ticket, channel observations, the intake log. Events are emitted only after
that unit committed.

**A 250 means recorded.** The service decides every reply: a final one (``250``, or a ``5xx``
refusal) for a stored message only once an intake record listing it (accepted, duplicate,
quarantined, rejected) is committed. Storage failing before that (a refused commit, ``database is
locked``, storage down) rolls back and answers ``451 4.3.0`` with reason ``storage_unavailable``:
the sender keeps the message and retries, and no event tells of what was not recorded. A commit
whose answer was lost is checked by reading the intake log: applied, it stands; unknown, it is a
451 and the retry finds the message stored. Anything else failing while applying (a bug)
quarantines the message with its raw id (``internal_error``), never lost, never half-applied;
:meth:`InboxService.reprocess` runs it again later. A unit that loses a race to another worker (a
:class:`~inboxcore.domain.errors.ConflictError` at commit, say two workers creating the same
contact) is retried from the start and sees the winner's records; the same message delivered
twice is found as a duplicate and changes nothing.

Should a message be stored and never recorded all the same (the sender gave up retrying, or it
was stored by an older version that answered 250 regardless), :meth:`InboxService.recover` finds
it in the raw store and runs it as it was received.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import BinaryIO

import attrs

from inboxcore.app.outbox import Outbox
from inboxcore.auth.results import display_source
from inboxcore.channels import ChannelStep, apply_step
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import (
    CommitFailed,
    ConfigurationError,
    ConflictError,
    InvalidTransition,
    InvalidValueError,
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
    MessageDiscarded,
    MessageQuarantined,
    MessageRejected,
    OwnerNotified,
    TicketCreated,
    TicketStatusChanged,
)
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
    StoredRawMessage,
    Ticket,
    default_dedup_key,
    held,
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
from inboxcore.mail.parsing import parse_message
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

__all__ = [
    "DEFAULT_RECOVERY_GRACE",
    "Delivery",
    "InboxConfig",
    "InboxService",
    "RecoveredMessage",
    "Recovery",
]

log = logging.getLogger(__name__)

_KEPT = SmtpReply(code=250, enhanced="2.0.0", text="Message accepted for review")
_DUPLICATE = SmtpReply(code=250, enhanced="2.0.0", text="Message already received")
_STORE_DOWN = SmtpReply(code=451, enhanced="4.3.0", text="Temporary failure, try again later")

# Verdicts that list a message in the intake log (a deferral does not: the sender still has it).
_LISTING = frozenset(
    d.value
    for d in (
        Disposition.ACCEPTED,
        Disposition.DUPLICATE,
        Disposition.QUARANTINED,
        Disposition.REJECTED,
    )
)

DEFAULT_RECOVERY_GRACE = timedelta(minutes=15)
"""How old a stored message must be before :meth:`InboxService.recover` takes it: far longer
than intake takes (the DNS budget is 15 seconds), so no message still being received is raced."""
_RECOVERY_PAGE = 200

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


def _latest_listing(history: Sequence[IntakeRecord]) -> str | None:
    """The disposition of the newest record that lists the message; None if none does."""
    for record in reversed(history):
        if record.disposition in _LISTING:
            return record.disposition
    return None


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
    """What one run of :meth:`InboxService.recover` looked at and did."""

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
        self,
        message: bytes | BinaryIO,
        envelope: Envelope,
        *,
        live_smtp: bool = False,
        forwarding_path: str | None = None,
    ) -> Delivery:
        """Take one message as received. Never raises for a bad message; a broken port may.

        ``forwarding_path``: an operator's word that the message came through the channel's
        configured forwarding path (an export of the team's own mailbox), standing in for proof
        of the team's addresses where there is no DNS; see :func:`~inboxcore.ingest.ingest`.
        It holds for this run only: :meth:`reprocess` decides on the evidence alone.
        """
        result = ingest(
            message,
            envelope,
            ports=self._ports,
            config=self._intake_config,
            live_smtp=live_smtp,
            forwarding_path=forwarding_path,
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

    def discard(self, raw_id: RawMessageId, *, note: str = "") -> IntakeRecord:
        """Take a held message out of quarantine because a person decided it is not wanted (spam
        that got through, a file that was never mail). Never silent: the intake log gets a
        ``discarded`` line with the reason, the host a :class:`MessageDiscarded` event, and the
        raw message stays stored. Raises :class:`~inboxcore.domain.errors.NotFoundError` when
        ``raw_id`` is not held."""
        now = self.clock.now()
        with self.storage.unit_of_work() as uow:
            holding = held(uow.intake_log.for_raw_message(raw_id))
            if holding is None:
                raise NotFoundError(f"raw message {raw_id} is not held back")
            entry = attrs.evolve(
                holding,
                disposition=Disposition.DISCARDED.value,
                reason_codes=("discarded",),
                at=now,
                message_id=None,
            )
            uow.intake_log.record(entry)
            uow.commit()
        log.info("discarded held message %s%s", raw_id, f" ({note})" if note else "")
        channel = holding.channel_id
        account = self._account_of(channel)
        self._emit(
            [
                MessageDiscarded(
                    at=now, raw_id=raw_id, note=note, account_id=account, channel_id=channel
                )
            ]
        )
        return entry

    def message_source(self, message_id: MessageId) -> bytes:
        """One message's source as a person should see it ("show original"): the raw message
        as stored, with our own Authentication-Results on top (as intake recorded it) and every
        incoming one claiming our authserv-id renamed, per RFC 8601 section 5
        (:func:`~inboxcore.auth.results.display_source`). The stored bytes are not changed.
        Raises :class:`~inboxcore.domain.errors.NotFoundError` for an unknown message or one
        with no stored raw message."""
        with self.storage.unit_of_work() as uow:
            message = uow.messages.get(message_id)
        if message.raw_id is None:
            raise NotFoundError(f"message {message_id} has no stored raw message")
        return display_source(
            self.raw_store.get(message.raw_id),
            authserv_id=self._intake_config.authentication.authserv_id,
            ours=message.authentication_results,
        )

    def _account_of(self, channel_id: ChannelId | None) -> AccountId | None:
        if channel_id is None:
            return None
        try:
            with self.storage.unit_of_work() as uow:
                return uow.channels.get(channel_id).account_id
        except (NotFoundError, PortError):
            return None

    # --- the recovery sweep ----------------------------------------------------------------

    def recover(
        self,
        *,
        older_than: timedelta = DEFAULT_RECOVERY_GRACE,
        since: datetime | None = None,
        limit: int = 100,
        dry_run: bool = False,
    ) -> Recovery:
        """Run the received messages that no intake record lists through intake, as received.

        Such a message was stored and then never recorded: storage failed and the sender gave
        up retrying, or an older version answered 250 regardless. Each is run with the envelope
        stored beside it (without one, from before envelopes were kept: with its delivery
        headers, and the reason ``envelope_missing``), and its record carries ``unrecorded``.

        Safe to run from cron beside live intake: messages received less than ``older_than``
        ago are left to the intake still handling them; a message is run only while no record
        lists it, and one that a worker records meanwhile is found by the duplicate check and
        the race-safe commit, and gets no second record. Running it twice does nothing more.
        At most ``limit`` messages are run per call (:attr:`Recovery.complete` says whether more
        wait); ``since`` skips messages received before it; ``dry_run`` lists without running.

        Raises :class:`~inboxcore.domain.errors.InvalidValueError` for a ``limit`` below 1 or a
        negative ``older_than``, and :class:`~inboxcore.domain.errors.StorageError` when the
        raw store or the intake log cannot be read.
        """
        if limit < 1 or older_than < timedelta(0):
            raise InvalidValueError(f"recover needs limit >= 1 and older_than >= 0 (got {limit})")
        before = self.clock.now() - older_than
        found: list[RecoveredMessage] = []
        examined = 0
        after: RawMessageId | None = None
        while page := self.raw_store.received(
            before=before, since=since, after=after, limit=_RECOVERY_PAGE
        ):
            unrecorded = self._unrecorded([stored.raw_id for stored in page])
            for stored in page:
                if stored.raw_id in unrecorded:
                    if len(found) == limit:
                        return Recovery(
                            examined=examined,
                            messages=tuple(found),
                            complete=False,
                            dry_run=dry_run,
                        )
                    found.append(self._recover_one(stored, dry_run=dry_run))
                examined += 1
            after = page[-1].raw_id
        return Recovery(examined=examined, messages=tuple(found), complete=True, dry_run=dry_run)

    def _unrecorded(self, raw_ids: Sequence[RawMessageId]) -> set[RawMessageId]:
        with self.storage.unit_of_work() as uow:
            return {
                raw_id
                for raw_id in raw_ids
                if _latest_listing(uow.intake_log.for_raw_message(raw_id)) is None
            }

    def _recover_one(self, stored: StoredRawMessage, *, dry_run: bool) -> RecoveredMessage:
        when = f"{stored.received_at:%Y-%m-%d %H:%M} UTC"
        reasons = [
            Reason(
                code="unrecorded",
                message=f"Stored {when} but never recorded (storage failed before its record "
                "was committed); run again as received by the recovery sweep.",
            )
        ]
        envelope = stored.envelope
        if envelope is None:
            if self._own_copy(stored.raw_id):
                own = Reason(
                    code="own_message",
                    message="Stored before envelopes were kept, and its Message-ID is ours: a "
                    "copy of our own outbound mail, not run.",
                )
                return RecoveredMessage(
                    raw_id=stored.raw_id, received_at=stored.received_at, reasons=(own,)
                )
            envelope = Envelope(received_at=stored.received_at)
            reasons.append(
                Reason(
                    code="envelope_missing",
                    message="Stored before envelopes were kept: the recipient comes from its "
                    "delivery headers (Delivered-To, X-Original-To), the sending server is "
                    "unknown.",
                )
            )
        if dry_run:
            return RecoveredMessage(
                raw_id=stored.raw_id, received_at=stored.received_at, reasons=tuple(reasons)
            )
        result = reprocess_intake(
            stored.raw_id, envelope, ports=self._ports, config=self._intake_config
        )
        result = attrs.evolve(result, reasons=(*reasons, *result.reasons))
        return RecoveredMessage(
            raw_id=stored.raw_id,
            received_at=stored.received_at,
            reasons=tuple(reasons),
            delivery=self._settle(result, recovering=True),
        )

    def _own_copy(self, raw_id: RawMessageId) -> bool:
        """Whether a message stored without an envelope carries one of our Message-IDs."""
        message_id = parse_message(self.raw_store.get(raw_id)).message_id or ""
        domain = message_id.rpartition("@")[2].strip("<> ").lower()
        return domain in self._intake_config.own_message_id_domains

    # --- settling a verdict ----------------------------------------------------------------
    #
    # The one rule of every reply: a final answer (2xx, or a 5xx refusal) for a stored message
    # only once an intake record listing it is committed. Storage failing before that is a 451,
    # so the sender keeps the message and retries; nothing is announced that was not recorded.

    def _settle(self, result: IntakeResult, *, recovering: bool = False) -> Delivery:
        """``recovering``: run by :meth:`recover`, which writes no record for a message that
        another worker recorded meanwhile (the sweep checked it had none before it ran it)."""
        try:
            if result.disposition is Disposition.ACCEPTED:
                return self._accept(result, recovering=recovering)
            if result.disposition is Disposition.DUPLICATE:
                recovered = self._recover_unacknowledged(result)
                if recovered is not None:
                    return recovered
            verdict = Delivery(
                disposition=result.disposition,
                reasons=result.reasons,
                smtp=result.smtp,
                intake=result,
            )
            return self._record_outcome(verdict, recovering=recovering)
        except (PortError, ConflictError) as exc:
            return self._deferred(result, exc)

    def _deferred(self, result: IntakeResult, exc: Exception) -> Delivery:
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
            disposition=Disposition.DEFERRED, reasons=(reason,), smtp=_STORE_DOWN, intake=result
        )

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
            entry = IntakeRecord(
                raw_id=raw_id,
                envelope=result.envelope,
                disposition=Disposition.ACCEPTED.value,
                reason_codes=("recovered",),
                at=now,
                channel_id=message.channel_id,
                message_id=message.id,
            )
            uow.intake_log.record(entry)
            self._commit_logged(uow, entry)
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

    def _record_outcome(self, delivery: Delivery, *, recovering: bool = False) -> Delivery:
        """Commit the intake record of a verdict other than an acceptance, then announce it.

        A final verdict on a stored message stands only once its record is committed: failing
        that raises (:meth:`_settle` answers 451, and no event tells of it). A deferral is
        logged when it can be (its 451 stands either way).
        """
        if delivery.intake.raw_id is not None:
            if delivery.disposition is Disposition.DEFERRED:
                try:
                    self._record(delivery, recovering=False)
                except Exception:  # the 451 stands whatever became of its log line
                    log.exception("could not log the deferral of %s", delivery.raw_id)
            else:
                self._record(delivery, recovering=recovering)
        events = self._verdict_events(delivery)
        self._emit(events)
        return attrs.evolve(delivery, events=tuple(events))

    def _record(self, delivery: Delivery, *, recovering: bool) -> None:
        """Commit the intake record of ``delivery``; when ``recovering``, none if a record lists
        the message by now (a worker handled the same bytes meanwhile: one record is enough)."""
        raw_id = delivery.raw_id
        assert raw_id is not None
        now = self.clock.now()
        with self.storage.unit_of_work() as uow:
            if recovering and _latest_listing(uow.intake_log.for_raw_message(raw_id)):
                return
            entry = self._log_entry(delivery, now)
            uow.intake_log.record(entry)
            self._commit_logged(uow, entry)

    def _verdict_events(self, delivery: Delivery) -> list[DomainEvent]:
        result = delivery.intake
        now = self.clock.now()
        channel = result.channel
        if delivery.disposition is Disposition.QUARANTINED and result.raw_id is not None:
            return [
                MessageQuarantined(
                    at=now,
                    raw_id=result.raw_id,
                    reasons=delivery.reason_codes,
                    account_id=channel.account_id if channel else None,
                    channel_id=channel.id if channel else None,
                )
            ]
        if delivery.disposition is Disposition.REJECTED:
            return [
                MessageRejected(
                    at=now,
                    reasons=delivery.reason_codes,
                    raw_id=result.raw_id,
                    account_id=channel.account_id if channel else None,
                    channel_id=channel.id if channel else None,
                )
            ]
        return []

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

    def _accept(self, result: IntakeResult, *, recovering: bool) -> Delivery:
        try:
            applied = self._apply_with_retries(result)
        except (PortError, ConflictError):
            raise  # storage failing, or too busy: nothing is recorded and the sender retries
        except Exception as exc:  # a bug: keep the message for a reprocess, once that is recorded
            log.exception("applying raw message %s failed", result.raw_id)
            return self._quarantine_failed(result, exc, recovering=recovering)
        if applied.duplicate_of is not None:
            duplicate = Delivery(
                disposition=Disposition.DUPLICATE,
                reasons=(
                    Reason(code="duplicate", message="The channel already received this message."),
                ),
                smtp=_DUPLICATE,
                intake=attrs.evolve(result, duplicate_of=applied.duplicate_of),
            )
            return self._record_outcome(duplicate, recovering=recovering)
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

    def _apply_with_retries(self, result: IntakeResult) -> _Applied:
        """Apply in one unit of work. A unit that lost a race to another worker (a
        ConflictError) starts over and sees the winner's records, up to ``max_attempts``."""
        for _attempt in range(self.config.max_attempts - 1):
            try:
                return self._apply(result)
            except ConflictError:
                continue
        return self._apply(result)

    def _commit_logged(self, uow: UnitOfWork, entry: IntakeRecord) -> None:
        """Commit a unit that logs ``entry``. A commit whose answer was lost (an error other
        than CommitFailed or a lost race) is checked: ``entry`` in the log means it applied;
        otherwise, or if the log cannot be read, the error stands and nothing is acknowledged
        (a retry then finds the message, if it was stored after all)."""
        try:
            uow.commit()
        except (CommitFailed, ConflictError):
            raise
        except PortError:
            with self.storage.unit_of_work() as check:
                if entry not in check.intake_log.for_raw_message(entry.raw_id):
                    raise
            log.warning("commit of %s answered with an error, but it applied", entry.raw_id)

    def _quarantine_failed(
        self, result: IntakeResult, exc: BaseException, *, recovering: bool
    ) -> Delivery:
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
        return self._record_outcome(delivery, recovering=recovering)

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
            author = self._author(channel, sender, result.sender.team_member)
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
                authentication_results=(
                    result.authentication.header if result.authentication is not None else None
                ),
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
            entry = IntakeRecord(
                raw_id=result.raw_id or RawMessageId(""),
                envelope=result.envelope,
                disposition=Disposition.ACCEPTED.value,
                reason_codes=result.reason_codes,
                at=now,
                channel_id=channel.id,
                message_id=message.id,
            )
            uow.intake_log.record(entry)
            self._commit_logged(uow, entry)
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

    def _author(
        self, channel: Channel, sender: EmailAddress, team_member: EmailAddress | None
    ) -> UserId | None:
        """The agent who wrote this by mail: only a sender proven to be the team's
        (:attr:`~inboxcore.mail.sender.SenderResolution.team_member`), never a From alone."""
        if team_member is None or team_member.key != sender.key:
            return None
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
        # Only the team's proven mail may write into any conversation: a From naming an agent or
        # a team mailbox, unproven, is an outsider like any other.
        insiders = {channel.forwarding_address.key}
        team_member = result.sender.team_member if result.sender is not None else None
        if team_member is not None and team_member.key == sender.key:
            insiders.add(sender.key)
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
        """The provider's confirmation mail and the first real forwarded message move the
        channel's state. A confirmation nothing proves the provider sent is reported without its
        link and code, and moves nothing: a forger's link must never pass for the provider's."""
        assert result.classification is not None
        kind = result.classification.kind
        step: ChannelStep | None = None
        if kind is MessageKind.FORWARDING_CONFIRMATION:
            confirmation = result.classification.forwarding_confirmation
            verified = confirmation is not None and confirmation.verified
            if verified:
                step = ChannelStep.OBSERVE_CONFIRMATION
            applied.events.append(
                ForwardingConfirmationReceived(
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
