"""Composing replies and notifications: headers, threading, Cc, injection, sizes, non-ASCII."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inboxcore.channels import HostedDomainConfig
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import (
    ConfigurationError,
    HeaderInjectionError,
    InvalidValueError,
    MessageTooLarge,
)
from inboxcore.domain.ids import AccountId, ChannelId, ContactId, ConversationId, MessageId, UserId
from inboxcore.domain.model import (
    Account,
    Channel,
    ChannelState,
    Contact,
    Conversation,
    DeliveryStatus,
    Direction,
    FromAddressSettings,
    FromNameMode,
    Message,
    MessageKind,
    SignatureSettings,
    User,
)
from inboxcore.policies.outbound import (
    MAX_OUTBOUND_REFERENCES,
    NotificationContext,
    OutboundAttachment,
    OutboundConfig,
    ReplyContext,
    ReplyDraft,
    ThreadingConfig,
    VerificationRequest,
    check_header_value,
    compose_owner_notification,
    compose_reply,
    compose_verification,
    excerpt,
    reply_references,
    reply_return_path,
    reply_subject,
)
from inboxcore.policies.threads import BOUNCE_TAG_HEADER, read_bounce_tag, read_conversation_token

NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
ACME = AccountId("acme")
CID = ConversationId("conv-1")
OUT = MessageId("msg-out-1")
CONFIG = OutboundConfig(
    hosting=HostedDomainConfig(hosted_domain="inbox.example.net"),
    threading=ThreadingConfig(
        conversation_keys=[b"k" * 32], message_id_domain="acme.inbox.example.net"
    ),
)
ACCOUNT = Account(id=ACME, name="Acme", subdomain="acme", sending_domains={"acme.example"})
CHANNEL = Channel(
    id=ChannelId("chan-1"),
    account_id=ACME,
    name="Support",
    forwarding_address=EmailAddress.parse("support-7f3k@acme.inbox.example.net"),
    created_at=NOW - timedelta(days=3),
    state=ChannelState.CONNECTED,
    mailbox_addresses=(EmailAddress.parse("support@acme.example"),),
    company_name="Acme Support",
    signature=SignatureSettings(html="<p>-- <br>{agent.full_name}, {company}</p>"),
)
AGENT = User(
    id=UserId("u1"),
    account_id=ACME,
    email=EmailAddress.parse("zoe@acme.example"),
    first_name="Zoë",
    last_name="Åberg",
)
CONTACT = Contact(
    id=ContactId("c1"),
    account_id=ACME,
    email=EmailAddress.parse("ada@customer.example"),
    created_at=NOW - timedelta(days=3),
    name="Ada Lovelace",
)
CONVERSATION = Conversation(
    id=CID,
    account_id=ACME,
    channel_id=CHANNEL.id,
    contact_id=CONTACT.id,
    subject="Invoice 1042 is wrong",
    created_at=NOW - timedelta(days=1),
    last_message_at=NOW - timedelta(hours=1),
)


def inbound(n: int, **kw: Any) -> Message:
    base: dict[str, Any] = {
        "id": MessageId(f"msg-{n}"),
        "account_id": ACME,
        "channel_id": CHANNEL.id,
        "conversation_id": CID,
        "direction": Direction.INBOUND,
        "kind": MessageKind.MESSAGE,
        "fingerprint": f"fp{n}",
        "received_at": NOW - timedelta(hours=10 - n),
        "rfc_message_id": f"m{n}@customer.example",
        "sender": CONTACT.email,
        "forwarder": EmailAddress.parse("support@acme.example"),
        "to": (EmailAddress.parse("support@acme.example"),),
        "subject": "Invoice 1042 is wrong",
        "sender_evidence": "DKIM of customer.example",
    }
    base.update(kw)
    return Message(**base)


def context(**kw: Any) -> ReplyContext:
    base: dict[str, Any] = {
        "account": ACCOUNT,
        "channel": CHANNEL,
        "conversation": CONVERSATION,
        "contact": CONTACT,
        "agent": AGENT,
        "messages": (inbound(1),),
        "team_addresses": frozenset({"zoe@acme.example", "owen@acme.example"}),
    }
    base.update(kw)
    return ReplyContext(**base)


def compose(ctx: ReplyContext | None = None, **draft: Any) -> EmailMessage:
    draft.setdefault("text", "Hello Ada,\n\nwe fixed it.")
    mail = compose_reply(
        ctx or context(), ReplyDraft(**draft), CONFIG, now=NOW, unique="abc123", message_id=OUT
    )
    return parse(mail.mail.data)


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_reply_headers_thread_and_carry_the_token() -> None:
    """From, To, Reply-To, Subject, In-Reply-To, References, Message-ID and the loop header."""
    composed = compose_reply(
        context(), ReplyDraft(text="Hi"), CONFIG, now=NOW, unique="abc123", message_id=OUT
    )
    m = parse(composed.mail.data)
    assert str(m["From"]) == "Zoë from Acme Support <zoe@acme.inbox.example.net>"
    assert str(m["To"]) == "Ada Lovelace <ada@customer.example>"
    assert m["Subject"] == "Re: Invoice 1042 is wrong"
    assert m["In-Reply-To"] == "<m1@customer.example>"
    assert m["References"] == "<m1@customer.example>"
    assert m["X-Inboxcore-Loop"] == "chan-1"
    assert m["Date"] == "Mon, 04 May 2026 10:00:00 +0000"
    signer = CONFIG.signer
    assert m["Message-ID"] == f"<{composed.rfc_message_id}>"
    assert composed.rfc_message_id.endswith(".abc123@acme.inbox.example.net")
    assert read_conversation_token(composed.rfc_message_id, signer, NOW) == CID
    reply_to = EmailAddress.parse(str(m["Reply-To"]))
    assert reply_to.untagged.address == "support-7f3k@acme.inbox.example.net"
    assert reply_to.tag is not None
    assert read_conversation_token(reply_to.tag, signer, NOW) == CID
    assert composed.mail.rcpt_to == ("ada@customer.example",)


def test_reply_is_sent_from_its_signed_bounce_address() -> None:
    """The envelope sender is the forwarding address tagged with a tag naming the outbound
    record; the same tag is in the header that quoted originals carry back."""
    composed = compose_reply(
        context(), ReplyDraft(text="Hi"), CONFIG, now=NOW, unique="abc123", message_id=OUT
    )
    return_path = EmailAddress.parse(composed.mail.mail_from)
    assert return_path.untagged.address == "support-7f3k@acme.inbox.example.net"
    assert return_path.tag is not None
    assert read_bounce_tag(return_path.tag, CONFIG.bounce_signer) == OUT
    assert parse(composed.mail.data)[BOUNCE_TAG_HEADER] == return_path.tag
    assert reply_return_path(CHANNEL, OUT, CONFIG) == composed.mail.mail_from
    other = reply_return_path(CHANNEL, MessageId("msg-out-2"), CONFIG)
    assert other != composed.mail.mail_from


def test_a_host_may_keep_its_providers_return_path() -> None:
    """With a fixed Return-Path configured, replies use it; the header still carries the tag."""
    config = attrs.evolve(CONFIG, return_path="bounces@provider.example")
    composed = compose_reply(
        context(), ReplyDraft(text="Hi"), config, now=NOW, unique="abc123", message_id=OUT
    )
    assert composed.mail.mail_from == "bounces@provider.example"
    tag = parse(composed.mail.data)[BOUNCE_TAG_HEADER]
    assert read_bounce_tag(str(tag), CONFIG.bounce_signer) == OUT


def test_verified_custom_from_address_is_used() -> None:
    """A custom address on a connected sending domain replaces the default; company-only name."""
    channel = attrs.evolve(
        CHANNEL,
        from_name_mode=FromNameMode.COMPANY,
        from_address=FromAddressSettings(custom=EmailAddress.parse("help@acme.example")),
    )
    m = compose(context(channel=channel))
    assert str(m["From"]) == "Acme Support <help@acme.example>"


def test_body_has_text_and_html_with_the_agents_signature() -> None:
    """Both alternatives end with the signature rendered for the sending agent."""
    m = compose(html="<p>Hello <b>Ada</b></p>")
    plain = m.get_body(("plain",))
    rich = m.get_body(("html",))
    assert plain is not None
    assert rich is not None
    text = plain.get_content().replace("\r\n", "\n")
    assert text.startswith("Hello Ada,\n\nwe fixed it.\n\n")
    assert "Zoë Åberg, Acme Support" in text
    page = rich.get_content()
    assert "<p>Hello <b>Ada</b></p>" in page
    assert "Zoë Åberg, Acme Support" in page


def test_plain_draft_gets_escaped_html() -> None:
    """Without HTML from the agent, the text becomes escaped paragraphs."""
    m = compose(text="a < b\n\nsecond <script>")
    rich = m.get_body(("html",))
    assert rich is not None
    assert "<p>a &lt; b</p><p>second &lt;script&gt;</p>" in rich.get_content()


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Invoice", "Re: Invoice"),
        ("Re: Re: AW: Invoice", "Re: Invoice"),
        ("SV: VS: Antw: Fwd: Invoice", "Re: Invoice"),
        ("RE[3]: [acme-list] Invoice", "Re: Invoice"),
        ("", "Re:"),
    ],
)
def test_subject_gets_exactly_one_re(subject: str, expected: str) -> None:
    """Reply and forward piles in any language collapse into one "Re:"."""
    assert reply_subject(subject) == expected


def test_subject_follows_the_customers_latest_message() -> None:
    """The subject is the customer's last one (they may have renamed the thread)."""
    messages = (inbound(1), inbound(2, subject="AW: New seats count"))
    assert compose(context(messages=messages))["Subject"] == "Re: New seats count"


