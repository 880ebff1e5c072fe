"""Threading: headers, tokens and subjects find conversations; hijack protection splits them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inboxcore.auth.authentication import (
    AuthenticationResult,
    AuthVerdict,
    Evidence,
    EvidenceMethod,
)
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import InvalidValueError
from inboxcore.domain.ids import AccountId, ChannelId, ContactId, ConversationId, MessageId
from inboxcore.domain.model import (
    Conversation,
    ConversationKind,
    ConversationSettings,
    ConversationStatus,
    Direction,
    Message,
    MessageKind,
)
from inboxcore.domain.tokens import Signer
from inboxcore.mail.parsing import parse_message
from inboxcore.mail.sender import SenderResolution, SenderSource
from inboxcore.policies.threads import (
    BOUNCE_TAG_HEADER,
    BOUNCE_WINDOW,
    FREE_MAIL_DOMAINS,
    MAX_REFERENCES,
    BounceProof,
    MatchedBy,
    ThreadAction,
    ThreadContext,
    ThreadDecision,
    bounce_address,
    bounce_proofs,
    bounce_signer,
    conversation_signer,
    decide_thread,
    find_token_conversation_id,
    is_free_mail_domain,
    is_reply_subject,
    make_bounce_tag,
    make_conversation_token,
    organization_domain,
    outbound_message_id,
    proof_holds,
    read_bounce_tag,
    read_conversation_token,
    referenced_message_ids,
    reply_to_address,
    same_organization,
    sender_may_join,
    sender_proof,
    strip_subject_prefixes,
    subject_key,
    token_from_address,
    token_from_message_id,
)

NOW = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
CHANNEL = ChannelId("ch-support")
ACCOUNT = AccountId("acme")
CONTACT = ContactId("contact-jane")
JANE = EmailAddress.parse("Jane Roe <jane.roe@globex.example>")
SETTINGS = ConversationSettings(
    subject_match_window=timedelta(days=7), reopen_window=timedelta(days=30)
)
SIGNER = conversation_signer(
    [b"an-old-key-of-32-bytes-length!!!", b"the-current-key-of-32-bytes-long"]
)


def conv(
    cid: str = "conv-1",
    *,
    subject: str = "Invoice 2025-117 shows the wrong VAT",
    status: ConversationStatus = ConversationStatus.OPEN,
    closed_ago: timedelta | None = None,
    last_ago: timedelta = timedelta(hours=3),
    contact: ContactId = CONTACT,
    channel: ChannelId = CHANNEL,
    participants: frozenset[str] = frozenset({JANE.key}),
    kind: ConversationKind = ConversationKind.CUSTOMER,
) -> Conversation:
    return Conversation(
        id=ConversationId(cid),
        account_id=ACCOUNT,
        channel_id=channel,
        contact_id=contact,
        subject=subject,
        created_at=NOW - timedelta(days=60),
        last_message_at=NOW - last_ago,
        kind=kind,
        status=status,
        closed_at=NOW - closed_ago if closed_ago is not None else None,
        participants=participants,
    )


def context(*conversations: Conversation, **kw: object) -> ThreadContext:
    defaults: dict[str, object] = {
        "channel_id": CHANNEL,
        "sender": JANE,
        "contact_id": CONTACT,
        "subject": "Re: Invoice 2025-117 shows the wrong VAT",
        "conversations": conversations,
        "contact_addresses": {CONTACT: JANE},
    }
    defaults.update(kw)
    return ThreadContext(**defaults)  # type: ignore[arg-type]


def decide(ctx: ThreadContext) -> ThreadDecision:
    return decide_thread(ctx, now=NOW, settings=SETTINGS)


def by_reference(*conversations: Conversation, **kw: object) -> ThreadContext:
    """A reply whose In-Reply-To names our outbound message in the first conversation."""
    return context(
        *conversations,
        in_reply_to=("<reply-1@inbox.example>",),
        known_message_ids={"reply-1@inbox.example": conversations[0].id},
        **kw,
    )


# --- subjects -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "base"),
    [
        ("Re: Invoice", "Invoice"),
        ("RE: re: Re:Invoice", "Invoice"),
        ("AW: WG: Invoice", "Invoice"),
        ("SV: VS: Antw: TR: RV: Invoice", "Invoice"),
        ("RE[2]: Invoice", "Invoice"),
        ("Re^3: Invoice", "Invoice"),
        ("Re(4): Invoice", "Invoice"),
        ("Fwd: Fw: FWD: Invoice", "Invoice"),
        ("[acme-users] Re: [acme-users] Invoice", "Invoice"),
        ("Re : Invoice", "Invoice"),
        ("ODP: RES: Invoice", "Invoice"),
        ("回复：Invoice", "Invoice"),
        ("Invoice (fwd)", "Invoice"),
        ("  Re:   Invoice\t 2025  ", "Invoice 2025"),
        ("Reorder: 12 chairs", "Reorder: 12 chairs"),
        ("Invoice: re: VAT", "Invoice: re: VAT"),
        ("", ""),
    ],
)
def test_reply_and_forward_prefixes_are_stripped(subject: str, base: str) -> None:
    """Prefixes in many languages, numbered forms and list tags go; text after them stays."""
    assert strip_subject_prefixes(subject) == base


def test_subject_key_ignores_case_and_knows_replies_from_forwards() -> None:
    """Keys compare case-insensitively; only reply prefixes make a reply subject."""
    assert subject_key("RE: INVOICE 117") == subject_key("invoice 117")
    assert is_reply_subject("AW: [list] Invoice")
    assert not is_reply_subject("Fwd: Invoice")
    assert not is_reply_subject("Invoice")


@given(st.text(max_size=60))
def test_subject_stripping_is_idempotent(subject: str) -> None:
    """Stripping a stripped subject changes nothing."""
    once = strip_subject_prefixes(subject)
    assert strip_subject_prefixes(once) == once


# --- organizations --------------------------------------------------------------------------


def test_organization_domains_follow_the_public_suffix_list() -> None:
    """Subdomains share the registrable domain; public suffixes and junk have none."""
    assert organization_domain("mail.acme.co.uk") == "acme.co.uk"
    assert organization_domain("ACME.example.") == "acme.example"
    assert organization_domain("bücher.example") == "xn--bcher-kva.example"
    assert organization_domain("co.uk") is None
    assert organization_domain("[192.0.2.1]") is None
    assert organization_domain("not a domain") is None
    assert same_organization("eu.mail.acme.co.uk", "acme.co.uk")
    assert not same_organization("acme.co.uk", "other.co.uk")
    assert not same_organization("alice.github.io", "bob.github.io")


def test_free_mail_domains_never_make_an_organization() -> None:
    """Two gmail.com (or hotmail.co.uk) users are strangers."""
    assert "gmail.com" in FREE_MAIL_DOMAINS
    assert is_free_mail_domain("hotmail.co.uk")
    assert is_free_mail_domain("GMAIL.com")
    assert not is_free_mail_domain("globex.example")
    assert not same_organization("gmail.com", "gmail.com")


def test_sender_may_join_rules() -> None:
    """Contact, participants, insiders and the contact's colleagues may join; strangers not."""
    c = conv()
    ok = {"contact_address": JANE}
    assert sender_may_join(c, sender=None, contact_id=CONTACT)
    assert sender_may_join(c, sender=JANE)
    assert sender_may_join(c, sender=EmailAddress.parse("boss@eu.globex.example"), **ok)  # type: ignore[arg-type]
    assert sender_may_join(
        c, sender=EmailAddress.parse("ann@acme.example"), insiders=frozenset({"ann@acme.example"})
    )
    assert not sender_may_join(c, sender=EmailAddress.parse("mallory@evil.example"), **ok)  # type: ignore[arg-type]
    assert not sender_may_join(c, sender=None)
    gmail_contact = EmailAddress.parse("jane@gmail.com")
    assert not sender_may_join(
        c, sender=EmailAddress.parse("mallory@gmail.com"), contact_address=gmail_contact
    )


