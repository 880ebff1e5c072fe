"""Every domain value survives a trip through the converter and JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import InvalidValueError
from inboxcore.domain.ids import AccountId, ChannelId, ConversationId, MessageId
from inboxcore.domain.model import Direction, Message, MessageKind
from inboxcore.domain.serialization import converter
from tests.strategies import ALL_VALUES, ids, utc_datetimes


@pytest.mark.parametrize("kind", list(ALL_VALUES), ids=lambda k: k.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_round_trip_through_json(kind: type[Any], data: st.DataObject) -> None:
    """unstructure -> JSON -> structure gives back an equal value."""
    value = data.draw(ALL_VALUES[kind])
    text = json.dumps(converter.unstructure(value))
    back = converter.structure(json.loads(text), kind)
    assert back == value
    assert converter.unstructure(back) == converter.unstructure(value)


def test_address_keeps_display_name() -> None:
    """The display name, which equality ignores, survives serialization too."""
    address = EmailAddress.parse("Jörg Müller <jorg@example.com>")
    back = converter.structure(converter.unstructure(address), EmailAddress)
    assert back.display_name == "Jörg Müller"


def test_bad_serialized_address_is_a_typed_error() -> None:
    """Garbage where an address belongs raises InvalidValueError, not a crash."""
    with pytest.raises(InvalidValueError):
        converter.structure({"address": "no-at-sign"}, EmailAddress)
    with pytest.raises(InvalidValueError):
        converter.structure(42, EmailAddress)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sender_evidence", "DKIM of customer.example"),
        ("authentication_results", "inboxcore; spf=pass smtp.mailfrom=acme.example; dkim=none"),
    ],
)
def test_a_message_stored_before_a_field_existed_reads_it_as_none(field: str, value: str) -> None:
    """Records written before ``Message.sender_evidence`` (then: unproven, never proven) or
    ``Message.authentication_results`` existed load with None: the SQL store keeps messages as
    JSON documents, so no migration adds them. A kept value reads back."""
    kept: dict[str, Any] = {field: value}
    message = attrs.evolve(
        Message(
            id=MessageId("m1"),
            account_id=AccountId("a"),
            channel_id=ChannelId("c"),
            conversation_id=ConversationId("cv"),
            direction=Direction.INBOUND,
            kind=MessageKind.MESSAGE,
            fingerprint="fp",
            received_at=datetime(2026, 5, 4, tzinfo=UTC),
        ),
        **kept,
    )
    data = converter.unstructure(message)
    assert converter.structure(data, Message) == message
    del data[field]
    unset: dict[str, Any] = {field: None}
    assert converter.structure(data, Message) == attrs.evolve(message, **unset)


def _event_strategies() -> dict[type[Any], st.SearchStrategy[Any]]:
    import typing

    from inboxcore.domain import events, outcomes

    def build(cls: type[Any]) -> st.SearchStrategy[Any]:
        hints = typing.get_type_hints(cls)
        fields: dict[str, st.SearchStrategy[Any]] = {}
        for name, hint in hints.items():
            if hint is datetime:
                fields[name] = utc_datetimes
            elif hint in (str, Any) or getattr(hint, "__supertype__", None) is str:
                fields[name] = ids
            else:
                fields[name] = st.from_type(hint)
        return st.builds(cls, **fields)

    classes = [getattr(events, name) for name in events.__all__ if name != "DomainEvent"]
    classes += [outcomes.Reason]
    return {cls: build(cls) for cls in classes}


EVENTS = _event_strategies()


@pytest.mark.parametrize("kind", list(EVENTS), ids=lambda k: k.__name__)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_events_round_trip_through_json(kind: type[Any], data: st.DataObject) -> None:
    """Every domain event (what hosts forward to webhooks) survives the converter and JSON."""
    value = data.draw(EVENTS[kind])
    back = converter.structure(json.loads(json.dumps(converter.unstructure(value))), kind)
    assert back == value
