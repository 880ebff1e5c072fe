"""The intake pipeline: recipient, size limit, raw store first, duplicates, verdicts, never a crash."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import NotFoundError
from inboxcore.domain.ids import AccountId, ChannelId, ConversationId, MessageId, raw_message_id
from inboxcore.domain.model import (
    Account,
    Channel,
    ChannelState,
    Direction,
    Envelope,
    IntakeSettings,
    Message,
    MessageKind,
    MxRecord,
)
from inboxcore.domain.outcomes import Disposition
from inboxcore.ingest import (
    IntakeConfig,
    IntakeDuplicate,
    IntakePorts,
    channel_for_recipients,
    check_declared_size,
    content_fingerprint,
    ingest,
    read_limited,
    recipient_candidates,
    reprocess,
)
from inboxcore.mail.parsing import parse_message
from inboxcore.policies.recipients import check_recipient
from inboxcore.testing import (
    FakeClock,
    FakeSpamScorer,
    FlakyStorage,
    InMemoryDns,
    InMemoryRawStore,
    InMemoryStorage,
)

T = datetime(2026, 4, 1, 9, 30, tzinfo=UTC)
CHANNEL_ADDRESS = "support-7f3k@acme.inbox.example.net"

CUSTOMER_MAIL = (
    b"From: Ada Lovelace <ada@customer.example>\r\n"
    b"To: support@acme.example\r\n"
    b"Subject: Invoice 1042 is wrong\r\n"
    b"Date: Wed, 01 Apr 2026 09:12:00 +0200\r\n"
    b"Message-ID: <CAF1042@mail.customer.example>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Hello, the invoice lists 12 seats but we have 10.\r\n"
)


def _setup(**intake: object) -> tuple[IntakePorts, Channel]:
    storage, raw_store, clock = InMemoryStorage(), InMemoryRawStore(), FakeClock(T)
    channel = Channel(
        id=ChannelId("chan-1"),
        account_id=AccountId("acme"),
        name="Support",
        forwarding_address=EmailAddress.parse(CHANNEL_ADDRESS),
        created_at=T - timedelta(days=1),
        state=ChannelState.CONNECTED,
        intake=IntakeSettings(**intake),  # type: ignore[arg-type]
    )
    with storage.unit_of_work() as uow:
        uow.accounts.add(Account(id=AccountId("acme"), name="Acme", subdomain="acme"))
        uow.channels.add(channel)
        uow.commit()
    return IntakePorts(storage=storage, raw_store=raw_store, clock=clock), channel


def _envelope(*rcpt: str) -> Envelope:
    return Envelope(
        received_at=T, mail_from="srs0=x@acme.example", rcpt_to=rcpt or (CHANNEL_ADDRESS,)
    )


def test_customer_mail_is_accepted_with_its_original_sender() -> None:
    """A forwarded customer email is accepted, stored raw, and attributed to the customer."""
    ports, channel = _setup()
    result = ingest(CUSTOMER_MAIL, _envelope(), ports=ports)
    assert result.disposition is Disposition.ACCEPTED
    assert str(result.smtp) == "250 2.0.0 Message accepted"
    assert result.channel == channel
    assert result.raw_id == raw_message_id(CUSTOMER_MAIL)
    assert ports.raw_store.get(result.raw_id) == CUSTOMER_MAIL
    assert result.kind is MessageKind.MESSAGE
    assert result.sender is not None
    assert result.sender.sender is not None
    assert result.sender.sender.address == "ada@customer.example"
    assert result.authentication is not None
    assert result.authentication.dmarc == "none"


def test_recipient_matches_case_insensitively_and_ignores_plus_tags() -> None:
    """SUPPORT-7F3K+anything@... selects the channel."""
    ports, _ = _setup()
    result = ingest(
        CUSTOMER_MAIL, _envelope("SUPPORT-7F3K+conv-9@Acme.Inbox.Example.NET"), ports=ports
    )
    assert result.disposition is Disposition.ACCEPTED


def test_unknown_recipient_is_rejected_without_storing() -> None:
    """No channel at the envelope recipient: 550 5.1.1, nothing stored, nothing read."""
    ports, _ = _setup()
    stream = io.BytesIO(CUSTOMER_MAIL)
    result = ingest(stream, _envelope("nobody@acme.inbox.example.net"), ports=ports)
    assert result.disposition is Disposition.REJECTED
    assert (result.smtp.code, result.smtp.enhanced) == (550, "5.1.1")
    assert result.reason_codes == ("unknown_recipient",)
    assert stream.tell() == 0
    assert ports.raw_store.ids() == ()  # type: ignore[attr-defined]


def test_recipient_from_delivery_headers_when_envelope_has_none() -> None:
    """Without envelope recipients, Delivered-To / X-Original-To select the channel."""
    ports, _ = _setup()
    raw = f"X-Original-To: {CHANNEL_ADDRESS}\r\n".encode() + CUSTOMER_MAIL
    result = ingest(raw, Envelope(received_at=T), ports=ports)
    assert result.disposition is Disposition.ACCEPTED
    missing = ingest(CUSTOMER_MAIL, Envelope(received_at=T), ports=ports)
    assert missing.disposition is Disposition.REJECTED
    assert missing.reason_codes == ("unknown_recipient",)


def test_oversize_stream_is_rejected_after_limit_plus_one_bytes() -> None:
    """A stream over the limit is refused (552 5.3.4) after reading limit + 1 bytes, unparsed."""
    ports, _ = _setup(max_message_size=1000)
    stream = io.BytesIO(CUSTOMER_MAIL + b"x" * 5000)
    result = ingest(stream, _envelope(), ports=ports)
    assert result.disposition is Disposition.REJECTED
    assert (result.smtp.code, result.smtp.enhanced) == (552, "5.3.4")
    assert stream.tell() == 1001
    assert result.parsed is None
    assert ports.raw_store.ids() == ()  # type: ignore[attr-defined]


def test_message_at_the_limit_is_accepted() -> None:
    """Exactly the limit is allowed."""
    ports, _ = _setup(max_message_size=len(CUSTOMER_MAIL))
    assert (
        ingest(io.BytesIO(CUSTOMER_MAIL), _envelope(), ports=ports).disposition
        is Disposition.ACCEPTED
    )


def test_default_limit_is_30_mb() -> None:
    """The default limit is 31,457,280 bytes, attachments included."""
    assert IntakeSettings().max_message_size == 31_457_280
    assert read_limited(b"x" * 10, 10) == b"x" * 10
    assert read_limited(io.BytesIO(b"x" * 11), 10) is None


def test_declared_size_can_be_refused_before_reading() -> None:
    """Hosts that know the size up front (SMTP SIZE) get the refusal without sending data."""
    _, channel = _setup(max_message_size=100)
    reply = check_declared_size(101, channel, IntakeConfig())
    assert reply is not None
    assert reply.code == 552
    assert check_declared_size(100, channel, IntakeConfig()) is None
    assert check_declared_size(40_000_000, None, IntakeConfig()) is not None


def test_raw_store_failure_defers_instead_of_losing() -> None:
    """If the raw message cannot be stored, intake defers (451): the sender keeps it and retries."""
    ports, _ = _setup()
    ports.raw_store.fail_next_puts()  # type: ignore[attr-defined]
    result = ingest(CUSTOMER_MAIL, _envelope(), ports=ports)
    assert result.disposition is Disposition.DEFERRED
    assert result.smtp.code == 451


def test_storage_failing_after_the_raw_store_defers_with_the_raw_id() -> None:
    """A storage error inside the pipeline (the duplicate check) defers; the bytes stay stored."""
    ports, _ = _setup()
    flaky = FlakyStorage(ports.storage)
    flaky.fail_next_units(skip=1)  # the channel is found, the duplicate check fails
    result = ingest(CUSTOMER_MAIL, _envelope(), ports=attrs.evolve(ports, storage=flaky))
    assert result.disposition is Disposition.DEFERRED
    assert (result.smtp.code, result.smtp.enhanced) == (451, "4.3.0")
    assert result.reason_codes == ("storage_unavailable",)
    assert result.raw_id == raw_message_id(CUSTOMER_MAIL)
    assert not result.needs_record  # a deferral stands without a record
    (stored,) = ports.raw_store.received(before=T + timedelta(seconds=1))
    assert stored.envelope == _envelope()  # stored with its envelope before anything else


def test_a_stored_message_s_final_reply_needs_its_record() -> None:
    """needs_record: a stored message's 250 is provisional; a refusal before storing is not."""
    ports, _ = _setup()
    assert ingest(CUSTOMER_MAIL, _envelope(), ports=ports).needs_record
    unknown = ingest(CUSTOMER_MAIL, _envelope("nobody@inbox.example.net"), ports=ports)
    assert unknown.disposition is Disposition.REJECTED
    assert not unknown.needs_record