# --- tokens ---------------------------------------------------------------------------------

conversation_ids = st.one_of(
    st.uuids().map(str),
    st.integers(0, 10**30).map(str),
    st.text(min_size=1, max_size=40).filter(lambda s: s.strip() != ""),
).map(ConversationId)


@settings(max_examples=80)
@given(conversation_ids)
def test_tokens_round_trip_in_any_case(cid: ConversationId) -> None:
    """A token reads back to its id, also upper-cased by a relay, in a tag or a Message-ID."""
    token = make_conversation_token(cid, SIGNER, NOW)
    assert set(token) <= set("abcdefghijklmnopqrstuvwxyz234567")
    later = NOW + timedelta(days=400)
    assert read_conversation_token(token, SIGNER, later) == cid
    assert read_conversation_token(token.upper(), SIGNER, later) == cid
    mid = outbound_message_id(token, "inbox.example", unique="7f3a9c")
    assert token_from_message_id(f"<{mid}>", SIGNER, later) == cid


def test_uuid_tokens_fit_a_plus_tag() -> None:
    """A UUID conversation id gives a token short enough for support+<token>@ addresses."""
    cid = ConversationId(str(uuid.UUID(int=2**127 + 12345)))
    token = make_conversation_token(cid, SIGNER, NOW)
    assert len(token) <= 50
    address = reply_to_address(EmailAddress.parse("support@acme.example"), token)
    assert address.tag == token
    assert token_from_address(EmailAddress.parse(address.address.upper()), SIGNER, NOW) == cid


def tampered(token: str, data: st.DataObject) -> tuple[str, str]:
    """``token`` with one base32 character changed, and cut short at that character."""
    i = data.draw(st.integers(0, len(token) - 1))
    other = data.draw(
        st.sampled_from("abcdefghijklmnopqrstuvwxyz234567").filter(lambda c: c != token[i])
    )
    return token[:i] + other + token[i + 1 :], token[:i]


@settings(max_examples=80)
@given(conversation_ids, st.data())
def test_tampered_tokens_are_refused(cid: ConversationId, data: st.DataObject) -> None:
    """Changing any one character, or cutting the token, gives None, never another id."""
    for bad in tampered(make_conversation_token(cid, SIGNER, NOW), data):
        assert read_conversation_token(bad, SIGNER, NOW) is None


