"""The inbox service end to end through inboxcore.testing: conversations, routing, tickets, events."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import attrs
import pytest

from inboxcore.app.outbox import Outbox
from inboxcore.app.service import Delivery, InboxConfig, InboxService
from inboxcore.channels import HostedDomainConfig
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import InvalidValueError, NotFoundError
from inboxcore.domain.events import (
    ChannelStateChanged,
    ConversationAssigned,
    ConversationCreated,
    DeliveryFailed,
    ForwardingConfirmationReceived,
    MessageAppended,
    MessageDiscarded,
    MessageQuarantined,
    MessageRejected,
    OwnerNotified,
    TicketCreated,
)
from inboxcore.domain.ids import (
    AccountId,
    ChannelId,
    ContactId,
    MessageId,
    RawMessageId,
    TeamId,
    UserId,
    raw_message_id,
)
from inboxcore.domain.model import (
    Account,
    Channel,
    ChannelState,
    Contact,
    Conversation,
    ConversationKind,
    DeliveryStatus,
    Direction,
    Envelope,
    IntakeRecord,
    IntakeSettings,
    Message,
    MessageKind,
    RoutingMode,
    RoutingSettings,
    Team,
    Ticket,
    TicketSettings,
    User,
)
from inboxcore.domain.outcomes import Disposition
from inboxcore.ingest import IntakeDuplicate
from inboxcore.policies.outbound import OutboundConfig
from inboxcore.policies.threads import (
    BOUNCE_TAG_HEADER,
    ThreadAction,
    bounce_address,
    bounce_signer,
    make_bounce_tag,
    make_conversation_token,
)
from inboxcore.ports import Storage
from inboxcore.testing import (
    FakeClock,
    FakeDirectory,
    FakeSpamScorer,
    FlakyStorage,
    InMemoryDns,
    InMemoryRawStore,
    InMemoryStorage,
    RecordingEventSink,
    RecordingTransport,
    SequentialIds,
)
from tests.test_dkim_verify import rsa_key, sign

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
ADDRESS = "support-7f3k@acme.inbox.example.net"
ACME = AccountId("acme")
AGENTS = [
    User(
        id=UserId(f"u{i}"),
        account_id=ACME,
        email=EmailAddress.parse(f"agent{i}@acme.example"),
        first_name=f"Agent{i}",
    )
    for i in (1, 2, 3)
]


PROVEN_ZONE = {
    "acme.example": {"TXT": ["v=spf1 ip4:192.0.2.0/24 -all"]},
    "google.com": {"TXT": ["v=spf1 ip4:209.85.128.0/17 -all"]},
}
"""Where the team's and Google's mail comes from: SPF proves the team's own (and Google's) mail."""
TEAM_IP = "192.0.2.10"
GOOGLE_IP = "209.85.220.69"

R = TypeVar("R")


class ScenarioStorage(Storage, Protocol):
    """What the scenarios need of a backend: the port, inspection, and commit failures."""

    def records(self, kind: type[R]) -> tuple[R, ...]: ...
    def intake_records(self) -> tuple[IntakeRecord, ...]: ...
    def fail_next_commits(self, count: int = 1, error: BaseException | None = None) -> None: ...


def make_storage() -> ScenarioStorage:
    """The backend of every scenario; tests/test_service_sql.py swaps in SQLite and PostgreSQL."""
    return InMemoryStorage()


@attrs.define
class World:
    service: InboxService
    storage: ScenarioStorage
    raw_store: InMemoryRawStore
    clock: FakeClock
    directory: FakeDirectory
    events: RecordingEventSink
    channel: Channel


def world(
    storage: ScenarioStorage | None = None, *, dns: bool = False, **channel_changes: Any
) -> World:
    """A connected channel of Acme; ``dns``: resolve :data:`PROVEN_ZONE` (else offline)."""
    storage = storage if storage is not None else make_storage()
    raw_store, clock = InMemoryRawStore(), FakeClock(T0)
    directory = FakeDirectory(
        users=AGENTS,
        teams=[
            Team(
                id=TeamId("t1"),
                account_id=ACME,
                name="Tier 1",
                member_ids=(UserId("u2"), UserId("u3")),
            )
        ],
        available=[UserId("u1"), UserId("u2"), UserId("u3")],
    )
    events = RecordingEventSink()
    channel = Channel(
        id=ChannelId("chan-1"),
        account_id=ACME,
        name="Support",
        forwarding_address=EmailAddress.parse(ADDRESS),
        created_at=T0 - timedelta(days=1),
        state=ChannelState.CONNECTED,
        mailbox_addresses=(EmailAddress.parse("support@acme.example"),),
        company_name="Acme Support",
    )
    channel = attrs.evolve(channel, **channel_changes)
    with storage.unit_of_work() as uow:
        uow.accounts.add(Account(id=ACME, name="Acme", subdomain="acme"))
        uow.channels.add(channel)
        uow.commit()
    service = InboxService(
        storage=storage,
        raw_store=raw_store,
        clock=clock,
        ids=SequentialIds(),
        directory=directory,
        events=events,
        config=InboxConfig(
            conversation_keys=(b"conversation-key-0123456789",),
            message_id_domain="acme.inbox.example.net",
        ),
        dns=InMemoryDns(PROVEN_ZONE) if dns else None,
    )
    return World(service, storage, raw_store, clock, directory, events, channel)


def mail(
    *,
    sender: str = "Ada Lovelace <ada@customer.example>",
    subject: str = "Invoice 1042 is wrong",
    message_id: str = "<m1@customer.example>",
    extra: str = "",
    body: str = "Hello, the invoice lists 12 seats but we have 10.",
) -> bytes:
    return (
        f"From: {sender}\r\nTo: support@acme.example\r\nSubject: {subject}\r\n"
        f"Date: Mon, 04 May 2026 09:00:00 +0200\r\nMessage-ID: {message_id}\r\n{extra}"
        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def envelope(**kw: object) -> Envelope:
    base: dict[str, object] = {
        "received_at": T0,
        "mail_from": "srs0=x@acme.example",
        "rcpt_to": (ADDRESS,),
    }
    base.update(kw)
    return Envelope(**base)  # type: ignore[arg-type]


def test_forwarded_customer_email_becomes_contact_conversation_and_ticket() -> None:
    """A forwarded email opens a conversation for the original sender, unassigned, with a ticket."""
    w = world()
    delivery = w.service.receive(mail(), envelope())
    assert delivery.disposition is Disposition.ACCEPTED
    assert delivery.conversation_created
    (contact,) = w.storage.records(Contact)
    assert contact.email.address == "ada@customer.example"
    assert contact.name == "Ada Lovelace"
    (conversation,) = w.storage.records(Conversation)
    assert conversation.contact_id == contact.id
    assert conversation.assignee_id is None
    assert conversation.kind is ConversationKind.CUSTOMER
    (ticket,) = w.storage.records(Ticket)
    assert ticket.conversation_id == conversation.id
    assert ticket.name == "Invoice 1042 is wrong"
    (message,) = w.storage.records(Message)
    assert message.raw_id == raw_message_id(mail())
    assert message.rfc_message_id == "m1@customer.example"
    assert message.authentication_results == (
        "inboxcore; spf=none; dkim=none; arc=none; dmarc=none"
    )  # offline: kept with the record all the same
    assert [type(e) for e in w.events.events] == [
        ConversationCreated,
        ConversationAssigned,
        TicketCreated,
        MessageAppended,
        ChannelStateChanged,
    ]
    assert w.events.of_type(ChannelStateChanged)[0].step == "observe_first_mail"
    assert w.events.of_type(ConversationAssigned)[0].reason == "unassigned.default"
    (channel,) = w.storage.records(Channel)
    assert channel.receiving_since == T0
    (record,) = w.storage.intake_records()
    assert record.disposition == Disposition.ACCEPTED
    assert record.message_id == message.id


def test_reply_threads_into_the_same_conversation() -> None:
    """A reply referencing the first message joins its conversation; no second ticket."""
    w = world()
    first = w.service.receive(mail(), envelope())
    w.clock.advance(timedelta(hours=2))
    reply = w.service.receive(
        mail(
            subject="Re: Invoice 1042 is wrong",
            message_id="<m2@customer.example>",
            extra="In-Reply-To: <m1@customer.example>\r\n",
        ),
        envelope(),
    )
    assert reply.disposition is Disposition.ACCEPTED
    assert reply.conversation_id == first.conversation_id
    assert not reply.conversation_created
    assert len(w.storage.records(Conversation)) == 1
    assert len(w.storage.records(Ticket)) == 1
    assert len(w.storage.records(Message)) == 2


def test_same_message_twice_changes_nothing() -> None:
    """The same message again (a retry) is a duplicate and leaves every record as it was."""
    w = world()
    w.service.receive(mail(), envelope())
    before = (
        w.storage.records(Conversation),
        w.storage.records(Message),
        w.storage.records(Ticket),
        w.storage.records(Contact),
    )
    again = w.service.receive(mail(), envelope())
    assert again.disposition is Disposition.DUPLICATE
    assert isinstance(again.intake, IntakeDuplicate)
    assert again.intake.duplicate_of is not None
    assert (
        w.storage.records(Conversation),
        w.storage.records(Message),
        w.storage.records(Ticket),
        w.storage.records(Contact),
    ) == before


def test_auto_reply_and_bounce_open_no_ticket() -> None:
    """An out-of-office and a bounce land as notices: no routing, no ticket."""
    w = world(routing=RoutingSettings(mode=RoutingMode.USERS_AND_TEAMS, user_ids=(UserId("u1"),)))
    ooo = mail(
        sender="Bob <bob@customer.example>",
        subject="Automatic reply: hello",
        message_id="<ooo@x.example>",
        extra="Auto-Submitted: auto-replied\r\n",
    )
    assert w.service.receive(ooo, envelope()).disposition is Disposition.ACCEPTED
    bounce = (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>\r\nTo: support@acme.example\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <b1@mx.customer.example>\r\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\n"
        b"Content-Type: text/plain\r\n\r\nI could not deliver your message.\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.customer.example\r\n\r\nFinal-Recipient: rfc822; gone@customer.example\r\nAction: failed\r\n"
        b"Status: 5.1.1\r\n--b--\r\n"
    )
    delivery = w.service.receive(bounce, envelope(mail_from=""))
    assert delivery.disposition is Disposition.ACCEPTED
    assert w.storage.records(Ticket) == ()
    assert all(c.kind is ConversationKind.NOTICE for c in w.storage.records(Conversation))
    assert all(c.assignee_id is None for c in w.storage.records(Conversation))
    assert w.events.of_type(ConversationAssigned) == []


def test_hijack_attempt_opens_a_new_linked_conversation() -> None:
    """A stranger replying to an old thread's Message-ID does not take the conversation over."""
    w = world()
    first = w.service.receive(mail(), envelope())
    w.clock.advance(timedelta(hours=1))
    hijack = w.service.receive(
        mail(
            sender="Mallory <mallory@evil.example>",
            subject="Re: Invoice 1042 is wrong",
            message_id="<h1@evil.example>",
            extra="In-Reply-To: <m1@customer.example>\r\n",
        ),
        envelope(),
    )
    assert hijack.disposition is Disposition.ACCEPTED
    assert hijack.conversation_created
    assert hijack.conversation_id != first.conversation_id
    new = next(c for c in w.storage.records(Conversation) if c.id == hijack.conversation_id)
    assert new.linked_conversation_id == first.conversation_id
    assert w.events.of_type(ConversationCreated)[-1].reason == "hijack_protection"
    colleague = w.service.receive(
        mail(
            sender="Ben <ben@customer.example>",
            subject="Re: Invoice 1042 is wrong",
            message_id="<c1@customer.example>",
            extra="In-Reply-To: <m1@customer.example>\r\n",
        ),
        envelope(),
    )
    assert colleague.conversation_id == first.conversation_id


