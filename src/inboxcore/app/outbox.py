"""The outbox: sending agent replies and owner notifications through the ports.

:class:`Outbox` composes with :mod:`inboxcore.policies.outbound`, signs with
:mod:`inboxcore.auth.dkim_sign`
(when the host gives it a :class:`~inboxcore.ports.DkimKeyStore`), hands the message to the
:class:`~inboxcore.ports.MailTransport`, and keeps the record.

**The order of a reply, and why.** A send cannot be part of a database transaction, so a reply
is done in two units of work around it:

1. *Record.* The composed bytes go to the raw store, then one unit stores the outbound
   :class:`~inboxcore.domain.model.Message` as ``QUEUED``, moves the ticket (``AGENT_REPLY``) and
   updates the conversation, and commits. Nothing has been sent yet: if this fails, nothing was.
2. *Send.* The stored bytes are DKIM-signed and handed to the transport.
3. *Settle.* A second unit marks the message ``SENT`` (accepted), ``FAILED`` (a permanent
   refusal, reported with a :class:`~inboxcore.domain.events.DeliveryFailed` event) or leaves it
   ``QUEUED`` with the reason (a temporary refusal, or an outcome the transport could not tell):
   the host's scheduler calls :meth:`Outbox.retry` for it later.

So a crash can leave a message ``QUEUED`` that was in fact sent (between 2 and 3), and a retry
would send it a second time, with the same Message-ID (receivers that deduplicate drop it), but
a message is never sent without a record of it. The ticket moves at step 1 because the agent has
answered, whatever the network does; a failure is reported, not rolled back.

The raw store keeps the message as composed; DKIM signatures are added at each attempt, so that a
retry after a key rotation is signed with the keys in force then.

Owner notifications are not conversation messages: nothing is stored, and a failure is returned
(and logged by the service), never raised into the intake of the message that caused it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs

from inboxcore.app.publish import publish
from inboxcore.auth.dkim_sign import sign_message
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import InvalidTransition, InvalidValueError, NotFoundError, PortError
from inboxcore.domain.events import (
    DeliveryFailed,
    DomainEvent,
    MessageAppended,
    TicketStatusChanged,
)
from inboxcore.domain.ids import ConversationId, MessageId, RawMessageId, UserId, raw_message_id
from inboxcore.domain.model import (
    Account,
    ChannelState,
    DeliveryStatus,
    Direction,
    Message,
    MessageKind,
    OutboundMail,
    SendResult,
    SendStatus,
    User,
)
from inboxcore.policies.outbound import (
    ComposedMail,
    NotificationContext,
    OutboundAttachment,
    OutboundConfig,
    ReplyContext,
    ReplyDraft,
    compose_owner_notification,
    compose_reply,
    reply_return_path,
)
from inboxcore.ports import (
    Clock,
    Directory,
    DkimKeyStore,
    EventSink,
    IdSource,
    MailTransport,
    RawMessageStore,
    Storage,
    UnitOfWork,
)
from inboxcore.tickets import TicketStep, apply_ticket_step

__all__ = ["Outbox", "SendOutcome"]

log = logging.getLogger(__name__)

_ENHANCED = re.compile(r"\b([245]\.\d{1,3}\.\d{1,3})\b")


@attrs.frozen(kw_only=True)
class SendOutcome:
    """What became of one send: the delivery status and the transport's answer."""

    status: DeliveryStatus
    """``SENT``, ``FAILED``, or ``QUEUED`` (try again later: see ``detail``)."""
    rfc_message_id: str
    message_id: MessageId | None = None
    """The stored outbound message (None for an owner notification, which is not stored)."""
    result: SendResult | None = None
    """The transport's answer; None when it never answered (outcome unknown, keys unavailable)."""
    detail: str = ""
    signed_by: str | None = None
    """The DKIM ``d=`` domain, or None when the message went out unsigned."""
    events: tuple[DomainEvent, ...] = ()


def _status_code(result: SendResult) -> str:
    """The enhanced status code of a refusal (``5.1.1``), else the basic code, else a default."""
    match = _ENHANCED.search(result.detail)
    if match:
        return match.group(1)
    if result.smtp_code is not None:
        return str(result.smtp_code)
    return "5.0.0" if result.status is SendStatus.PERMANENT_FAILURE else "4.0.0"


