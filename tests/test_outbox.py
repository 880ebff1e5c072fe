"""The outbox end to end: replies that thread back in, refusals, retries, DKIM, owner mail."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import attrs
import pytest

from inboxcore.app.outbox import Outbox
from inboxcore.app.service import Delivery, InboxConfig, InboxService
from inboxcore.auth.dkim_verify import verify_dkim
from inboxcore.channels import HostedDomainConfig
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import (
    ConfigurationError,
    InvalidTransition,
    InvalidValueError,
    MessageTooLarge,
    NotFoundError,
)
from inboxcore.domain.events import (
    DeliveryFailed,
    MessageAppended,
    OwnerNotified,
    TicketStatusChanged,
)
from inboxcore.domain.ids import AccountId, ChannelId, ContactId, ConversationId, UserId
from inboxcore.domain.model import (
    Account,
    Channel,
    ChannelState,
    Contact,
    Conversation,
    DeliveryStatus,
    Direction,
    Envelope,
    Message,
    MessageKind,
    RoutingMode,
    RoutingSettings,
    SendResult,
    SendStatus,
    SignatureSettings,
    Ticket,
    TicketStatus,
    User,
)
from inboxcore.domain.outcomes import Disposition
from inboxcore.policies.outbound import OutboundAttachment, OutboundConfig, reply_return_path
from inboxcore.policies.threads import BOUNCE_TAG_HEADER
from inboxcore.testing import (
    FakeClock,
    FakeDirectory,
    InMemoryDkimKeys,
    InMemoryDns,
    InMemoryRawStore,
    InMemoryStorage,
    RecordingEventSink,
    RecordingTransport,
    SequentialIds,
    generate_rsa_key,
)

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
ADDRESS = "support-7f3k@acme.inbox.example.net"
ACME = AccountId("acme")
KEYS = (b"conversation-key-0123456789",)
INBOX_CONFIG = InboxConfig(conversation_keys=KEYS, message_id_domain="acme.inbox.example.net")
ZOE = User(
    id=UserId("u1"),
    account_id=ACME,
    email=EmailAddress.parse("zoe@acme.example"),
    first_name="Zoë",
    last_name="Åberg",
)
OWEN = User(
    id=UserId("u2"),
    account_id=ACME,
    email=EmailAddress.parse("owen@acme.example"),
    first_name="Owen",
    last_name="Price",
)


HOSTED_KEY = generate_rsa_key("hd1")


@attrs.define
class World:
    service: InboxService
    outbox: Outbox
    storage: InMemoryStorage
    raw_store: InMemoryRawStore
    clock: FakeClock
    directory: FakeDirectory
    events: RecordingEventSink
    transport: RecordingTransport
    keys: InMemoryDkimKeys


def world(*, dkim: bool = False, dns: InMemoryDns | None = None, **channel_changes: Any) -> World:
    storage, raw_store, clock = InMemoryStorage(), InMemoryRawStore(), FakeClock(T0)
    directory = FakeDirectory(users=[ZOE, OWEN], available=[ZOE.id])
    events, transport, ids = RecordingEventSink(), RecordingTransport(), SequentialIds()
    channel = Channel(
        id=ChannelId("chan-1"),
        account_id=ACME,
        name="Support",
        forwarding_address=EmailAddress.parse(ADDRESS),
        created_at=T0 - timedelta(days=1),
        state=ChannelState.CONNECTED,
        mailbox_addresses=(EmailAddress.parse("support@acme.example"),),
        company_name="Acme Support",
        signature=SignatureSettings(html="<p>{agent.full_name}<br>{company}</p>"),
    )
    channel = attrs.evolve(channel, **channel_changes)
    with storage.unit_of_work() as uow:
        uow.accounts.add(Account(id=ACME, name="Acme", subdomain="acme"))
        uow.channels.add(channel)
        uow.commit()
    keys = InMemoryDkimKeys({"inbox.example.net": [HOSTED_KEY]})
    outbox = Outbox(
        storage=storage,
        raw_store=raw_store,
        transport=transport,
        clock=clock,
        ids=ids,
        directory=directory,
        events=events,
        config=OutboundConfig(
            hosting=HostedDomainConfig(hosted_domain="inbox.example.net"),
            threading=INBOX_CONFIG.threading,
            conversation_url_template="https://app.example.com/inbox/{conversation_id}",
        ),
        dkim_keys=keys if dkim else None,
    )
    service = InboxService(
        storage=storage,
        raw_store=raw_store,
        clock=clock,
        ids=ids,
        directory=directory,
        events=events,
        config=INBOX_CONFIG,
        outbox=outbox,
        dns=dns,
    )
    return World(service, outbox, storage, raw_store, clock, directory, events, transport, keys)


def customer_mail(
    *,
    subject: str = "Invoice 1042 is wrong",
    message_id: str = "<m1@customer.example>",
    extra: str = "",
    to: str = "support@acme.example",
    sender: str = "Ada Lovelace <ada@customer.example>",
    body: str = "Hello, the invoice lists 12 seats but we have 10.",
) -> bytes:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Date: Mon, 04 May 2026 09:00:00 +0200\r\nMessage-ID: {message_id}\r\n{extra}"
        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def forwarded(rcpt: str = ADDRESS, mail_from: str = "srs0=x@acme.example") -> Envelope:
    return Envelope(received_at=T0, mail_from=mail_from, rcpt_to=(rcpt,))


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def start(w: World, **kw: Any) -> ConversationId:
    delivery = w.service.receive(customer_mail(**kw), forwarded())
    assert delivery.disposition is Disposition.ACCEPTED
    assert delivery.conversation_id is not None
    return delivery.conversation_id


def test_reply_round_trip_threads_back_into_the_same_conversation() -> None:
    """The customer's answer to our reply (to its Reply-To, quoting its Message-ID) joins it."""
    w = world()
    cid = start(w)
    outcome = w.outbox.send_reply(cid, ZOE.id, text="Hello Ada,\n\nfixed: 10 seats.")
    assert outcome.status is DeliveryStatus.SENT
    (sent,) = w.transport.sent
    ours = parse(sent.data)
    w.clock.advance(timedelta(hours=3))
    answer = customer_mail(
        subject=str(ours["Subject"]),
        message_id="<m2@customer.example>",
        to=str(ours["Reply-To"]),
        extra=f"In-Reply-To: {ours['Message-ID']}\r\nReferences: <m1@customer.example> "
        f"{ours['Message-ID']}\r\n",
        body="Thanks, that's right now.",
    )
    reply_to = EmailAddress.parse(str(ours["Reply-To"])).address
    delivery = w.service.receive(answer, forwarded(rcpt=reply_to, mail_from="ada@customer.example"))
    assert delivery.disposition is Disposition.ACCEPTED
    assert delivery.conversation_id == cid
    assert delivery.thread is not None
    assert delivery.thread.reason == "reply"
    (ticket,) = w.storage.records(Ticket)
    assert ticket.status is TicketStatus.WAITING_ON_US
    directions = [m.direction for m in w.storage.records(Message)]
    assert directions == [Direction.INBOUND, Direction.OUTBOUND, Direction.INBOUND]


