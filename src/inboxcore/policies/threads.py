"""Threading: which conversation an incoming message belongs to, as a pure decision.

(The module is ``threads``, not ``threading``, so as not to shadow the standard library.)

The service gathers the inputs into a :class:`ThreadContext` and :func:`decide_thread` returns a
:class:`ThreadDecision`: join conversation X, reopen X, or open a new conversation (possibly linked
to an older one). The rules, strongest evidence first:

1. **Headers.** In-Reply-To, then References from the most recent back (at most
   :data:`MAX_REFERENCES` ids in all, see :func:`referenced_message_ids`), looked up by the service
   against the Message-IDs we received and sent in the channel.
2. **Token.** Our outbound mail carries a signed conversation token in its Message-ID and in a
   plus-tagged Reply-To address (:func:`make_conversation_token`); a reply that lost its headers
   still finds its conversation through the address it was sent to.
3. **Subject** (fallback only): same contact, same subject once reply and forward prefixes are
   stripped (:func:`subject_key`), a message within ``subject_match_window``. An empty subject
   never matches. A closed conversation qualifies only when the new subject is itself a reply
   ("Re: ..."), since two separate questions can share a plain subject.

**Hijack protection.** A header or token match proves only that the sender saw our mail, not who
they are: a forwarded thread or a leaked message could let a stranger write into a customer's
conversation. So a matched message joins only if its sender is the conversation's contact (or the
contact the message was associated with), a participant, one of the account's own people, or from
the contact's *organization domain* (same registrable domain by the Public Suffix List, so
``mail.acme.co.uk`` and ``acme.co.uk`` are one organization). Free-mail and ISP domains
(:data:`FREE_MAIL_DOMAINS`) never count as an organization: two gmail.com users are strangers.
Anyone else gets a new conversation linked to the old one (reason ``hijack_protection``).

**Closed conversations.** A reply reopens a closed conversation within ``reopen_window`` of its
closing; later it opens a new conversation linked to the old one (``reopen_window_passed``).

**Automatic mail.** Auto-replies and bounces come from mail servers and responders that never
took part, so hijack protection cannot judge them, and a header, a token or a subject is a claim
anyone who saw the thread can make (a list post quoting our Message-ID, a forged report from the
null sender). They join a conversation only on **proof** (see ``docs/routing-and-tickets.md``):

- they answer one of our outbound messages (:func:`bounce_proofs`, :func:`proof_holds`): sent to
  its **signed bounce address** (the Return-Path of our mail is the channel's address tagged
  with :func:`make_bounce_tag`, a signature over the message's record id), or quoting its
  headers with the same tag (:data:`BOUNCE_TAG_HEADER`), within :data:`BOUNCE_WINDOW`; or
- their sender is proven to be the conversation's contact (:func:`sender_proof`: an aligned
  DKIM signature or a trusted ARC seal), as the contact's own out-of-office is.

Joined, they never reopen, route or ticket. Unproven, they get a conversation of their own (the
service makes it a notice), reason ``automatic_unproven``, linked to nothing: a notice changes
no conversation, no delivery status and no ticket. A forwarding confirmation always gets its own
conversation.

Subjects are read by :mod:`inboxcore.policies._thread_subjects`, and conversation tokens and
bounce tags are made and read by :mod:`inboxcore.policies._thread_tokens`; this module re-exports
their public names.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from types import MappingProxyType

import attrs

from inboxcore.auth.authentication import AuthenticationResult, EvidenceMethod
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.ids import ChannelId, ContactId, ConversationId, MessageId
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
from inboxcore.mail.parsing import ParsedMessage
from inboxcore.mail.sender import SenderResolution, SenderSource
from inboxcore.mail.suffixes import registrable_domain
from inboxcore.policies._thread_subjects import (
    is_reply_subject,
    strip_subject_prefixes,
    subject_key,
)
from inboxcore.policies._thread_tokens import (
    BOUNCE_TAG_DIGEST_SIZE,
    BOUNCE_TAG_HEADER,
    BOUNCE_TAG_SALT,
    CONVERSATION_TOKEN_DIGEST_SIZE,
    CONVERSATION_TOKEN_SALT,
    bounce_address,
    bounce_signer,
    conversation_signer,
    make_bounce_tag,
    make_conversation_token,
    outbound_message_id,
    read_bounce_tag,
    read_conversation_token,
    reply_to_address,
    token_from_address,
    token_from_message_id,
)

__all__ = [
    "BOUNCE_TAG_DIGEST_SIZE",
    "BOUNCE_TAG_HEADER",
    "BOUNCE_TAG_SALT",
    "BOUNCE_WINDOW",
    "BounceProof",
    "CONVERSATION_TOKEN_DIGEST_SIZE",
    "CONVERSATION_TOKEN_SALT",
    "FREE_MAIL_DOMAINS",
    "MAX_REFERENCES",
    "MatchedBy",
    "ThreadAction",
    "ThreadContext",
    "ThreadDecision",
    "bounce_address",
    "bounce_proofs",
    "bounce_signer",
    "conversation_signer",
    "decide_thread",
    "find_token_conversation_id",
    "is_free_mail_domain",
    "is_reply_subject",
    "make_bounce_tag",
    "make_conversation_token",
    "organization_domain",
    "outbound_message_id",
    "proof_holds",
    "quoted_originals",
    "read_bounce_tag",
    "read_conversation_token",
    "referenced_message_ids",
    "reply_to_address",
    "same_organization",
    "sender_may_join",
    "sender_proof",
    "strip_subject_prefixes",
    "subject_key",
    "token_from_address",
    "token_from_message_id",
]

MAX_REFERENCES = 32
"""At most this many referenced Message-IDs are looked up: In-Reply-To, then the most recent
References. Long threads carry hundreds; the recent end is what identifies the conversation."""

# --- organizations --------------------------------------------------------------------------

FREE_MAIL_DOMAINS = frozenset(
    {
        # Global providers
        "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com",
        "passport.com", "yahoo.com", "ymail.com", "rocketmail.com", "aol.com", "aim.com",
        "icloud.com", "me.com", "mac.com", "proton.me", "protonmail.com", "protonmail.ch",
        "pm.me", "tutanota.com", "tutanota.de", "tuta.io", "tuta.com", "zoho.com", "zohomail.com",
        "fastmail.com", "fastmail.fm", "hey.com", "mail.com", "email.com", "usa.com",
        "gmx.com", "gmx.net", "gmx.de", "gmx.at", "gmx.ch", "hushmail.com", "inbox.com",
        "yandex.com", "yandex.ru", "ya.ru", "mail.ru", "bk.ru", "inbox.ru", "list.ru",
        "rambler.ru", "qq.com", "163.com", "126.com", "yeah.net", "sina.com", "sina.cn",
        "sohu.com", "aliyun.com", "naver.com", "daum.net", "hanmail.net", "rediffmail.com",
        # Regional variants of the global providers
        "hotmail.co.uk", "hotmail.fr", "hotmail.de", "hotmail.it", "hotmail.es", "hotmail.nl",
        "hotmail.be", "hotmail.ca", "hotmail.com.br", "hotmail.com.au", "live.co.uk",
        "live.fr", "live.de", "live.it", "live.nl", "live.be", "live.ca", "live.com.au",
        "outlook.fr", "outlook.de", "outlook.es", "outlook.it", "outlook.com.br",
        "yahoo.co.uk", "yahoo.fr", "yahoo.de", "yahoo.it", "yahoo.es", "yahoo.ca",
        "yahoo.co.jp", "yahoo.co.in", "yahoo.com.br", "yahoo.com.au", "yahoo.com.mx",
        "yahoo.com.ar", "yahoo.se", "yahoo.no", "yahoo.dk", "yahoo.gr",
        # National providers and ISPs whose addresses belong to unrelated people
        "web.de", "t-online.de", "freenet.de", "posteo.de", "mailbox.org", "arcor.de",
        "orange.fr", "wanadoo.fr", "free.fr", "laposte.net", "sfr.fr", "neuf.fr", "bbox.fr",
        "libero.it", "virgilio.it", "tiscali.it", "alice.it", "tin.it", "seznam.cz",
        "centrum.cz", "wp.pl", "o2.pl", "onet.pl", "interia.pl", "btinternet.com",
        "sky.com", "virginmedia.com", "talktalk.net", "ntlworld.com", "comcast.net",
        "verizon.net", "att.net", "sbcglobal.net", "bellsouth.net", "cox.net", "charter.net",
        "earthlink.net", "optonline.net", "juno.com", "bigpond.com", "optusnet.com.au",
        "shaw.ca", "rogers.com", "sympatico.ca", "terra.com.br", "bol.com.br", "uol.com.br",
        "ig.com.br", "telenet.be", "skynet.be", "ziggo.nl", "kpnmail.nl", "hetnet.nl",
        "planet.nl", "home.nl", "bluewin.ch", "hispeed.ch", "chello.at", "a1.net", "aon.at",
        "telia.com", "online.no", "abv.bg", "freemail.hu", "citromail.hu", "ukr.net",
        "i.ua", "walla.co.il", "libero.es", "terra.es", "eircom.net", "xtra.co.nz",
    }
)  # fmt: skip
"""Registrable domains whose users are unrelated people, never one organization."""


def organization_domain(domain: str) -> str | None:
    """The registrable domain ("organizational domain") of ``domain``, or None.

    None for a public suffix itself (``co.uk``), a domain literal or anything unparseable.
    Never raises.
    """
    return registrable_domain(domain)


def is_free_mail_domain(domain: str) -> bool:
    """Whether ``domain`` (or its registrable domain) is a free-mail or ISP domain."""
    org = organization_domain(domain)
    return org is not None and org in FREE_MAIL_DOMAINS


def same_organization(a: str, b: str) -> bool:
    """Whether two domains are one organization: same registrable domain, not free-mail."""
    org = organization_domain(a)
    return org is not None and org not in FREE_MAIL_DOMAINS and org == organization_domain(b)


def sender_may_join(
    conversation: Conversation,
    *,
    sender: EmailAddress | None,
    contact_id: ContactId | None = None,
    contact_address: EmailAddress | None = None,
    insiders: frozenset[str] = frozenset(),
) -> bool:
    """Whether a sender may write into ``conversation`` (hijack protection).

    Yes for the conversation's own contact (``contact_id`` is the contact the message was
    associated with), a participant, an insider (address keys of the account's agents and the
    channel's own addresses), or an address of the organization of ``contact_address`` (the
    conversation's contact). No for anyone else, and for a message without a usable sender.
    """
    if contact_id is not None and contact_id == conversation.contact_id:
        return True
    if sender is None:
        return False
    if sender.key in conversation.participants or sender.key in insiders:
        return True
    return contact_address is not None and same_organization(sender.domain, contact_address.domain)


# --- finding a conversation token ----------------------------------------------------------


def find_token_conversation_id(
    *,
    recipients: Iterable[EmailAddress],
    in_reply_to: Sequence[str] = (),
    references: Sequence[str] = (),
    signer: Signer,
    now: datetime,
) -> ConversationId | None:
    """The conversation named by a token in the recipients' plus-tags (To, Cc, envelope
    recipients: the address the contact replied to), else in a referenced Message-ID, most
    recent first. None when there is none; never raises for what the message holds."""
    for address in recipients:
        found = token_from_address(address, signer, now)
        if found is not None:
            return found
    for message_id in referenced_message_ids(in_reply_to, references):
        found = token_from_message_id(message_id, signer, now)
        if found is not None:
            return found
    return None


# --- bounce proofs: automatic mail that answers a message we sent -----------------------------

BOUNCE_WINDOW = timedelta(days=14)
"""How long after we sent a message a report about it is believed: mail servers give up on a
message within about five days, and auto-responders answer at once. A tag that leaked (a
recipient passed our message on with its headers) proves nothing after this."""

_MAX_PROOFS = 8
_MAX_QUOTED = 4
_MAX_PARTS = 200


def quoted_originals(parsed: ParsedMessage) -> tuple[ParsedMessage, ...]:
    """The messages a report carries (``message/rfc822``, or only their headers in
    ``text/rfc822-headers``), at most four, from the first 200 parts."""
    found: list[ParsedMessage] = []
    for part in itertools.islice(parsed.root.walk(), _MAX_PARTS):
        carried = part.message
        if carried is not None:
            found.append(carried)
            if len(found) >= _MAX_QUOTED:
                break
    return tuple(found)


@attrs.frozen(kw_only=True)
class BounceProof:
    """A valid bounce tag found in an automatic message: the claim that it answers our outbound
    message ``message_id``, which holds once the record agrees (:func:`proof_holds`)."""

    message_id: MessageId
    matched_by: MatchedBy
    """:attr:`MatchedBy.BOUNCE_ADDRESS` (it was sent to our signed bounce address) or
    :attr:`MatchedBy.QUOTED_ORIGINAL` (it quotes our original's headers, tag included)."""
    quoted_message_id: str | None = None
    """For a quoted original, the Message-ID it quotes: it must be the message's own."""


def bounce_proofs(
    *, recipients: Iterable[EmailAddress], parsed: ParsedMessage | None, signer: Signer
) -> tuple[BounceProof, ...]:
    """Every valid bounce tag in an automatic message: in the plus-tag of an address it was
    sent to (the envelope recipients, the delivery headers, To and Cc: the tag is the proof,
    wherever it is), then in the :data:`BOUNCE_TAG_HEADER` of an original it quotes. A few at
    most; never raises for what the message holds."""
    proofs: dict[tuple[MessageId, MatchedBy, str | None], None] = {}
    for address in itertools.islice(recipients, 50):
        found = read_bounce_tag(address.tag, signer) if address.tag else None
        if found is not None:
            proofs.setdefault((found, MatchedBy.BOUNCE_ADDRESS, None))
    for original in quoted_originals(parsed) if parsed is not None else ():
        for value in original.headers(BOUNCE_TAG_HEADER)[:2]:
            found = read_bounce_tag(value, signer)
            if found is not None:
                proofs.setdefault((found, MatchedBy.QUOTED_ORIGINAL, original.message_id))
    return tuple(
        BounceProof(message_id=m, matched_by=by, quoted_message_id=q)
        for m, by, q in itertools.islice(proofs, _MAX_PROOFS)
    )


def proof_holds(
    proof: BounceProof, message: Message, *, channel_id: ChannelId, now: datetime
) -> bool:
    """Whether ``message``, the record ``proof`` names, makes it hold: an outbound message of
    this channel, sent less than :data:`BOUNCE_WINDOW` ago, and for a quoted original, the one
    whose Message-ID it quotes."""
    if message.id != proof.message_id or message.channel_id != channel_id:
        return False
    if message.direction is not Direction.OUTBOUND:
        return False
    sent = message.sent_at or message.received_at
    if not timedelta(minutes=-5) <= now - sent <= BOUNCE_WINDOW:
        return False
    if proof.matched_by is MatchedBy.QUOTED_ORIGINAL:
        quoted = (proof.quoted_message_id or "").strip().strip("<>").strip()
        return bool(quoted) and quoted == message.rfc_message_id
    return True


# --- who the sender is proven to be -------------------------------------------------------------

# Where the sender was read from a header of the message itself (or a list's vouched rewrite of
# it), so that the message's own proof can be about them; a quoted or attached sender is not.
_OWN_HEADER_SOURCES = frozenset(
    {
        SenderSource.HEADER_FROM,
        SenderSource.GOOGLE_GROUPS,
        SenderSource.LIST_MUNGED,
        SenderSource.LIST_WRAPPED,
    }
)
# SPF is left out: forwarded mail passes SPF for whoever relays it (the team's mailbox judges
# the customer's domain by the forwarder's IP), so it proves no author.
_SIGNED = frozenset({EvidenceMethod.DKIM, EvidenceMethod.ARC})


def sender_proof(
    authentication: AuthenticationResult | None, sender: SenderResolution | None
) -> str | None:
    """What proves that the sender intake resolved wrote the message: a DKIM signature or a
    trusted ARC seal aligned with their domain (``DKIM of customer.example``), or None.

    None offline, for SPF alone, and for a sender read from a quoted or attached message (the
    message's own signature is the forwarder's, not theirs). Recorded on the message as
    :attr:`~inboxcore.domain.model.Message.sender_evidence`; automatic mail and reply-all Cc
    lists rest on it.
    """
    if authentication is None or sender is None or sender.sender is None:
        return None
    if sender.source not in _OWN_HEADER_SOURCES:
        return None
    signed = tuple(e for e in authentication.evidence if e.method in _SIGNED)
    proof = attrs.evolve(authentication, evidence=signed).authenticates(sender.sender.domain)
    return proof.describe() if proof is not None else None


# --- the decision ---------------------------------------------------------------------------


def referenced_message_ids(
    in_reply_to: Sequence[str], references: Sequence[str]
) -> tuple[str, ...]:
    """The Message-IDs to look up, most telling first: In-Reply-To, then References from the
    most recent back; angle brackets and white space removed, duplicates dropped, at most
    :data:`MAX_REFERENCES`."""
    recent_refs = list(references[-MAX_REFERENCES:])
    recent_refs.reverse()
    seen: dict[str, None] = {}
    for raw in (*in_reply_to[:MAX_REFERENCES], *recent_refs):
        cleaned = raw.strip().strip("<>").strip() if isinstance(raw, str) else ""
        if cleaned and " " not in cleaned:
            seen.setdefault(cleaned, None)
        if len(seen) >= MAX_REFERENCES:
            break
    return tuple(seen)


class ThreadAction(enum.Enum):
    JOIN = "join"
    """Append to an open conversation (or, for automatic mail, to a closed one as it is)."""
    REOPEN = "reopen"
    """Reopen a closed conversation and append."""
    NEW = "new"
    """Open a new conversation, linked to ``linked_conversation_id`` when set."""


class MatchedBy(enum.Enum):
    REFERENCES = "references"
    TOKEN = "token"
    SUBJECT = "subject"
    BOUNCE_ADDRESS = "bounce_address"
    """Automatic mail sent to the signed bounce address of one of our messages."""
    QUOTED_ORIGINAL = "quoted_original"
    """Automatic mail quoting the headers of one of our messages, its bounce tag included."""
    NONE = "none"


_PROOFS = frozenset({MatchedBy.BOUNCE_ADDRESS, MatchedBy.QUOTED_ORIGINAL})


def _map(value: Mapping[str, ConversationId]) -> Mapping[str, ConversationId]:
    return MappingProxyType(dict(value))


def _conv_map(
    value: Iterable[Conversation] | Mapping[ConversationId, Conversation],
) -> Mapping[ConversationId, Conversation]:
    if isinstance(value, Mapping):
        return MappingProxyType(dict(value))
    return MappingProxyType({c.id: c for c in value})


def _contact_map(
    value: Mapping[ContactId, EmailAddress],
) -> Mapping[ContactId, EmailAddress]:
    return MappingProxyType(dict(value))


def _strs(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _keys(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.lower() for v in values)


def _conversations(values: Iterable[Conversation]) -> tuple[Conversation, ...]:
    return tuple(values)


def _proof_valid(
    instance: ThreadContext, attribute: attrs.Attribute[MatchedBy], value: MatchedBy
) -> None:
    if (value in _PROOFS) != (instance.proven_conversation_id is not None):
        raise ValueError("a proven conversation goes with the proof that found it, and only then")


@attrs.frozen(kw_only=True)
class ThreadContext:
    """Everything the threading decision needs, gathered by the service.

    The recipe: ``ids = referenced_message_ids(in_reply_to, references)``; ``known_message_ids``
    maps each of them found by ``MessageRepository.by_rfc_message_ids(channel, ids)`` to its
    message's conversation; ``token_conversation_id`` from :func:`find_token_conversation_id`;
    ``same_contact`` from ``ConversationRepository.for_contact(channel, contact,
    now - subject_match_window)``; ``conversations`` holds every conversation named by the
    previous two; ``contact_addresses`` the address of each of their contacts (for the
    organization rule); ``insiders`` the address keys of the account's agents and the channel's
    own addresses. For automatic mail, ``proven_conversation_id`` is the conversation of the
    outbound message a :class:`BounceProof` from :func:`bounce_proofs` names, when
    :func:`proof_holds` for its record; ``sender_evidence`` is :func:`sender_proof` of the
    intake result.
    """

    channel_id: ChannelId
    kind: MessageKind = MessageKind.MESSAGE
    sender: EmailAddress | None = None
    """The original author (after forwarding is unwrapped), not the forwarding mailbox."""
    contact_id: ContactId | None = None
    """The contact the message was associated with, when known."""
    subject: str = ""
    in_reply_to: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    references: tuple[str, ...] = attrs.field(default=(), converter=_strs)
    known_message_ids: Mapping[str, ConversationId] = attrs.field(factory=dict, converter=_map)
    token_conversation_id: ConversationId | None = None
    conversations: Mapping[ConversationId, Conversation] = attrs.field(
        factory=dict, converter=_conv_map
    )
    same_contact: tuple[Conversation, ...] = attrs.field(default=(), converter=_conversations)
    contact_addresses: Mapping[ContactId, EmailAddress] = attrs.field(
        factory=dict, converter=_contact_map
    )
    insiders: frozenset[str] = attrs.field(default=frozenset(), converter=_keys)
    proven_conversation_id: ConversationId | None = None
    """For automatic mail, the conversation of our outbound message it proved to answer (a
    :class:`BounceProof` that holds); it must be in ``conversations``."""
    proven_by: MatchedBy = attrs.field(default=MatchedBy.NONE, validator=_proof_valid)
    """How: :attr:`MatchedBy.BOUNCE_ADDRESS` or :attr:`MatchedBy.QUOTED_ORIGINAL`."""
    sender_evidence: str | None = None
    """What proved at intake that ``sender`` wrote the message (:func:`sender_proof`), if
    anything did."""


def _decision_valid(
    instance: ThreadDecision, attribute: attrs.Attribute[ThreadAction], value: ThreadAction
) -> None:
    if (value is ThreadAction.NEW) != (instance.conversation_id is None):
        raise ValueError("JOIN and REOPEN name a conversation; NEW does not")


@attrs.frozen(kw_only=True)
class ThreadDecision:
    """Where an incoming message goes.

    ``conversation_id`` is the conversation to join or reopen (None for NEW);
    ``linked_conversation_id`` the older conversation a NEW one is linked to. ``reason`` is a
    stable code: ``reply``, ``automatic``, ``subject_match``, ``reopened``, ``new``,
    ``hijack_protection``, ``reopen_window_passed``, ``automatic_unproven``. ``matched_by``
    says what found the conversation (also for a NEW one split from it, and for automatic mail
    that only claimed it).
    """

    conversation_id: ConversationId | None = None
    action: ThreadAction = attrs.field(validator=_decision_valid)
    reason: str
    matched_by: MatchedBy
    explanation: str
    linked_conversation_id: ConversationId | None = None

    @property
    def is_new(self) -> bool:
        return self.action is ThreadAction.NEW


_AUTOMATIC = frozenset({MessageKind.AUTO_REPLY, MessageKind.BOUNCE, MessageKind.LOOP})


def _new(reason: str = "new", explanation: str = "No conversation matched.") -> ThreadDecision:
    return ThreadDecision(
        action=ThreadAction.NEW, reason=reason, matched_by=MatchedBy.NONE, explanation=explanation
    )


def _closed_since(conversation: Conversation) -> datetime:
    return conversation.closed_at or conversation.last_message_at


_HOW = {
    MatchedBy.REFERENCES: "its In-Reply-To/References headers",
    MatchedBy.TOKEN: "the conversation token it was addressed with",
    MatchedBy.SUBJECT: "its subject, from the same contact",
    MatchedBy.BOUNCE_ADDRESS: "the signed bounce address of our message it was sent to",
    MatchedBy.QUOTED_ORIGINAL: "the signed headers of our message it quotes",
}


def _to_matched(
    ctx: ThreadContext,
    conversation: Conversation,
    matched_by: MatchedBy,
    now: datetime,
    settings: ConversationSettings,
) -> ThreadDecision:
    how = _HOW[matched_by]
    cid = conversation.id
    if matched_by is not MatchedBy.SUBJECT:
        allowed = sender_may_join(
            conversation,
            sender=ctx.sender,
            contact_id=ctx.contact_id,
            contact_address=ctx.contact_addresses.get(conversation.contact_id),
            insiders=ctx.insiders,
        )
        if not allowed:
            return ThreadDecision(
                action=ThreadAction.NEW,
                reason="hijack_protection",
                matched_by=matched_by,
                linked_conversation_id=cid,
                explanation=(
                    f"Matched a conversation by {how}, but the sender is neither a participant "
                    "nor from the contact's organization; opened a new, linked conversation."
                ),
            )
    if conversation.status is ConversationStatus.OPEN:
        return ThreadDecision(
            action=ThreadAction.JOIN,
            conversation_id=cid,
            reason="subject_match" if matched_by is MatchedBy.SUBJECT else "reply",
            matched_by=matched_by,
            explanation=f"Joined the conversation matched by {how}.",
        )
    if now - _closed_since(conversation) <= settings.reopen_window:
        return ThreadDecision(
            action=ThreadAction.REOPEN,
            conversation_id=cid,
            reason="reopened",
            matched_by=matched_by,
            explanation=f"Reopened the closed conversation matched by {how}.",
        )
    return ThreadDecision(
        action=ThreadAction.NEW,
        reason="reopen_window_passed",
        matched_by=matched_by,
        linked_conversation_id=cid,
        explanation=(
            f"Matched a conversation by {how}, closed longer ago than the reopen window; "
            "opened a new, linked conversation."
        ),
    )


def _automatic_joins(
    conversation: Conversation, matched_by: MatchedBy, proof: str
) -> ThreadDecision:
    return ThreadDecision(
        action=ThreadAction.JOIN,
        conversation_id=conversation.id,
        reason="automatic",
        matched_by=matched_by,
        explanation=(
            f"Automatic mail joined the conversation matched by {_HOW[matched_by]} ({proof}), "
            "without reopening it."
        ),
    )


def _automatic(ctx: ThreadContext, now: datetime, settings: ConversationSettings) -> ThreadDecision:
    """Automatic mail joins a conversation only on proof: it answers our outbound message of
    that conversation (its bounce tag), or its sender is proven to be the conversation's
    contact. A header, a token or a subject is a claim anyone who saw the thread can make, and
    automatic mail passes no hijack protection: unproven, it is a notice of its own."""
    proven = _usable(ctx, ctx.proven_conversation_id)
    if proven is not None:
        return _automatic_joins(proven, ctx.proven_by, "proof that it answers our message")
    found = _match(ctx, now, settings)
    if found is None:
        return _new(explanation="Automatic mail that matched no conversation: a notice.")
    conversation, matched_by = found
    if ctx.sender_evidence is not None and ctx.contact_id == conversation.contact_id:
        return _automatic_joins(
            conversation, matched_by, f"from the contact, proven by {ctx.sender_evidence}"
        )
    return ThreadDecision(
        action=ThreadAction.NEW,
        reason="automatic_unproven",
        matched_by=matched_by,
        explanation=(
            f"Automatic mail named a conversation by {_HOW[matched_by]}, but neither answers "
            "our message provably (no valid bounce tag) nor comes provably from its contact; "
            "a notice that changes no conversation."
        ),
    )


def _usable(ctx: ThreadContext, conversation_id: ConversationId | None) -> Conversation | None:
    if conversation_id is None:
        return None
    conversation = ctx.conversations.get(conversation_id)
    # A token or Message-ID of another channel is ours but not this team's thread.
    if conversation is None or conversation.channel_id != ctx.channel_id:
        return None
    return conversation


def _subject_match(
    ctx: ThreadContext, now: datetime, settings: ConversationSettings
) -> Conversation | None:
    key = subject_key(ctx.subject)
    if not key or ctx.contact_id is None:
        return None
    may_reopen = is_reply_subject(ctx.subject) and ctx.kind not in _AUTOMATIC
    found = [
        c
        for c in ctx.same_contact
        if c.channel_id == ctx.channel_id
        and c.contact_id == ctx.contact_id
        and c.kind is ConversationKind.CUSTOMER
        and now - c.last_message_at <= settings.subject_match_window
        and (c.status is ConversationStatus.OPEN or may_reopen)
        and subject_key(c.subject) == key
    ]
    return max(found, key=lambda c: (c.last_message_at, c.id), default=None)


def _match(
    ctx: ThreadContext, now: datetime, settings: ConversationSettings
) -> tuple[Conversation, MatchedBy] | None:
    """The conversation the message names, strongest evidence first: headers, token, subject."""
    for message_id in referenced_message_ids(ctx.in_reply_to, ctx.references):
        conversation = _usable(ctx, ctx.known_message_ids.get(message_id))
        if conversation is not None:
            return conversation, MatchedBy.REFERENCES
    conversation = _usable(ctx, ctx.token_conversation_id)
    if conversation is not None:
        return conversation, MatchedBy.TOKEN
    conversation = _subject_match(ctx, now, settings)
    if conversation is not None:
        return conversation, MatchedBy.SUBJECT
    return None


def decide_thread(
    ctx: ThreadContext, *, now: datetime, settings: ConversationSettings
) -> ThreadDecision:
    """The threading decision for one incoming message (see the module docstring for the rules).

    Total and pure: any context gives one decision, and nothing the message holds can make it
    raise. Matches in another channel and ids the service did not find are ignored.
    """
    if ctx.kind is MessageKind.FORWARDING_CONFIRMATION:
        return _new(explanation="A forwarding confirmation always gets its own conversation.")
    if ctx.kind in _AUTOMATIC:
        return _automatic(ctx, now, settings)
    found = _match(ctx, now, settings)
    if found is None:
        return _new()
    return _to_matched(ctx, *found, now, settings)