def test_failing_commit_is_a_451_and_the_retry_delivers_it_once() -> None:
    """A refused commit answers 451 (the sender retries): the bytes are kept, nothing else."""
    w = world()
    w.storage.fail_next_commits()
    delivery = w.service.receive(mail(), envelope())
    assert delivery.disposition is Disposition.DEFERRED
    assert delivery.reason_codes == ("storage_unavailable",)
    assert (delivery.smtp.code, delivery.smtp.enhanced) == (451, "4.3.0")
    assert delivery.raw_id is not None
    assert w.raw_store.contains(delivery.raw_id)
    assert w.storage.records(Conversation) == ()
    assert w.storage.records(Contact) == ()
    assert w.storage.intake_records() == ()
    assert w.events.events == []
    again = w.service.receive(mail(), envelope())
    assert again.disposition is Disposition.ACCEPTED
    assert len(w.storage.records(Conversation)) == 1
    assert [r.disposition for r in w.storage.intake_records()] == [Disposition.ACCEPTED]


def test_a_bug_while_applying_quarantines_and_reprocess_recovers() -> None:
    """A non-storage failure applying the message keeps it (recorded, 250); reprocess delivers."""
    flaky = FlakyStorage(make_storage())
    w = world(storage=flaky)
    flaky.fail_next_statements(error=RuntimeError("a bug in an adapter"), skip=5)
    delivery = w.service.receive(mail(), envelope())
    assert delivery.disposition is Disposition.QUARANTINED
    assert delivery.reason_codes == ("internal_error",)
    assert delivery.smtp.code == 250
    assert delivery.raw_id is not None
    assert w.storage.records(Conversation) == ()
    assert [q.raw_id for q in w.service.quarantined()] == [delivery.raw_id]
    assert w.events.of_type(MessageQuarantined)[0].raw_id == delivery.raw_id
    again = w.service.reprocess(delivery.raw_id)
    assert again.disposition is Disposition.ACCEPTED
    assert len(w.storage.records(Conversation)) == 1
    assert w.service.quarantined() == ()
    with pytest.raises(NotFoundError):
        w.service.reprocess(raw_message_id(b"never"))


