"""Domain events as a Django signal, sent once the database has committed.

:data:`inbox_event` is sent with ``sender`` the event's class and ``event`` the
:class:`~inboxcore.domain.events.DomainEvent`::

    from django.dispatch import receiver
    from inboxcore.contrib.django.signals import inbox_event
    from inboxcore.domain.events import MessageReceived

    @receiver(inbox_event, sender=MessageReceived)
    def notify(sender, event, **kwargs): ...

The service hands an event to :class:`SignalEventSink` after the unit of work that made it
committed. The sink still goes through ``transaction.on_commit`` on the storage's alias: outside
an atomic block the signal is sent at once; inside an atomic block of the host's it waits for that
block to commit, so a receiver's writes to the host's tables go with the host's transaction, and
it is not sent when the host's block rolls back. inboxcore's own records do not roll back with
the host's block (a unit of work inside one commits on a connection of its own, see
:mod:`~inboxcore.contrib.django.storage`): an event dropped that way is lost to receivers while
its records stay. Call the inbox outside your atomic blocks (``ATOMIC_REQUESTS`` off for the
views that receive mail) to have every event.
"""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal

from inboxcore.domain.events import DomainEvent

__all__ = ["SignalEventSink", "inbox_event"]

inbox_event = Signal()
"""Sent for each committed domain event: ``sender`` is the event's class, ``event`` the event."""


class SignalEventSink:
    """The :class:`~inboxcore.ports.EventSink` that sends :data:`inbox_event` after commit on the
    database alias ``using`` (the alias of the inbox's
    :class:`~inboxcore.contrib.django.storage.DjangoStorage`)."""

    def __init__(self, using: str = "default") -> None:
        self._using = using

    def emit(self, event: DomainEvent) -> None:
        def send() -> None:
            # robust: one failing receiver neither stops the others nor reaches the service
            inbox_event.send_robust(sender=type(event), event=event)

        transaction.on_commit(send, using=self._using)
