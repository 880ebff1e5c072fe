"""Composing the mail the inbox sends: agent replies, owner notifications, verification mail.

Pure: values in, an :class:`~inboxcore.domain.model.OutboundMail` out (time and the unique part of
the
Message-ID are arguments). The use cases that store, sign and send are in
:mod:`inboxcore.app.outbox`. See ``docs/outbound.md`` for the why; in short, a reply

* comes **from** the channel's from-name and from-address (the verified custom address, one on a
  connected sending domain, else the agent's default hosted address:
  :func:`~inboxcore.channels.resolve_from_address`);
* goes **to** the conversation's contact, the original author and never the mailbox that
  forwarded their mail, with **Cc** kept as the contact's last *proven* message had it (its To
  and Cc, less the contact, the team's agents and every address of ours: see :func:`reply_cc`);
  a message nothing proves the contact wrote (a forged From, a list post "as" the contact)
  never adds anyone to a reply;
* threads on every side: ``Subject`` with one ``Re:`` (:func:`reply_subject`), ``In-Reply-To``
  and ``References`` by RFC 5322 section 3.6.4 (:func:`reply_references`), a ``Message-ID`` on our
  domain carrying the signed conversation token, and a ``Reply-To`` of the channel's forwarding
  address tagged with the same token, so that an answer whose headers were lost still finds its
  conversation;
* is sent with a **signed bounce address** as its envelope sender (Return-Path): the channel's
  forwarding address tagged with a signature over the outbound record's id
  (:func:`reply_return_path`; the same tag goes in the header
  :data:`~inboxcore.policies.threads.BOUNCE_TAG_HEADER`), so that a bounce or an out-of-office
  about it proves which message it answers, where a Message-ID in a report proves nothing. A
  host whose provider sets its own Return-Path configures :attr:`OutboundConfig.return_path`;
* carries the team signature rendered for the sending agent, text and HTML alternatives, the
  attachments (RFC 2231 file names), RFC 2047 display names, and our loop header
  (:data:`~inboxcore.mail.classify.LOOP_HEADER`, valued with the channel id), so that our own mail
  coming back is recognised as a loop and never becomes work.

The same builder composes every kind of outbound mail, the from-address verification mail of
:mod:`inboxcore.app.channel_setup` included (:func:`compose_verification`), so that each one gets
the same header checks, RFC 2047 encoding, Message-ID on our domain, loop header and size limit.
Automatic mail (notifications, verification) is also marked ``Auto-Submitted: auto-generated``
(RFC 3834) and ``X-Auto-Response-Suppress: All``.

**One source for threading.** The conversation-token keys and the Message-ID domain decide
whether an answer to our mail finds its conversation again, so intake and outbound must use the
same ones. They live in one value, :class:`ThreadingConfig`: the service's
:class:`~inboxcore.app.service.InboxConfig` hands out its own as
:attr:`~inboxcore.app.service.InboxConfig.threading`, an :class:`OutboundConfig` is built with that
value, and :class:`~inboxcore.app.service.InboxService` refuses an outbox configured with other
ones.

**Header injection.** A header value holding CR or LF, from whatever source (a subject, an agent's
or the company's name, a contact's name, an attachment's file name, a channel id), raises
:class:`~inboxcore.domain.errors.HeaderInjectionError` rather than being repaired silently: a line
break
there is a bug or an attack, and the caller must see it. Other control and line-separator
characters (tabs, U+2028, form feeds) are turned into spaces, because the email package would
otherwise treat several of them as line breaks.

**Size.** Attachments above :attr:`OutboundConfig.max_attachment_bytes` in total, or a composed
message above :attr:`OutboundConfig.max_message_bytes` (30 MB by default, the channel's own
limit), raise :class:`~inboxcore.domain.errors.MessageTooLarge`.
"""

from __future__ import annotations

import email.policy
import email.utils
import html
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Final
from urllib.parse import quote, urlsplit

import attrs