def test_forwarding_confirmation_lands_as_its_own_conversation() -> None:
    """Gmail's confirmation is shown to the team: its own conversation, no routing, no ticket."""
    w = world(
        dns=True,
        state=ChannelState.DRAFT,
        routing=RoutingSettings(mode=RoutingMode.USERS_AND_TEAMS, user_ids=(UserId("u1"),)),
    )
    raw = (
        "Return-Path: <forwarding-noreply@google.com>\r\nX-Google-Address-Confirmation: Qz8pLmW3sT0vYb1R\r\n"
        "Auto-Submitted: auto-generated\r\nFrom: Gmail Team <forwarding-noreply@google.com>\r\n"
        f"To: {ADDRESS}\r\nSubject: Gmail Forwarding Confirmation - Receive Mail from support@acme.example\r\n"
        "Date: Mon, 04 May 2026 08:00:00 +0000\r\nMessage-ID: <c0nf1rm@google.com>\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n"
        f"support@acme.example has requested to automatically forward mail to your email\r\naddress {ADDRESS}.\r\n\r\n"
        "To allow support@acme.example to automatically forward mail to your address,\r\nplease click the link below to confirm the request:\r\n\r\n"
        "https://mail-settings.google.com/mail/vf-%5BANGjdJ9kT4%5D-hP2sLq8ZrVx0Ye3Wn5Ud\r\n"
    ).encode()
    delivery = w.service.receive(
        raw, envelope(mail_from="forwarding-noreply@google.com", client_ip=GOOGLE_IP)
    )
    assert delivery.disposition is Disposition.ACCEPTED
    (conversation,) = w.storage.records(Conversation)
    assert conversation.kind is ConversationKind.FORWARDING_CONFIRMATION
    assert conversation.assignee_id is None
    assert w.storage.records(Ticket) == ()
    (event,) = w.events.of_type(ForwardingConfirmationReceived)
    assert event.provider == "gmail"
    assert event.verified
    assert event.url is not None
    assert event.url.startswith("https://mail-settings.google.com/mail/vf-")
    (channel,) = w.storage.records(Channel)
    assert channel.confirmation_seen_at == T0
    assert channel.receiving_since is None


def test_rotation_is_fair_through_the_service() -> None:
    """Users and teams: 30 new conversations over 3 available agents, 10 each."""
    w = world(
        routing=RoutingSettings(
            mode=RoutingMode.USERS_AND_TEAMS, user_ids=(UserId("u1"),), team_ids=(TeamId("t1"),)
        )
    )
    for i in range(30):
        w.service.receive(
            mail(
                sender=f"c{i}@customer{i}.example",
                message_id=f"<n{i}@x.example>",
                subject=f"Question {i}",
            ),
            envelope(),
        )
    counts = Counter(c.assignee_id for c in w.storage.records(Conversation))
    assert counts == {"u1": 10, "u2": 10, "u3": 10}
    assert {t.owner_id for t in w.storage.records(Ticket)} == {"u1", "u2", "u3"}


def test_offline_contact_owner_is_assigned_and_notified() -> None:
    """Contact owner mode: an offline owner still gets the conversation and a notification event."""
    w = world(routing=RoutingSettings(mode=RoutingMode.CONTACT_OWNER))
    with w.storage.unit_of_work() as uow:
        uow.contacts.add(
            Contact(
                id=ContactId("ada"),
                account_id=ACME,
                email=EmailAddress.parse("ada@customer.example"),
                created_at=T0,
                owner_id=UserId("u2"),
            )
        )
        uow.commit()
    w.directory.set_available(UserId("u2"), False)
    delivery = w.service.receive(mail(), envelope())
    (conversation,) = w.storage.records(Conversation)
    assert conversation.assignee_id == "u2"
    assert delivery.routing is not None
    assert delivery.routing.notify_owner
    (notified,) = w.events.of_type(OwnerNotified)
    assert notified.owner_id == "u2"


def test_deactivated_assignee_is_rerouted_on_reply() -> None:
    """A reply to a conversation whose assignee left is routed again."""
    w = world(
        routing=RoutingSettings(
            mode=RoutingMode.USERS_AND_TEAMS, user_ids=(UserId("u1"), UserId("u2"))
        )
    )
    first = w.service.receive(mail(), envelope())
    (conversation,) = w.storage.records(Conversation)
    gone = conversation.assignee_id
    assert gone is not None
    w.directory.add_user(attrs.evolve(next(a for a in AGENTS if a.id == gone), active=False))
    reply = w.service.receive(
        mail(
            message_id="<m2@customer.example>",
            subject="Re: Invoice",
            extra="In-Reply-To: <m1@customer.example>\r\n",
        ),
        envelope(),
    )
    assert reply.conversation_id == first.conversation_id
    (conversation,) = w.storage.records(Conversation)
    assert conversation.assignee_id not in (None, gone)


OUR_REPLY = "tok.reply1@acme.inbox.example.net"
BOUNCES = bounce_signer((b"conversation-key-0123456789",))