def _detail(result: SendResult) -> str:
    text = " ".join(f"{result.smtp_code or ''} {result.detail}".split())
    if result.refused_recipients:
        text += " (refused: " + ", ".join(result.refused_recipients) + ")"
    return text[:500]


class Outbox:
    """Sends replies and notifications; safe to share between threads (state lives in ports)."""

    def __init__(
        self,
        *,
        storage: Storage,
        raw_store: RawMessageStore,
        transport: MailTransport,
        clock: Clock,
        ids: IdSource,
        directory: Directory,
        events: EventSink,
        config: OutboundConfig,
        dkim_keys: DkimKeyStore | None = None,
        dkim_expire_after: timedelta | None = None,
    ) -> None:
        self.storage = storage
        self.raw_store = raw_store
        self.transport = transport
        self.clock = clock
        self.ids = ids
        self.directory = directory
        self.events = events
        self.config = config
        self.dkim_keys = dkim_keys
        self.dkim_expire_after = dkim_expire_after

    # --- replies ---------------------------------------------------------------------------

    def send_reply(
        self,
        conversation_id: ConversationId,
        agent_id: UserId,
        *,
        text: str,
        html: str | None = None,
        attachments: Sequence[OutboundAttachment] = (),
        cc: Sequence[EmailAddress] | None = None,
        subject: str | None = None,
    ) -> SendOutcome:
        """Compose, record, sign and send an agent's reply to the conversation's contact.

        Raises before anything is stored or sent: :class:`~inboxcore.domain.errors.NotFoundError`
        (no
        such conversation or agent), :class:`~inboxcore.domain.errors.InvalidValueError` (an agent
        of
        another account or deactivated; a header injection; oversize attachments),
        :class:`~inboxcore.domain.errors.InvalidTransition` (the channel is disconnected). A
        refusal by
        the transport is an outcome, not an exception.
        """
        draft = ReplyDraft(
            text=text,
            html=html,
            attachments=tuple(attachments),
            cc=None if cc is None else tuple(cc),
            subject=subject,
        )
        now = self.clock.now()
        agent = self._active_agent(agent_id)
        with self.storage.unit_of_work() as uow:
            context = self._reply_context(uow, conversation_id, agent)
            # The record's id is chosen first: the reply's signed bounce address names it.
            message_id = MessageId(self.ids.new_id("message"))
            composed = compose_reply(
                context,
                draft,
                self.config,
                now=now,
                unique=self.ids.token_bytes(8).hex(),
                message_id=message_id,
            )
            # The bytes are durable before any record points at them.
            raw_id = self.raw_store.put(composed.mail.data)
            message = self._outbound_record(composed, context, raw_id=raw_id, message_id=message_id)
            events = self._record_reply(uow, context, composed, message, now)
            events += self._advance_ticket(uow, context.conversation.id, now)
            uow.commit()
        self._emit(events)
        outcome = self._deliver(message, composed.mail, context.account)
        return attrs.evolve(outcome, events=(*events, *outcome.events))

    def _active_agent(self, agent_id: UserId) -> User:
        """The replying agent, who must exist and be active."""
        agent = self.directory.user(agent_id)
        if agent is None:
            raise NotFoundError(f"no agent {agent_id}")
        if not agent.active:
            raise InvalidValueError(f"agent {agent_id} is deactivated and cannot reply")
        return agent

    def _reply_context(
        self, uow: UnitOfWork, conversation_id: ConversationId, agent: User
    ) -> ReplyContext:
        """What a reply is composed from; refuses an agent of another account and a
        disconnected channel."""
        conversation = uow.conversations.get(conversation_id)
        channel = uow.channels.get(conversation.channel_id)
        if agent.account_id != conversation.account_id:
            raise InvalidValueError(f"agent {agent.id} is not of the conversation's account")
        if channel.state is ChannelState.DISCONNECTED:
            raise InvalidTransition("channel", channel.state.value, "send_reply")
        account = uow.accounts.get(conversation.account_id)
        return ReplyContext(
            account=account,
            channel=channel,
            conversation=conversation,
            contact=uow.contacts.get(conversation.contact_id),
            agent=agent,
            messages=uow.messages.for_conversation(conversation.id),
            team_addresses=frozenset(
                u.email.key for u in self.directory.users(conversation.account_id)
            ),
        )

    @staticmethod
    def _record_reply(
        uow: UnitOfWork,
        context: ReplyContext,
        composed: ComposedMail,
        message: Message,
        now: datetime,
    ) -> list[DomainEvent]:
        """Store the outbound message and update its conversation; the event that says so."""
        conversation = context.conversation
        uow.messages.add(message)
        participants = {composed.to[0].key, *(a.key for a in composed.cc)}
        uow.conversations.update(
            attrs.evolve(
                conversation,
                last_message_at=max(conversation.last_message_at, now),
                participants=conversation.participants | participants,
            )
        )
        return [
            MessageAppended(
                at=now,
                account_id=conversation.account_id,
                channel_id=context.channel.id,
                conversation_id=conversation.id,
                message_id=message.id,
                kind=MessageKind.MESSAGE,
                direction=Direction.OUTBOUND,
            )
        ]

    @staticmethod
    def _advance_ticket(
        uow: UnitOfWork, conversation_id: ConversationId, now: datetime
    ) -> list[DomainEvent]:
        """Move the conversation's ticket for the agent's reply (a step it refuses is no move)."""
        ticket = uow.tickets.for_conversation(conversation_id)
        if ticket is None:
            return []
        try:
            moved = apply_ticket_step(ticket, TicketStep.AGENT_REPLY, now)
        except InvalidTransition:
            moved = ticket
        if moved.status is ticket.status:
            return []
        uow.tickets.update(moved)
        return [
            TicketStatusChanged(
                at=now,
                account_id=ticket.account_id,
                channel_id=ticket.channel_id,
                ticket_id=ticket.id,
                old=ticket.status,
                new=moved.status,
                step=TicketStep.AGENT_REPLY.value,
            )
        ]

    def retry(self, message_id: MessageId) -> SendOutcome:
        """Send a ``QUEUED`` outbound message again (the host schedules retries).

        Raises :class:`~inboxcore.domain.errors.NotFoundError` for an unknown message or missing raw
        bytes, and :class:`~inboxcore.domain.errors.InvalidTransition` for a message that is not an
        outbound one waiting to be sent.
        """
        with self.storage.unit_of_work() as uow:
            message = uow.messages.get(message_id)
            if message.direction is not Direction.OUTBOUND or (
                message.delivery_status is not DeliveryStatus.QUEUED
            ):
                raise InvalidTransition("message", message.delivery_status.value, "retry")
            if message.raw_id is None or message.sender is None:
                raise NotFoundError(f"message {message_id} has no stored bytes to send")
            channel = uow.channels.get(message.channel_id)
            account = uow.accounts.get(message.account_id)
        if channel.state is ChannelState.DISCONNECTED:
            raise InvalidTransition("channel", channel.state.value, "retry")
        data = self.raw_store.get(message.raw_id)
        mail = OutboundMail(
            mail_from=reply_return_path(channel, message.id, self.config),
            rcpt_to=tuple(dict.fromkeys(a.address for a in (*message.to, *message.cc))),
            data=data,
            rfc_message_id=message.rfc_message_id,
        )
        return self._deliver(message, mail, account)

    def _outbound_record(
        self,
        composed: ComposedMail,
        context: ReplyContext,
        *,
        raw_id: RawMessageId,
        message_id: MessageId,
    ) -> Message:
        now = self.clock.now()
        return Message(
            id=message_id,
            account_id=context.conversation.account_id,
            channel_id=context.channel.id,
            conversation_id=context.conversation.id,
            direction=Direction.OUTBOUND,
            kind=MessageKind.MESSAGE,
            fingerprint=raw_message_id(composed.mail.data),
            received_at=now,
            rfc_message_id=composed.rfc_message_id,
            raw_id=raw_id,
            sender=composed.sender,
            to=composed.to,
            cc=composed.cc,
            subject=composed.subject,
            sent_at=now,
            in_reply_to=composed.in_reply_to,
            references=composed.references,
            author_id=context.agent.id,
            delivery_status=DeliveryStatus.QUEUED,
        )

    def _deliver(self, message: Message, mail: OutboundMail, account: Account) -> SendOutcome:
        rfc_message_id = message.rfc_message_id or ""
        sent = self._send(mail, account, message.sender)
        status, detail = sent.status, sent.detail
        events: list[DomainEvent] = []
        now = self.clock.now()
        with self.storage.unit_of_work() as uow:
            current = uow.messages.get(message.id)
            uow.messages.update(
                attrs.evolve(current, delivery_status=status, delivery_detail=detail)
            )
            if status is DeliveryStatus.FAILED and sent.result is not None:
                events.append(
                    DeliveryFailed(
                        at=now,
                        account_id=message.account_id,
                        channel_id=message.channel_id,
                        message_id=message.id,
                        status=_status_code(sent.result),
                        detail=detail,
                    )
                )
            uow.commit()
        self._emit(events)
        return attrs.evolve(
            sent, rfc_message_id=rfc_message_id, message_id=message.id, events=tuple(events)
        )

    # --- notifications -----------------------------------------------------------------------

    def notify_owner(
        self, conversation_id: ConversationId, owner_id: UserId, *, text: str = ""
    ) -> SendOutcome:
        """Email an offline contact owner about a new conversation (``text``: the message that
        opened it, for the excerpt). Raises :class:`~inboxcore.domain.errors.NotFoundError` for an
        unknown conversation or owner; a refusal is an outcome."""
        owner = self.directory.user(owner_id)
        if owner is None:
            raise NotFoundError(f"no user {owner_id}")
        with self.storage.unit_of_work() as uow:
            conversation = uow.conversations.get(conversation_id)
            channel = uow.channels.get(conversation.channel_id)
            account = uow.accounts.get(conversation.account_id)
            contact = uow.contacts.get(conversation.contact_id)
            messages = uow.messages.for_conversation(conversation.id)
        first = next((m for m in messages if m.direction is Direction.INBOUND), None)
        composed = compose_owner_notification(
            NotificationContext(
                channel=channel,
                conversation=conversation,
                contact=contact,
                owner=owner,
                subject=first.subject if first and first.subject else conversation.subject,
                text=text,
            ),
            self.config,
            now=self.clock.now(),
            unique=self.ids.token_bytes(8).hex(),
        )
        return self._send(composed.mail, account, composed.sender)

    # --- sending -----------------------------------------------------------------------------

    def _send(
        self, mail: OutboundMail, account: Account, sender: EmailAddress | None
    ) -> SendOutcome:
        """Sign and hand to the transport; every answer (and a port failure) becomes a value."""
        rfc_message_id = mail.rfc_message_id or ""
        signed_by = None
        if self.dkim_keys is not None and sender is not None:
            hosting = self.config.hosting
            try:
                signed = sign_message(
                    mail.data,
                    self.dkim_keys,
                    from_domain=sender.domain,
                    hosted_domains=(hosting.hosted_domain_for(account), hosting.hosted_domain),
                    now=self.clock.now(),
                    expire_after=self.dkim_expire_after,
                )
            except PortError as exc:
                log.warning("DKIM keys unavailable for %s: %s", rfc_message_id, exc)
                return SendOutcome(
                    status=DeliveryStatus.QUEUED,
                    rfc_message_id=rfc_message_id,
                    detail=f"not sent: the DKIM keys could not be read ({exc})",
                )
            mail = attrs.evolve(mail, data=signed.data)
            signed_by = signed.domain
        try:
            result = self.transport.send(mail)
        except PortError as exc:
            log.warning("transport outcome unknown for %s: %s", rfc_message_id, exc)
            return SendOutcome(
                status=DeliveryStatus.QUEUED,
                rfc_message_id=rfc_message_id,
                detail=f"outcome unknown: {exc}",
                signed_by=signed_by,
            )
        status = {
            SendStatus.ACCEPTED: DeliveryStatus.SENT,
            SendStatus.TEMPORARY_FAILURE: DeliveryStatus.QUEUED,
            SendStatus.PERMANENT_FAILURE: DeliveryStatus.FAILED,
        }[result.status]
        return SendOutcome(
            status=status,
            rfc_message_id=rfc_message_id,
            result=result,
            detail=_detail(result),
            signed_by=signed_by,
        )

    def _emit(self, events: Sequence[DomainEvent]) -> None:
        publish(self.events, events)