def test_tokens_verify_across_key_rotation_and_not_across_purposes() -> None:
    """Old keys still verify; other keys and other salts do not; a wrong signer is a bug."""
    cid = ConversationId("conv-42")
    old = conversation_signer([b"an-old-key-of-32-bytes-length!!!"])
    assert read_conversation_token(make_conversation_token(cid, old, NOW), SIGNER, NOW) == cid
    stranger = conversation_signer([b"somebody-elses-key-32-bytes-long"])
    assert read_conversation_token(make_conversation_token(cid, stranger, NOW), SIGNER, NOW) is None
    wrong_purpose = Signer(
        secret_keys=(b"the-current-key-of-32-bytes-long",), salt="verify", digest_size=10
    )
    with pytest.raises(InvalidValueError):
        make_conversation_token(cid, wrong_purpose, NOW)
    with pytest.raises(InvalidValueError):
        make_conversation_token(ConversationId(""), SIGNER, NOW)


def test_tokens_from_the_future_are_refused() -> None:
    """A token issued beyond clock skew in the future is not ours to trust."""
    token = make_conversation_token(ConversationId("conv-1"), SIGNER, NOW + timedelta(hours=1))
    assert read_conversation_token(token, SIGNER, NOW) is None


@settings(max_examples=150)
@given(st.text(max_size=300))
def test_reading_garbage_never_raises(text: str) -> None:
    """Whatever a header holds, reading a token gives None rather than an exception."""
    assert read_conversation_token(text, SIGNER, NOW) is None
    assert token_from_message_id(text, SIGNER, NOW) is None


def test_message_ids_stay_unique_and_reject_bad_parts() -> None:
    """Two messages of one conversation get distinct Message-IDs; unsafe parts are refused."""
    token = make_conversation_token(ConversationId("conv-1"), SIGNER, NOW)
    a = outbound_message_id(token, "Inbox.Example", unique="m-1")
    b = outbound_message_id(token, "inbox.example", unique="m-2")
    assert a != b
    assert a.endswith("@inbox.example")
    with pytest.raises(InvalidValueError):
        outbound_message_id(token, "inbox.example", unique="a b")
    with pytest.raises(InvalidValueError):
        outbound_message_id("NOT-A-TOKEN!", "inbox.example", unique="m-1")


def test_reply_to_falls_back_to_the_plain_address_when_too_long() -> None:
    """A tag that would break the 64-octet local part limit is left off, not a crash."""
    token = make_conversation_token(ConversationId("x" * 40), SIGNER, NOW)
    long_local = EmailAddress.parse("customer-success-and-billing@acme.example")
    assert reply_to_address(long_local, token) == long_local
    tagged = EmailAddress.parse("support+old@acme.example")
    short = make_conversation_token(ConversationId("7"), SIGNER, NOW)
    assert reply_to_address(tagged, short).tag == short


def test_find_token_prefers_the_recipient_tag_then_recent_references() -> None:
    """The address replied to wins; else the most recent referenced Message-ID with a token."""
    t1 = make_conversation_token(ConversationId("conv-1"), SIGNER, NOW)
    t2 = make_conversation_token(ConversationId("conv-2"), SIGNER, NOW)
    to = (
        EmailAddress.parse("other@globex.example"),
        EmailAddress.parse(f"support+{t2}@acme.example"),
    )
    refs = (f"<{t1}.a@inbox.example>", "<CAF=x@mail.gmail.com>")
    assert (
        find_token_conversation_id(recipients=to, references=refs, signer=SIGNER, now=NOW)
        == "conv-2"
    )
    assert (
        find_token_conversation_id(recipients=(), references=refs, signer=SIGNER, now=NOW)
        == "conv-1"
    )
    assert find_token_conversation_id(recipients=to[:1], signer=SIGNER, now=NOW) is None


def test_referenced_message_ids_most_recent_first_and_capped() -> None:
    """In-Reply-To first, then References backwards, deduplicated, at most 32."""
    refs = tuple(f"<m{i}@x.example>" for i in range(100))
    ids = referenced_message_ids(("<m99@x.example>",), refs)
    assert len(ids) == MAX_REFERENCES
    assert ids[:3] == ("m99@x.example", "m98@x.example", "m97@x.example")
    assert "m67@x.example" not in ids
    assert referenced_message_ids((" <a@b> ", ""), ("<a@b>", "<>", "bad id")) == ("a@b",)


# --- bounce tags -----------------------------------------------------------------------------

BOUNCES = bounce_signer([b"an-old-key-of-32-bytes-length!!!", b"the-current-key-of-32-bytes-long"])
CHANNEL_ADDRESS = EmailAddress.parse("support-7f3kq2m9xv4ab@acme.inbox.example.net")
message_ids = conversation_ids.map(MessageId)


@settings(max_examples=80)
@given(message_ids)
def test_bounce_tags_name_their_message_in_any_case(mid: MessageId) -> None:
    """A tag reads back to the outbound message it names, also lowercased or upper-cased by a
    mail system, and is the same at every attempt (it carries no time)."""
    tag = make_bounce_tag(mid, BOUNCES)
    assert set(tag) <= set("abcdefghijklmnopqrstuvwxyz234567")
    assert tag == make_bounce_tag(mid, BOUNCES)
    assert read_bounce_tag(tag, BOUNCES) == mid
    assert read_bounce_tag(tag.upper(), BOUNCES) == mid