def test_references_follow_rfc_5322_and_are_trimmed() -> None:
    """Parent's References plus its id; bad ids dropped; the root and the newest kept."""
    refs = tuple(f"r{i}@x.example" for i in range(40))
    parent = inbound(5, references=("bad id@x", *refs), in_reply_to="r39@x.example")
    found = reply_references(parent)
    assert len(found) == MAX_OUTBOUND_REFERENCES
    assert found[0] == "r0@x.example"
    assert found[-1] == "m5@customer.example"
    assert found[-2] == "r39@x.example"
    assert "bad id@x" not in found
    no_refs = inbound(6, in_reply_to="p@x.example")
    assert reply_references(no_refs) == ("p@x.example", "m6@customer.example")
    assert reply_references(None) == ()


def test_reply_answers_the_latest_message_not_a_failed_one() -> None:
    """An agent's follow-up is the parent; an outbound message that failed never is."""
    ours = inbound(
        2,
        direction=Direction.OUTBOUND,
        rfc_message_id="t.1@acme.inbox.example.net",
        references=("m1@customer.example",),
        delivery_status=DeliveryStatus.SENT,
    )
    failed = inbound(3, direction=Direction.OUTBOUND, delivery_status=DeliveryStatus.FAILED)
    m = compose(context(messages=(inbound(1), ours, failed)))
    assert m["In-Reply-To"] == "<t.1@acme.inbox.example.net>"
    assert m["References"] == "<m1@customer.example> <t.1@acme.inbox.example.net>"