def test_disconnected_channel_rejects_mail_for_its_retired_address() -> None:
    """Mail still forwarded to a disconnected channel is refused, never delivered elsewhere."""
    ports, channel = _setup()
    with ports.storage.unit_of_work() as uow:
        uow.channels.update(attrs.evolve(channel, state=ChannelState.DISCONNECTED))
        uow.commit()
    result = ingest(CUSTOMER_MAIL, _envelope(), ports=ports)
    assert result.disposition is Disposition.REJECTED
    assert result.reason_codes == ("channel_disconnected",)


def test_duplicate_points_at_the_first_message() -> None:
    """A Message-ID the channel already holds yields duplicate, pointing at the stored message."""
    ports, channel = _setup()
    with ports.storage.unit_of_work() as uow:
        uow.messages.add(
            Message(
                id=MessageId("msg-1"),
                account_id=channel.account_id,
                channel_id=channel.id,
                conversation_id=ConversationId("conv-1"),
                direction=Direction.INBOUND,
                kind=MessageKind.MESSAGE,
                fingerprint=content_fingerprint(parse_message(CUSTOMER_MAIL)),
                received_at=T,
                rfc_message_id="CAF1042@mail.customer.example",
            )
        )
        uow.commit()
    result = ingest(CUSTOMER_MAIL, _envelope(), ports=ports)
    assert isinstance(result, IntakeDuplicate)
    assert result.disposition is Disposition.DUPLICATE
    assert result.duplicate_of == "msg-1"
    assert result.smtp.code == 250