from inboxcore.channels import FromNameFormats, HostedDomainConfig, render_from_name
from inboxcore.channels import resolve_from_address as _resolve_from_address
from inboxcore.domain.addresses import EmailAddress, normalize_domain
from inboxcore.domain.errors import (
    ConfigurationError,
    HeaderInjectionError,
    InvalidValueError,
    MessageTooLarge,
    Problem,
)
from inboxcore.domain.ids import MessageId
from inboxcore.domain.model import (
    DEFAULT_MAX_MESSAGE_SIZE,
    Account,
    Channel,
    Contact,
    Conversation,
    DeliveryStatus,
    Direction,
    Message,
    MessageKind,
    OutboundMail,
    User,
)
from inboxcore.domain.tokens import Signer
from inboxcore.mail.classify import LOOP_HEADER
from inboxcore.policies.signature import SignatureValues, render_signature
from inboxcore.policies.threads import (
    BOUNCE_TAG_HEADER,
    bounce_address,
    bounce_signer,
    conversation_signer,
    make_bounce_tag,
    make_conversation_token,
    outbound_message_id,
    reply_to_address,
    strip_subject_prefixes,
)

__all__ = [
    "ComposedMail",
    "DEFAULT_MAX_ATTACHMENT_BYTES",
    "EXCERPT_LENGTH",
    "MAX_OUTBOUND_REFERENCES",
    "NotificationContext",
    "OutboundAttachment",
    "OutboundConfig",
    "ReplyContext",
    "ReplyDraft",
    "ThreadingConfig",
    "VerificationRequest",
    "check_header_value",
    "compose_owner_notification",
    "compose_reply",
    "compose_verification",
    "excerpt",
    "reply_cc",
    "reply_parent",
    "reply_references",
    "reply_return_path",
    "reply_subject",
]

DEFAULT_MAX_ATTACHMENT_BYTES: Final = 20 * 1024 * 1024
"""20 MiB of attachments: base64 makes them about 27 MB, under the 30 MB message limit and the
25 MB most providers accept."""

MAX_OUTBOUND_REFERENCES: Final = 20
"""At most this many Message-IDs in References: the thread's first and its most recent ones."""

EXCERPT_LENGTH: Final = 600
"""Characters of the customer's message shown in an owner notification."""

_CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
_MSG_ID = re.compile(r"[\x21-\x3b\x3d\x3f-\x7e]{1,250}")
"""A Message-ID without its angle brackets: printable ASCII, no space, no ``<`` or ``>``."""
_LINE_BREAKS: Final = frozenset("\r\n")
_UNIQUE = re.compile(r"[A-Za-z0-9-]{1,64}")


def _keys(values: Iterable[bytes | str]) -> tuple[bytes, ...]:
    return tuple(v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in values)


def _domain(value: str) -> str:
    return normalize_domain(value)


def _optional_address(value: EmailAddress | str | None) -> EmailAddress | None:
    if value is None or isinstance(value, EmailAddress):
        return value
    return EmailAddress.parse(value)


def check_header_value(header: str, value: str) -> str:
    """``value`` fit for the header ``header``: CR or LF raise
    :class:`~inboxcore.domain.errors.HeaderInjectionError`; other control, format and line-separator
    characters become spaces."""
    if any(c in _LINE_BREAKS for c in value):
        raise HeaderInjectionError(header, value)
    return "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in value)


@attrs.frozen(kw_only=True)
class ThreadingConfig:
    """What makes an answer to our mail find its conversation: the keys that sign conversation
    tokens and the domain of our Message-IDs.

    Intake reads the tokens back with these keys and recognises our own Message-IDs by this
    domain; outbound writes them. One value for both sides, taken from
    :attr:`~inboxcore.app.service.InboxConfig.threading`, so that they cannot drift apart.
    Raises :class:`~inboxcore.domain.errors.InvalidValueError` for unusable keys or domain.
    """

    conversation_keys: tuple[bytes, ...] = attrs.field(converter=_keys, repr=False)
    """Oldest first; the newest signs conversation tokens, all verify (key rotation)."""
    message_id_domain: str = attrs.field(converter=_domain)
    """The domain of our Message-IDs (``inbox.example.net``), lowercase A-labels."""

    def __attrs_post_init__(self) -> None:
        conversation_signer(self.conversation_keys)  # validates the keys

    @property
    def signer(self) -> Signer:
        """The conversation-token signer over :attr:`conversation_keys`."""
        return conversation_signer(self.conversation_keys)

    @property
    def bounce_signer(self) -> Signer:
        """The bounce-tag signer over the same keys (a salt of its own)."""
        return bounce_signer(self.conversation_keys)