@settings(max_examples=80)
@given(message_ids, st.data())
def test_tampered_bounce_tags_are_refused(mid: MessageId, data: st.DataObject) -> None:
    """Changing any one character, or cutting the tag, gives None, never another message."""
    for bad in tampered(make_bounce_tag(mid, BOUNCES), data):
        assert read_bounce_tag(bad, BOUNCES) is None


def test_bounce_tags_and_conversation_tokens_never_pass_for_each_other() -> None:
    """Same keys, other salts: a tag is no token and a token no tag; other keys verify nothing;
    a signer of another purpose is a bug."""
    mid = MessageId("msg-k3v9q2m7xd")
    tag = make_bounce_tag(mid, BOUNCES)
    assert read_conversation_token(tag, SIGNER, NOW) is None
    token = make_conversation_token(ConversationId("msg-k3v9q2m7xd"), SIGNER, NOW)
    assert read_bounce_tag(token, BOUNCES) is None
    old = bounce_signer([b"an-old-key-of-32-bytes-length!!!"])
    assert read_bounce_tag(make_bounce_tag(mid, old), BOUNCES) == mid
    stranger = bounce_signer([b"somebody-elses-key-32-bytes-long"])
    assert read_bounce_tag(make_bounce_tag(mid, stranger), BOUNCES) is None
    with pytest.raises(InvalidValueError):
        make_bounce_tag(mid, SIGNER)
    with pytest.raises(InvalidValueError):
        read_bounce_tag(tag, SIGNER)
    with pytest.raises(InvalidValueError):
        make_bounce_tag(MessageId(""), BOUNCES)


@settings(max_examples=150)
@given(st.text(max_size=300))
def test_reading_a_garbage_bounce_tag_never_raises(text: str) -> None:
    """Whatever an address or header holds, reading a tag gives None rather than an exception."""
    assert read_bounce_tag(text, BOUNCES) is None


@pytest.mark.parametrize(
    "mid",
    ["msg-k3v9q2m7xd", str(uuid.UUID(int=2**127 + 99)), "message-123456"],
)
def test_bounce_addresses_fit_beside_a_generated_forwarding_address(mid: str) -> None:
    """With the default ids (and UUIDs) the signed bounce address of a generated forwarding
    address stays within 64 octets of local part; longer ones fall back to the plain address."""
    tag = make_bounce_tag(MessageId(mid), BOUNCES)
    address = bounce_address(CHANNEL_ADDRESS, tag)
    assert address.tag == tag
    assert len(address.local) <= 64
    long_id = MessageId("x" * 40)
    plain = bounce_address(CHANNEL_ADDRESS, make_bounce_tag(long_id, BOUNCES))
    assert plain == CHANNEL_ADDRESS


def test_forwarding_local_parts_of_up_to_29_characters_get_a_tagged_bounce_address() -> None:
    """As docs/outbound.md says: with a default RandomIds id, 29 characters fit, 30 do not."""
    tag = make_bounce_tag(MessageId("msg-k3v9q2m7xd"), BOUNCES)
    fits = EmailAddress.parse(f"{'s' * 29}@acme.inbox.example.net")
    too_long = EmailAddress.parse(f"{'s' * 30}@acme.inbox.example.net")
    assert bounce_address(fits, tag).tag == tag
    assert bounce_address(too_long, tag) == too_long


def dsn(*, to: str, quoted: str = "", tag_header: str | None = None) -> bytes:
    """A delivery failure report to ``to``, carrying the original's headers when ``quoted``."""
    original = ""
    if quoted:
        original = (
            "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
            f"From: Acme <support@acme.example>\r\nMessage-ID: <{quoted}>\r\n"
            + (f"{BOUNCE_TAG_HEADER}: {tag_header}\r\n" if tag_header else "")
            + "Subject: Re: Invoice\r\n\r\n"
        )
    return (
        f"From: MAILER-DAEMON@mx.globex.example\r\nTo: {to}\r\nSubject: Undelivered\r\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\nNo such user.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        "Final-Recipient: rfc822; jane.roe@globex.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"{original}--b--\r\n"
    ).encode()


def outbound(mid: str = "msg-out-1", *, sent_ago: timedelta = timedelta(hours=1)) -> Message:
    return Message(
        id=MessageId(mid),
        account_id=ACCOUNT,
        channel_id=CHANNEL,
        conversation_id=ConversationId("conv-1"),
        direction=Direction.OUTBOUND,
        kind=MessageKind.MESSAGE,
        fingerprint="fp",
        received_at=NOW - sent_ago,
        sent_at=NOW - sent_ago,
        rfc_message_id="tok.abc@inbox.example",
    )