def test_fingerprint_ignores_trace_headers_but_not_content() -> None:
    """Two deliveries differing only in Received/Delivered-To share a fingerprint."""
    no_id = CUSTOMER_MAIL.replace(b"Message-ID: <CAF1042@mail.customer.example>\r\n", b"")
    first = parse_message(b"Received: from a by b\r\nDelivered-To: x@y.example\r\n" + no_id)
    second = parse_message(b"Received: from c by d\r\n" + no_id.replace(b"\r\n", b"\n"))
    other = parse_message(no_id.replace(b"12 seats", b"13 seats"))
    assert content_fingerprint(first) == content_fingerprint(second)
    assert content_fingerprint(first) != content_fingerprint(other)


def test_recipient_candidates_are_untagged_keys() -> None:
    """Envelope recipients become lowercase keys without plus-tags, garbage skipped."""
    env = Envelope(received_at=T, rcpt_to=("A+x@B.example", "garbage", "a@b.example"))
    assert recipient_candidates(env, None) == ("a@b.example",)


def test_processing_failure_quarantines_with_raw_id_and_reprocess_works() -> None:
    """A crash inside a stage quarantines the message as internal_error; reprocess runs it again."""
    ports, _ = _setup(spam_quarantine_threshold=5.0)
    broken = FakeSpamScorer()

    def explode(raw: bytes, envelope: Envelope) -> object:
        raise RuntimeError("scorer bug")

    broken.score = explode  # type: ignore[method-assign,assignment]
    result = ingest(CUSTOMER_MAIL, _envelope(), ports=attrs.evolve(ports, spam=broken))
    assert result.disposition is Disposition.QUARANTINED
    assert result.reason_codes == ("internal_error",)
    assert result.raw_id is not None
    assert result.raw_id in result.reasons[0].message
    assert result.smtp.code == 250
    again = reprocess(result.raw_id, _envelope(), ports=ports)
    assert again.disposition is Disposition.ACCEPTED
    with pytest.raises(NotFoundError):
        reprocess(raw_message_id(b"never stored"), _envelope(), ports=ports)