@attrs.frozen(kw_only=True)
class OutboundConfig:
    """What the host configures about outgoing mail.

    ``threading`` is the :class:`ThreadingConfig` of the service
    (``OutboundConfig(threading=inbox_config.threading, ...)``): replies thread back in only if
    intake reads the tokens and Message-IDs outbound writes.
    ``conversation_url_template`` is the https link to a conversation in the host's app, holding
    ``{conversation_id}`` (percent-encoded when filled), for owner notifications.
    """

    hosting: HostedDomainConfig
    threading: ThreadingConfig
    from_names: FromNameFormats = attrs.field(factory=FromNameFormats)
    notification_sender: EmailAddress | None = attrs.field(
        default=None, converter=_optional_address
    )
    """The From of owner notifications; ``notifications@<message_id_domain>`` when None."""
    conversation_url_template: str | None = None
    return_path: EmailAddress | None = attrs.field(default=None, converter=_optional_address)
    """The envelope sender (Return-Path) of replies, for a host whose mail provider insists on
    its own bounce address; None (the default) sends each reply with its signed bounce address
    (:func:`reply_return_path`). With a fixed one, bounces and out-of-office replies go to the
    provider: they reach a conversation only when they come back quoting our original's
    headers, and the provider's own bounce reports must tell the host about failed replies."""
    max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_SIZE
    product_name: str = "the inbox"

    def __attrs_post_init__(self) -> None:
        problems: list[Problem] = []
        template = self.conversation_url_template
        if template is not None:
            parts = urlsplit(template)
            if parts.scheme != "https" or not parts.hostname or "{conversation_id}" not in template:
                problems.append(
                    Problem(
                        code="outbound.url_template",
                        message="the conversation link must be an https URL holding "
                        "{conversation_id}",
                        field="conversation_url_template",
                    )
                )
        if self.max_attachment_bytes < 0 or self.max_message_bytes < 1:
            problems.append(
                Problem(
                    code="outbound.size_limits",
                    message="size limits must be positive",
                    field="max_message_bytes",
                )
            )
        if problems:
            raise ConfigurationError(problems)

    @property
    def message_id_domain(self) -> str:
        """The domain of our Message-IDs (from :attr:`threading`)."""
        return self.threading.message_id_domain

    @property
    def signer(self) -> Signer:
        """The conversation-token signer (from :attr:`threading`)."""
        return self.threading.signer

    @property
    def bounce_signer(self) -> Signer:
        """The bounce-tag signer (from :attr:`threading`)."""
        return self.threading.bounce_signer

    def notification_from(self, channel: Channel) -> EmailAddress:
        """The From of an owner notification for ``channel``."""
        base = self.notification_sender or EmailAddress(
            local="notifications", domain=self.message_id_domain
        )
        name = base.display_name or channel.company_name or channel.name
        return attrs.evolve(base, display_name=check_header_value("From", name) or None)


@attrs.frozen(kw_only=True)
class OutboundAttachment:
    """A file attached to a reply."""

    filename: str
    data: bytes = attrs.field(repr=False)
    content_type: str = "application/octet-stream"


@attrs.frozen(kw_only=True)
class ReplyDraft:
    """What the agent wrote. ``cc`` None keeps the conversation's Cc; a tuple replaces it (the
    agent edited the Cc line). ``subject`` None replies to the conversation's subject."""

    text: str
    html: str | None = None
    attachments: tuple[OutboundAttachment, ...] = ()
    cc: tuple[EmailAddress, ...] | None = None
    subject: str | None = None


@attrs.frozen(kw_only=True)
class ReplyContext:
    """The records a reply is composed from (the outbox loads them in one unit of work)."""

    account: Account
    channel: Channel
    conversation: Conversation
    contact: Contact
    agent: User
    messages: tuple[Message, ...] = ()
    """The conversation's messages, oldest first."""
    team_addresses: frozenset[str] = frozenset()
    """Address keys of the account's agents: never copied into a reply's Cc."""


@attrs.frozen(kw_only=True)
class NotificationContext:
    """The records an owner notification is composed from."""

    channel: Channel
    conversation: Conversation
    contact: Contact
    owner: User
    subject: str
    """The subject of the message that opened the conversation."""
    text: str = ""
    """Its text, shortened to :func:`excerpt` in the mail."""


@attrs.frozen(kw_only=True)
class ComposedMail:
    """A composed message: what the transport gets and what the outbound record keeps."""

    mail: OutboundMail
    sender: EmailAddress
    to: tuple[EmailAddress, ...]
    cc: tuple[EmailAddress, ...] = ()
    subject: str
    rfc_message_id: str
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()


