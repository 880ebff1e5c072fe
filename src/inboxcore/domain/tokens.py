"""Signed, timestamped tokens: HMAC-SHA256 with a salt per purpose and rotating keys.

Learned from itsdangerous, with time injected instead of read from the system clock. A token is
``<payload>.<issued>.<signature>`` in URL-safe base64 without padding, where ``issued`` is the
issue time in whole seconds since the epoch. The newest key signs; every key in the list verifies,
so keys rotate without breaking tokens already sent. Signatures are compared with
``hmac.compare_digest``. The salt separates purposes: a token signed for address verification does
not verify as a conversation token even under the same keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import attrs

from inboxcore.domain.errors import BadTokenSignature, InvalidValueError, TokenExpired

__all__ = ["SignedPayload", "Signer"]


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if any(c not in _ALPHABET for c in text):
        raise BadTokenSignature("token is not URL-safe base64")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError as exc:
        raise BadTokenSignature("token is not URL-safe base64") from exc
    # Base64 has several spellings of the same bytes in its last character; accept only the
    # canonical one, so that any change to a token is refused.
    if _b64encode(data) != text:
        raise BadTokenSignature("token is not canonical base64")
    return data


_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@attrs.frozen(kw_only=True)
class SignedPayload:
    """What a valid token carried."""

    payload: bytes
    issued_at: datetime


def _to_keys(keys: Sequence[bytes | str]) -> tuple[bytes, ...]:
    out = tuple(k.encode("utf-8") if isinstance(k, str) else bytes(k) for k in keys)
    if not out:
        raise InvalidValueError("a Signer needs at least one secret key")
    if any(len(k) < 16 for k in out):
        raise InvalidValueError("secret keys must be at least 16 bytes")
    return out


@attrs.frozen(kw_only=True)
class Signer:
    """Signs and verifies tokens for one purpose (``salt``).

    ``secret_keys`` lists the keys oldest first; the last one signs.
    """

    secret_keys: tuple[bytes, ...] = attrs.field(converter=_to_keys, repr=False)
    salt: str
    digest_size: int = 32
    """Bytes of HMAC-SHA256 kept in the token (16 for tokens that must be short)."""

    def _mac(self, key: bytes, message: bytes) -> bytes:
        derived = hmac.new(key, b"inboxcore-signer:" + self.salt.encode("utf-8"), hashlib.sha256)
        return hmac.new(derived.digest(), message, hashlib.sha256).digest()[: self.digest_size]

    def sign(self, payload: bytes, now: datetime) -> str:
        """A token carrying ``payload``, issued at ``now``."""
        issued = int(now.astimezone(UTC).timestamp())
        issued_bytes = issued.to_bytes(8, "big").lstrip(b"\x00") or b"\x00"
        body = f"{_b64encode(payload)}.{_b64encode(issued_bytes)}"
        signature = self._mac(self.secret_keys[-1], body.encode("ascii"))
        return f"{body}.{_b64encode(signature)}"

    def unsign(self, token: str, now: datetime, max_age: timedelta | None = None) -> SignedPayload:
        """The payload of a valid token.

        Raises :class:`~inboxcore.domain.errors.BadTokenSignature` for a malformed, altered or
        foreign
        token, and :class:`~inboxcore.domain.errors.TokenExpired` (carrying ``issued_at``) for one
        older
        than ``max_age``. A token issued in the future beyond a minute of clock skew is bad.
        """
        if not isinstance(token, str) or token.count(".") != 2 or len(token) > 4096:
            raise BadTokenSignature("token is malformed")
        payload_text, issued_text, signature_text = token.split(".")
        signature = _b64decode(signature_text)
        body = f"{payload_text}.{issued_text}".encode("ascii")
        if not any(
            hmac.compare_digest(signature, self._mac(key, body)) for key in self.secret_keys
        ):
            raise BadTokenSignature("token signature does not match")
        payload = _b64decode(payload_text) if payload_text else b""
        issued_at = datetime.fromtimestamp(int.from_bytes(_b64decode(issued_text), "big"), UTC)
        if issued_at - now > timedelta(minutes=1):
            raise BadTokenSignature("token was issued in the future")
        if max_age is not None and now - issued_at > max_age:
            raise TokenExpired(
                f"token expired (issued {issued_at.isoformat()})", issued_at=issued_at
            )
        return SignedPayload(payload=payload, issued_at=issued_at)
