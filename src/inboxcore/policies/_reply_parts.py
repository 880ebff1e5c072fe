"""The parts of a reply that are decided from the conversation: its subject, the message it
answers, its References, its Cc, its envelope sender, and the excerpt of an owner notification.

Each is a pure function of the records, used by :func:`~inboxcore.policies.outbound.compose_reply`
and public there (:mod:`inboxcore.policies.outbound` re-exports them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.ids import MessageId
from inboxcore.domain.model import Channel, DeliveryStatus, Direction, Message, MessageKind
from inboxcore.policies._outbound_build import check_header_value
from inboxcore.policies.threads import bounce_address, make_bounce_tag, strip_subject_prefixes

if TYPE_CHECKING:
    # Only types here: the configuration and context values are defined in outbound.
    from inboxcore.policies.outbound import OutboundConfig, ReplyContext

__all__ = [
    "EXCERPT_LENGTH",
    "MAX_OUTBOUND_REFERENCES",
    "customer_messages",
    "excerpt",
    "reply_cc",
    "reply_parent",
    "reply_references",
    "reply_return_path",
    "reply_subject",
]

MAX_OUTBOUND_REFERENCES: Final = 20
"""At most this many Message-IDs in References: the thread's first and its most recent ones."""

EXCERPT_LENGTH: Final = 600
"""Characters of the customer's message shown in an owner notification."""

_MSG_ID = re.compile(r"[\x21-\x3b\x3d\x3f-\x7e]{1,250}")
"""A Message-ID without its angle brackets: printable ASCII, no space, no ``<`` or ``>``."""


def reply_subject(subject: str) -> str:
    """``Re: <subject>`` with every earlier reply and forward prefix, in any of the languages
    :func:`~inboxcore.policies.threads.strip_subject_prefixes` knows, and list tags removed."""
    base = strip_subject_prefixes(check_header_value("Subject", subject))
    return f"Re: {base}" if base else "Re:"


def customer_messages(messages: Sequence[Message]) -> list[Message]:
    """The messages the customer wrote (inbound, real messages, no agent as author)."""
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
    :attr:`~inboxcore.policies.outbound.OutboundConfig.return_path`. The same at every attempt
    to send."""
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
        for m in customer_messages(context.messages)
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
    agent can still set one (:attr:`~inboxcore.policies.outbound.ReplyDraft.cc`)."""
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