# --- the parts of a reply ---------------------------------------------------------------------


def reply_subject(subject: str) -> str:
    """``Re: <subject>`` with every earlier reply and forward prefix, in any of the languages
    :func:`~inboxcore.policies.threads.strip_subject_prefixes` knows, and list tags removed."""
    base = strip_subject_prefixes(check_header_value("Subject", subject))
    return f"Re: {base}" if base else "Re:"


def _customer_messages(messages: Sequence[Message]) -> list[Message]:
    return [
        m
        for m in messages
        if m.direction is Direction.INBOUND
        and m.kind is MessageKind.MESSAGE
        and m.author_id is None
    ]


def reply_parent(messages: Sequence[Message]) -> Message | None:
    """The message a reply answers: the conversation's latest real message with a Message-ID
    (in or out, an outbound one only if it did not fail: the customer never saw that one)."""
    for message in reversed(messages):
        if message.kind is not MessageKind.MESSAGE or not message.rfc_message_id:
            continue
        if message.delivery_status is DeliveryStatus.FAILED:
            continue
        if _MSG_ID.fullmatch(message.rfc_message_id):
            return message
    return None


def reply_return_path(channel: Channel, message_id: MessageId, config: OutboundConfig) -> str:
    """The envelope sender of the reply recorded as ``message_id``: the channel's forwarding
    address tagged with the message's bounce tag
    (:func:`~inboxcore.policies.threads.bounce_address`), or the host's fixed
    :attr:`OutboundConfig.return_path`. The same at every attempt to send."""
    if config.return_path is not None:
        return config.return_path.address
    tag = make_bounce_tag(message_id, config.bounce_signer)
    return bounce_address(channel.forwarding_address, tag).address


def reply_references(parent: Message | None) -> tuple[str, ...]:
    """References for a reply to ``parent`` (RFC 5322 section 3.6.4): the parent's References
    (or, without them, its In-Reply-To) followed by the parent's Message-ID.

    Ids that are not well-formed are left out (they cannot thread anything and must not reach
    a header); duplicates go; beyond :data:`MAX_OUTBOUND_REFERENCES` the first id (the thread's
    root) and the most recent ones are kept, as long threads in mail clients do.
    """
    if parent is None or not parent.rfc_message_id:
        return ()
    earlier = list(parent.references) or ([parent.in_reply_to] if parent.in_reply_to else [])
    ids: dict[str, None] = {}
    for raw in [*earlier, parent.rfc_message_id]:
        cleaned = raw.strip().strip("<>").strip()
        if _MSG_ID.fullmatch(cleaned):
            ids.pop(cleaned, None)
            ids[cleaned] = None
    found = list(ids)
    if len(found) > MAX_OUTBOUND_REFERENCES:
        found = [found[0], *found[-(MAX_OUTBOUND_REFERENCES - 1) :]]
    return tuple(found)


def _own_keys(context: ReplyContext, config: OutboundConfig, sender: EmailAddress) -> set[str]:
    channel = context.channel
    keys = {channel.forwarding_address.untagged.key, sender.untagged.key}
    keys.update(a.untagged.key for a in channel.mailbox_addresses)
    if channel.from_address.custom is not None:
        keys.add(channel.from_address.custom.untagged.key)
    return keys


def _is_ours(address: EmailAddress, own: set[str], own_domains: set[str]) -> bool:
    domain = address.domain
    if address.untagged.key in own:
        return True
    return any(domain == d or domain.endswith("." + d) for d in own_domains)


def _proven_contact_messages(context: ReplyContext) -> list[Message]:
    """The contact's own messages, as intake proved them (a DKIM signature or trusted ARC seal of
    the contact's domain, :attr:`~inboxcore.domain.model.Message.sender_evidence`)."""
    contact = context.contact.email.untagged.key
    return [
        m
        for m in _customer_messages(context.messages)
        if m.sender_evidence is not None
        and m.sender is not None
        and m.sender.untagged.key == contact
    ]