def with_our_reply(w: World) -> Conversation:
    """The customer's conversation, with our reply ``out-1`` in it (sent, Message-ID
    :data:`OUR_REPLY`)."""
    w.service.receive(mail(), envelope())
    (conversation,) = w.storage.records(Conversation)
    with w.storage.unit_of_work() as uow:
        uow.messages.add(
            Message(
                id=MessageId("out-1"),
                account_id=ACME,
                channel_id=ChannelId("chan-1"),
                conversation_id=conversation.id,
                direction=Direction.OUTBOUND,
                kind=MessageKind.MESSAGE,
                fingerprint="o",
                received_at=T0,
                sent_at=T0,
                rfc_message_id=OUR_REPLY,
                delivery_status=DeliveryStatus.SENT,
            )
        )
        uow.commit()
    w.clock.advance(timedelta(hours=2))
    return conversation


def our_bounce_address(message_id: str = "out-1") -> str:
    tag = make_bounce_tag(MessageId(message_id), BOUNCES)
    return bounce_address(EmailAddress.parse(ADDRESS), tag).address


def dsn(
    *, status: str = "5.1.1", action: str = "failed", quoted_extra: str = "", n: int = 0
) -> bytes:
    """A mail server's delivery failure report about :data:`OUR_REPLY`, quoting its headers."""
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.customer.example>\r\n"
        "To: support@acme.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: <b{n}-{status}@mx.customer.example>\r\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\n"
        "Content-Type: text/plain\r\n\r\nUnknown user.\r\n--b\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.customer.example\r\n\r\n"
        f"Final-Recipient: rfc822; ada@customer.example\r\nAction: {action}\r\n"
        f"Status: {status}\r\nDiagnostic-Code: smtp; 550 {status} no such user\r\n\r\n--b\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        f"From: Acme Support <support@acme.example>\r\nMessage-ID: <{OUR_REPLY}>\r\n"
        f"{quoted_extra}Subject: Re: Invoice\r\n\r\n--b--\r\n"
    ).encode()


def delivery_status_of_our_reply(w: World) -> DeliveryStatus:
    with w.storage.unit_of_work() as uow:
        return uow.messages.get(MessageId("out-1")).delivery_status


def test_a_report_naming_our_message_id_proves_nothing() -> None:
    """A forged DSN from the null sender naming our reply's Message-ID, sent to the channel's
    address or to a bounce address with a forged tag: a notice; the reply stays sent."""
    w = world()
    conversation = with_our_reply(w)
    forged_tag = EmailAddress.parse(ADDRESS).with_tag("a" * 34).address
    for n, rcpt in enumerate((ADDRESS, forged_tag)):
        delivery = w.service.receive(dsn(n=n), envelope(mail_from="", rcpt_to=(rcpt,)))
        assert delivery.disposition is Disposition.ACCEPTED
        assert delivery.conversation_id != conversation.id
        assert delivery.thread is not None
        assert delivery.thread.action is ThreadAction.NEW
    assert w.events.of_type(DeliveryFailed) == []
    assert delivery_status_of_our_reply(w) is DeliveryStatus.SENT
    notices = [c for c in w.storage.records(Conversation) if c.id != conversation.id]
    assert all(c.kind is ConversationKind.NOTICE for c in notices)
    assert all(c.linked_conversation_id is None for c in notices)
    (unchanged,) = [c for c in w.storage.records(Conversation) if c.id == conversation.id]
    assert unchanged == conversation


def test_bounce_to_our_signed_bounce_address_marks_the_reply_failed() -> None:
    """The same report sent to the bounce address of our reply joins its conversation and
    marks it failed, with the event."""
    w = world()
    conversation = with_our_reply(w)
    delivery = w.service.receive(
        dsn(), envelope(mail_from="", rcpt_to=(our_bounce_address().upper(),))
    )
    assert delivery.conversation_id == conversation.id
    assert delivery.thread is not None
    assert (delivery.thread.reason, delivery.thread.matched_by.value) == (
        "automatic",
        "bounce_address",
    )
    (failed,) = w.events.of_type(DeliveryFailed)
    assert (failed.message_id, failed.status) == ("out-1", "5.1.1")
    assert delivery_status_of_our_reply(w) is DeliveryStatus.FAILED
    assert len(w.storage.records(Ticket)) == 1


def test_a_report_quoting_our_signed_headers_marks_the_reply_failed() -> None:
    """A report that reached the channel's plain address (a host keeping its provider's
    Return-Path) proves our reply by the bounce tag in the headers it quotes."""
    w = world()
    conversation = with_our_reply(w)
    tag = make_bounce_tag(MessageId("out-1"), BOUNCES)
    quoted = f"{BOUNCE_TAG_HEADER}: {tag}\r\n"
    delivery = w.service.receive(dsn(quoted_extra=quoted), envelope(mail_from=""))
    assert delivery.conversation_id == conversation.id
    assert delivery.thread is not None
    assert delivery.thread.matched_by.value == "quoted_original"
    assert delivery_status_of_our_reply(w) is DeliveryStatus.FAILED


def test_a_delay_report_joins_without_failing_the_reply() -> None:
    """A proven "still trying" report is shown in the conversation; the reply is not failed."""
    w = world()
    conversation = with_our_reply(w)
    delivery = w.service.receive(
        dsn(status="4.4.7", action="delayed"),
        envelope(mail_from="", rcpt_to=(our_bounce_address(),)),
    )
    assert delivery.conversation_id == conversation.id
    assert w.events.of_type(DeliveryFailed) == []
    assert delivery_status_of_our_reply(w) is DeliveryStatus.SENT


def auto_reply(*, sender: str, extra: str = "", message_id: str = "<ooo1@x.example>") -> bytes:
    return mail(
        sender=sender,
        subject="Automatic reply: Invoice 1042 is wrong",
        message_id=message_id,
        extra=f"Auto-Submitted: auto-replied\r\n{extra}",
        body="I am out of the office until Monday.",
    )