def test_cc_is_kept_without_us_the_team_or_the_contact() -> None:
    """Cc: the customer's other recipients, minus our addresses, agents and the contact."""
    last = inbound(
        1,
        to=(
            EmailAddress.parse("support@acme.example"),
            EmailAddress.parse("Bob <bob@customer.example>"),
        ),
        cc=(
            EmailAddress.parse("carol@customer.example"),
            EmailAddress.parse("owen@acme.example"),
            EmailAddress.parse("support-7f3k+x@acme.inbox.example.net"),
            EmailAddress.parse("other@acme.inbox.example.net"),
            EmailAddress.parse("ADA@customer.example"),
            EmailAddress.parse("bob@customer.example"),
        ),
    )
    composed = compose_reply(
        context(messages=(last,)),
        ReplyDraft(text="x"),
        CONFIG,
        now=NOW,
        unique="u1",
        message_id=OUT,
    )
    assert [a.address for a in composed.cc] == ["bob@customer.example", "carol@customer.example"]
    assert (
        str(parse(composed.mail.data)["Cc"]) == "Bob <bob@customer.example>, carol@customer.example"
    )
    assert composed.mail.rcpt_to == (
        "ada@customer.example",
        "bob@customer.example",
        "carol@customer.example",
    )
    edited = compose_reply(
        context(messages=(last,)),
        ReplyDraft(text="x", cc=()),
        CONFIG,
        now=NOW,
        unique="u1",
        message_id=OUT,
    )
    assert edited.cc == ()
    assert "Cc" not in parse(edited.mail.data)