def reply_cc(
    context: ReplyContext, config: OutboundConfig, sender: EmailAddress
) -> tuple[EmailAddress, ...]:
    """The Cc of a reply: everyone the contact's last proven message went to or copied, except
    the contact, the team's agents, and addresses of ours (the channel's forwarding address and
    mailboxes, the from-address, anything on the account's receiving domain or our Message-ID
    domain). Order kept, duplicates dropped.

    Only a message intake proved the conversation's contact wrote counts: anyone can write "as"
    the contact into a thread (a forged From, a list post naming the contact, a reply quoting
    our Message-ID), and whoever they put on Cc would get the team's next answer. Without any
    proven message (offline intake, a contact whose domain signs nothing) there is no Cc; the
    agent can still set one (:attr:`ReplyDraft.cc`)."""
    proven = _proven_contact_messages(context)
    if not proven:
        return ()
    last = proven[-1]
    own = _own_keys(context, config, sender)
    own_domains = {
        config.hosting.receiving_domain(context.account),
        config.message_id_domain,
    }
    excluded = {context.contact.email.untagged.key} | set(context.team_addresses)
    if last.sender is not None:
        excluded.add(last.sender.untagged.key)
    found: dict[str, EmailAddress] = {}
    for address in (*last.to, *last.cc):
        key = address.untagged.key
        if key in excluded or key in found or _is_ours(address, own, own_domains):
            continue
        found[key] = address
    return tuple(found.values())


def excerpt(text: str, length: int = EXCERPT_LENGTH) -> str:
    """The start of ``text``, blank-line runs collapsed, cut at a word boundary with "…"."""
    lines = [" ".join(line.split()) for line in text.replace("\r\n", "\n").split("\n")]
    kept: list[str] = []
    for line in lines:
        if line or (kept and kept[-1]):
            kept.append(line)
    joined = "\n".join(kept).strip()
    if len(joined) <= length:
        return joined
    cut = joined[:length]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    if space > length // 2:
        cut = cut[:space]
    return cut.rstrip() + " …"


# --- building the message ---------------------------------------------------------------------


def _display(header: str, address: EmailAddress, name: str | None) -> EmailAddress:
    return attrs.evolve(address, display_name=check_header_value(header, name) if name else None)


def _policy(addresses: Iterable[EmailAddress]) -> email.policy.EmailPolicy[EmailMessage]:
    """SMTP, or SMTPUTF8 when an address has a non-ASCII local part (the transport then needs
    the server's SMTPUTF8 extension, and says so if it is missing)."""
    if all(a.local.isascii() for a in addresses):
        return email.policy.SMTP
    return email.policy.SMTPUTF8


def _cte(text: str) -> str:
    if text.isascii() and all(len(line) <= 78 for line in text.splitlines()):
        return "7bit"
    return "quoted-printable"


def _set(message: EmailMessage, header: str, value: str) -> None:
    message[header] = check_header_value(header, value)


def _set_addresses(message: EmailMessage, header: str, addresses: Sequence[EmailAddress]) -> None:
    """Address fields through the email package's own address objects, which encode display
    names (RFC 2047, or UTF-8 under SMTPUTF8) and allow internationalized local parts."""
    message[header] = tuple(
        Address(
            display_name=check_header_value(header, a.display_name or ""),
            username=a.local,
            domain=a.domain,
        )
        for a in addresses
    )


def _text_to_html(text: str) -> str:
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)


def _html_document(body: str) -> str:
    return f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>{body}</body></html>'


def _check_attachments(attachments: Sequence[OutboundAttachment], config: OutboundConfig) -> None:
    total = sum(len(a.data) for a in attachments)
    if total > config.max_attachment_bytes:
        raise MessageTooLarge("attachments", total, config.max_attachment_bytes)
    for attachment in attachments:
        check_header_value("Content-Disposition", attachment.filename)
        if not _CONTENT_TYPE.fullmatch(attachment.content_type.strip().lower()):
            check_header_value("Content-Type", attachment.content_type)
            raise InvalidValueError(f"not a media type: {attachment.content_type!r}")


def _attach(message: EmailMessage, attachment: OutboundAttachment) -> None:
    maintype, _, subtype = attachment.content_type.strip().lower().partition("/")
    name = check_header_value("Content-Disposition", attachment.filename)
    # A path in a file name is meaningless to the receiver and risky in some clients.
    name = " ".join(name.replace("/", "_").replace("\\", "_").split()) or "attachment"
    message.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=name)


