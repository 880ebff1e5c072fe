"""Amazon SES receiving through Amazon SNS: the SNS message signature, its signing certificate,
and the SES notification inside. A piece of :mod:`inboxcore.entrypoints.http_intake`.

SNS signs each message it posts with the key of a certificate it publishes at
``SigningCertURL``; the string signed is the message's fields, in a fixed order, each as
``Name\\nvalue\\n`` ("Verifying the signatures of Amazon SNS messages", Amazon SNS Developer
Guide): ``SignatureVersion`` 1 is RSA with SHA-1, 2 is RSA with SHA-256. A valid signature
proves only that *some* SNS topic sent the POST, so the topic must be the configured one too.
The certificate is trusted because it is fetched over HTTPS from an SNS host
(``https://sns.<region>.amazonaws.com/...``), and from nowhere else; fetching is an injected
callable (default :func:`inboxcore.adapters.sns_http.fetch_sns_url`), so the check stays
sans-I/O and a test signs with a certificate of its own.

The SES notification of an SNS receipt action ("Examples of notifications for Amazon SES email
receiving", Amazon SES Developer Guide) carries the message in ``content`` (UTF-8 or BASE64, as
the action's ``encoding`` says; BASE64 keeps 8-bit bytes exact), the recipients in
``receipt.recipients`` and MAIL FROM in ``mail.source``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from inboxcore.adapters.sns_http import is_sns_url
from inboxcore.entrypoints._http_forms import FormError
from inboxcore.entrypoints._http_messages import (
    Acknowledged,
    HttpRequest,
    Posted,
    ProviderCheck,
    Refusal,
)

__all__ = ["SnsCertificates", "SnsFetch", "read_ses", "string_to_sign"]

SnsFetch = Callable[[str], bytes]
"""GET an SNS URL and return the body; raises on any failure (then the answer is a 503)."""

_NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_FIELDS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}


class SnsCertificates:
    """The signing certificates, fetched once per URL through ``fetch`` and kept (at most
    ``max_entries``; SNS rotates them rarely). Safe under threads."""

    def __init__(self, fetch: SnsFetch, max_entries: int = 32) -> None:
        self.fetch, self.max_entries = fetch, max_entries
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        self._lock = threading.Lock()

    def public_key(self, url: str) -> rsa.RSAPublicKey:
        """The RSA key of the certificate at ``url``. Raises ValueError for a certificate that
        is not one, or not RSA; whatever ``fetch`` raises when it cannot be had."""
        with self._lock:
            key = self._keys.get(url)
        if key is not None:
            return key
        found = x509.load_pem_x509_certificate(self.fetch(url)).public_key()
        if not isinstance(found, rsa.RSAPublicKey):
            raise ValueError("the SNS signing certificate is not an RSA certificate")
        key = found
        with self._lock:
            if len(self._keys) >= self.max_entries:
                self._keys.clear()
            self._keys[url] = key
        return key


def string_to_sign(message: dict[str, Any]) -> bytes:
    """What SNS signed: the fields of the message's type, in order, ``Name\\nvalue\\n`` each
    (a notification's ``Subject`` only when present)."""
    kind = message.get("Type")
    names = _NOTIFICATION_FIELDS if kind == "Notification" else _CONFIRMATION_FIELDS
    lines = [
        f"{name}\n{message[name]}\n"
        for name in names
        if not (name == "Subject" and message.get(name) is None)
    ]
    return "".join(lines).encode("utf-8")


def _forged(code: str, message: str) -> Refusal:
    return Refusal(status=403, code=code, message=message)


def _verify(message: dict[str, Any], check: ProviderCheck) -> Refusal | None:
    """None when SNS signed ``message`` for the configured topic; the refusal otherwise."""
    url = str(message.get("SigningCertURL", ""))
    algorithm = _HASHES.get(str(message.get("SignatureVersion")))
    if algorithm is None or not is_sns_url(url):
        return _forged("bad_signature", "Not signed by Amazon SNS.")
    try:
        signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
        signed = string_to_sign(message)
    except (binascii.Error, KeyError):
        return _forged("bad_signature", "The signature or a signed field is missing.")
    key = check.sns.public_key(url)  # a fetch failing raises: the intake answers 503
    try:
        key.verify(signature, signed, padding.PKCS1v15(), algorithm())
    except InvalidSignature:
        return _forged("bad_signature", "The signature does not match.")
    if not _same_topic(str(message.get("TopicArn", "")), check.secret):
        return _forged("unexpected_topic", "The message comes from another SNS topic.")
    return None


def _same_topic(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def _fresh(message: dict[str, Any], check: ProviderCheck) -> Refusal | None:
    try:
        sent = datetime.fromisoformat(str(message.get("Timestamp", "")).replace("Z", "+00:00"))
        stale = sent.tzinfo is None or abs(check.now - sent) > check.max_age
    except ValueError:
        stale = True
    if stale:
        return _forged("stale_timestamp", "The SNS message was sent too long ago.")
    if check.tokens.seen(str(message.get("MessageId", ""))):
        return _forged("replayed_token", "This SNS message was answered before.")
    return None


def read_ses(request: HttpRequest, check: ProviderCheck) -> Posted | Refusal | Acknowledged:
    """An SNS POST: a verified subscription confirmation is confirmed (its ``SubscribeURL``
    fetched, on an SNS host only); a verified notification of SES's SNS action is a message."""
    try:
        message = json.loads(request.body)
    except ValueError:
        raise FormError("the body is not JSON") from None
    if not isinstance(message, dict):
        raise FormError("the body is not a JSON object")
    refusal = _verify(message, check) or _fresh(message, check)
    if refusal is not None:
        return refusal
    kind = message.get("Type")
    if kind == "SubscriptionConfirmation":
        url = str(message.get("SubscribeURL", ""))
        if not is_sns_url(url):
            return _forged("bad_subscribe_url", "The SubscribeURL is not on an SNS host.")
        check.sns.fetch(url)
        return Acknowledged(code="subscription_confirmed", message="Subscribed to the topic.")
    if kind != "Notification":
        return Acknowledged(code="ignored", message=f"Nothing to do for {kind}.")
    return _ses_message(str(message.get("Message", "")), str(message["MessageId"]))


def _ses_message(text: str, message_id: str) -> Posted | Refusal:
    try:
        notification = json.loads(text)
    except ValueError:
        raise FormError("the SNS Message is not an SES notification") from None
    content = notification.get("content") if isinstance(notification, dict) else None
    if not isinstance(content, str):
        return Refusal(
            status=400,
            code="no_raw_message",
            message="No content: publish with the SES receipt rule's SNS action.",
        )
    receipt, mail = notification.get("receipt") or {}, notification.get("mail") or {}
    action = receipt.get("action") if isinstance(receipt, dict) else None
    encoding = action.get("encoding", "") if isinstance(action, dict) else ""
    if str(encoding).upper() == "BASE64":
        try:
            raw = base64.b64decode(content, validate=True)
        except binascii.Error:
            raise FormError("the SES content is not Base64") from None
    else:
        raw = content.encode("utf-8", "replace")
    recipients = receipt.get("recipients") if isinstance(receipt, dict) else None
    source = mail.get("source") if isinstance(mail, dict) else None
    return Posted(
        raw=raw,
        rcpt_to=tuple(str(r) for r in recipients) if isinstance(recipients, list) else (),
        mail_from=source if isinstance(source, str) else None,
        token=message_id,
    )
