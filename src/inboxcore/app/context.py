"""What every use case of the inbox works with: the ports, the settings, the signers.

One value, built once by :class:`~inboxcore.app.service.InboxService` from the ports a host (or
:func:`~inboxcore.app.bootstrap.build_inbox`) hands it, so that each use case is a small module
that takes it and reads alone.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from inboxcore.app.config import InboxConfig
from inboxcore.app.outbox import Outbox
from inboxcore.app.publish import publish
from inboxcore.app.staged import StagedRawStore
from inboxcore.domain.events import DomainEvent
from inboxcore.domain.tokens import Signer
from inboxcore.ingest import IntakeConfig, IntakePorts
from inboxcore.ports import Clock, Directory, EventSink, IdSource, RawMessageStore, Storage

__all__ = ["ServiceContext"]


@attrs.frozen(kw_only=True)
class ServiceContext:
    """The ports and settings of one inbox service."""

    storage: Storage
    raw_store: RawMessageStore
    clock: Clock
    ids: IdSource
    directory: Directory
    events: EventSink
    config: InboxConfig
    intake: IntakePorts
    intake_config: IntakeConfig
    signer: Signer
    """Conversation tokens (Message-IDs and Reply-To tags of our mail)."""
    bounce_signer: Signer
    """Bounce tags (the Return-Path of our mail)."""
    outbox: Outbox | None = None
    staged: StagedRawStore | None = None
    """The raw message of the receive in progress, waiting to be written in the unit that
    records it (:mod:`inboxcore.app.staged`); None when puts are durable at once."""

    def publish(self, events: Iterable[DomainEvent]) -> None:
        """Tell the host of committed changes (:func:`~inboxcore.app.publish.publish`)."""
        publish(self.events, events)
