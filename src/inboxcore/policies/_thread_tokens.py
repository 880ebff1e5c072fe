"""Signed tokens in the mail we send: conversation tokens and bounce tags.

A **conversation token** names a conversation in the Message-ID and the plus-tagged Reply-To of
our outbound mail, so that an answer whose headers were lost still finds its conversation
(:func:`make_conversation_token`, :func:`read_conversation_token`). A **bounce tag** names one
outbound message in the plus-tag of its Return-Path and in :data:`BOUNCE_TAG_HEADER`, so that a
bounce or an out-of-office proves which message it answers (:func:`make_bounce_tag`,
:func:`read_bounce_tag`). Both are lowercase base32 over a
:class:`~inboxcore.domain.tokens.Signer` signature, each with a salt of its own.

How threading weighs them is :mod:`inboxcore.policies.threads`, which re-exports the public names.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import attrs

from inboxcore.domain.addresses import EmailAddress, normalize_domain
from inboxcore.domain.errors import InvalidEmailAddress, InvalidValueError, TokenError
from inboxcore.domain.ids import ConversationId, MessageId
from inboxcore.domain.tokens import Signer

__all__ = [
    "BOUNCE_TAG_DIGEST_SIZE",
    "BOUNCE_TAG_HEADER",
    "BOUNCE_TAG_SALT",
    "CONVERSATION_TOKEN_DIGEST_SIZE",
    "CONVERSATION_TOKEN_SALT",
    "bounce_address",
    "bounce_signer",
    "conversation_signer",
    "make_bounce_tag",
    "make_conversation_token",
    "outbound_message_id",
    "read_bounce_tag",
    "read_conversation_token",
    "reply_to_address",
    "token_from_address",
    "token_from_message_id",
]

CONVERSATION_TOKEN_SALT = "conversation"
CONVERSATION_TOKEN_DIGEST_SIZE = 10
"""80 bits of HMAC: short enough for an address plus-tag, far beyond guessing by mail."""

# --- conversation tokens --------------------------------------------------------------------

_KIND_TEXT = 0
_KIND_UUID = 1
_KIND_INT = 2
_B32_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_B32_RUN = re.compile(r"[a-z2-7]{20,400}")
_MAX_CANDIDATES = 8
_UNIQUE = re.compile(r"[A-Za-z0-9-]{1,64}")


def conversation_signer(secret_keys: Sequence[bytes | str]) -> Signer:
    """The :class:`~inboxcore.domain.tokens.Signer` for conversation tokens (salt ``conversation``,
    :data:`CONVERSATION_TOKEN_DIGEST_SIZE`-byte signatures), newest key last."""
    return Signer(
        secret_keys=tuple(secret_keys),
        salt=CONVERSATION_TOKEN_SALT,
        digest_size=CONVERSATION_TOKEN_DIGEST_SIZE,
    )


def _check_signer(signer: Signer, salt: str = CONVERSATION_TOKEN_SALT) -> None:
    """Refuse a signer of another purpose: its tokens would never verify where they are read."""
    if signer.salt != salt or signer.digest_size > 16:
        maker = "bounce_signer" if salt == BOUNCE_TAG_SALT else "conversation_signer"
        raise InvalidValueError(
            f"these tokens need a Signer with salt {salt!r} and a digest of at most 16 bytes: "
            f"use {maker}()"
        )


def _b32encode(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=").lower()


def _b32decode(text: str) -> bytes | None:
    try:
        data = base64.b32decode(text.upper() + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        return None
    # Accept only the canonical spelling, so that any change to a token is refused.
    return data if _b32encode(data) == text else None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _encode_id(conversation_id: str) -> tuple[int, bytes]:
    try:
        if str(uuid.UUID(conversation_id)) == conversation_id:
            return _KIND_UUID, uuid.UUID(conversation_id).bytes
    except ValueError:
        pass
    if conversation_id.isascii() and conversation_id.isdigit() and len(conversation_id) <= 38:
        number = int(conversation_id)
        if str(number) == conversation_id:
            return _KIND_INT, number.to_bytes(max(1, (number.bit_length() + 7) // 8), "big")
    return _KIND_TEXT, conversation_id.encode("utf-8")


def _decode_id(kind: int, data: bytes) -> str | None:
    if kind == _KIND_UUID:
        return str(uuid.UUID(bytes=data)) if len(data) == 16 else None
    if kind == _KIND_INT:
        return str(int.from_bytes(data, "big")) if data else None
    if kind == _KIND_TEXT:
        try:
            return data.decode("utf-8") or None
        except UnicodeDecodeError:
            return None
    return None


def make_conversation_token(conversation_id: ConversationId, signer: Signer, now: datetime) -> str:
    """A short signed token for ``conversation_id``, safe in a Message-ID and a plus-tag.

    Lowercase base32 (``a-z2-7``), so it survives relays that change the case of addresses; a
    UUID id gives a 50-character token, a short id fewer. The layout inside the base32 is one
    byte (id encoding << 4 | length of the issue time), the id (a UUID as 16 bytes, a decimal
    number as an integer, anything else as UTF-8), the issue time and the HMAC; the signature is
    the :class:`~inboxcore.domain.tokens.Signer`'s, so keys rotate as they do for every token.
    Raises
    :class:`~inboxcore.domain.errors.InvalidValueError` for an empty id or a signer not made by
    :func:`conversation_signer`.
    """
    _check_signer(signer)
    if not conversation_id:
        raise InvalidValueError("a conversation token needs a conversation id")
    kind, id_bytes = _encode_id(conversation_id)
    parts = signer.sign(bytes([kind]) + id_bytes, now).split(".")
    issued, signature = _unb64(parts[1]), _unb64(parts[2])
    return _b32encode(bytes([kind << 4 | len(issued)]) + id_bytes + issued + signature)


def _verify(token: str, signer: Signer, now: datetime) -> ConversationId | None:
    blob = _b32decode(token)
    size = signer.digest_size
    if blob is None or len(blob) < 1 + 1 + size:
        return None
    kind, issued_len = blob[0] >> 4, blob[0] & 0x0F
    if not 1 <= issued_len <= 8 or len(blob) < 1 + 1 + issued_len + size:
        return None
    id_bytes = blob[1 : -(issued_len + size)]
    issued = blob[-(issued_len + size) : -size]
    decoded = _verified_id(signer, kind, id_bytes, _b64(issued), blob[-size:], now)
    return ConversationId(decoded) if decoded else None


def _verified_id(
    signer: Signer, kind: int, id_bytes: bytes, issued: str, signature: bytes, now: datetime
) -> str | None:
    """The id a token's parts carry, when the signer verifies them as its own; else None."""
    rebuilt = f"{_b64(bytes([kind]) + id_bytes)}.{issued}.{_b64(signature)}"
    try:
        signer.unsign(rebuilt, now)
    except (TokenError, ValueError, OverflowError, OSError):
        return None
    return _decode_id(kind, id_bytes)