def test_answer_that_lost_its_headers_threads_by_the_reply_to_token() -> None:
    """Without In-Reply-To/References and with a new subject, the tagged address still threads."""
    w = world()
    cid = start(w)
    w.outbox.send_reply(cid, ZOE.id, text="Which seats?")
    reply_to = parse(w.transport.sent[0].data)["Reply-To"]
    address = EmailAddress.parse(str(reply_to)).address
    answer = customer_mail(subject="seats", message_id="<m3@customer.example>", to=address)
    delivery = w.service.receive(answer, forwarded(rcpt=address, mail_from="ada@customer.example"))
    assert delivery.conversation_id == cid
    assert delivery.thread is not None
    assert delivery.thread.matched_by.value == "token"


def bounce_of(sent: bytes, *, status: str = "5.1.1") -> bytes:
    """What the customer's mail server sends back: a DSN quoting our reply's headers."""
    headers = sent.split(b"\r\n\r\n", 1)[0].decode()
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>\r\n"
        "To: whoever@example.net\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <dsn-{status}@mx.customer.example>\r\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\nThe mailbox is unknown.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        f"Final-Recipient: rfc822; ada@customer.example\r\nAction: failed\r\nStatus: {status}\r\n"
        f"\r\n--b\r\nContent-Type: text/rfc822-headers\r\n\r\n{headers}\r\n\r\n--b--\r\n"
    ).encode()


