"""Domain records: frozen, UTC-only, derived keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest

from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.ids import AccountId, ChannelId, ContactId, raw_message_id
from inboxcore.domain.model import Channel, Contact, Message, from_name_key
from inboxcore.domain.outcomes import SmtpReply
from tests.strategies import messages

T = datetime(2026, 1, 1, tzinfo=UTC)


def _channel(**kw: object) -> Channel:
    base: dict[str, object] = {
        "id": ChannelId("c"),
        "account_id": AccountId("a"),
        "name": "Support",
        "forwarding_address": EmailAddress.parse("s@x.example"),
        "created_at": T,
    }
    base.update(kw)
    return Channel(**base)  # type: ignore[arg-type]


def test_records_are_frozen() -> None:
    """Assigning to a record's field raises."""
    channel = _channel()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        channel.name = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    "when", [datetime(2026, 1, 1), datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=2)))]
)
def test_naive_and_non_utc_times_are_refused(when: datetime) -> None:
    """Only timezone-aware UTC datetimes are accepted."""
    with pytest.raises(ValueError, match="UTC"):
        Contact(
            id=ContactId("x"),
            account_id=AccountId("a"),
            email=EmailAddress.parse("a@b.example"),
            created_at=when,
        )


def test_from_name_key_folds_case_width_and_spaces() -> None:
    """'Acme Support', ' acme  SUPPORT' and full-width forms share one key."""
    assert (
        from_name_key("Acme Support")
        == from_name_key(" acme  SUPPORT")
        == from_name_key("Ａｃｍｅ Support")
    )
    assert from_name_key("Straße") == from_name_key("STRASSE")
    assert _channel(company_name="Acme  Support").from_name_key == "acme support"


def test_ticket_properties_are_read_only() -> None:
    """A record's mapping cannot be mutated behind its back."""
    channel = _channel()
    with pytest.raises(TypeError):
        channel.tickets.template.properties["x"] = 1  # type: ignore[index]


def test_dedup_key_prefers_message_id() -> None:
    """A message is unique by Message-ID, else by content fingerprint."""
    from hypothesis import given

    @given(messages)
    def check(message: Message) -> None:
        if message.rfc_message_id:
            assert message.dedup_key == f"mid:{message.rfc_message_id}"
        else:
            assert message.dedup_key == f"fp:{message.fingerprint}"

    check()


def test_raw_message_id_is_sha256_hex() -> None:
    """The raw id is the SHA-256 of the bytes."""
    assert raw_message_id(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_smtp_reply_is_one_line_with_a_valid_code() -> None:
    """SMTP replies refuse line breaks and impossible codes; they know their class."""
    reply = SmtpReply(code=552, enhanced="5.3.4", text="Message too big")
    assert str(reply) == "552 5.3.4 Message too big"
    assert reply.is_permanent_failure
    assert SmtpReply(code=451, enhanced="4.7.0", text="later").is_temporary_failure
    with pytest.raises(ValueError):
        SmtpReply(code=250, enhanced="2.0.0", text="ok\r\n250 forged")
    with pytest.raises(ValueError):
        SmtpReply(code=99, enhanced="2.0.0", text="ok")
