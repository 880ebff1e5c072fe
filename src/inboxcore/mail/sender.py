"""Who originally wrote a message: the contact it belongs to, not the mailbox that forwarded it.

A team's mail reaches the channel in several ways, and each hides the original sender in its own
place. :func:`resolve_sender` looks in that place and reports where it looked
(:class:`SenderSource`), in this order:

1. **Google Groups** rewrites the From of posters whose domain publishes DMARC to
   ``'Name' via Group <group@...>`` and keeps the poster in ``X-Original-From`` /
   ``X-Original-Sender``. Those headers are trusted only when the From *is the list*: its address
   is the list's own (List-Post, List-Id, or the Sender of a message carrying list headers).
   Anyone can type ``X-Original-From`` into a message; only the list's own mail is believed.
2. **Mailing lists** (Mailman and friends) that munge the From for DMARC: the From is
   ``Name via List <list@...>`` and the poster is either wrapped whole as ``message/rfc822``
   (``list_wrapped``) or named in Reply-To or, when replies go to the list, in Cc
   (``list_munged``; the address whose name matches the "via" name wins).
3. A **manual forward by the team** (the From is an agent or the mailbox that forwards to the
   channel): the block in the body (:mod:`inboxcore.mail.forwards`), descending through forwards of
   forwards by the team; a block written by the team itself names the customer it was sent to.
   Without a block, a forward as attachment (``message/rfc822``) names the original.
4. Otherwise the **header From**, which is also what automatic forwarding (Gmail, Microsoft 365
   rules, which keep the original From) delivers. A customer who forwards something to the team
   stays the sender: a name found in the body never replaces an outside sender.
5. No usable From: the **Sender** header (the mailbox that transmitted it, RFC 5322 3.6.2), then
   the first **Reply-To** (where an answer would go, so the contact to answer), else none.

Layer 4 (an intake helper): pure, never raises on any message.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Collection, Iterable

import attrs

from inboxcore.domain.addresses import EmailAddress, parse_address_list
from inboxcore.domain.errors import InvalidEmailAddress
from inboxcore.mail.forwards import ForwardedMessage, parse_forwarded
from inboxcore.mail.parsing import ParsedMessage

__all__ = [
    "SenderResolution",
    "SenderSource",
    "resolve_sender",
]

_MAX_FORWARD_DEPTH = 5
_VIA = re.compile(r"^(?P<name>.*?)\s+via\s+(?P<list>\S.*)$", re.IGNORECASE)
_MAILTO = re.compile(r"<\s*mailto:([^>?\s]+)", re.IGNORECASE)


class SenderSource(enum.Enum):
    """Where the original sender was found."""

    HEADER_FROM = "header_from"
    GOOGLE_GROUPS = "google_groups"
    LIST_MUNGED = "list_munged"
    LIST_WRAPPED = "list_wrapped"
    MANUAL_FORWARD_BODY = "manual_forward_body"
    FORWARD_ATTACHMENT = "forward_attachment"
    SENDER_HEADER = "sender_header"
    REPLY_TO_HEADER = "reply_to_header"
    NONE = "none"


@attrs.frozen(kw_only=True)
class SenderResolution:
    """The original sender of a message and how it was found.

    ``forwarder`` is the mailbox that passed the message on (the agent or forwarding mailbox of a
    manual forward, the list of a rewritten list post), None when the sender wrote to the channel
    directly. ``forwarded`` is the parsed forwarded block when the body held one, whether or not
    it was used (it is never used for an outside sender).
    """

    sender: EmailAddress | None
    source: SenderSource
    forwarder: EmailAddress | None = None
    header_from: EmailAddress | None = None
    explanation: str
    forwarded: ForwardedMessage | None = None


def _key(text: str) -> str:
    try:
        return EmailAddress.parse(text).key
    except InvalidEmailAddress:
        return text.strip().lower()


def _keys(address: EmailAddress) -> set[str]:
    return {address.key, address.untagged.key}


def _via_name(address: EmailAddress) -> str | None:
    """The poster's name of a ``'Name' via List`` display name, or None for another form."""
    match = _VIA.match(address.display_name or "")
    if match is None:
        return None
    name = match.group("name").strip().strip("'\"").strip()
    return name or None