def test_a_real_bounce_of_our_reply_comes_back_to_its_return_path_and_fails_it() -> None:
    """The reply goes out from its signed bounce address; the DSN sent there marks it failed
    in its conversation. The same DSN without our headers, to the plain address, changes
    nothing."""
    w = world()
    cid = start(w)
    outcome = w.outbox.send_reply(cid, ZOE.id, text="Hello Ada")
    (sent,) = w.transport.sent
    assert EmailAddress.parse(sent.mail_from).tag is not None
    forged = bounce_of(b"Message-ID: <" + outcome.rfc_message_id.encode() + b">")
    spoof = w.service.receive(forged, forwarded(mail_from=""))
    assert spoof.conversation_id != cid
    assert w.events.of_type(DeliveryFailed) == []
    real = w.service.receive(bounce_of(sent.data, status="5.2.1"), forwarded(rcpt=sent.mail_from))
    assert real.conversation_id == cid
    (failed,) = w.events.of_type(DeliveryFailed)
    assert (failed.message_id, failed.status) == (outcome.message_id, "5.2.1")


def test_reply_is_recorded_and_moves_the_ticket() -> None:
    """The outbound message is stored SENT with the raw bytes; the ticket waits on the contact."""
    w = world()
    cid = start(w)
    w.events.events.clear()
    outcome = w.outbox.send_reply(cid, ZOE.id, text="On it.")
    outbound = [m for m in w.storage.records(Message) if m.direction is Direction.OUTBOUND]
    (message,) = outbound
    assert message.delivery_status is DeliveryStatus.SENT
    assert message.author_id == ZOE.id
    assert message.rfc_message_id == outcome.rfc_message_id
    assert message.in_reply_to == "m1@customer.example"
    assert message.to == (EmailAddress.parse("ada@customer.example"),)
    assert message.raw_id is not None
    assert w.raw_store.get(message.raw_id) == w.transport.sent[0].data
    (ticket,) = w.storage.records(Ticket)
    assert ticket.status is TicketStatus.WAITING_ON_CONTACT
    assert [type(e) for e in w.events.events] == [MessageAppended, TicketStatusChanged]
    assert outcome.message_id == message.id


def test_permanent_refusal_marks_the_reply_failed_with_an_event() -> None:
    """A 550 makes the message FAILED and emits DeliveryFailed with the enhanced status code."""
    w = world()
    cid = start(w)
    w.transport.refuse_next(
        SendResult(
            status=SendStatus.PERMANENT_FAILURE,
            smtp_code=550,
            detail="5.1.1 <ada@customer.example>: user unknown",
        )
    )
    outcome = w.outbox.send_reply(cid, ZOE.id, text="Hello")
    assert outcome.status is DeliveryStatus.FAILED
    (failed,) = w.events.of_type(DeliveryFailed)
    assert failed.status == "5.1.1"
    assert failed.message_id == outcome.message_id
    stored = [m for m in w.storage.records(Message) if m.direction is Direction.OUTBOUND]
    assert stored[0].delivery_status is DeliveryStatus.FAILED
    assert stored[0].delivery_detail is not None
    assert "user unknown" in stored[0].delivery_detail