def test_owners_mail_in_the_thread_does_not_set_the_cc() -> None:
    """Cc comes from the customer's last message, not an agent's message that came in by mail."""
    customer = inbound(1, cc=(EmailAddress.parse("carol@customer.example"),))
    agent_mail = inbound(
        2,
        sender=EmailAddress.parse("owen@acme.example"),
        author_id=UserId("u2"),
        cc=(EmailAddress.parse("boss@acme.example"),),
    )
    composed = compose_reply(
        context(messages=(customer, agent_mail)),
        ReplyDraft(text="x"),
        CONFIG,
        now=NOW,
        unique="u",
        message_id=OUT,
    )
    assert [a.address for a in composed.cc] == ["carol@customer.example"]


BOARD = EmailAddress.parse("board@attacker.example")
CAROL = EmailAddress.parse("carol@customer.example")


def reply_cc_of(*messages: Message) -> list[str]:
    composed = compose_reply(
        context(messages=messages),
        ReplyDraft(text="x"),
        CONFIG,
        now=NOW,
        unique="u",
        message_id=OUT,
    )
    return [a.address for a in composed.cc]


def test_a_message_nothing_proves_the_contact_wrote_adds_no_cc() -> None:
    """A post "as" the contact (a list, a forged From) with Cc: board@attacker.example joins
    the thread, but the next reply copies only whom the contact's proven message copied."""
    proven = inbound(1, cc=(CAROL,))
    forged = inbound(2, cc=(BOARD,), sender_evidence=None)
    assert reply_cc_of(proven, forged) == ["carol@customer.example"]
    assert reply_cc_of(forged) == []


def test_the_contacts_own_proven_reply_all_sets_the_cc() -> None:
    """The contact's later proven message, copying someone new, is the one that counts."""
    earlier = inbound(1, cc=(CAROL,))
    later = inbound(2, cc=(EmailAddress.parse("dave@partner.example"),))
    assert reply_cc_of(earlier, later) == ["dave@partner.example"]


def test_a_proven_message_from_someone_else_adds_no_cc() -> None:
    """Proof that a colleague of the contact wrote a message is not proof of the contact."""
    colleague = inbound(
        1, sender=EmailAddress.parse("ben@customer.example"), cc=(BOARD,), to=(CAROL,)
    )
    assert reply_cc_of(colleague) == []


INJECTIONS = ["Hi\r\nBcc: eve@evil.example", "Hi\nBcc: eve@evil.example", "Hi\rX: y"]