def test_a_report_to_the_signed_bounce_address_proves_its_message() -> None:
    """The tag in the address the report was sent to names our message; the record agrees."""
    tag = make_bounce_tag(MessageId("msg-out-1"), BOUNCES)
    to = bounce_address(CHANNEL_ADDRESS, tag)
    (proof,) = bounce_proofs(
        recipients=[to], parsed=parse_message(dsn(to=to.address)), signer=BOUNCES
    )
    assert proof == BounceProof(
        message_id=MessageId("msg-out-1"), matched_by=MatchedBy.BOUNCE_ADDRESS
    )
    assert proof_holds(proof, outbound(), channel_id=CHANNEL, now=NOW)


def test_a_report_naming_our_message_id_alone_proves_nothing() -> None:
    """Sent to the plain address, quoting our Message-ID without the tag, or with a forged one:
    no proof at all."""
    for raw in (
        dsn(to=CHANNEL_ADDRESS.address, quoted="tok.abc@inbox.example"),
        dsn(to=CHANNEL_ADDRESS.address, quoted="tok.abc@inbox.example", tag_header="a" * 34),
    ):
        found = bounce_proofs(
            recipients=[CHANNEL_ADDRESS], parsed=parse_message(raw), signer=BOUNCES
        )
        assert found == ()
    forged = CHANNEL_ADDRESS.with_tag("a" * 34)
    assert bounce_proofs(recipients=[forged], parsed=None, signer=BOUNCES) == ()


def test_a_report_quoting_our_tagged_headers_proves_the_quoted_message() -> None:
    """Our original's headers in the report, tag and Message-ID: proof even when the report went
    elsewhere first; a tag quoted under another Message-ID does not hold."""
    tag = make_bounce_tag(MessageId("msg-out-1"), BOUNCES)
    raw = dsn(to="bounces@provider.example", quoted="tok.abc@inbox.example", tag_header=tag)
    (proof,) = bounce_proofs(recipients=[], parsed=parse_message(raw), signer=BOUNCES)
    assert proof.matched_by is MatchedBy.QUOTED_ORIGINAL
    assert proof.quoted_message_id == "tok.abc@inbox.example"
    assert proof_holds(proof, outbound(), channel_id=CHANNEL, now=NOW)
    moved = dsn(to="bounces@provider.example", quoted="other@inbox.example", tag_header=tag)
    (elsewhere,) = bounce_proofs(recipients=[], parsed=parse_message(moved), signer=BOUNCES)
    assert not proof_holds(elsewhere, outbound(), channel_id=CHANNEL, now=NOW)


def test_a_proof_holds_only_for_our_recent_outbound_message_in_this_channel() -> None:
    """Inbound records, other channels and messages older than the window do not count."""
    proof = BounceProof(message_id=MessageId("msg-out-1"), matched_by=MatchedBy.BOUNCE_ADDRESS)
    assert proof_holds(proof, outbound(sent_ago=BOUNCE_WINDOW), channel_id=CHANNEL, now=NOW)
    old = outbound(sent_ago=BOUNCE_WINDOW + timedelta(minutes=1))
    assert not proof_holds(proof, old, channel_id=CHANNEL, now=NOW)
    inbound_record = attrs.evolve(outbound(), direction=Direction.INBOUND)
    assert not proof_holds(proof, inbound_record, channel_id=CHANNEL, now=NOW)
    assert not proof_holds(proof, outbound(), channel_id=ChannelId("ch-other"), now=NOW)
    assert not proof_holds(proof, outbound("msg-out-2"), channel_id=CHANNEL, now=NOW)


# --- who the sender is proven to be ------------------------------------------------------------


def authenticated(*proofs: Evidence) -> AuthenticationResult:
    return AuthenticationResult(verdict=AuthVerdict.DELIVER, evidence=proofs)


def resolved(address: str, source: SenderSource = SenderSource.HEADER_FROM) -> SenderResolution:
    return SenderResolution(sender=EmailAddress.parse(address), source=source, explanation="")


def test_sender_proof_is_a_signature_or_trusted_seal_of_the_senders_domain() -> None:
    """DKIM of the sender's organization, or a trusted ARC seal that saw it pass, proves the
    sender; SPF alone (it judges whoever relays), another domain, or nothing, does not."""
    dkim = Evidence(domain="mail.globex.example", method=EvidenceMethod.DKIM)
    arc = Evidence(domain="globex.example", method=EvidenceMethod.ARC, via="google.com")
    spf = Evidence(domain="globex.example", method=EvidenceMethod.SPF)
    jane = resolved("jane.roe@globex.example")
    assert sender_proof(authenticated(dkim), jane) == "DKIM of mail.globex.example"
    assert sender_proof(authenticated(spf, arc), jane) == arc.describe()
    assert sender_proof(authenticated(spf), jane) is None
    assert sender_proof(authenticated(dkim), resolved("eve@evil.example")) is None
    assert sender_proof(authenticated(), jane) is None
    assert sender_proof(None, jane) is None


def test_a_sender_read_from_a_quoted_message_is_never_proven() -> None:
    """The forward's own signature is the forwarder's: it proves nothing of the quoted author."""
    dkim = Evidence(domain="globex.example", method=EvidenceMethod.DKIM)
    for source in (SenderSource.MANUAL_FORWARD_BODY, SenderSource.FORWARD_ATTACHMENT):
        assert (
            sender_proof(authenticated(dkim), resolved("jane.roe@globex.example", source)) is None
        )
    nobody = SenderResolution(sender=None, source=SenderSource.NONE, explanation="")
    assert sender_proof(authenticated(dkim), nobody) is None