def test_temporary_refusal_stays_queued_and_a_retry_sends_the_same_message() -> None:
    """A 451 leaves the reply QUEUED; retry() sends the stored bytes, same Message-ID."""
    w = world()
    cid = start(w)
    w.transport.refuse_next(
        SendResult(status=SendStatus.TEMPORARY_FAILURE, smtp_code=451, detail="4.7.1 try later")
    )
    outcome = w.outbox.send_reply(cid, ZOE.id, text="Hello")
    assert outcome.status is DeliveryStatus.QUEUED
    assert w.transport.sent == []
    assert outcome.message_id is not None
    w.clock.advance(timedelta(minutes=10))
    again = w.outbox.retry(outcome.message_id)
    assert again.status is DeliveryStatus.SENT
    (sent,) = w.transport.sent
    assert parse(sent.data)["Message-ID"] == f"<{outcome.rfc_message_id}>"
    assert sent.rcpt_to == ("ada@customer.example",)
    # The same signed bounce address as the first attempt: a late report of either proves it.
    channel = w.storage.records(Channel)[0]
    assert sent.mail_from == reply_return_path(channel, outcome.message_id, w.outbox.config)
    assert parse(sent.data)[BOUNCE_TAG_HEADER] == EmailAddress.parse(sent.mail_from).tag
    with pytest.raises(InvalidTransition):
        w.outbox.retry(outcome.message_id)
    assert w.events.of_type(DeliveryFailed) == []


def test_unknown_transport_outcome_keeps_the_reply_queued() -> None:
    """A TransportError (outcome unknown) is recorded, not raised: the reply stays QUEUED."""
    w = world()
    cid = start(w)
    w.transport.break_next()
    outcome = w.outbox.send_reply(cid, ZOE.id, text="Hello")
    assert outcome.status is DeliveryStatus.QUEUED
    assert outcome.result is None
    assert "outcome unknown" in outcome.detail


def test_reply_is_dkim_signed_by_the_hosted_domain_and_verifies() -> None:
    """With the host's keys, the default-address reply carries a passing d=inbox.example.net."""
    w = world(dkim=True)
    cid = start(w)
    outcome = w.outbox.send_reply(cid, ZOE.id, text="Signed.")
    assert outcome.signed_by == "inbox.example.net"
    dns = InMemoryDns(w.keys.dns_records())
    (result,) = verify_dkim(w.transport.sent[0].data, dns, now=T0)
    assert result.result == "pass"


def test_unreadable_dkim_keys_hold_the_reply_back() -> None:
    """A key store that fails leaves the reply QUEUED and unsent, never sent unsigned silently."""
    w = world(dkim=True)
    cid = start(w)
    w.keys.fail_next_lookups()
    outcome = w.outbox.send_reply(cid, ZOE.id, text="Signed.")
    assert outcome.status is DeliveryStatus.QUEUED
    assert w.transport.sent == []
    assert outcome.message_id is not None
    assert w.outbox.retry(outcome.message_id).status is DeliveryStatus.SENT


def test_refused_requests_store_and_send_nothing() -> None:
    """Unknown agent, disconnected channel, oversize attachment: raised before any record."""
    w = world()
    cid = start(w)
    before = len(w.storage.records(Message))
    with pytest.raises(NotFoundError):
        w.outbox.send_reply(cid, UserId("nobody"), text="x")
    big = OutboundAttachment(filename="dump.bin", data=b"\0" * (20 * 1024 * 1024 + 1))
    with pytest.raises(MessageTooLarge):
        w.outbox.send_reply(cid, ZOE.id, text="x", attachments=[big])
    w.directory.add_user(attrs.evolve(OWEN, active=False))
    with pytest.raises(InvalidValueError):
        w.outbox.send_reply(cid, OWEN.id, text="x")
    with w.storage.unit_of_work() as uow:
        uow.channels.update(
            attrs.evolve(uow.channels.get(ChannelId("chan-1")), state=ChannelState.DISCONNECTED)
        )
        uow.commit()
    with pytest.raises(InvalidTransition):
        w.outbox.send_reply(cid, ZOE.id, text="x")
    assert len(w.storage.records(Message)) == before
    assert w.transport.sent == []


def test_our_own_reply_coming_back_is_a_loop() -> None:
    """Our reply fed back to the channel (a forwarding rule, a bounce-back) never becomes work."""
    w = world()
    cid = start(w)
    w.outbox.send_reply(cid, ZOE.id, text="Hello")
    ours = w.transport.sent[0].data
    # As a forwarding mailbox would pass it on: same headers, a new Message-ID on the way.
    relayed = ours.replace(b"Message-ID: <", b"Message-ID: <relayed.", 1)
    delivery = w.service.receive(relayed, forwarded())
    assert delivery.intake.classification is not None
    assert delivery.intake.classification.kind is MessageKind.LOOP
    assert delivery.disposition is not Disposition.ACCEPTED
    assert delivery.reason_codes == ("loop.own_header",)
    (ticket,) = w.storage.records(Ticket)
    assert ticket.status is TicketStatus.WAITING_ON_CONTACT