@pytest.mark.parametrize("bad", INJECTIONS)
def test_header_injection_is_refused_from_every_source(bad: str) -> None:
    """CR or LF in a subject, a name, a company, a file name or a channel id raises."""
    cases: list[tuple[ReplyContext, ReplyDraft]] = [
        (context(), ReplyDraft(text="x", subject=bad)),
        (
            context(conversation=attrs.evolve(CONVERSATION, subject=bad), messages=()),
            ReplyDraft(text="x"),
        ),
        (context(messages=(inbound(1, subject=bad),)), ReplyDraft(text="x")),
        (context(agent=attrs.evolve(AGENT, first_name=bad)), ReplyDraft(text="x")),
        (context(agent=attrs.evolve(AGENT, last_name=bad)), ReplyDraft(text="x")),
        (context(channel=attrs.evolve(CHANNEL, company_name=bad)), ReplyDraft(text="x")),
        (context(channel=attrs.evolve(CHANNEL, id=ChannelId(bad))), ReplyDraft(text="x")),
        (context(contact=attrs.evolve(CONTACT, name=bad)), ReplyDraft(text="x")),
        (
            context(),
            ReplyDraft(text="x", attachments=(OutboundAttachment(filename=bad, data=b"1"),)),
        ),
        (
            context(),
            ReplyDraft(
                text="x",
                attachments=(OutboundAttachment(filename="a", data=b"1", content_type=bad),),
            ),
        ),
    ]
    for ctx, draft in cases:
        with pytest.raises(HeaderInjectionError):
            compose_reply(ctx, draft, CONFIG, now=NOW, unique="u", message_id=OUT)


def test_notification_refuses_header_injection() -> None:
    """The owner notification checks names and subjects the same way."""
    note = NotificationContext(
        channel=CHANNEL, conversation=CONVERSATION, contact=CONTACT, owner=AGENT, subject="Hi"
    )
    for bad_note in (
        attrs.evolve(note, subject=INJECTIONS[0]),
        attrs.evolve(note, contact=attrs.evolve(CONTACT, name=INJECTIONS[1])),
        attrs.evolve(note, owner=attrs.evolve(AGENT, first_name=INJECTIONS[2])),
    ):
        with pytest.raises(HeaderInjectionError):
            compose_owner_notification(bad_note, CONFIG, now=NOW, unique="u")


def test_other_line_separators_become_spaces() -> None:
    """U+2028, form feed and tabs are not refused but cannot break a header either."""
    assert check_header_value("Subject", "a\u2028b\x0cc\td") == "a b c d"
    m = compose(subject="Offer\u2028valid")
    assert m["Subject"] == "Offer valid"


def test_oversize_attachments_and_messages_are_refused() -> None:
    """Attachments over the limit, or a message over the message limit, raise MessageTooLarge."""
    small = attrs.evolve(CONFIG, max_attachment_bytes=1000, max_message_bytes=50_000)
    files = (
        OutboundAttachment(filename="a.pdf", data=b"%" * 600, content_type="application/pdf"),
        OutboundAttachment(filename="b.pdf", data=b"%" * 600, content_type="application/pdf"),
    )
    with pytest.raises(MessageTooLarge) as caught:
        compose_reply(
            context(),
            ReplyDraft(text="x", attachments=files),
            small,
            now=NOW,
            unique="u",
            message_id=OUT,
        )
    assert (caught.value.what, caught.value.size, caught.value.limit) == ("attachments", 1200, 1000)
    tight = attrs.evolve(CONFIG, max_message_bytes=2000)
    with pytest.raises(MessageTooLarge) as message_caught:
        compose_reply(
            context(), ReplyDraft(text="x" * 5000), tight, now=NOW, unique="u", message_id=OUT
        )
    assert message_caught.value.what == "message"
    assert str(message_caught.value).startswith("the message of ")
    assert "exceeds the limit of 2000 bytes" in str(message_caught.value)
    assert "in total exceed the limit of 1000 bytes" in str(caught.value)


def test_attachments_keep_non_ascii_names_and_their_bytes() -> None:
    """RFC 2231 file names, content types and payloads survive; paths are flattened."""
    files = (
        OutboundAttachment(
            filename="Rechnung März 2026.pdf",
            data=b"%PDF-1.7\x00\xff",
            content_type="application/pdf",
        ),
        OutboundAttachment(
            filename="../../etc/請求書.txt", data="請求書".encode(), content_type="text/plain"
        ),
    )
    m = compose(attachments=files)
    found = [
        (p.get_filename(), p.get_content_type(), p.get_payload(decode=True))
        for p in m.iter_attachments()
    ]
    assert found == [
        ("Rechnung März 2026.pdf", "application/pdf", b"%PDF-1.7\x00\xff"),
        (".._.._etc_請求書.txt", "text/plain", "請求書".encode()),
    ]
    assert m.get_content_type() == "multipart/mixed"