# --- the decision ---------------------------------------------------------------------------


def test_reply_joins_by_in_reply_to() -> None:
    """A reply naming our message in In-Reply-To joins its open conversation."""
    decision = decide(by_reference(conv()))
    assert (decision.action, decision.conversation_id) == (ThreadAction.JOIN, "conv-1")
    assert (decision.reason, decision.matched_by) == ("reply", MatchedBy.REFERENCES)


def test_the_most_recent_reference_wins() -> None:
    """With references into two conversations, the most recent reference decides."""
    a, b = conv("conv-a"), conv("conv-b")
    ctx = context(
        a,
        b,
        references=("<old@x>", "<new@x>"),
        known_message_ids={"old@x": a.id, "new@x": b.id},
    )
    assert decide(ctx).conversation_id == "conv-b"


def test_token_threads_a_reply_without_headers() -> None:
    """A reply that lost its headers still joins through the token."""
    decision = decide(context(conv(), token_conversation_id=ConversationId("conv-1")))
    assert (decision.conversation_id, decision.matched_by) == ("conv-1", MatchedBy.TOKEN)


def test_matches_in_another_channel_or_unknown_are_ignored() -> None:
    """A token or Message-ID of another channel's conversation does not thread here."""
    elsewhere = conv(channel=ChannelId("ch-sales"), subject="Something else")
    ctx = by_reference(elsewhere, token_conversation_id=ConversationId("conv-404"))
    decision = decide(ctx)
    assert decision.action is ThreadAction.NEW
    assert (decision.reason, decision.matched_by) == ("new", MatchedBy.NONE)


def test_subject_fallback_joins_the_same_contacts_recent_conversation() -> None:
    """Without headers, the same contact's recent conversation with the same subject is joined."""
    old = conv("conv-old", last_ago=timedelta(days=6))
    newer = conv("conv-new", last_ago=timedelta(days=1))
    decision = decide(
        context(same_contact=(old, newer), subject="AW: invoice 2025-117 shows the WRONG vat")
    )
    assert (decision.conversation_id, decision.reason) == ("conv-new", "subject_match")
    assert decision.matched_by is MatchedBy.SUBJECT


@pytest.mark.parametrize(
    ("candidate", "kw"),
    [
        (conv(last_ago=timedelta(days=8)), {}),
        (conv(contact=ContactId("someone-else")), {}),
        (conv(subject=""), {"subject": "Re: "}),
        (conv(), {"contact_id": None}),
        (conv(kind=ConversationKind.NOTICE), {}),
        (
            conv(status=ConversationStatus.CLOSED, closed_ago=timedelta(days=1)),
            {"subject": "Invoice 2025-117 shows the wrong VAT"},
        ),
    ],
)
def test_subject_fallback_is_narrow(candidate: Conversation, kw: dict[str, object]) -> None:
    """Outside the window, another contact, an empty subject, a notice or a non-reply to a
    closed conversation: no subject match."""
    decision = decide(context(same_contact=(candidate,), **kw))
    assert decision.action is ThreadAction.NEW
    assert decision.matched_by is MatchedBy.NONE


def test_subject_reply_to_a_recently_closed_conversation_reopens_it() -> None:
    """A "Re:" from the same contact reopens a conversation closed within the window."""
    closed = conv(
        status=ConversationStatus.CLOSED, closed_ago=timedelta(days=2), last_ago=timedelta(days=2)
    )
    decision = decide(context(same_contact=(closed,)))
    assert (decision.action, decision.matched_by) == (ThreadAction.REOPEN, MatchedBy.SUBJECT)


def test_stranger_replying_to_an_old_thread_gets_a_new_linked_conversation() -> None:
    """Hijack protection: a valid header match from an outsider opens a linked conversation."""
    mallory = EmailAddress.parse("mallory@evil.example")
    decision = decide(by_reference(conv(), sender=mallory, contact_id=ContactId("contact-mallory")))
    assert decision.action is ThreadAction.NEW
    assert decision.reason == "hijack_protection"
    assert decision.linked_conversation_id == "conv-1"
    assert decision.matched_by is MatchedBy.REFERENCES
    assert decision.conversation_id is None


def test_stranger_with_a_token_is_split_off_too() -> None:
    """A forwarded mail's token does not let its new reader into the conversation."""
    ctx = context(
        conv(),
        sender=EmailAddress.parse("friend@gmail.com"),
        contact_id=ContactId("contact-friend"),
        token_conversation_id=ConversationId("conv-1"),
        contact_addresses={CONTACT: EmailAddress.parse("jane@gmail.com")},
    )
    decision = decide(ctx)
    assert (decision.reason, decision.matched_by) == ("hijack_protection", MatchedBy.TOKEN)


