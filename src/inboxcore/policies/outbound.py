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

The builder itself is :mod:`inboxcore.policies._outbound_build`, and the parts of a reply decided
from the conversation (subject, References, Cc, envelope sender, excerpt) are
:mod:`inboxcore.policies._reply_parts`; this module re-exports their public names.

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

import html
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import quote, urlsplit

import attrs

from inboxcore.channels import FromNameFormats, HostedDomainConfig, render_from_name
from inboxcore.channels import resolve_from_address as _resolve_from_address
from inboxcore.domain.addresses import EmailAddress, normalize_domain
from inboxcore.domain.errors import (
    ConfigurationError,
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
    Message,
    OutboundMail,
    User,
)
from inboxcore.domain.tokens import Signer
from inboxcore.mail.classify import LOOP_HEADER
from inboxcore.policies._outbound_build import (
    build_mail,
    check_header_value,
    display_address,
    text_to_html,
)
from inboxcore.policies._reply_parts import (
    EXCERPT_LENGTH,
    MAX_OUTBOUND_REFERENCES,
    customer_messages,
    excerpt,
    reply_cc,
    reply_parent,
    reply_references,
    reply_return_path,
    reply_subject,
)
from inboxcore.policies.signature import SignatureValues, render_signature
from inboxcore.policies.threads import (
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

_CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
_UNIQUE = re.compile(r"[A-Za-z0-9-]{1,64}")


def _keys(values: Iterable[bytes | str]) -> tuple[bytes, ...]:
    return tuple(v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in values)


def _domain(value: str) -> str:
    return normalize_domain(value)


def _optional_address(value: EmailAddress | str | None) -> EmailAddress | None:
    if value is None or isinstance(value, EmailAddress):
        return value
    return EmailAddress.parse(value)


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


def _check_attachments(attachments: Sequence[OutboundAttachment], config: OutboundConfig) -> None:
    total = sum(len(a.data) for a in attachments)
    if total > config.max_attachment_bytes:
        raise MessageTooLarge("attachments", total, config.max_attachment_bytes)
    for attachment in attachments:
        check_header_value("Content-Disposition", attachment.filename)
        if not _CONTENT_TYPE.fullmatch(attachment.content_type.strip().lower()):
            check_header_value("Content-Type", attachment.content_type)
            raise InvalidValueError(f"not a media type: {attachment.content_type!r}")


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
    channel = context.channel
    _check_reply_headers(context)
    _check_attachments(draft.attachments, config)
    sender, to, cc = _reply_addresses(context, draft, config)
    subject = _reply_subject_for(context, draft)
    references = reply_references(reply_parent(context.messages))
    token = make_conversation_token(context.conversation.id, config.signer, now)
    rfc_message_id = outbound_message_id(token, config.message_id_domain, unique=unique)
    reply_to = attrs.evolve(
        reply_to_address(channel.forwarding_address, token), display_name=sender.display_name
    )
    text, body_html = _reply_bodies(context, draft)
    mail = build_mail(
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
        in_reply_to=references[-1] if references else None,
        references=references,
    )


def _check_reply_headers(context: ReplyContext) -> None:
    """The names a reply's headers are made of, checked before anything is composed."""
    channel, agent, contact = context.channel, context.agent, context.contact
    for header, raw in (
        ("From", channel.company_name),
        ("From", agent.first_name),
        ("From", agent.last_name),
        ("To", contact.name or ""),
        (LOOP_HEADER, channel.id),
    ):
        check_header_value(header, raw)


def _reply_addresses(
    context: ReplyContext, draft: ReplyDraft, config: OutboundConfig
) -> tuple[EmailAddress, EmailAddress, tuple[EmailAddress, ...]]:
    """The From, To and Cc of a reply: the agent's Cc when they set one, else :func:`reply_cc`."""
    channel, agent, contact = context.channel, context.agent, context.contact
    resolved = _resolve_from_address(channel, context.account, agent, config.hosting)
    sender = display_address(
        "From", resolved.address, render_from_name(channel, agent, config.from_names)
    )
    to = display_address("To", contact.email, contact.name)
    cc = (
        tuple(display_address("Cc", a, a.display_name) for a in draft.cc)
        if draft.cc is not None
        else reply_cc(context, config, sender)
    )
    return sender, to, cc


def _reply_subject_for(context: ReplyContext, draft: ReplyDraft) -> str:
    """The agent's subject, else a reply to the customer's last subject (or the conversation's)."""
    if draft.subject is not None:
        return check_header_value("Subject", draft.subject)
    customer = customer_messages(context.messages)
    last_subject = customer[-1].subject if customer else ""
    return reply_subject(last_subject or context.conversation.subject)


def _reply_bodies(context: ReplyContext, draft: ReplyDraft) -> tuple[str, str]:
    """The text and HTML of a reply, each followed by the team signature rendered for the agent."""
    channel = context.channel
    signature = render_signature(
        channel.signature, SignatureValues.for_agent(context.agent, channel.company_name)
    )
    text = draft.text.replace("\r\n", "\n").replace("\r", "\n").rstrip()
    if signature.text:
        text = f"{text}\n\n{signature.text}"
    body_html = draft.html if draft.html is not None else text_to_html(draft.text)
    if signature.html:
        body_html += f'<div class="signature">{signature.html}</div>'
    return text, body_html


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
    to = display_address("To", owner.email, owner.full_name or None)
    token = make_conversation_token(context.conversation.id, config.signer, now)
    rfc_message_id = outbound_message_id(token, config.message_id_domain, unique=unique)
    reply_to = attrs.evolve(
        reply_to_address(channel.forwarding_address, token),
        display_name=check_header_value("Reply-To", channel.company_name or channel.name) or None,
    )
    text, body_html = _notification_bodies(context, config, who=who, topic=topic)
    mail = build_mail(
        sender=sender,
        to=[to],
        reply_to=reply_to,
        subject=subject,
        now=now,
        rfc_message_id=rfc_message_id,
        automatic=True,
        loop_id=channel.id,
        text=text,
        body_html=body_html,
        mail_from=sender.address,
        max_bytes=config.max_message_bytes,
    )
    return ComposedMail(
        mail=mail, sender=sender, to=(to,), subject=subject, rfc_message_id=rfc_message_id
    )


def _notification_bodies(
    context: NotificationContext, config: OutboundConfig, *, who: str, topic: str
) -> tuple[str, str]:
    """The text and HTML of an owner notification: who wrote, the subject, an excerpt, the link."""
    channel, contact, owner = context.channel, context.contact, context.owner
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
    parts = [
        f"<p>{html.escape(greeting)}</p>",
        f"<p><b>{html.escape(who)}</b> &lt;{html.escape(contact.email.address)}&gt; started a new "
        f"conversation in {html.escape(channel.name)}, and you are their contact owner. You are "
        f"offline, so {html.escape(config.product_name)} emails you.</p>",
        f"<p><b>Subject:</b> {html.escape(topic or '(no subject)')}</p>",
    ]
    if quoted:
        parts.append(f"<blockquote>{text_to_html(quoted)}</blockquote>")
    if link:
        parts.append(f'<p><a href="{html.escape(link, quote=True)}">Open the conversation</a></p>')
    parts.append("<p>Reply to this email and your answer is added to the conversation.</p>")
    return "\n".join(lines), "".join(parts)


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
    _check_verification_link(request.link)
    if not _UNIQUE.fullmatch(unique):
        raise InvalidValueError(f"the unique part must be 1-64 letters, digits or '-': {unique!r}")
    check_header_value(LOOP_HEADER, channel.id)
    sender = display_address("From", request.sender, request.sender.display_name)
    to = attrs.evolve(address, display_name=None)
    rfc_message_id = f"verify-{unique.lower()}@{request.message_id_domain}"
    subject = f"Confirm {address.address} as a sending address"
    text, body_html = _verification_bodies(request)
    mail = build_mail(
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


def _check_verification_link(link: str) -> None:
    """Refuse anything but one https URL: the link is pasted into the mail as it is."""
    parts = urlsplit(link)
    if (
        parts.scheme != "https"
        or not parts.hostname
        or any(c.isspace() or unicodedata.category(c) in ("Cc", "Cf") for c in link)
    ):
        raise InvalidValueError(f"not a single https link: {link!r}")


def _verification_bodies(request: VerificationRequest) -> tuple[str, str]:
    """The text and HTML of a verification mail: who asks, the link, when it expires."""
    address, link, product = request.address, request.link, request.product_name
    expiry = _duration(request.expires_in)
    team = " ".join((request.channel.company_name or request.channel.name).split())
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
    return text, body_html