def test_non_ascii_everywhere_is_encoded_and_reads_back() -> None:
    """Names, subject, body and IDN domains: ASCII on the wire, the same text when read."""
    contact = attrs.evolve(
        CONTACT, email=EmailAddress.parse("jürgen@bücher.example"), name="Jürgen Müller"
    )
    contact = attrs.evolve(contact, email=EmailAddress.parse("juergen@bücher.example"))
    messages = (inbound(1, subject="Größe der Lieferung — 配送", sender=contact.email),)
    composed = compose_reply(
        context(contact=contact, messages=messages),
        ReplyDraft(text="Grüße aus Köln 🌷"),
        CONFIG,
        now=NOW,
        unique="u",
        message_id=OUT,
    )
    assert composed.mail.data.isascii()
    m = parse(composed.mail.data)
    assert m["Subject"] == "Re: Größe der Lieferung — 配送"
    assert str(m["To"]) == "Jürgen Müller <juergen@xn--bcher-kva.example>"
    assert composed.mail.rcpt_to == ("juergen@xn--bcher-kva.example",)
    plain = m.get_body(("plain",))
    assert plain is not None
    assert "Grüße aus Köln 🌷" in plain.get_content()


def test_internationalized_local_part_uses_smtputf8() -> None:
    """An EAI contact address is written as UTF-8 (the transport then needs SMTPUTF8)."""
    contact = attrs.evolve(CONTACT, email=EmailAddress.parse("jürgen@bücher.example"))
    composed = compose_reply(
        context(contact=contact), ReplyDraft(text="x"), CONFIG, now=NOW, unique="u", message_id=OUT
    )
    assert "jürgen@xn--bcher-kva.example".encode() in composed.mail.data
    assert composed.mail.rcpt_to == ("jürgen@xn--bcher-kva.example",)


def test_owner_notification_content_and_headers() -> None:
    """Who wrote, the subject, an excerpt, the link; auto-generated, suppressing, tokened."""
    config = attrs.evolve(
        CONFIG, conversation_url_template="https://app.example.com/c/{conversation_id}"
    )
    note = NotificationContext(
        channel=CHANNEL,
        conversation=CONVERSATION,
        contact=CONTACT,
        owner=attrs.evolve(AGENT, first_name="Owen", last_name="Price"),
        subject="Fwd: Invoice 1042 is wrong",
        text="Hello,\n\n\n\nthe invoice lists 12 seats.\n" + "more words " * 200,
    )
    composed = compose_owner_notification(note, config, now=NOW, unique="n1")
    m = parse(composed.mail.data)
    assert m["Subject"] == "New conversation from Ada Lovelace: Invoice 1042 is wrong"
    assert str(m["From"]) == "Acme Support <notifications@acme.inbox.example.net>"
    assert str(m["To"]) == "Owen Price <zoe@acme.example>"
    assert m["Auto-Submitted"] == "auto-generated"
    assert m["X-Auto-Response-Suppress"] == "All"
    assert m["X-Inboxcore-Loop"] == "chan-1"
    signer = CONFIG.signer
    assert read_conversation_token(composed.rfc_message_id, signer, NOW) == CID
    reply_to = EmailAddress.parse(str(m["Reply-To"]))
    assert reply_to.tag is not None
    assert read_conversation_token(reply_to.tag, signer, NOW) == CID
    plain = m.get_body(("plain",))
    assert plain is not None
    text = plain.get_content().replace("\r\n", "\n")
    assert "https://app.example.com/c/conv-1" in text
    assert "> Hello,\n>\n> the invoice lists 12 seats." in text
    assert " …" in text


def test_config_refuses_a_bad_link_template() -> None:
    """The conversation link must be https and hold {conversation_id}."""
    for template in ("http://app.example.com/{conversation_id}", "https://app.example.com/"):
        with pytest.raises(ConfigurationError):
            attrs.evolve(CONFIG, conversation_url_template=template)


