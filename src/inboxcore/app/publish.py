"""Telling the host what happened: one rule for every use case.

Events describe changes that are **committed**: they are published after the unit of work that
made them committed, never before, and never for a change that was rolled back. A host's event
sink that fails cannot undo a committed change, so its failure is logged and never turns into an
exception for the caller (an SMTP session must still get its 250, a settings screen its result).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from inboxcore.domain.events import DomainEvent
from inboxcore.ports import EventSink

__all__ = ["publish"]

log = logging.getLogger(__name__)


def publish(sink: EventSink | None, events: Iterable[DomainEvent]) -> None:
    """Hand each committed event to ``sink`` in order; a failing sink is logged, not raised."""
    if sink is None:
        return
    for event in events:
        try:
            sink.emit(event)
        except Exception:  # the change is committed; a host's sink failing cannot undo it
            log.exception("event sink failed for %s", type(event).__name__)