def owner_world(dns: InMemoryDns | None = None) -> tuple[World, ContactId]:
    w = world(dns=dns, routing=RoutingSettings(mode=RoutingMode.CONTACT_OWNER))
    contact = Contact(
        id=ContactId("c-ada"),
        account_id=ACME,
        email=EmailAddress.parse("ada@customer.example"),
        created_at=T0 - timedelta(days=30),
        name="Ada Lovelace",
        owner_id=OWEN.id,  # Owen is offline
    )
    with w.storage.unit_of_work() as uow:
        uow.contacts.add(contact)
        uow.commit()
    return w, contact.id


def test_offline_owner_is_emailed_after_commit() -> None:
    """Routing to an offline owner sends the notification: content, link, auto headers, loop."""
    w, _ = owner_world()
    cid = start(w)
    assert w.events.of_type(OwnerNotified)
    (note,) = w.transport.sent
    assert note.rcpt_to == ("owen@acme.example",)
    message = parse(note.data)
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Auto-Response-Suppress"] == "All"
    assert message["X-Inboxcore-Loop"] == "chan-1"
    assert str(message["Subject"]) == "New conversation from Ada Lovelace: Invoice 1042 is wrong"
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert f"https://app.example.com/inbox/{cid}" in text
    assert "> Hello, the invoice lists 12 seats but we have 10." in text


def _owner_answer(client_ip: str) -> tuple[World, ConversationId, Delivery]:
    """Owen answers the notification by mail, from ``client_ip`` (acme.example's SPF lists
    192.0.2.0/24, its DMARC asks for no action)."""
    zone = {
        "acme.example": {"TXT": ["v=spf1 ip4:192.0.2.0/24 -all"]},
        "_dmarc.acme.example": {"TXT": ["v=DMARC1; p=none"]},
    }
    w, _ = owner_world(dns=InMemoryDns(zone))
    cid = start(w)
    note = parse(w.transport.sent[0].data)
    reply_to = EmailAddress.parse(str(note["Reply-To"])).address
    answer = customer_mail(
        sender="Owen Price <owen@acme.example>",
        subject=f"Re: {note['Subject']}",
        message_id="<o1@acme.example>",
        to=reply_to,
        extra=f"In-Reply-To: {note['Message-ID']}\r\nReferences: {note['Message-ID']}\r\n",
        body="I'll call Ada this afternoon.\r\n\r\n> started a new conversation",
    )
    envelope = Envelope(
        received_at=T0, mail_from="owen@acme.example", rcpt_to=(reply_to,), client_ip=client_ip
    )
    return w, cid, w.service.receive(answer, envelope)


def test_forged_owner_reply_is_not_the_owners() -> None:
    """Owen's From forged from a server acme.example's SPF does not list: not his message."""
    w, _, delivery = _owner_answer("203.0.113.66")
    assert delivery.disposition is Disposition.ACCEPTED
    assert w.storage.records(Message)[-1].author_id is None
    assert "sender.team_unauthenticated" in delivery.reason_codes


def test_owner_reply_to_the_notification_threads_as_the_owners_message() -> None:
    """The owner (an agent, proven by SPF) answers the notification; it joins the conversation."""
    w, cid, delivery = _owner_answer("192.0.2.10")
    assert delivery.disposition is Disposition.ACCEPTED
    assert delivery.conversation_id == cid
    assert delivery.thread is not None
    assert delivery.thread.reason == "reply"
    stored = w.storage.records(Message)
    assert stored[-1].author_id == OWEN.id
    assert stored[-1].conversation_id == cid


def test_failed_owner_notification_never_fails_the_intake() -> None:
    """The transport breaking on the notification leaves the customer's message accepted."""
    w, _ = owner_world()
    w.transport.break_next()
    delivery = w.service.receive(customer_mail(), forwarded())
    assert delivery.disposition is Disposition.ACCEPTED
    assert w.transport.sent == []
    w2, _ = owner_world()
    w2.directory.add_user(attrs.evolve(OWEN, first_name="Owen\r\nBcc: x@evil.example"))
    assert w2.service.receive(customer_mail(), forwarded()).disposition is Disposition.ACCEPTED
    assert w2.transport.sent == []