def test_excerpt_cuts_at_a_word() -> None:
    """Short text is kept; long text is cut at a word boundary with an ellipsis."""
    assert excerpt("short  text") == "short text"
    cut = excerpt("word " * 50, length=42)
    assert cut.endswith(" …")
    assert len(cut) <= 44


@settings(max_examples=40, deadline=None)
@given(
    subject=st.text(max_size=80),
    name=st.text(max_size=40),
    body=st.text(max_size=400),
)
def test_composing_never_fails_except_by_refusing_line_breaks(
    subject: str, name: str, body: str
) -> None:
    """Any text: a parseable message, or HeaderInjectionError when a header source has CR/LF."""
    ctx = context(
        contact=attrs.evolve(CONTACT, name=name or None),
        messages=(inbound(1, subject=subject),),
    )
    try:
        composed = compose_reply(
            ctx, ReplyDraft(text=body), CONFIG, now=NOW, unique="u", message_id=OUT
        )
    except HeaderInjectionError:
        assert any(c in "\r\n" for c in subject + name)
        return
    m = parse(composed.mail.data)
    assert m["Message-ID"] == f"<{composed.rfc_message_id}>"
    assert str(m["Subject"]).startswith("Re:")


# --- one threading configuration ----------------------------------------------------------------


def test_threading_config_is_the_one_source_of_keys_and_domain() -> None:
    """OutboundConfig's signer and Message-ID domain are its ThreadingConfig's, normalised."""
    threading = ThreadingConfig(
        conversation_keys=["a-secret-key-of-16+-bytes"], message_id_domain="Inbox.Example.NET"
    )
    config = OutboundConfig(
        hosting=HostedDomainConfig(hosted_domain="inbox.example.net"), threading=threading
    )
    assert config.message_id_domain == "inbox.example.net"
    assert threading.conversation_keys == (b"a-secret-key-of-16+-bytes",)
    token = config.signer.sign(b"x", NOW)
    assert threading.signer.unsign(token, NOW).payload == b"x"


def test_threading_config_refuses_unusable_keys_and_domains() -> None:
    """No keys, a short key or a domain that is not one are refused when configured."""
    for keys, domain in (([], "inbox.example.net"), ([b"short"], "inbox.example.net")):
        with pytest.raises(InvalidValueError):
            ThreadingConfig(conversation_keys=keys, message_id_domain=domain)
    with pytest.raises(InvalidValueError):
        ThreadingConfig(conversation_keys=[b"k" * 32], message_id_domain="not a domain")


# --- verification mail ----------------------------------------------------------------------------


def verification(**kw: Any) -> VerificationRequest:
    values: dict[str, Any] = {
        "channel": CHANNEL,
        "address": EmailAddress.parse("Team <team@gmail.example>"),
        "link": "https://app.example.com/verify-sender?token=abc.def",
        "sender": EmailAddress.parse("Example Helpdesk <no-reply@inbox.example.net>"),
        "expires_in": timedelta(hours=24),
        "message_id_domain": "inbox.example.net",
        "product_name": "Example Helpdesk",
    }
    values.update(kw)
    return VerificationRequest(**values)


def test_verification_mail_goes_through_the_common_path() -> None:
    """Our Message-ID, loop header, automatic-mail headers, From and To as the other mail."""
    composed = compose_verification(verification(), now=NOW, unique="AbC123")
    m = parse(composed.mail.data)
    assert str(m["From"]) == "Example Helpdesk <no-reply@inbox.example.net>"
    assert str(m["To"]) == "team@gmail.example"
    assert m["Subject"] == "Confirm team@gmail.example as a sending address"
    assert m["Message-ID"] == "<verify-abc123@inbox.example.net>"
    assert composed.rfc_message_id == "verify-abc123@inbox.example.net"
    assert m["Auto-Submitted"] == "auto-generated"
    assert m["X-Auto-Response-Suppress"] == "All"
    assert m["X-Inboxcore-Loop"] == "chan-1"
    assert m["Date"] == "Mon, 04 May 2026 10:00:00 +0000"
    assert composed.mail.mail_from == "no-reply@inbox.example.net"
    assert composed.mail.rcpt_to == ("team@gmail.example",)
    text = m.get_body(("plain",))
    html_part = m.get_body(("html",))
    assert text is not None
    assert html_part is not None
    content = text.get_content()
    assert "https://app.example.com/verify-sender?token=abc.def" in content.split()
    assert "Acme Support wants to send email from team@gmail.example" in content
    assert "expires in 24 hours" in content
    assert 'href="https://app.example.com/verify-sender?token=abc.def"' in html_part.get_content()