@pytest.mark.parametrize(
    ("sender", "insiders"),
    [
        ("cfo@finance.globex.example", ()),
        ("cc-colleague@partner.example", ()),
        ("ann@acme.example", ("ANN@acme.example",)),
    ],
)
def test_colleagues_participants_and_agents_may_reply(
    sender: str, insiders: tuple[str, ...]
) -> None:
    """The contact's organization, other participants and the team's agents join the thread."""
    participants = frozenset({JANE.key, "cc-colleague@partner.example"})
    ctx = by_reference(
        conv(participants=participants),
        sender=EmailAddress.parse(sender),
        contact_id=ContactId("contact-other"),
        insiders=insiders,
    )
    assert decide(ctx).action is ThreadAction.JOIN


def test_reply_to_a_closed_conversation_reopens_it_within_the_window() -> None:
    """Closed 29 days ago with a 30-day window: reopened."""
    closed = conv(
        status=ConversationStatus.CLOSED, closed_ago=timedelta(days=29), last_ago=timedelta(days=29)
    )
    decision = decide(by_reference(closed))
    assert (decision.action, decision.conversation_id, decision.reason) == (
        ThreadAction.REOPEN,
        "conv-1",
        "reopened",
    )


def test_reply_after_the_reopen_window_opens_a_linked_conversation() -> None:
    """Closed 31 days ago: a new conversation linked to the old one."""
    closed = conv(
        status=ConversationStatus.CLOSED, closed_ago=timedelta(days=31), last_ago=timedelta(days=31)
    )
    decision = decide(by_reference(closed))
    assert decision.action is ThreadAction.NEW
    assert decision.reason == "reopen_window_passed"
    assert decision.linked_conversation_id == "conv-1"


DAEMON = EmailAddress.parse("MAILER-DAEMON@mx.provider.example")


@pytest.mark.parametrize("kind", [MessageKind.AUTO_REPLY, MessageKind.BOUNCE])
@pytest.mark.parametrize("proof", [MatchedBy.BOUNCE_ADDRESS, MatchedBy.QUOTED_ORIGINAL])
def test_proven_automatic_mail_joins_without_reopening(kind: MessageKind, proof: MatchedBy) -> None:
    """A bounce or out-of-office proven to answer our message joins, even a closed one, as is."""
    closed = conv(
        status=ConversationStatus.CLOSED, closed_ago=timedelta(days=90), last_ago=timedelta(days=90)
    )
    ctx = context(
        closed,
        kind=kind,
        sender=DAEMON,
        contact_id=None,
        proven_conversation_id=closed.id,
        proven_by=proof,
    )
    decision = decide(ctx)
    assert (decision.action, decision.reason) == (ThreadAction.JOIN, "automatic")
    assert (decision.conversation_id, decision.matched_by) == (closed.id, proof)


@pytest.mark.parametrize("kind", [MessageKind.AUTO_REPLY, MessageKind.BOUNCE])
def test_automatic_mail_naming_our_message_id_without_proof_is_a_notice(kind: MessageKind) -> None:
    """In-Reply-To our Message-ID proves nothing: the out-of-office of an outsider, a forged
    report from the null sender, open a notice of their own, linked to nothing."""
    open_conv = conv()
    for sender, contact in ((DAEMON, None), (EmailAddress.parse("eve@evil.example"), None)):
        decision = decide(by_reference(open_conv, kind=kind, sender=sender, contact_id=contact))
        assert (decision.action, decision.reason) == (ThreadAction.NEW, "automatic_unproven")
        assert decision.matched_by is MatchedBy.REFERENCES
        assert decision.linked_conversation_id is None


def test_automatic_mail_to_the_tagged_reply_to_without_proof_is_a_notice() -> None:
    """A conversation token in the address (our Reply-To) is a claim too, for automatic mail."""
    ctx = context(
        conv(),
        kind=MessageKind.AUTO_REPLY,
        sender=EmailAddress.parse("eve@evil.example"),
        contact_id=ContactId("contact-eve"),
        token_conversation_id=ConversationId("conv-1"),
    )
    decision = decide(ctx)
    assert (decision.action, decision.reason, decision.matched_by) == (
        ThreadAction.NEW,
        "automatic_unproven",
        MatchedBy.TOKEN,
    )


def test_the_contacts_own_proven_out_of_office_joins() -> None:
    """The contact's auto-reply, DKIM-proven, joins by its headers; unproven, the same one is
    a notice, as is a proven one from anyone else."""
    ctx = by_reference(
        conv(), kind=MessageKind.AUTO_REPLY, sender_evidence="DKIM of globex.example"
    )
    decision = decide(ctx)
    assert (decision.action, decision.reason) == (ThreadAction.JOIN, "automatic")
    assert "DKIM of globex.example" in decision.explanation
    unproven = by_reference(conv(), kind=MessageKind.AUTO_REPLY)
    assert decide(unproven).reason == "automatic_unproven"
    colleague = by_reference(
        conv(),
        kind=MessageKind.AUTO_REPLY,
        sender=EmailAddress.parse("ben@globex.example"),
        contact_id=ContactId("contact-ben"),
        sender_evidence="DKIM of globex.example",
    )
    assert decide(colleague).reason == "automatic_unproven"