def read_conversation_token(text: str, signer: Signer, now: datetime) -> ConversationId | None:
    """The conversation id of the first valid token found in ``text``, or None.

    ``text`` may be a bare token, a plus-tag, an address or a Message-ID (with or without angle
    brackets), in any case. Tampered, foreign, truncated or garbage input gives None: no
    exception escapes for anything the outside world wrote. At most a few candidates are
    checked, so a hostile header cannot make this expensive.
    """
    _check_signer(signer)
    if not isinstance(text, str) or len(text) > 2000:
        return None
    for n, match in enumerate(_B32_RUN.finditer(text.lower())):
        if n >= _MAX_CANDIDATES:
            break
        found = _verify(match.group(), signer, now)
        if found is not None:
            return found
    return None


def outbound_message_id(token: str, domain: str, *, unique: str) -> str:
    """The Message-ID (without angle brackets) of an outbound message: ``<token>.<unique>@domain``.

    ``unique`` (a fresh id or random hex from the IdSource) keeps Message-IDs of one
    conversation distinct; the token makes a reply that quotes this id in In-Reply-To or
    References find its conversation even if our own copy was never stored. Raises
    :class:`~inboxcore.domain.errors.InvalidValueError` for a malformed token, ``unique`` or domain.
    """
    if not token or any(c not in _B32_ALPHABET for c in token):
        raise InvalidValueError(f"not a conversation token: {token!r}")
    if not _UNIQUE.fullmatch(unique):
        raise InvalidValueError(f"the unique part must be 1-64 letters, digits or '-': {unique!r}")
    return f"{token}.{unique.lower()}@{normalize_domain(domain)}"


def reply_to_address(channel_address: EmailAddress, token: str) -> EmailAddress:
    """``channel_address`` with the token as its plus-tag (``support+<token>@...``).

    When the tagged local part would exceed 64 octets (a long local part, or a long
    conversation id), the untagged address is returned: the reply still threads by its headers
    and by the token in our Message-ID, which have no such limit.
    """
    if not token or any(c not in _B32_ALPHABET for c in token):
        raise InvalidValueError(f"not a conversation token: {token!r}")
    try:
        return channel_address.with_tag(token)
    except InvalidEmailAddress:
        return channel_address.untagged