def _build(
    *,
    sender: EmailAddress,
    to: Sequence[EmailAddress],
    cc: Sequence[EmailAddress] = (),
    reply_to: EmailAddress | None = None,
    subject: str,
    now: datetime,
    rfc_message_id: str,
    references: Sequence[str] = (),
    automatic: bool = False,
    loop_id: str,
    bounce_tag: str | None = None,
    text: str,
    body_html: str,
    attachments: Sequence[OutboundAttachment] = (),
    mail_from: str,
    max_bytes: int,
) -> OutboundMail:
    """The one composition path of outbound mail: every header value checked, display names
    encoded, our Message-ID and loop header, text and HTML alternatives, the size limit.

    ``references`` are Message-IDs without brackets; the last is the In-Reply-To.
    ``automatic`` marks mail no person wrote (RFC 3834 ``Auto-Submitted`` and
    ``X-Auto-Response-Suppress``), so that auto-responders stay quiet. ``bounce_tag`` goes in
    :data:`~inboxcore.policies.threads.BOUNCE_TAG_HEADER`, for reports that quote our headers.
    """
    message = EmailMessage(policy=_policy([sender, *to, *cc, *([reply_to] if reply_to else [])]))
    _set_addresses(message, "From", [sender])
    _set_addresses(message, "To", to)
    if cc:
        _set_addresses(message, "Cc", cc)
    if reply_to is not None:
        _set_addresses(message, "Reply-To", [reply_to])
    _set(message, "Subject", subject)
    _set(message, "Date", email.utils.format_datetime(now))
    _set(message, "Message-ID", f"<{rfc_message_id}>")
    if references:
        _set(message, "In-Reply-To", f"<{references[-1]}>")
        _set(message, "References", " ".join(f"<{r}>" for r in references))
    if automatic:
        _set(message, "Auto-Submitted", "auto-generated")
        _set(message, "X-Auto-Response-Suppress", "All")
    _set(message, LOOP_HEADER, loop_id)
    if bounce_tag is not None:
        _set(message, BOUNCE_TAG_HEADER, bounce_tag)
    message.set_content(text + "\n", cte=_cte(text))
    document = _html_document(body_html)
    message.add_alternative(document, subtype="html", cte=_cte(document))
    for attachment in attachments:
        _attach(message, attachment)
    data = message.as_bytes()
    if len(data) > max_bytes:
        raise MessageTooLarge("message", len(data), max_bytes)
    return OutboundMail(
        mail_from=mail_from,
        rcpt_to=tuple(dict.fromkeys(a.address for a in (*to, *cc))),
        data=data,
        rfc_message_id=rfc_message_id,
    )


def compose_reply(
    context: ReplyContext,
    draft: ReplyDraft,
    config: OutboundConfig,
    *,
    now: datetime,
    unique: str,
    message_id: MessageId,
) -> ComposedMail:
    """The agent's reply as a message ready to sign and send.

    ``unique`` (letters, digits, ``-``; from the IdSource) makes the Message-ID unique within
    the conversation; ``message_id`` is the id its outbound record will have, which its bounce
    tag names (:func:`reply_return_path`). Raises
    :class:`~inboxcore.domain.errors.HeaderInjectionError`,
    :class:`~inboxcore.domain.errors.MessageTooLarge`, or
    :class:`~inboxcore.domain.errors.InvalidValueError`
    (a bad media type or ``unique``).
    """
    channel, agent, contact = context.channel, context.agent, context.contact
    for header, raw in (
        ("From", channel.company_name),
        ("From", agent.first_name),
        ("From", agent.last_name),
        ("To", contact.name or ""),
        (LOOP_HEADER, channel.id),
    ):
        check_header_value(header, raw)
    _check_attachments(draft.attachments, config)

    resolved = _resolve_from_address(channel, context.account, agent, config.hosting)
    sender = _display("From", resolved.address, render_from_name(channel, agent, config.from_names))
    to = _display("To", contact.email, contact.name)
    cc = (
        tuple(_display("Cc", a, a.display_name) for a in draft.cc)
        if draft.cc is not None
        else reply_cc(context, config, sender)
    )
    customer = _customer_messages(context.messages)
    if draft.subject is not None:
        subject = check_header_value("Subject", draft.subject)
    else:
        last_subject = customer[-1].subject if customer else ""
        subject = reply_subject(last_subject or context.conversation.subject)
    parent = reply_parent(context.messages)
    references = reply_references(parent)
    in_reply_to = references[-1] if references else None

    signer = config.signer
    token = make_conversation_token(context.conversation.id, signer, now)
    rfc_message_id = outbound_message_id(token, config.message_id_domain, unique=unique)
    reply_to = _display("Reply-To", reply_to_address(channel.forwarding_address, token), None)
    reply_to = attrs.evolve(reply_to, display_name=sender.display_name)

    signature = render_signature(
        channel.signature, SignatureValues.for_agent(agent, channel.company_name)
    )
    text = draft.text.replace("\r\n", "\n").replace("\r", "\n").rstrip()
    if signature.text:
        text = f"{text}\n\n{signature.text}"
    body_html = draft.html if draft.html is not None else _text_to_html(draft.text)
    if signature.html:
        body_html += f'<div class="signature">{signature.html}</div>'

    mail = _build(
        sender=sender,
        to=[to],
        cc=cc,
        reply_to=reply_to,
        subject=subject,
        now=now,
        rfc_message_id=rfc_message_id,
        references=references,
        loop_id=channel.id,
        bounce_tag=make_bounce_tag(message_id, config.bounce_signer),
        text=text,
        body_html=body_html,
        attachments=draft.attachments,
        mail_from=reply_return_path(channel, message_id, config),
        max_bytes=config.max_message_bytes,
    )
    return ComposedMail(
        mail=mail,
        sender=sender,
        to=(to,),
        cc=cc,
        subject=subject,
        rfc_message_id=rfc_message_id,
        in_reply_to=in_reply_to,
        references=references,
    )