def test_an_outsiders_auto_reply_naming_our_reply_is_a_notice() -> None:
    """Auto-Submitted with In-Reply-To our Message-ID, or sent to our tagged Reply-To address,
    from a stranger: a notice of its own; the customer's conversation is untouched."""
    w = world()
    conversation = with_our_reply(w)
    token = make_conversation_token(conversation.id, w.service.signer, w.clock.now())
    reply_to = EmailAddress.parse(ADDRESS).with_tag(token).address
    for n, (extra, rcpt) in enumerate(
        [(f"In-Reply-To: <{OUR_REPLY}>\r\n", ADDRESS), ("", reply_to)]
    ):
        raw = auto_reply(sender="Eve <eve@evil.example>", extra=extra, message_id=f"<e{n}@x>")
        delivery = w.service.receive(raw, envelope(rcpt_to=(rcpt,)))
        assert delivery.disposition is Disposition.ACCEPTED
        assert delivery.conversation_id != conversation.id
        assert delivery.thread is not None
        assert delivery.thread.reason == "automatic_unproven"
    (unchanged,) = [c for c in w.storage.records(Conversation) if c.id == conversation.id]
    assert unchanged == conversation
    with w.storage.unit_of_work() as uow:
        assert len(uow.messages.for_conversation(conversation.id)) == 2


def test_a_vacation_reply_to_our_return_path_joins_the_conversation() -> None:
    """The same auto-reply sent to our reply's signed bounce address (where RFC 3834 responders
    answer), with or without In-Reply-To, joins the customer's conversation as is."""
    w = world()
    conversation = with_our_reply(w)
    for n, extra in enumerate([f"In-Reply-To: <{OUR_REPLY}>\r\n", ""]):
        raw = auto_reply(sender="Bob <bob@customer.example>", extra=extra, message_id=f"<v{n}@x>")
        delivery = w.service.receive(raw, envelope(mail_from="", rcpt_to=(our_bounce_address(),)))
        assert delivery.conversation_id == conversation.id
        assert delivery.thread is not None
        assert delivery.thread.reason == "automatic"
    (ticket,) = w.storage.records(Ticket)
    assert ticket.status.value == "new"
    assert w.events.of_type(DeliveryFailed) == []


def test_reply_all_copies_only_whom_the_proven_contact_copied() -> None:
    """The contact's DKIM-signed reply-all keeps its Cc on the agent's reply; a list post "as"
    the contact (In-Reply-To, Cc: board@attacker.example), signed only by the attacker's domain,
    joins the thread but copies nobody on the next reply."""
    w = world()
    key = rsa_key().record
    dns = InMemoryDns(
        {
            "s2026._domainkey.customer.example": {"TXT": [key]},
            "s2026._domainkey.attacker.example": {"TXT": [key]},
        }
    )
    service = InboxService(
        storage=w.storage,
        raw_store=w.raw_store,
        clock=w.clock,
        ids=w.service.ids,
        directory=w.directory,
        events=w.events,
        config=w.service.config,
        dns=dns,
    )
    customer = mail(extra="Cc: Carol <carol@customer.example>\r\n")
    first = service.receive(sign(customer, domain="customer.example"), envelope())
    w.clock.advance(timedelta(hours=1))
    post = mail(
        message_id="<p1@lists.attacker.example>",
        subject="Re: Invoice 1042 is wrong",
        extra="In-Reply-To: <m1@customer.example>\r\nCc: board@attacker.example\r\n"
        "List-Id: <talk.lists.attacker.example>\r\n",
        body="Please copy our board on your answer.",
    )
    joined = service.receive(sign(post, domain="attacker.example"), envelope())
    assert joined.conversation_id == first.conversation_id
    assert [m.sender_evidence for m in w.storage.records(Message)] == [
        "DKIM of customer.example",
        None,
    ]
    transport = RecordingTransport()
    outbox = Outbox(
        storage=w.storage,
        raw_store=w.raw_store,
        transport=transport,
        clock=w.clock,
        ids=w.service.ids,
        directory=w.directory,
        events=w.events,
        config=OutboundConfig(
            hosting=HostedDomainConfig(hosted_domain="inbox.example.net"),
            threading=w.service.config.threading,
        ),
    )
    assert first.conversation_id is not None
    outbox.send_reply(first.conversation_id, UserId("u1"), text="Corrected: 10 seats.")
    (sent,) = transport.sent
    assert sent.rcpt_to == ("ada@customer.example", "carol@customer.example")


def test_tickets_switched_off() -> None:
    """With the channel's ticket switch off, conversations open without tickets."""
    w = world(tickets=TicketSettings(enabled=False))
    assert w.service.receive(mail(), envelope()).ticket_id is None
    assert w.storage.records(Ticket) == ()


def test_concurrent_deliveries_make_one_conversation_per_message() -> None:
    """Threads delivering the same messages at once: exactly one conversation and message each."""
    w = world(
        routing=RoutingSettings(
            mode=RoutingMode.USERS_AND_TEAMS, user_ids=(UserId("u1"), UserId("u2"), UserId("u3"))
        )
    )
    messages = [
        mail(sender=f"c{i}@customer.example", message_id=f"<p{i}@x.example>", subject=f"Q{i}")
        for i in range(6)
    ]
    barrier = threading.Barrier(4)
    outcomes: list[Disposition] = []
    lock = threading.Lock()

    def deliver() -> None:
        barrier.wait(10)
        for raw in messages:
            result = w.service.receive(raw, envelope())
            with lock:
                outcomes.append(result.disposition)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(w.storage.records(Conversation)) == 6
    assert len(w.storage.records(Message)) == 6
    assert len(w.storage.records(Contact)) == 6
    assert Counter(outcomes) == {Disposition.ACCEPTED: 6, Disposition.DUPLICATE: 18}
    assert len({t.conversation_id for t in w.storage.records(Ticket)}) == 6


def test_reused_message_id_with_other_content_is_not_lost() -> None:
    """A different message reusing a Message-ID is kept; the same message again is a duplicate."""
    w = world()
    w.service.receive(mail(), envelope())
    other = mail(body="A completely different question.").replace(
        b"Date: Mon, 04 May 2026 09:00:00 +0200", b"Date: Tue, 05 May 2026 10:00:00 +0200"
    )
    second = w.service.receive(other, envelope())
    assert second.disposition is Disposition.ACCEPTED
    assert len(w.storage.records(Message)) == 2
    assert w.service.receive(other, envelope()).disposition is Disposition.DUPLICATE
    # A list copy of the first message: footer added, same Message-ID and Date: a duplicate.
    list_copy = mail(body="Hello, the invoice lists 12 seats but we have 10.\r\n--\r\nlist footer")
    assert w.service.receive(list_copy, envelope()).disposition is Disposition.DUPLICATE
    assert len(w.storage.records(Message)) == 2


