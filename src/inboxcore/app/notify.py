"""Owners told by mail of the conversations routing gave them while they were away."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from inboxcore.app.outbox import Outbox
from inboxcore.domain.events import DomainEvent, OwnerNotified
from inboxcore.domain.model import DeliveryStatus
from inboxcore.ingest import IntakeAccepted

__all__ = ["notify_owners"]

log = logging.getLogger(__name__)


def notify_owners(
    outbox: Outbox | None, events: Sequence[DomainEvent], result: IntakeAccepted
) -> None:
    """Email each owner routing said to notify (:class:`OwnerNotified`). The message is
    accepted and committed already: a failure is logged, never raised into the SMTP session."""
    if outbox is None:
        return
    text = result.parsed.text or ""
    for event in events:
        if not isinstance(event, OwnerNotified):
            continue
        try:
            outcome = outbox.notify_owner(event.conversation_id, event.owner_id, text=text)
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