def _link(config: OutboundConfig, conversation: Conversation) -> str | None:
    template = config.conversation_url_template
    if template is None:
        return None
    return template.replace("{conversation_id}", quote(conversation.id, safe=""))


def compose_owner_notification(
    context: NotificationContext,
    config: OutboundConfig,
    *,
    now: datetime,
    unique: str,
) -> ComposedMail:
    """The email telling an offline contact owner about a new conversation.

    Marked ``Auto-Submitted: auto-generated`` (RFC 3834) and ``X-Auto-Response-Suppress: All``
    so that out-of-office replies stay quiet, and with our loop header. Its Reply-To is the
    channel's forwarding address tagged with the conversation token, and its Message-ID carries
    the token: the owner's answer threads into the conversation as the owner's message.
    """
    channel, contact, owner = context.channel, context.contact, context.owner
    for header, raw in (
        ("From", channel.company_name),
        ("From", channel.name),
        ("Subject", contact.name or ""),
        ("To", owner.first_name),
        ("To", owner.last_name),
        (LOOP_HEADER, channel.id),
    ):
        check_header_value(header, raw)
    who = contact.name or contact.email.address
    topic = strip_subject_prefixes(check_header_value("Subject", context.subject))
    subject = f"New conversation from {who}" + (f": {topic}" if topic else "")
    sender = config.notification_from(channel)
    to = _display("To", owner.email, owner.full_name or None)
    token = make_conversation_token(context.conversation.id, config.signer, now)
    rfc_message_id = outbound_message_id(token, config.message_id_domain, unique=unique)
    reply_to = attrs.evolve(
        reply_to_address(channel.forwarding_address, token),
        display_name=check_header_value("Reply-To", channel.company_name or channel.name) or None,
    )
    link = _link(config, context.conversation)
    quoted = excerpt(context.text)
    greeting = f"Hello {owner.first_name}," if owner.first_name else "Hello,"
    lines = [
        greeting,
        "",
        f"{who} <{contact.email.address}> started a new conversation in {channel.name}, "
        f"and you are their contact owner. You are offline, so {config.product_name} emails you.",
        "",
        f"Subject: {topic or '(no subject)'}",
        "",
        *(["> " + line if line else ">" for line in quoted.split("\n")] if quoted else []),
        "",
    ]
    if link:
        lines += [f"Open the conversation: {link}", ""]
    lines.append("Reply to this email and your answer is added to the conversation.")
    text = "\n".join(lines)
    parts = [
        f"<p>{html.escape(greeting)}</p>",
        f"<p><b>{html.escape(who)}</b> &lt;{html.escape(contact.email.address)}&gt; started a new "
        f"conversation in {html.escape(channel.name)}, and you are their contact owner. You are "
        f"offline, so {html.escape(config.product_name)} emails you.</p>",
        f"<p><b>Subject:</b> {html.escape(topic or '(no subject)')}</p>",
    ]
    if quoted:
        parts.append(f"<blockquote>{_text_to_html(quoted)}</blockquote>")
    if link:
        parts.append(f'<p><a href="{html.escape(link, quote=True)}">Open the conversation</a></p>')
    parts.append("<p>Reply to this email and your answer is added to the conversation.</p>")

    mail = _build(
        sender=sender,
        to=[to],
        reply_to=reply_to,
        subject=subject,
        now=now,
        rfc_message_id=rfc_message_id,
        automatic=True,
        loop_id=channel.id,
        text=text,
        body_html="".join(parts),
        mail_from=sender.address,
        max_bytes=config.max_message_bytes,
    )
    return ComposedMail(
        mail=mail, sender=sender, to=(to,), subject=subject, rfc_message_id=rfc_message_id
    )


