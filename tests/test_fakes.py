"""The shipped fakes are deterministic, inspectable and can fail on demand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import InvalidValueError, PortError, TransportError
from inboxcore.domain.events import TicketCreated
from inboxcore.domain.ids import AccountId, ChannelId, ConversationId, TeamId, TicketId, UserId
from inboxcore.domain.model import Envelope, OutboundMail, SendResult, SendStatus, Team, User
from inboxcore.testing import (
    FakeClock,
    FakeDirectory,
    FakeSpamScorer,
    RecordingEventSink,
    RecordingTransport,
    SequentialIds,
)

T = datetime(2026, 1, 1, tzinfo=UTC)


def test_clock_moves_only_when_told() -> None:
    """FakeClock stays put, advances forward only, and refuses naive times."""
    clock = FakeClock(T)
    assert clock.now() == T
    assert clock.advance(timedelta(hours=1)) == T + timedelta(hours=1)
    with pytest.raises(InvalidValueError):
        clock.advance(timedelta(seconds=-1))
    with pytest.raises(InvalidValueError):
        clock.set(datetime(2026, 1, 1))


def test_ids_are_sequential_per_kind_and_tokens_repeat_per_seed() -> None:
    """SequentialIds counts per kind; token bytes depend only on the seed."""
    ids = SequentialIds()
    assert [ids.new_id("contact"), ids.new_id("contact"), ids.new_id("ticket")] == [
        "contact-1",
        "contact-2",
        "ticket-1",
    ]
    assert SequentialIds(7).token_bytes(16) == SequentialIds(7).token_bytes(16)
    assert SequentialIds(7).token_bytes(16) != SequentialIds(8).token_bytes(16)


def test_transport_records_and_scripts_refusals() -> None:
    """sent holds accepted mail; refuse_next and break_next script the next sends."""
    transport = RecordingTransport()
    mail = OutboundMail(mail_from="a@x.example", rcpt_to=("b@y.example",), data=b"x")
    assert transport.send(mail).status is SendStatus.ACCEPTED
    refusal = SendResult(status=SendStatus.PERMANENT_FAILURE, smtp_code=550, detail="no such user")
    transport.refuse_next(refusal)
    assert transport.send(mail) == refusal
    transport.break_next()
    with pytest.raises(TransportError):
        transport.send(mail)
    assert transport.sent == [mail]


def test_directory_presence_requires_an_active_known_user() -> None:
    """is_available is true only for known, active users marked available."""
    ada = User(
        id=UserId("u1"), account_id=AccountId("a"), email=EmailAddress.parse("Ada@x.example")
    )
    gone = User(
        id=UserId("u2"),
        account_id=AccountId("a"),
        email=EmailAddress.parse("g@x.example"),
        active=False,
    )
    directory = FakeDirectory(
        users=[ada, gone],
        teams=[
            Team(id=TeamId("t"), account_id=AccountId("a"), name="T", member_ids=(UserId("u1"),))
        ],
    )
    directory.set_available(UserId("u1"))
    directory.set_available(UserId("u2"))
    directory.set_available(UserId("ghost"))
    assert directory.is_available(UserId("u1"))
    assert not directory.is_available(UserId("u2"))
    assert not directory.is_available(UserId("ghost"))
    assert directory.user_by_email(AccountId("a"), "ada@x.example") == ada
    assert directory.team(TeamId("t")) is not None
    assert len(directory.users(AccountId("a"))) == 2
    directory.set_available(UserId("u1"), False)
    assert not directory.is_available(UserId("u1"))


def test_event_sink_filters_by_type() -> None:
    """of_type returns the events of one class in order."""
    sink = RecordingEventSink()
    event = TicketCreated(
        at=T,
        account_id=AccountId("a"),
        channel_id=ChannelId("c"),
        ticket_id=TicketId("t"),
        conversation_id=ConversationId("v"),
    )
    sink.emit(event)
    assert sink.of_type(TicketCreated) == [event]
    assert sink.events == [event]


def test_spam_scorer_rules_and_failure() -> None:
    """FakeSpamScorer scores by substring and can be made unavailable."""
    scorer = FakeSpamScorer(default=1.0, rules=[(b"VIAGRA", 15.0)])
    env = Envelope(received_at=T)
    assert scorer.score(b"buy VIAGRA", env).score == 15.0
    assert scorer.score(b"hello", env).score == 1.0
    scorer.fail()
    with pytest.raises(PortError):
        scorer.score(b"hello", env)