def test_agent_replying_by_mail_is_the_agents_reply_not_a_contact() -> None:
    """An agent's emailed reply in a thread joins as theirs: no contact made, ticket waits on the contact."""
    w = world(dns=True)
    first = w.service.receive(mail(), envelope())
    w.clock.advance(timedelta(minutes=30))
    answer = mail(
        sender="Agent2 <agent2@acme.example>",
        subject="Re: Invoice 1042 is wrong",
        message_id="<a1@acme.example>",
        extra="In-Reply-To: <m1@customer.example>\r\n",
        body="We will send a corrected invoice today.",
    )
    delivery = w.service.receive(
        answer, envelope(mail_from="agent2@acme.example", client_ip=TEAM_IP)
    )
    assert delivery.conversation_id == first.conversation_id
    assert delivery.contact_id == first.contact_id
    assert [c.email.address for c in w.storage.records(Contact)] == ["ada@customer.example"]
    assert w.storage.records(Message)[-1].author_id == "u2"
    (ticket,) = w.storage.records(Ticket)
    assert ticket.status.value == "waiting_on_contact"


def test_agents_manual_forward_takes_the_original_subject() -> None:
    """An agent's forward opens the conversation under the forwarded message's subject."""
    w = world(dns=True)
    forward = mail(
        sender="Agent1 <agent1@acme.example>",
        subject="WG: Lieferung 58113 fehlt",
        message_id="<fw1@acme.example>",
        body=(
            "Bitte kuemmert euch darum.\r\n\r\n"
            "-----Urspruengliche Nachricht-----\r\n"
            "Von: Karl Becker <k.becker@metallbau.example>\r\n"
            "Gesendet: Montag, 4. Mai 2026 08:12\r\n"
            "An: agent1@acme.example\r\n"
            "Betreff: Lieferung 58113 fehlt\r\n\r\n"
            "Die Lieferung ist nicht angekommen."
        ),
    )
    delivery = w.service.receive(
        forward, envelope(mail_from="agent1@acme.example", client_ip=TEAM_IP)
    )
    (conversation,) = w.storage.records(Conversation)
    assert conversation.subject == "Lieferung 58113 fehlt"
    (contact,) = w.storage.records(Contact)
    assert contact.email.address == "k.becker@metallbau.example"
    assert delivery.intake.sender is not None
    assert delivery.intake.sender.forwarder is not None
    assert delivery.intake.sender.forwarder.address == "agent1@acme.example"


def test_team_releases_a_message_the_checks_held_back() -> None:
    """A DMARC-quarantined message stays held on reprocess, and is let in by release with its reasons."""
    w = world()
    dns = InMemoryDns({"_dmarc.customer.example": {"TXT": ["v=DMARC1; p=reject"]}})
    service = InboxService(
        storage=w.storage,
        raw_store=w.raw_store,
        clock=w.clock,
        ids=SequentialIds(seed=1),
        directory=w.directory,
        events=w.events,
        config=w.service.config,
        dns=dns,
    )
    held = service.receive(mail(), envelope(client_ip="192.0.2.66"))
    assert held.disposition is Disposition.QUARANTINED
    assert held.reason_codes == ("dmarc.fail.reject",)
    assert held.raw_id is not None
    assert service.reprocess(held.raw_id).disposition is Disposition.QUARANTINED
    released = service.release(held.raw_id)
    assert released.disposition is Disposition.ACCEPTED
    assert "released" in released.reason_codes
    assert "dmarc.fail.reject" in released.reason_codes
    assert len(w.storage.records(Conversation)) == 1
    assert service.quarantined() == ()
    assert service.release(held.raw_id).disposition is Disposition.DUPLICATE


def test_a_person_discards_a_held_message_on_record() -> None:
    """Discard takes a held message off the list, logs why, tells the host, keeps the raw bytes;
    a message not held cannot be discarded."""
    w = world()
    held = w.service.receive(b"this is not an email at all\r\n", envelope())
    assert held.disposition is Disposition.QUARANTINED
    assert held.reason_codes == ("not_mail",)
    assert held.raw_id is not None
    entry = w.service.discard(held.raw_id, note="a stray file")
    assert (entry.disposition, entry.reason_codes) == (Disposition.DISCARDED, ("discarded",))
    assert w.service.quarantined() == ()
    assert [e.disposition for e in w.storage.intake_records()] == [
        Disposition.QUARANTINED,
        Disposition.DISCARDED,
    ]
    (event,) = w.events.of_type(MessageDiscarded)
    assert (event.raw_id, event.note, event.account_id) == (held.raw_id, "a stray file", ACME)
    assert w.raw_store.contains(held.raw_id)
    with pytest.raises(NotFoundError):
        w.service.discard(held.raw_id)
    accepted = w.service.receive(mail(), envelope())
    assert accepted.raw_id is not None
    with pytest.raises(NotFoundError):
        w.service.discard(accepted.raw_id)


def test_the_message_record_keeps_what_authentication_found() -> None:
    """With DNS, the record's Authentication-Results names the SPF proof intake saw."""
    w = world(dns=True)
    w.service.receive(mail(), envelope(client_ip=TEAM_IP))
    (message,) = w.storage.records(Message)
    assert message.authentication_results is not None
    assert message.authentication_results.startswith(
        "inboxcore; spf=pass smtp.mailfrom=acme.example; dkim=none; arc=none; dmarc="
    )


def test_a_host_is_shown_our_result_and_forged_claims_renamed() -> None:
    """``message_source``: our stored result on top, a forged ``inboxcore; dmarc=pass``
    renamed, and the stored raw bytes left exactly as received."""
    w = world(dns=True)
    forged = b"Authentication-Results: inboxcore; dmarc=pass header.from=customer.example\r\n"
    delivery = w.service.receive(mail(extra=forged.decode()), envelope(client_ip=TEAM_IP))
    assert delivery.message_id is not None
    (message,) = w.storage.records(Message)
    shown = w.service.message_source(delivery.message_id)
    assert shown.startswith(
        f"Authentication-Results: {message.authentication_results}\r\n".encode()
    )
    assert b"\r\nX-Original-Authentication-Results: inboxcore; dmarc=pass" in shown
    assert shown.count(b"Authentication-Results: inboxcore;") == 2  # ours, and the renamed
    assert delivery.raw_id is not None
    assert w.raw_store.get(delivery.raw_id) == mail(extra=forged.decode())