def test_a_proof_must_name_a_conversation_of_this_channel() -> None:
    """A proven conversation of another channel is ignored; the proof and its kind go together."""
    elsewhere = conv(channel=ChannelId("ch-other"))
    ctx = context(
        elsewhere,
        kind=MessageKind.BOUNCE,
        sender=DAEMON,
        contact_id=None,
        proven_conversation_id=elsewhere.id,
        proven_by=MatchedBy.BOUNCE_ADDRESS,
    )
    assert decide(ctx).action is ThreadAction.NEW
    with pytest.raises(ValueError):
        context(conv(), proven_conversation_id=ConversationId("conv-1"))
    with pytest.raises(ValueError):
        context(conv(), proven_by=MatchedBy.BOUNCE_ADDRESS)


def test_forwarding_confirmation_always_gets_its_own_conversation() -> None:
    """The provider's confirmation mail never joins a customer conversation."""
    decision = decide(by_reference(conv(), kind=MessageKind.FORWARDING_CONFIRMATION))
    assert decision.action is ThreadAction.NEW
    assert decision.matched_by is MatchedBy.NONE


def test_decisions_are_consistent_values() -> None:
    """JOIN and REOPEN name a conversation and NEW does not: the value refuses otherwise."""
    with pytest.raises(ValueError):
        ThreadDecision(
            action=ThreadAction.JOIN, reason="reply", matched_by=MatchedBy.TOKEN, explanation=""
        )
    with pytest.raises(ValueError):
        ThreadDecision(
            action=ThreadAction.NEW,
            conversation_id=ConversationId("c"),
            reason="new",
            matched_by=MatchedBy.NONE,
            explanation="",
        )


statuses = st.sampled_from(ConversationStatus)
ages = st.integers(0, 90).map(lambda d: timedelta(days=d))


@st.composite
def contexts(draw: st.DrawFn) -> ThreadContext:
    pool = [
        conv(
            f"conv-{i}",
            subject=draw(st.sampled_from(["Invoice", "Re: Invoice", "", "Login broken"])),
            status=draw(statuses),
            closed_ago=draw(ages),
            last_ago=draw(ages),
            contact=draw(st.sampled_from([CONTACT, ContactId("contact-2")])),
            channel=draw(st.sampled_from([CHANNEL, ChannelId("ch-2")])),
            kind=draw(st.sampled_from(ConversationKind)),
        )
        for i in range(draw(st.integers(0, 4)))
    ]
    ids = [c.id for c in pool] + [ConversationId("ghost")]
    refs = draw(st.lists(st.sampled_from(["a@x", "b@x", "c@x", "junk"]), max_size=4))
    return context(
        *pool,
        kind=draw(st.sampled_from(MessageKind)),
        sender=draw(st.sampled_from([JANE, EmailAddress.parse("eve@evil.example"), None])),
        contact_id=draw(st.sampled_from([CONTACT, None, ContactId("contact-2")])),
        subject=draw(st.sampled_from(["Re: Invoice", "invoice", "", "Fwd: Login broken"])),
        references=tuple(f"<{r}>" for r in refs),
        known_message_ids={r: draw(st.sampled_from(ids)) for r in ("a@x", "b@x")},
        token_conversation_id=draw(st.none() | st.sampled_from(ids)),
        same_contact=pool,
        sender_evidence=draw(st.sampled_from([None, "DKIM of globex.example"])),
        **draw(
            st.sampled_from([{}])
            | st.builds(
                lambda cid, by: {"proven_conversation_id": cid, "proven_by": by},
                st.sampled_from(ids),
                st.sampled_from([MatchedBy.BOUNCE_ADDRESS, MatchedBy.QUOTED_ORIGINAL]),
            )
        ),
    )


@settings(max_examples=200)
@given(contexts())
def test_threading_is_total_and_never_crosses_channels(ctx: ThreadContext) -> None:
    """Any context gives one decision; joined or linked conversations exist in this channel;
    automatic mail joins only the conversation it proved, or its proven contact's."""
    decision = decide(ctx)
    target = decision.conversation_id or decision.linked_conversation_id
    if target is None:
        assert (decision.matched_by is MatchedBy.NONE) != (decision.reason == "automatic_unproven")
    else:
        assert ctx.conversations[target].channel_id == CHANNEL
    automatic = ctx.kind in (MessageKind.AUTO_REPLY, MessageKind.BOUNCE, MessageKind.LOOP)
    if automatic and decision.action is ThreadAction.JOIN:
        joined = ctx.conversations[target]  # type: ignore[index]
        proven = target == ctx.proven_conversation_id
        assert proven or (ctx.sender_evidence is not None and ctx.contact_id == joined.contact_id)
    if automatic:
        assert decision.linked_conversation_id is None
    if decision.action is ThreadAction.REOPEN:
        assert ctx.conversations[target].status is ConversationStatus.CLOSED  # type: ignore[index]
        assert ctx.kind not in (MessageKind.AUTO_REPLY, MessageKind.BOUNCE, MessageKind.LOOP)
    if decision.reason == "hijack_protection":
        split_from = ctx.conversations[target]  # type: ignore[index]
        assert ctx.contact_id != split_from.contact_id
        assert ctx.sender is None or ctx.sender.key not in split_from.participants