# --- from-address verification ----------------------------------------------------------------


@attrs.frozen(kw_only=True)
class VerificationRequest:
    """What a from-address verification mail needs (:mod:`inboxcore.app.channel_setup` fills it)."""

    channel: Channel
    address: EmailAddress
    """The custom from-address to verify: the mail goes to it."""
    link: str
    """The https link that confirms the address (it carries the signed token)."""
    sender: EmailAddress
    """The From, e.g. ``Acme Helpdesk <no-reply@inbox.example.net>``."""
    expires_in: timedelta
    message_id_domain: str = attrs.field(converter=_domain)
    product_name: str = "the helpdesk"


def _duration(value: timedelta) -> str:
    """``24 hours``, ``1 hour``, ``90 minutes``, ``45 seconds``: exact, never rounded down."""
    seconds = int(value.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0 and (unit != "day" or seconds >= 2 * 86400):
            count = seconds // size
            return f"{count} {unit}" + ("" if count == 1 else "s")
    return f"{seconds} second" + ("" if seconds == 1 else "s")


def compose_verification(
    request: VerificationRequest,
    *,
    now: datetime,
    unique: str,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_SIZE,
) -> ComposedMail:
    """The mail that asks the owner of a custom from-address to confirm it with a link.

    Composed like every other outbound mail (header checks, RFC 2047 names, our loop header,
    automatic-mail headers), with a Message-ID ``verify-<unique>@<message_id_domain>``: it
    carries no conversation token, because an answer to it starts no conversation. Raises
    :class:`~inboxcore.domain.errors.HeaderInjectionError` for a line break in a header value and
    :class:`~inboxcore.domain.errors.InvalidValueError` for a link that is not one https URL or a
    bad
    ``unique``.
    """
    channel, address = request.channel, request.address
    link = request.link
    parts = urlsplit(link)
    if (
        parts.scheme != "https"
        or not parts.hostname
        or any(c.isspace() or unicodedata.category(c) in ("Cc", "Cf") for c in link)
    ):
        raise InvalidValueError(f"not a single https link: {link!r}")
    if not _UNIQUE.fullmatch(unique):
        raise InvalidValueError(f"the unique part must be 1-64 letters, digits or '-': {unique!r}")
    check_header_value(LOOP_HEADER, channel.id)
    sender = _display("From", request.sender, request.sender.display_name)
    to = attrs.evolve(address, display_name=None)
    rfc_message_id = f"verify-{unique.lower()}@{request.message_id_domain}"
    subject = f"Confirm {address.address} as a sending address"
    expiry = _duration(request.expires_in)
    team = " ".join((channel.company_name or channel.name).split())
    product = request.product_name
    text = (
        "Hello,\n\n"
        f"{team} wants to send email from {address.address} through {product}.\n"
        f"To confirm that this address is yours, open this link:\n\n{link}\n\n"
        f"The link works once and expires in {expiry}.\n"
        "If you did not ask for this, ignore this email: nothing will be sent from your address."
    )
    body_html = (
        "<p>Hello,</p>"
        f"<p>{html.escape(team)} wants to send email from <b>{html.escape(address.address)}</b> "
        f"through {html.escape(product)}.</p>"
        f'<p><a href="{html.escape(link, quote=True)}">Confirm this address</a></p>'
        f"<p>The link works once and expires in {expiry}. If you did not ask for this, ignore "
        "this email: nothing will be sent from your address.</p>"
    )
    mail = _build(
        sender=sender,
        to=[to],
        subject=subject,
        now=now,
        rfc_message_id=rfc_message_id,
        automatic=True,
        loop_id=channel.id,
        text=text,
        body_html=body_html,
        mail_from=sender.address,
        max_bytes=max_message_bytes,
    )
    return ComposedMail(
        mail=mail, sender=sender, to=(to,), subject=subject, rfc_message_id=rfc_message_id
    )