def _list_keys(parsed: ParsedMessage) -> set[str]:
    """The list's own address keys, from List-Post and List-Id."""
    keys: set[str] = set()
    for value in parsed.headers("List-Post"):
        for found in _MAILTO.findall(value):
            keys.add(_key(found))
    return keys


def _from_is_list(parsed: ParsedMessage, header_from: EmailAddress) -> bool:
    """Whether the From is the mailing list itself, as the list's own headers say."""
    if _keys(header_from) & _list_keys(parsed):
        return True
    list_id = (parsed.list_id or "").strip().lower()
    if list_id and f"{header_from.local.lower()}.{header_from.domain}" == list_id:
        return True
    has_list_headers = bool(
        list_id or parsed.headers("List-Post") or parsed.headers("Mailing-list")
    )
    sender = parsed.sender
    return has_list_headers and sender is not None and sender.key == header_from.key


def _named(address: EmailAddress, name: str | None) -> EmailAddress:
    if address.display_name or not name:
        return address
    return attrs.evolve(address, display_name=name)


def _google_groups(
    parsed: ParsedMessage, header_from: EmailAddress, is_list: bool
) -> SenderResolution | None:
    original_from = parse_address_list(parsed.headers("X-Original-From"))
    original_sender = parse_address_list(parsed.headers("X-Original-Sender"))
    if not (original_from or original_sender) or not is_list:
        return None
    via = _via_name(header_from)
    if original_sender:
        chosen = original_sender[0]
        named = next((a for a in original_from if a.key == chosen.key), None)
        chosen = _named(chosen, named.display_name if named else via)
    else:
        chosen = _named(original_from[0], via)
    return SenderResolution(
        sender=chosen,
        source=SenderSource.GOOGLE_GROUPS,
        forwarder=header_from,
        header_from=header_from,
        explanation=(
            f"Posted to the group {header_from.address}, which rewrote the From; the original "
            f"sender {chosen.address} comes from the group's X-Original-From/X-Original-Sender."
        ),
    )


def _list_wrapped(parsed: ParsedMessage, header_from: EmailAddress) -> SenderResolution | None:
    list_keys = _keys(header_from)
    for inner in parsed.attached_messages:
        authors = inner.from_
        if authors and not (_keys(authors[0]) & list_keys):
            return SenderResolution(
                sender=authors[0],
                source=SenderSource.LIST_WRAPPED,
                forwarder=header_from,
                header_from=header_from,
                explanation=(
                    f"The list {header_from.address} wrapped the original message; its From "
                    f"{authors[0].address} is the sender."
                ),
            )
    return None


def _list_munged(
    parsed: ParsedMessage, header_from: EmailAddress, exclude: set[str]
) -> SenderResolution | None:
    via = _via_name(header_from)
    if via is None:
        return None
    for header, addresses in (("Reply-To", parsed.reply_to), ("Cc", parsed.cc)):
        candidates = [a for a in addresses if not (_keys(a) & exclude)]
        matching = [a for a in candidates if (a.display_name or "").casefold() == via.casefold()]
        chosen = matching[0] if matching else (candidates[0] if len(candidates) == 1 else None)
        if chosen is not None:
            chosen = _named(chosen, via)
            return SenderResolution(
                sender=chosen,
                source=SenderSource.LIST_MUNGED,
                forwarder=header_from,
                header_from=header_from,
                explanation=(
                    f"The list {header_from.address} rewrote the From for DMARC ('{via} via "
                    f"...'); the original sender {chosen.address} is in {header}."
                ),
            )
    return None


def _descend(forwarded: ForwardedMessage, ours: set[str]) -> ForwardedMessage:
    """Follow forwards of forwards while the block's author is one of the team."""
    for _ in range(_MAX_FORWARD_DEPTH):
        author = forwarded.from_address
        if author is None or not (_keys(author) & ours):
            break
        inner = parse_forwarded(forwarded.body, forwarded.subject)
        if inner is None:
            break
        forwarded = inner
    return forwarded


def _first_outside(addresses: Iterable[EmailAddress], ours: set[str]) -> EmailAddress | None:
    return next((a for a in addresses if not (_keys(a) & ours)), None)