def test_a_host_is_shown_upstream_results_as_received() -> None:
    """The legitimate twin: our edge MTA's field (another authserv-id) is shown untouched."""
    w = world(dns=True)
    edge = b"Authentication-Results: mx.edge.example; spf=pass smtp.mailfrom=acme.example\r\n"
    delivery = w.service.receive(mail(extra=edge.decode()), envelope(client_ip=TEAM_IP))
    assert delivery.message_id is not None
    shown = w.service.message_source(delivery.message_id)
    assert b"\r\n" + edge in shown
    assert b"X-Original-" not in shown
    with pytest.raises(NotFoundError):
        w.service.message_source(MessageId("no-such-message"))


def test_commit_applied_but_unacknowledged_is_confirmed_and_accepted() -> None:
    """The unit committed but its answer was lost: the intake log shows it, so it is accepted."""
    flaky = FlakyStorage(make_storage())
    w = world(storage=flaky)
    flaky.fail_after_next_commits()
    delivery = w.service.receive(mail(), envelope())
    assert delivery.disposition is Disposition.ACCEPTED
    assert delivery.smtp.code == 250
    assert len(w.storage.records(Message)) == 1
    (created,) = w.events.of_type(ConversationCreated)
    assert created.conversation_id == delivery.conversation_id
    assert [r.disposition for r in flaky.intake_records()] == [Disposition.ACCEPTED]


def test_commit_outcome_unknown_and_unreadable_is_a_451_then_found() -> None:
    """Answer lost and the check fails too: a 451; the retry finds it stored, once."""
    flaky = FlakyStorage(make_storage())
    w = world(storage=flaky)
    flaky.fail_after_next_commits()
    flaky.fail_next_units(skip=3)  # channel, duplicate check, apply, then the check
    delivery = w.service.receive(mail(), envelope())
    assert delivery.disposition is Disposition.DEFERRED
    assert delivery.smtp.code == 451
    assert len(w.storage.records(Message)) == 1  # it did commit
    again = w.service.receive(mail(), envelope())
    assert again.disposition is Disposition.DUPLICATE
    assert again.smtp.code == 250
    assert [r.disposition for r in flaky.intake_records()] == [
        Disposition.ACCEPTED,
        Disposition.DUPLICATE,
    ]
    assert len(w.storage.records(Message)) == 1


def test_unacknowledged_commit_held_by_an_older_version_is_recovered_with_its_events() -> None:
    """Older versions held a lost-answer commit as internal_error: reprocess recovers it once."""
    w = world()
    first = w.service.receive(mail(), envelope())
    assert first.raw_id is not None
    w.events.events.clear()  # as if the host had never heard of it
    with w.storage.unit_of_work() as uow:
        uow.intake_log.record(
            IntakeRecord(
                raw_id=first.raw_id,
                envelope=envelope(),
                disposition="quarantined",
                reason_codes=("internal_error",),
                at=T0,
                channel_id=w.channel.id,
            )
        )
        uow.commit()
    assert [q.raw_id for q in w.service.quarantined()] == [first.raw_id]
    recovered = w.service.reprocess(first.raw_id)
    assert recovered.disposition is Disposition.ACCEPTED
    assert recovered.reason_codes == ("recovered",)
    (created,) = w.events.of_type(ConversationCreated)
    assert created.conversation_id == recovered.conversation_id == first.conversation_id
    assert [e.ticket_id for e in w.events.of_type(TicketCreated)] == [recovered.ticket_id]
    assert len(w.events.of_type(MessageAppended)) == 1
    assert len(w.storage.records(Message)) == 1
    assert w.service.quarantined() == ()
    assert w.service.reprocess(first.raw_id).disposition is Disposition.DUPLICATE


def test_check_size_answers_smtp_size_per_channel() -> None:
    """SMTP SIZE: over the recipient channel's own limit is refused before the data."""
    w = world(intake=IntakeSettings(max_message_size=1000))
    refusal = w.service.check_size(1001, ["Support-7F3K+conv@acme.inbox.example.net"])
    assert refusal is not None
    assert (refusal.code, refusal.enhanced) == (552, "5.3.4")
    assert w.service.check_size(1000, [ADDRESS]) is None
    # An unknown recipient is judged by the host-wide limit (30 MB) until RCPT refuses it.
    assert w.service.check_size(5000, ["nobody@acme.inbox.example.net"]) is None
    assert w.service.check_size(40_000_000, ["nobody@acme.inbox.example.net"]) is not None


def test_no_positive_reply_when_nothing_was_recorded() -> None:
    """Applying fails and so does the quarantine's record: a 451 to retry, never a 250."""
    flaky = FlakyStorage(make_storage())
    w = world(storage=flaky)
    flaky.fail_next_statements(error=RuntimeError("a bug in an adapter"), skip=5)
    flaky.fail_next_commits()  # the intake-log write of the quarantine
    delivery = w.service.receive(mail(), envelope())
    assert delivery.disposition is Disposition.DEFERRED
    assert str(delivery.smtp).startswith("451 4.3.0")
    assert delivery.reason_codes == ("storage_unavailable",)
    assert flaky.intake_records() == ()
    assert w.events.events == []  # nothing is announced that was not recorded
    again = w.service.receive(mail(), envelope())  # the mail server retries
    assert again.disposition is Disposition.ACCEPTED
    assert [r.disposition for r in flaky.intake_records()] == [Disposition.ACCEPTED]
    assert len(flaky.records(Message)) == 1


def test_a_refusal_waits_for_its_record_too() -> None:
    """A 5xx for a stored message is given once its record is committed; until then a 451."""
    flaky = FlakyStorage(make_storage())
    w = world(storage=flaky, intake=IntakeSettings(spam_reject_threshold=10.0))
    service = InboxService(
        storage=flaky,
        raw_store=w.raw_store,
        clock=w.clock,
        ids=SequentialIds(seed=1),
        directory=w.directory,
        events=w.events,
        config=w.service.config,
        spam=FakeSpamScorer(default=20.0),
    )
    flaky.fail_next_commits()
    first = service.receive(mail(), envelope())
    assert (first.disposition, first.smtp.code) == (Disposition.DEFERRED, 451)
    assert w.events.of_type(MessageRejected) == []
    second = service.receive(mail(), envelope())
    assert second.disposition is Disposition.REJECTED
    assert second.smtp.code == 550
    assert [r.disposition for r in flaky.intake_records()] == [Disposition.REJECTED]
    assert len(w.events.of_type(MessageRejected)) == 1