def token_from_address(
    address: EmailAddress, signer: Signer, now: datetime
) -> ConversationId | None:
    """The conversation whose token is the plus-tag of ``address``, or None."""
    tag = address.tag
    return read_conversation_token(tag, signer, now) if tag else None


def token_from_message_id(message_id: str, signer: Signer, now: datetime) -> ConversationId | None:
    """The conversation whose token is in the local part of ``message_id``, or None."""
    local = message_id.strip().strip("<>").rpartition("@")[0]
    return read_conversation_token(local, signer, now) if local else None


# --- bounce tags: proof that automatic mail answers a message we sent -------------------------

BOUNCE_TAG_SALT = "bounce"
BOUNCE_TAG_DIGEST_SIZE = 6
"""48 bits of HMAC: short enough that the tag fits a Return-Path local part beside the channel's
forwarding address, and beyond forging by mail: one guess costs one message, and the guesser
never learns whether it was right (a wrong tag makes a notice, as no tag does)."""
BOUNCE_TAG_HEADER = "X-Inboxcore-Bounce-Tag"
"""The header of our outbound mail that carries its bounce tag, so that a report quoting the
original's headers proves it had our message even when it was not sent to our bounce address."""

# The tag carries no issue time, so that it stays short and is the same at every attempt to
# send: its age is the age of the message it names, which the record knows. The Signer is
# used with this fixed time, so that keys and salts work as for every other token.
_TAGGED_AT = datetime(1970, 1, 1, tzinfo=UTC)
_NO_TIME = _b64(b"\x00")


def bounce_signer(secret_keys: Sequence[bytes | str]) -> Signer:
    """The :class:`~inboxcore.domain.tokens.Signer` for bounce tags (salt ``bounce``,
    :data:`BOUNCE_TAG_DIGEST_SIZE`-byte signatures), over the conversation keys: a tag does not
    verify as a conversation token, nor a token as a tag."""
    return attrs.evolve(
        conversation_signer(secret_keys), salt=BOUNCE_TAG_SALT, digest_size=BOUNCE_TAG_DIGEST_SIZE
    )


def make_bounce_tag(message_id: MessageId, signer: Signer) -> str:
    """The signed tag naming our outbound message ``message_id`` (its record's id), for the
    plus-tag of its Return-Path (:func:`bounce_address`) and its :data:`BOUNCE_TAG_HEADER`.

    Lowercase base32, as conversation tokens, so that it survives mail systems that lowercase
    local parts: one byte (id encoding << 4, no issue time), the id and the signature. An id of
    the default :class:`~inboxcore.adapters.system.RandomIds` gives 34 characters, a UUID 37.
    The same message always gets the same tag. Raises
    :class:`~inboxcore.domain.errors.InvalidValueError` for an empty id or a signer not made by
    :func:`bounce_signer`.
    """
    _check_signer(signer, BOUNCE_TAG_SALT)
    if not message_id:
        raise InvalidValueError("a bounce tag needs a message id")
    kind, id_bytes = _encode_id(message_id)
    signature = _unb64(signer.sign(bytes([kind]) + id_bytes, _TAGGED_AT).split(".")[2])
    return _b32encode(bytes([kind << 4]) + id_bytes + signature)


def read_bounce_tag(text: str, signer: Signer) -> MessageId | None:
    """The outbound message a bounce tag names, or None for anything that is not a valid tag
    of ours (in any case). Never raises for what the outside world wrote."""
    _check_signer(signer, BOUNCE_TAG_SALT)
    if not isinstance(text, str) or len(text) > 200:
        return None
    blob = _b32decode(text.strip().lower())
    size = signer.digest_size
    if blob is None or len(blob) < 2 + size or blob[0] & 0x0F:
        return None
    kind, id_bytes, signature = blob[0] >> 4, blob[1:-size], blob[-size:]
    decoded = _verified_id(signer, kind, id_bytes, _NO_TIME, signature, _TAGGED_AT)
    return MessageId(decoded) if decoded else None


def bounce_address(channel_address: EmailAddress, tag: str) -> EmailAddress:
    """Our signed bounce address: the channel's forwarding address with ``tag`` as its plus-tag,
    where reports about the message come back to the channel (intake ignores plus-tags when it
    finds the channel). Beyond 64 octets of local part it is the untagged address, and reports
    then prove nothing: see :func:`reply_to_address`."""
    return reply_to_address(channel_address, tag)