def test_verification_mail_encodes_non_ascii_names() -> None:
    """A non-ASCII sender name is RFC 2047 on the wire and the company is escaped in HTML."""
    channel = attrs.evolve(CHANNEL, company_name="Zoë & Co <Support>")
    sender = EmailAddress.parse("Hilfe Zoë <no-reply@inbox.example.net>")
    composed = compose_verification(
        verification(channel=channel, sender=sender), now=NOW, unique="u1"
    )
    assert b"=?utf-8?" in composed.mail.data.split(b"\r\n\r\n")[0]
    assert composed.mail.data.isascii()
    m = parse(composed.mail.data)
    assert str(m["From"]) == "Hilfe Zoë <no-reply@inbox.example.net>"
    html_part = m.get_body(("html",))
    assert html_part is not None
    assert "Zoë &amp; Co &lt;Support&gt;" in html_part.get_content()


@pytest.mark.parametrize(
    ("expires_in", "wording"),
    [
        (timedelta(hours=24), "24 hours"),
        (timedelta(hours=1), "1 hour"),
        (timedelta(minutes=90), "90 minutes"),
        (timedelta(days=3), "3 days"),
        (timedelta(seconds=45), "45 seconds"),
    ],
)
def test_verification_mail_states_the_exact_expiry(expires_in: timedelta, wording: str) -> None:
    """The expiry is said exactly: 90 minutes is not rounded down to "1 hours"."""
    composed = compose_verification(verification(expires_in=expires_in), now=NOW, unique="u")
    text = parse(composed.mail.data).get_body(("plain",))
    assert text is not None
    assert f"expires in {wording}." in text.get_content()


def test_verification_mail_refuses_bad_links_ids_and_injection() -> None:
    """A link that is not one https URL, a bad unique part or a CR/LF header value is refused."""
    for link in (
        "http://app.example.com/v?t=1",
        "https://app.example.com/v?t=1\nClick here",
        "https://app.example.com/v?t=1 extra",
        "javascript:alert(1)",
    ):
        with pytest.raises(InvalidValueError):
            compose_verification(verification(link=link), now=NOW, unique="u")
    with pytest.raises(InvalidValueError):
        compose_verification(verification(), now=NOW, unique="no spaces")
    with pytest.raises(HeaderInjectionError):
        compose_verification(
            verification(channel=attrs.evolve(CHANNEL, id=ChannelId("c\r\nBcc: x@evil.example"))),
            now=NOW,
            unique="u",
        )
    with pytest.raises(MessageTooLarge) as caught:
        compose_verification(verification(), now=NOW, unique="u", max_message_bytes=500)
    assert caught.value.what == "message"


@settings(max_examples=30, deadline=None)
@given(company=st.text(max_size=60), product=st.text(max_size=30))
def test_any_team_name_composes_a_verification_mail_with_a_working_link(
    company: str, product: str
) -> None:
    """Whatever the company and product names (they go in the body), the link survives intact."""
    channel = attrs.evolve(CHANNEL, company_name=company)
    composed = compose_verification(
        verification(channel=channel, product_name=product), now=NOW, unique="u"
    )
    text = parse(composed.mail.data).get_body(("plain",))
    assert text is not None
    assert "https://app.example.com/verify-sender?token=abc.def" in text.get_content().split()