def _unrecorded(w: World, flaky: FlakyStorage[Any], raw: bytes) -> Delivery:
    """Receive ``raw`` while storage refuses the commit: stored, answered 451, never recorded."""
    flaky.fail_next_commits()
    delivery = w.service.receive(raw, envelope())
    assert delivery.smtp.code == 451
    return delivery


def test_recover_runs_a_message_stored_but_never_recorded() -> None:
    """A 451 the sender never retried: the sweep runs it once as received, then finds nothing."""
    flaky = FlakyStorage(make_storage())
    w = world(storage=flaky)
    lost = _unrecorded(w, flaky, mail())
    w.clock.advance(timedelta(hours=1))
    recovery = w.service.recover()
    assert (recovery.examined, recovery.complete) == (1, True)
    (entry,) = recovery.messages
    assert entry.raw_id == lost.raw_id
    assert entry.reason_codes == ("unrecorded",)
    assert entry.disposition is Disposition.ACCEPTED
    (record,) = flaky.intake_records()
    assert (record.disposition, record.reason_codes[0]) == (Disposition.ACCEPTED, "unrecorded")
    assert record.envelope == envelope()
    assert len(w.events.of_type(ConversationCreated)) == 1
    again = w.service.recover()
    assert (again.examined, again.messages) == (1, ())
    assert len(flaky.intake_records()) == 1
    assert len(w.storage.records(Message)) == 1


def test_recover_leaves_messages_in_flight_alone() -> None:
    """Messages younger than the grace period, or already recorded, are not run."""
    flaky = FlakyStorage(make_storage())
    w = world(storage=flaky)
    _unrecorded(w, flaky, mail())
    w.service.receive(mail(message_id="<m2@customer.example>"), envelope())
    assert w.service.recover().messages == ()  # both just received
    w.clock.advance(timedelta(minutes=16))
    (entry,) = w.service.recover().messages
    assert entry.raw_id == raw_message_id(mail())


def test_recover_dry_run_and_limit() -> None:
    """A dry run lists without running; a limit stops the run, the next one goes on."""
    flaky = FlakyStorage(make_storage())
    w = world(storage=flaky)
    for n in range(3):
        _unrecorded(w, flaky, mail(message_id=f"<lost{n}@customer.example>"))
    w.clock.advance(timedelta(hours=1))
    listed = w.service.recover(dry_run=True)
    assert listed.dry_run
    assert [m.disposition for m in listed.messages] == [None, None, None]
    assert flaky.intake_records() == ()
    first = w.service.recover(limit=2)
    assert (len(first.messages), first.complete) == (2, False)
    second = w.service.recover(limit=2)
    assert (len(second.messages), second.complete) == (1, True)
    assert {m.raw_id for m in first.messages + second.messages} == {
        m.raw_id for m in listed.messages
    }
    assert len(w.storage.records(Message)) == 3
    with pytest.raises(InvalidValueError):
        w.service.recover(limit=0)


def test_recover_runs_an_old_message_with_its_delivery_headers() -> None:
    """A message stored before envelopes were kept finds its channel by Delivered-To."""
    w = world()
    raw = mail(extra=f"Delivered-To: {ADDRESS}\r\n")
    w.raw_store.put_legacy(raw, stored_at=T0 - timedelta(days=2))
    (entry,) = w.service.recover().messages
    assert entry.reason_codes == ("unrecorded", "envelope_missing")
    assert entry.disposition is Disposition.ACCEPTED
    (record,) = w.storage.intake_records()
    assert record.channel_id == w.channel.id
    assert "envelope_missing" in record.reason_codes
    assert record.envelope.rcpt_to == ()
    # A since bound leaves older messages out.
    assert w.service.recover(since=T0 - timedelta(days=1)).examined == 0


def test_recover_never_runs_an_old_copy_of_our_own_mail() -> None:
    """Without an envelope, bytes carrying our own Message-ID are an outbound copy: not run."""
    w = world()
    own = mail(message_id="<reply.1@acme.inbox.example.net>", extra=f"Delivered-To: {ADDRESS}\r\n")
    w.raw_store.put_legacy(own, stored_at=T0 - timedelta(days=2))
    (entry,) = w.service.recover().messages
    assert (entry.reason_codes, entry.delivery) == (("own_message",), None)
    assert w.storage.intake_records() == ()


def test_recover_beside_a_worker_delivering_the_same_bytes_records_once() -> None:
    """A worker records the message between the sweep's check and its run: one record."""
    flaky = FlakyStorage(make_storage())
    w = world(storage=flaky)
    lost = _unrecorded(w, flaky, mail())
    assert lost.raw_id is not None
    w.clock.advance(timedelta(hours=1))
    worker = w.service.receive  # the sender's last retry, racing the sweep
    real_get = w.raw_store.get
    raced: list[Delivery] = []

    def get_after_the_worker(raw_id: RawMessageId) -> bytes:
        if not raced:
            raced.append(worker(mail(), envelope()))
        return real_get(raw_id)

    w.raw_store.get = get_after_the_worker  # type: ignore[method-assign]
    (entry,) = w.service.recover().messages
    assert raced[0].disposition is Disposition.ACCEPTED
    assert entry.disposition is Disposition.DUPLICATE
    assert [r.disposition for r in flaky.intake_records()] == [Disposition.ACCEPTED]
    assert len(w.storage.records(Message)) == 1


def test_recover_with_storage_still_failing_defers_and_retries_next_run() -> None:
    """Storage failing during the sweep: the message stays unrecorded, the next run gets it."""
    flaky = FlakyStorage(make_storage())
    w = world(storage=flaky)
    _unrecorded(w, flaky, mail())
    w.clock.advance(timedelta(hours=1))
    flaky.fail_next_commits()
    failed = w.service.recover()
    (entry,) = failed.still_unrecorded
    assert entry.delivery is not None
    assert entry.delivery.smtp.code == 451
    assert flaky.intake_records() == ()
    (done,) = w.service.recover().messages
    assert done.disposition is Disposition.ACCEPTED