def test_service_refuses_an_outbox_with_other_threading_settings() -> None:
    """An outbox whose keys or Message-ID domain differ from the service's fails at wiring."""
    w = world()
    for other in (
        InboxConfig(conversation_keys=KEYS, message_id_domain="other.example.net"),
        InboxConfig(conversation_keys=(b"another-key-0123456789",), message_id_domain="x.net"),
    ):
        with pytest.raises(ConfigurationError) as caught:
            InboxService(
                storage=w.storage,
                raw_store=w.raw_store,
                clock=w.clock,
                ids=SequentialIds(),
                directory=w.directory,
                events=w.events,
                config=other,
                outbox=w.outbox,
            )
        assert [p.code for p in caught.value.problems] == ["outbound.threading_mismatch"]


def test_service_accepts_its_own_threading_however_the_domain_is_spelt() -> None:
    """InboxConfig.threading normalises the domain, so the same settings always match."""
    w = world()
    config = InboxConfig(conversation_keys=KEYS, message_id_domain="ACME.Inbox.Example.Net")
    assert config.threading == w.outbox.config.threading
    service = InboxService(
        storage=w.storage,
        raw_store=w.raw_store,
        clock=w.clock,
        ids=SequentialIds(),
        directory=w.directory,
        events=w.events,
        config=config,
        outbox=w.outbox,
    )
    assert service.outbox is w.outbox


@pytest.mark.parametrize(
    ("subject", "kept"),
    [
        ("Contact form: Ada Lovelace", "Contact form: Ada Lovelace"),
        (
            "=?utf-8?q?Contact_form=0D=0ABcc=3A_victim=40attacker.example?=",
            "Contact form Bcc: victim@attacker.example",
        ),
    ],
)
def test_web_form_subject_with_encoded_line_break_is_kept_without_it(
    subject: str, kept: str
) -> None:
    """A subject whose encoded words hold CR LF (web forms) is stored without them, and the
    owner notification and the default reply still compose and go to the right people only."""
    w, _ = owner_world()
    cid = start(w, subject=subject)
    (conversation,) = w.storage.records(Conversation)
    assert conversation.subject == kept
    assert [m.subject for m in w.storage.records(Message)] == [kept]
    (note,) = w.transport.sent
    assert note.rcpt_to == ("owen@acme.example",)
    # .strip(): the email package folds a long subject onto its own line and reads it back
    # with the space of the fold.
    assert str(parse(note.data)["Subject"]).strip() == f"New conversation from Ada Lovelace: {kept}"
    outcome = w.outbox.send_reply(cid, ZOE.id, text="Hello Ada,\n\nthanks for writing.")
    assert outcome.status is DeliveryStatus.SENT
    reply = w.transport.sent[-1]
    assert reply.rcpt_to == ("ada@customer.example",)
    message = parse(reply.data)
    assert str(message["Subject"]).strip() == f"Re: {kept}"
    assert message["Bcc"] is None
    assert message["Cc"] is None


@pytest.mark.parametrize(
    ("cc", "kept"),
    [
        ("Bob <bob@customer.example>, x@y.example", ["bob@customer.example", "x@y.example"]),
        (
            "=?utf-8?q?Bob=0D=0ABcc=3A_x=40y.example?= <bob@customer.example>",
            ["bob@customer.example"],
        ),
    ],
)
def test_an_encoded_line_break_in_a_cc_name_adds_no_cc(cc: str, kept: list[str]) -> None:
    """``Bob\\r\\nBcc: x@y`` encoded in a Cc name is Bob's name: the stored message lists Bob
    alone, with the name on one line; a real second Cc (the twin) is kept."""
    w = world()
    start(w, extra=f"Cc: {cc}\r\n")
    (stored,) = w.storage.records(Message)
    assert [a.address for a in stored.cc] == kept
    assert all("\n" not in (a.display_name or "") for a in stored.cc)
