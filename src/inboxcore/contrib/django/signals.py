"""Domain events as a Django signal, sent once the database has committed.

:data:`inbox_event` is sent with ``sender`` the event's class and ``event`` the
:class:`~inboxcore.domain.events.DomainEvent`::

    from django.dispatch import receiver
    from inboxcore.contrib.django.signals import inbox_event
    from inboxcore.domain.events import MessageReceived

    @receiver(inbox_event, sender=MessageReceived)
    def notify(sender, event, **kwargs): ...

The service hands an event to :class:`SignalEventSink` after the unit of work that made it
committed. The sink still goes through ``transaction.on_commit`` on the storage's alias: when the
host calls the inbox inside an atomic block of its own, the signal waits for that block to commit,
so a receiver's writes to the host's tables commit (or roll back) with the host's, and a receiver
never sees an event from a block that rolled back. Outside an atomic block it is sent at once.
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