def test_spam_thresholds_quarantine_and_reject() -> None:
    """Scores at the channel's thresholds quarantine or reject; a down scorer never loses mail."""
    ports, _ = _setup(spam_quarantine_threshold=5.0, spam_reject_threshold=15.0)
    scorer = FakeSpamScorer(default=1.0, rules=[(b"12 seats", 6.0)])
    result = ingest(CUSTOMER_MAIL, _envelope(), ports=attrs.evolve(ports, spam=scorer))
    assert result.disposition is Disposition.QUARANTINED
    assert result.reason_codes == ("spam.quarantine",)
    scorer.rules = [(b"12 seats", 20.0)]
    rejected = ingest(CUSTOMER_MAIL, _envelope(), ports=attrs.evolve(ports, spam=scorer))
    assert rejected.disposition is Disposition.REJECTED
    assert rejected.smtp.code == 550
    scorer.fail()
    live = ingest(
        CUSTOMER_MAIL, _envelope(), ports=attrs.evolve(ports, spam=scorer), live_smtp=True
    )
    assert live.disposition is Disposition.DEFERRED
    assert live.smtp.code == 451
    later = ingest(CUSTOMER_MAIL, _envelope(), ports=attrs.evolve(ports, spam=scorer))
    assert later.disposition is Disposition.QUARANTINED


REAL_LOOKING = [
    CUSTOMER_MAIL,
    b"From: MAILER-DAEMON@mx.example\r\nTo: x@y.example\r\nSubject: Undelivered Mail\r\n"
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\n"
    b"Content-Type: text/plain\r\n\r\nfailed\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n"
    b"Reporting-MTA: dns; mx.example\r\n\r\nFinal-Recipient: rfc822; a@b.example\r\nAction: failed\r\n"
    b"Status: 5.1.1\r\n--b--\r\n",
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=2000),
        st.sampled_from(REAL_LOOKING).flatmap(
            lambda raw: st.tuples(
                st.just(raw), st.integers(0, len(raw)), st.binary(max_size=40)
            ).map(lambda t: t[0][: t[1]] + t[2] + t[0][t[1] :])
        ),
    )
)
def test_pipeline_always_returns_a_verdict(raw: bytes) -> None:
    """Arbitrary bytes and mutated real messages always get a verdict, never an exception."""
    ports, _ = _setup()
    result = ingest(raw, _envelope(), ports=ports)
    assert result.disposition in set(Disposition)
    assert 200 <= result.smtp.code < 600


