"""Domain events reach Django receivers as ``inbox_event``, only once the database committed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from inboxcore.domain.events import ConversationReopened
from inboxcore.domain.ids import AccountId, ChannelId, ConversationId
from tests.django_support import setup_django

EVENT = ConversationReopened(
    at=datetime(2026, 5, 4, 9, 30, tzinfo=UTC),
    account_id=AccountId("acc-1"),
    channel_id=ChannelId("chan-1"),
    conversation_id=ConversationId("conv-1"),
)


@pytest.fixture
def received() -> Iterator[list[tuple[Any, Any]]]:
    setup_django()
    from inboxcore.contrib.django.signals import inbox_event

    seen: list[tuple[Any, Any]] = []

    def receiver(sender: Any, event: Any, **kwargs: Any) -> None:
        seen.append((sender, event))

    inbox_event.connect(receiver, weak=False)
    try:
        yield seen
    finally:
        inbox_event.disconnect(receiver)


def test_outside_a_transaction_the_signal_is_sent_at_once(received: list[Any]) -> None:
    from inboxcore.contrib.django.signals import SignalEventSink

    SignalEventSink().emit(EVENT)
    assert received == [(ConversationReopened, EVENT)]


def test_inside_an_atomic_block_the_signal_waits_for_the_commit(received: list[Any]) -> None:
    from django.db import transaction

    from inboxcore.contrib.django.signals import SignalEventSink

    with transaction.atomic():
        SignalEventSink().emit(EVENT)
        assert received == []
    assert received == [(ConversationReopened, EVENT)]


def test_a_rolled_back_block_sends_nothing(received: list[Any]) -> None:
    from django.db import transaction

    from inboxcore.contrib.django.signals import SignalEventSink

    class HostFailure(Exception):
        pass

    def host_view() -> None:
        with transaction.atomic():
            SignalEventSink().emit(EVENT)
            raise HostFailure

    with pytest.raises(HostFailure):
        host_view()
    assert received == []


def test_a_failing_receiver_does_not_reach_the_caller(received: list[Any]) -> None:
    from inboxcore.contrib.django.signals import SignalEventSink, inbox_event

    def broken(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("host bug")

    inbox_event.connect(broken, weak=False)
    try:
        SignalEventSink().emit(EVENT)
    finally:
        inbox_event.disconnect(broken)
    assert received == [(ConversationReopened, EVENT)]
