"""The inbox service: the one object a host calls, a thin facade over the use cases.

:meth:`InboxService.receive` runs intake (:func:`inboxcore.ingest.ingest`: the raw message is
stored first, with its envelope, then the verdict) and settles it
(:mod:`inboxcore.app.settle`): an accepted message is applied in **one unit of work**
(:mod:`inboxcore.app.apply`: contact, conversation, message, routing, ticket, channel
observations, the intake record) and announced after commit. **A 250 means recorded**: a final
reply is given only once the record listing the message is committed, else ``451 4.3.0``.

The other use cases, each a module of its own: :meth:`~InboxService.recover`
(:mod:`inboxcore.app.recover`, the sweep for messages stored but never recorded),
:meth:`~InboxService.release`, :meth:`~InboxService.discard`, :meth:`~InboxService.reprocess`
and :meth:`~InboxService.message_source` (:mod:`inboxcore.app.held`), owner notifications
(:mod:`inboxcore.app.notify`). Build one with :func:`inboxcore.app.bootstrap.build_inbox`, or
from ports of your own.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import BinaryIO, cast

import attrs

from inboxcore.app import held, recover, split
from inboxcore.app.config import InboxConfig
from inboxcore.app.context import ServiceContext
from inboxcore.app.delivery import Delivery, RecoveredMessage, Recovery
from inboxcore.app.outbox import Outbox
from inboxcore.app.recover import DEFAULT_RECOVERY_GRACE, Handoff
from inboxcore.app.settle import settle
from inboxcore.app.split import AlreadyRecorded, Stored
from inboxcore.app.staged import StagedRawStore
from inboxcore.domain.errors import ConfigurationError, Problem
from inboxcore.domain.ids import MessageId, RawMessageId
from inboxcore.domain.model import Channel, Envelope, IntakeRecord
from inboxcore.domain.outcomes import Reason, SmtpReply
from inboxcore.ingest import IntakePorts, channel_for_recipients, check_declared_size, ingest
from inboxcore.policies.recipients import RecipientCheck, check_recipient
from inboxcore.ports import (
    Clock,
    Directory,
    DnsResolver,
    EventSink,
    IdSource,
    JoinableRawStore,
    RawMessageStore,
    SpamScorer,
    Storage,
)

__all__ = [
    "AlreadyRecorded",
    "DEFAULT_RECOVERY_GRACE",
    "Delivery",
    "InboxConfig",
    "InboxService",
    "RecoveredMessage",
    "Recovery",
    "Stored",
]


def _check_outbox(outbox: Outbox | None, config: InboxConfig) -> None:
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
        _check_outbox(outbox, config)
        intake = IntakePorts(
            storage=storage,
            raw_store=raw_store,
            clock=clock,
            dns=dns,
            directory=directory,
            spam=spam,
        )
        self.context = ServiceContext(
            storage=storage,
            raw_store=raw_store,
            clock=clock,
            ids=ids,
            directory=directory,
            events=events,
            config=config,
            intake=intake,
            intake_config=config.intake_config(),
            signer=config.threading.signer,
            bounce_signer=config.threading.bounce_signer,
            outbox=outbox,
        )
        """Everything the use cases work with."""
        self.storage, self.raw_store, self.clock = storage, raw_store, clock
        self.ids, self.directory, self.events = ids, directory, events
        self.config, self.outbox = config, outbox
        self.signer, self.bounce_signer = self.context.signer, self.context.bounce_signer
        # Checked once: a raw store that writes in this storage's units of work gets each
        # received message written in the unit that records it (inboxcore.app.staged).
        self._joined = isinstance(raw_store, JoinableRawStore) and raw_store.joins(storage)

    # --- receiving -------------------------------------------------------------------------

    def channel_for(self, rcpt_to: Sequence[str]) -> Channel | None:
        """The channel the first of these recipients names (for an SMTP RCPT answer), or None."""
        return channel_for_recipients(self.storage, rcpt_to)

    def check_size(self, declared: int, rcpt_to: Sequence[str]) -> SmtpReply | None:
        """For SMTP SIZE: the refusal to give before the data, or None."""
        return check_declared_size(declared, self.channel_for(rcpt_to), self.context.intake_config)

    def check_recipient(self, address: str, *, declared_size: int | None = None) -> RecipientCheck:
        """The answer to an SMTP/LMTP RCPT (``declared_size``: the MAIL command's ``SIZE=``):
        the channel receiving at ``address``, or the refusal intake would give the message
        anyway (no such mailbox, disconnected, too big, a malformed address, storage down).
        Never raises."""
        return check_recipient(self.storage, address, declared_size)

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
        ctx = self._receiving()
        result = ingest(
            message,
            envelope,
            ports=ctx.intake,
            config=ctx.intake_config,
            live_smtp=live_smtp,
            forwarding_path=forwarding_path,
        )
        return settle(ctx, result)

    def _receiving(self) -> ServiceContext:
        """The context of one receive: with a joined raw store, one whose raw store keeps the
        message until the unit that records it commits (:mod:`inboxcore.app.staged`)."""
        if not self._joined:
            return self.context
        staged = StagedRawStore(cast(JoinableRawStore, self.raw_store))
        intake = attrs.evolve(self.context.intake, raw_store=staged)
        return attrs.evolve(self.context, raw_store=staged, intake=intake, staged=staged)

    # --- mail a person looks at ------------------------------------------------------------

    def reprocess(self, raw_id: RawMessageId) -> Delivery:
        """Run a stored raw message through again (after a quarantine), with the envelope it
        first came with. Raises :class:`~inboxcore.domain.errors.NotFoundError` for an id never
        received."""
        return held.rerun(self.context, raw_id, release=False)

    def release(self, raw_id: RawMessageId) -> Delivery:
        """Let in a message that authentication or spam checks held back, because the team has
        looked at it and trusts it (the "this is good mail" button). The checks' results stay on
        record beside the reason ``released``. Loops, duplicates and messages with no usable
        sender stay where they are. Raises :class:`~inboxcore.domain.errors.NotFoundError` for
        an id never received."""
        return held.rerun(self.context, raw_id, release=True)

    def quarantined(self) -> tuple[IntakeRecord, ...]:
        """Messages held back and not accepted (or discarded) since, oldest first."""
        return held.quarantined(self.context)

    def discard(self, raw_id: RawMessageId, *, note: str = "") -> IntakeRecord:
        """Drop a held message a person does not want, on record
        (:func:`inboxcore.app.held.discard`)."""
        return held.discard(self.context, raw_id, note=note)

    def message_source(self, message_id: MessageId) -> bytes:
        """One message's source as a person should see it
        (:func:`inboxcore.app.held.message_source`)."""
        return held.message_source(self.context, message_id)

    # --- the recovery sweep ------------------------------------------------------------------

    def recover(
        self,
        *,
        older_than: timedelta = DEFAULT_RECOVERY_GRACE,
        since: datetime | None = None,
        limit: int = 100,
        dry_run: bool = False,
        handoff: Handoff | None = None,
    ) -> Recovery:
        """Run the received messages no intake record lists, as received, or hand each to
        ``handoff`` (:func:`inboxcore.app.recover.recover`; safe from cron beside live
        intake)."""
        return recover.recover(
            self.context,
            older_than=older_than,
            since=since,
            limit=limit,
            dry_run=dry_run,
            handoff=handoff,
        )

    # --- split intake: receivers store, workers process --------------------------------------

    def store(self, data: bytes, envelope: Envelope) -> Stored:
        """Store a received message for a worker (:func:`inboxcore.app.split.store`); a
        failing raw store is a 451 value, never a raise."""
        return split.store(self.context, data, envelope)

    def process_raw(
        self, raw_id: RawMessageId, *, retry_later: bool = False
    ) -> Delivery | AlreadyRecorded:
        """Process a stored message, once however often it is called
        (:func:`inboxcore.app.split.process_raw`)."""
        return split.process_raw(self.context, raw_id, retry_later=retry_later)

    def hold_unprocessed(
        self, raw_id: RawMessageId, reason: Reason
    ) -> IntakeRecord | AlreadyRecorded:
        """Quarantine a stored message that could not be processed
        (:func:`inboxcore.app.split.hold_unprocessed`)."""
        return split.hold_unprocessed(self.context, raw_id, reason)