class Trickle(io.RawIOBase):
    """A stream that hands out at most 7 bytes per read, like a slow socket."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self.data[self.consumed : self.consumed + min(7, size if size >= 0 else 7)]
        self.consumed += len(chunk)
        return chunk


def test_trickling_stream_is_read_whole_or_refused_at_limit_plus_one() -> None:
    """Short reads are joined; an oversize trickle stops after exactly limit + 1 bytes."""
    assert read_limited(Trickle(CUSTOMER_MAIL), len(CUSTOMER_MAIL)) == CUSTOMER_MAIL  # type: ignore[arg-type]
    big = Trickle(b"x" * 500)
    assert read_limited(big, 100) is None  # type: ignore[arg-type]
    assert big.consumed == 101


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text("ab ", max_size=12), max_size=12), st.integers(1, 9))
def test_fingerprint_is_line_ending_blind_across_chunks(lines: list[str], chunk: int) -> None:
    """CRLF and LF copies of a message share a fingerprint, whatever the hashing chunk size."""
    import inboxcore.ingest as ingest_module

    body = "".join(line + "\n" for line in lines)
    lf = b"From: a@b.example\nSubject: s\n\n" + body.encode()
    crlf = lf.replace(b"\n", b"\r\n")
    whole = content_fingerprint(parse_message(lf))
    original = ingest_module._HASH_CHUNK
    ingest_module._HASH_CHUNK = chunk
    try:
        assert content_fingerprint(parse_message(crlf)) == whole
        assert content_fingerprint(parse_message(lf)) == whole
    finally:
        ingest_module._HASH_CHUNK = original


class SpentBudgetDns:
    """A budget-capable resolver whose per-message budget is always already spent."""

    def __init__(self) -> None:
        self.budgets: list[float] = []
        self.inner = InMemoryDns({"_dmarc.customer.example": {"TXT": ["v=DMARC1; p=reject"]}})

    def budget(self, seconds: float) -> InMemoryDns:
        self.budgets.append(seconds)
        spent = InMemoryDns()
        for name in ("customer.example", "_dmarc.customer.example", "example"):
            spent.fail(name, "TIMEOUT")
        return spent

    def txt(self, name: str) -> tuple[tuple[bytes, ...], ...]:
        return self.inner.txt(name)

    def a(self, name: str) -> tuple[str, ...]:
        return self.inner.a(name)

    def aaaa(self, name: str) -> tuple[str, ...]:
        return self.inner.aaaa(name)

    def mx(self, name: str) -> tuple[MxRecord, ...]:
        return self.inner.mx(name)

    def ptr(self, name: str) -> tuple[str, ...]:
        return self.inner.ptr(name)

    def cname(self, name: str) -> tuple[str, ...]:
        return self.inner.cname(name)


def test_each_message_gets_a_dns_budget_and_a_spent_one_defers() -> None:
    """Intake takes a budgeted view per message; a spent budget defers, never rejects."""
    ports, _ = _setup()
    dns = SpentBudgetDns()
    budgeted = attrs.evolve(ports, dns=dns)
    result = ingest(
        CUSTOMER_MAIL,
        _envelope(),
        ports=budgeted,
        config=IntakeConfig(dns_budget=3.0),
        live_smtp=True,
    )
    assert dns.budgets == [3.0]
    assert result.disposition is Disposition.DEFERRED
    assert result.smtp.code == 451
    unbudgeted = ingest(
        CUSTOMER_MAIL,
        _envelope(),
        ports=budgeted,
        config=IntakeConfig(dns_budget=None),
        live_smtp=True,
    )
    assert dns.budgets == [3.0]  # no budget asked for
    assert unbudgeted.disposition is Disposition.QUARANTINED  # the real zone: p=reject fails


def test_the_dnspython_adapter_is_budget_capable() -> None:
    """The production resolver offers budgets, so intake bounds each message's DNS time."""
    from inboxcore.adapters.dns_dnspython import DnspythonResolver
    from inboxcore.ports import BudgetedDnsResolver

    resolver = DnspythonResolver()
    assert isinstance(resolver, BudgetedDnsResolver)
    assert not isinstance(InMemoryDns(), BudgetedDnsResolver)


def test_channel_for_recipients_is_the_one_lookup() -> None:
    """Garbage is skipped, case and plus-tags ignored, the first address naming a channel wins."""
    ports, channel = _setup()
    found = channel_for_recipients(
        ports.storage,
        ["not an address", "nobody@acme.example", "SUPPORT-7F3K+x@ACME.inbox.example.net"],
    )
    assert found == channel
    assert channel_for_recipients(ports.storage, ["nobody@acme.example"]) is None
    assert channel_for_recipients(ports.storage, []) is None


