"""Who receives a message: the channel of its recipients, and the one rule for refusing one.

Intake (:func:`~inboxcore.ingest.ingest`), SMTP SIZE checks and the LMTP/SMTP receiver's RCPT
answers (through :meth:`~inboxcore.app.service.InboxService.check_recipient`) all find the
channel with :func:`channel_for_recipients` and refuse with :func:`recipient_refusal`, so they can
never disagree about who receives what, or answer one recipient two ways.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable

import attrs

from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import InvalidEmailAddress, PortError
from inboxcore.domain.model import Channel, ChannelState, Envelope
from inboxcore.domain.outcomes import Reason, Reply, SmtpReply
from inboxcore.mail.parsing import ParsedMessage
from inboxcore.ports import Storage

__all__ = [
    "RecipientCheck",
    "RecipientRefusal",
    "channel_for_recipients",
    "check_recipient",
    "find_channel",
    "recipient_candidates",
    "recipient_refusal",
    "size_refusal",
]

log = logging.getLogger(__name__)

_RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "X-Forwarded-To")


@attrs.frozen(kw_only=True)
class RecipientRefusal:
    """Why a recipient (or a message's size for it) is refused: the reply and the reason."""

    reply: SmtpReply
    reason: Reason


@attrs.frozen(kw_only=True)
class RecipientCheck:
    """The answer about one recipient address: the channel receiving there (None when there is
    none, or the address is unusable), and the refusal to give, or None to accept it."""

    channel: Channel | None
    refusal: RecipientRefusal | None


def recipient_candidates(envelope: Envelope, parsed: ParsedMessage | None) -> tuple[str, ...]:
    """Address keys (lowercase, untagged) that may name the channel: the envelope recipients,
    else the delivery headers a forwarding provider adds."""
    values: Iterable[str] = envelope.rcpt_to
    if not envelope.rcpt_to and parsed is not None:
        values = [v for name in _RECIPIENT_HEADERS for v in parsed.headers(name)]
    return _address_keys(values)


def _address_keys(values: Iterable[str]) -> tuple[str, ...]:
    keys: list[str] = []
    for value in values:
        try:
            address = EmailAddress.parse(value)
        except InvalidEmailAddress:
            continue
        key = address.untagged.key
        if key not in keys:
            keys.append(key)
    return tuple(keys)


def channel_for_recipients(storage: Storage, recipients: Iterable[str]) -> Channel | None:
    """The channel the first of ``recipients`` that names one receives for (case-insensitive,
    plus-tags ignored, unusable addresses skipped), in any state; None when none does.

    The one lookup of a channel by address: intake, SMTP SIZE checks and the receiver's RCPT
    answers all use it. Raises :class:`~inboxcore.domain.errors.PortError` when storage fails.
    """
    return find_channel(storage, _address_keys(recipients))


def find_channel(storage: Storage, keys: Collection[str]) -> Channel | None:
    """The channel of the first of these address keys (from :func:`recipient_candidates`)."""
    if not keys:
        return None
    with storage.unit_of_work() as uow:
        for key in keys:
            channel = uow.channels.by_forwarding_address(key)
            if channel is not None:
                return channel
    return None


def size_refusal(limit: int) -> RecipientRefusal:
    """The refusal of a message larger than ``limit`` bytes."""
    return RecipientRefusal(
        reply=Reply.TOO_BIG.value,
        reason=Reason(
            code="size_limit",
            message=f"The message is larger than the channel's limit of {limit:,} bytes.",
        ),
    )


def recipient_refusal(channel: Channel | None, size: int | None = None) -> RecipientRefusal | None:
    """Why mail for ``channel`` (None: no channel receives at the address) of ``size`` bytes
    (None: not known yet) is refused, or None when it may come: no such mailbox, a disconnected
    channel, a message over the channel's limit."""
    if channel is None:
        return RecipientRefusal(
            reply=Reply.UNKNOWN_RECIPIENT.value,
            reason=Reason(code="unknown_recipient", message="No channel receives this message."),
        )
    if channel.state is ChannelState.DISCONNECTED:
        return RecipientRefusal(
            reply=Reply.RETIRED.value,
            reason=Reason(
                code="channel_disconnected",
                message=f"{channel.forwarding_address.address} was disconnected and no longer "
                "receives mail.",
            ),
        )
    limit = channel.intake.max_message_size
    if size is not None and size > limit:
        return size_refusal(limit)
    return None


def check_recipient(storage: Storage, address: str, size: int | None = None) -> RecipientCheck:
    """The answer to an SMTP/LMTP ``RCPT TO:<address>`` (``size``: the declared ``SIZE=``, if
    any): a malformed address (``invalid_recipient``), storage down (``storage_unavailable``, a
    temporary failure), then :func:`recipient_refusal`. Never raises."""
    try:
        key = EmailAddress.parse(address).untagged.key
    except InvalidEmailAddress:
        reason = Reason(code="invalid_recipient", message=f"{address!r} is not an address.")
        return RecipientCheck(
            channel=None, refusal=RecipientRefusal(reply=Reply.BAD_ADDRESS.value, reason=reason)
        )
    try:
        channel = find_channel(storage, (key,))
    except PortError as exc:
        log.warning("storage unavailable while checking recipient %s: %s", address, exc)
        reason = Reason(code="storage_unavailable", message="Storage is unavailable.")
        refusal = RecipientRefusal(reply=Reply.STORAGE_DOWN.value, reason=reason)
        return RecipientCheck(channel=None, refusal=refusal)
    return RecipientCheck(channel=channel, refusal=recipient_refusal(channel, size))