def _team_forward(
    parsed: ParsedMessage, header_from: EmailAddress, ours: set[str]
) -> SenderResolution:
    forwarded = parse_forwarded(parsed.text or "", parsed.header("Subject"))
    if forwarded is not None:
        forwarded = _descend(forwarded, ours)
        author = forwarded.from_address
        if author is not None and not (_keys(author) & ours):
            return SenderResolution(
                sender=author,
                source=SenderSource.MANUAL_FORWARD_BODY,
                forwarder=header_from,
                header_from=header_from,
                explanation=(
                    f"{header_from.address} of the team forwarded a message from "
                    f"{author.address}; the sender is taken from the forwarded block."
                ),
                forwarded=forwarded,
            )
        if author is not None:
            recipient = _first_outside(forwarded.to + forwarded.cc, ours)
            if recipient is not None:
                return SenderResolution(
                    sender=recipient,
                    source=SenderSource.MANUAL_FORWARD_BODY,
                    forwarder=header_from,
                    header_from=header_from,
                    explanation=(
                        f"{header_from.address} of the team forwarded a message the team wrote "
                        f"to {recipient.address}; the conversation is with that recipient."
                    ),
                    forwarded=forwarded,
                )
    for inner in parsed.attached_messages:
        authors = inner.from_
        if authors and not (_keys(authors[0]) & ours):
            return SenderResolution(
                sender=authors[0],
                source=SenderSource.FORWARD_ATTACHMENT,
                forwarder=header_from,
                header_from=header_from,
                explanation=(
                    f"{header_from.address} of the team forwarded a message as an attachment; "
                    f"its From {authors[0].address} is the sender."
                ),
                forwarded=forwarded,
            )
    why = (
        "its forwarded block names no address"
        if forwarded is not None
        else "no forwarded message was found in it"
    )
    return SenderResolution(
        sender=header_from,
        source=SenderSource.HEADER_FROM,
        header_from=header_from,
        explanation=f"{header_from.address} of the team sent this message, and {why}.",
        forwarded=forwarded,
    )


def resolve_sender(
    parsed: ParsedMessage,
    *,
    team_addresses: Collection[str],
    channel_address: EmailAddress,
) -> SenderResolution:
    """The original sender of ``parsed`` (see the module documentation for the rules).

    ``team_addresses`` are the address keys of the team's agents and of the mailbox(es) that
    forward to the channel; ``channel_address`` is the channel's forwarding address, which also
    counts as the team's own.
    """
    ours = {_key(a) for a in team_addresses} | _keys(channel_address)
    authors = parsed.from_
    header_from = authors[0] if authors else None

    if header_from is not None:
        is_list = _from_is_list(parsed, header_from)
        found = _google_groups(parsed, header_from, is_list)
        if found is not None:
            return found
        if is_list:
            # The poster may be an agent: only the list and the channel are never the sender.
            exclude = _keys(header_from) | _list_keys(parsed) | _keys(channel_address)
            found = _list_wrapped(parsed, header_from) or _list_munged(parsed, header_from, exclude)
            if found is not None:
                return found
        if _keys(header_from) & ours:
            return _team_forward(parsed, header_from, ours)
        # An outside sender is never replaced by a name found in the body, so the body is not
        # even read here: intake stays headers-only for the common case of a customer's mail.
        return SenderResolution(
            sender=header_from,
            source=SenderSource.HEADER_FROM,
            header_from=header_from,
            explanation=f"The sender is the From address {header_from.address}.",
        )

    if parsed.sender is not None:
        return SenderResolution(
            sender=parsed.sender,
            source=SenderSource.SENDER_HEADER,
            explanation=(
                f"The message has no usable From; the Sender {parsed.sender.address} is used."
            ),
        )
    if parsed.reply_to:
        return SenderResolution(
            sender=parsed.reply_to[0],
            source=SenderSource.REPLY_TO_HEADER,
            explanation=(
                "The message has neither a usable From nor a Sender; the Reply-To "
                f"{parsed.reply_to[0].address} is where an answer goes, so it is used."
            ),
        )
    return SenderResolution(
        sender=None,
        source=SenderSource.NONE,
        explanation="The message names no usable sender (no From, Sender or Reply-To address).",
    )