@pytest.mark.parametrize(
    "raw", [b"", b"this is not an email at all\r\n", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"]
)
def test_data_with_no_header_fields_is_held_as_not_mail(raw: bytes) -> None:
    """An empty file, prose or an image is kept with a reason saying it is not an email."""
    ports, _ = _setup()
    result = ingest(raw, _envelope(), ports=ports)
    assert result.disposition is Disposition.QUARANTINED
    assert result.reason_codes == ("not_mail",)
    assert result.raw_id is not None


def test_a_header_block_without_a_sender_is_still_no_sender() -> None:
    """Headers but no From, Sender or Reply-To: the message is mail without a contact."""
    ports, _ = _setup()
    result = ingest(
        b"Subject: hello\r\nTo: support@acme.example\r\n\r\nbody\r\n", _envelope(), ports=ports
    )
    assert result.reason_codes == ("no_sender",)


# --- the one rule for recipients: intake and the receiver's RCPT answer alike --------------------


def _disconnect(ports: IntakePorts, channel: Channel) -> None:
    with ports.storage.unit_of_work() as uow:
        uow.channels.update(attrs.evolve(channel, state=ChannelState.DISCONNECTED))
        uow.commit()


@pytest.mark.parametrize(
    ("address", "size", "disconnected", "reply", "reason"),
    [
        (CHANNEL_ADDRESS, None, False, None, None),
        ("SUPPORT-7F3K+tag@acme.inbox.example.net", 5_000, False, None, None),
        ("nobody@acme.example", None, False, "550 5.1.1", "unknown_recipient"),
        ("not an address", None, False, "553 5.1.3", "invalid_recipient"),
        (CHANNEL_ADDRESS, None, True, "550 5.1.1", "channel_disconnected"),
        (CHANNEL_ADDRESS, 5_001, False, "552 5.3.4", "size_limit"),
    ],
)
def test_check_recipient_answers_as_intake_would(
    address: str, size: int | None, disconnected: bool, reply: str | None, reason: str | None
) -> None:
    """Each RCPT answer, and the same refusal intake gives the whole message."""
    ports, channel = _setup(max_message_size=5_000)
    if disconnected:
        _disconnect(ports, channel)
    check = check_recipient(ports.storage, address, size)
    if reply is None:
        assert check.refusal is None
        assert check.channel is not None
        assert check.channel.id == channel.id
        return
    assert check.refusal is not None
    assert str(check.refusal.reply).startswith(reply)
    assert check.refusal.reason.code == reason
    if reason in ("unknown_recipient", "channel_disconnected", "size_limit"):
        body = CUSTOMER_MAIL + b"x" * (size or 0)
        result = ingest(body, _envelope(address), ports=ports)
        assert result.reason_codes[0] == reason
        assert result.smtp == check.refusal.reply


def test_check_recipient_with_storage_down_is_a_temporary_failure() -> None:
    """The sender keeps the message and retries; nothing is refused for good."""
    ports, _ = _setup()
    flaky = FlakyStorage(ports.storage)
    flaky.fail_next_units(1)
    check = check_recipient(flaky, CHANNEL_ADDRESS)
    assert check.refusal is not None
    assert check.refusal.reply.is_temporary_failure
    assert check.refusal.reason.code == "storage_unavailable"


@given(
    st.lists(st.sampled_from([b"a", b":", b" ", b"\r", b"\n", b"\r\n", b"\n\n", b"\r\n\r\n"])).map(
        b"".join
    )
)
def test_the_fingerprint_body_starts_after_the_first_blank_line(raw: bytes) -> None:
    """The bounded search finds what searching the whole message for both kinds finds."""
    from inboxcore.ingest import _fingerprint_body_start

    split, split_lf = raw.find(b"\r\n\r\n"), raw.find(b"\n\n")
    if split < 0 or (0 <= split_lf < split):
        expected = split_lf + 2 if split_lf >= 0 else len(raw)
    else:
        expected = split + 4
    assert _fingerprint_body_start(raw) == expected
