"""Each inbound provider's POST: where the raw message, its envelope and its proof of origin sit,
and how that proof is checked. A piece of :mod:`inboxcore.entrypoints.http_intake`.

Every secret is compared with :func:`hmac.compare_digest`, so the time a comparison takes says
nothing about how much of a guess was right.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime

from inboxcore.entrypoints._http_forms import FormError, parse_form
from inboxcore.entrypoints._http_messages import (
    Acknowledged,
    HttpRequest,
    Posted,
    ProviderCheck,
    Refusal,
    basic_password,
    bearer_token,
)
from inboxcore.entrypoints._http_sns import read_ses

__all__ = ["ACCEPTED_TYPES", "Provider", "read_post"]


class Provider(enum.Enum):
    """The formats the intake reads, one per provider (and one plain)."""

    MAILGUN = "mailgun"
    """A route's ``forward("https://.../mime")`` (the URL must end in ``mime``): field
    ``body-mime``, signed with the webhook signing key."""
    SENDGRID = "sendgrid"
    """Inbound Parse with "POST the raw, full MIME message": field ``email``; a shared secret."""
    POSTMARK = "postmark"
    """The inbound webhook with "Include raw email content in JSON payload": ``RawEmail``;
    HTTP Basic credentials in the webhook URL."""
    RAW = "raw"
    """``Content-Type: message/rfc822``, the message itself as the body; a bearer secret."""
    SES = "ses"
    """Amazon SES's receipt rule with an SNS action, posted by SNS: signed with the key of an
    SNS certificate; the secret is the topic's ARN."""


ACCEPTED_TYPES: dict[Provider, frozenset[str]] = {
    Provider.MAILGUN: frozenset({"multipart/form-data", "application/x-www-form-urlencoded"}),
    Provider.SENDGRID: frozenset({"multipart/form-data"}),
    Provider.POSTMARK: frozenset({"application/json"}),
    Provider.RAW: frozenset({"message/rfc822"}),
    Provider.SES: frozenset({"text/plain", "application/json"}),  # SNS posts text/plain
}
"""The content types each provider posts (anything else is a 415)."""


def _same(given: str | bytes | None, expected: str) -> bool:
    if given is None:
        return False
    data = given if isinstance(given, bytes) else given.encode("utf-8")
    return hmac.compare_digest(data, expected.encode("utf-8"))


def _field(fields: dict[str, bytes], name: str) -> str | None:
    value = fields.get(name)
    return value.decode("utf-8", "replace") if value is not None else None


def _mailgun(request: HttpRequest, check: ProviderCheck) -> Posted | Refusal:
    """Mailgun signs ``timestamp`` + ``token`` with HMAC-SHA256 under the webhook signing key
    and posts the hex digest as ``signature`` (documentation.mailgun.com, "Securing Webhooks");
    ``recipient`` and ``sender`` are the SMTP envelope (".../receive-forward-store/receive-http").
    A stale timestamp or a token already answered is a replay."""
    fields = parse_form(request.body, request.header("content-type"))
    timestamp, token = _field(fields, "timestamp") or "", _field(fields, "token") or ""
    signed = hmac.new(
        check.secret.encode("utf-8"), (timestamp + token).encode("utf-8"), hashlib.sha256
    ).hexdigest()
    if not token or not _same(fields.get("signature", b"").lower(), signed):
        return Refusal(status=403, code="bad_signature", message="The signature does not match.")
    try:
        signed_at = datetime.fromtimestamp(int(timestamp), UTC)
    except (ValueError, OverflowError, OSError):
        return Refusal(status=403, code="bad_signature", message="The timestamp is not a time.")
    if abs(check.now - signed_at) > check.max_age:
        return Refusal(
            status=403, code="stale_timestamp", message="The POST was signed too long ago."
        )
    if check.tokens.seen(token):
        return Refusal(status=403, code="replayed_token", message="This token was used before.")
    raw = fields.get("body-mime")
    if raw is None:
        return Refusal(
            status=400,
            code="no_raw_message",
            message="No body-mime field: make the route's URL end in 'mime'.",
        )
    recipient = _field(fields, "recipient")
    return Posted(
        raw=raw,
        rcpt_to=tuple(r.strip() for r in (recipient or "").split(",") if r.strip()),
        mail_from=_field(fields, "sender"),
        token=token,
    )


def _shared_secret(request: HttpRequest, check: ProviderCheck) -> Refusal | None:
    """A secret the provider cannot sign with: HTTP Basic credentials in the URL
    (``https://inbox:SECRET@host/...``), a ``secret`` query parameter, or the path's last
    segment. None when one of them matches."""
    given = (basic_password(request.headers), request.query.get("secret"), request.last_segment)
    if any(_same(value, check.secret) for value in given):
        return None
    return Refusal(
        status=401,
        code="bad_credentials",
        message="The shared secret does not match.",
        challenge='Basic realm="inboxcore"',
    )


def _sendgrid(request: HttpRequest, check: ProviderCheck) -> Posted | Refusal:
    """Inbound Parse signs nothing by default, so the secret is in the URL; with "POST the raw,
    full MIME message" the message is the ``email`` field, and ``envelope`` is a JSON object of
    ``to`` (a list) and ``from`` (docs.sendgrid.com, "Inbound Parse Webhook")."""
    fields = parse_form(request.body, request.header("content-type"))
    refusal = _shared_secret(request, check)
    if refusal is not None:
        return refusal
    raw = fields.get("email")
    if raw is None:
        return Refusal(
            status=400,
            code="no_raw_message",
            message="No email field: tick 'POST the raw, full MIME message'.",
        )
    try:
        envelope = json.loads(fields.get("envelope", b"{}"))
    except ValueError:
        raise FormError("the envelope field is not JSON") from None
    if not isinstance(envelope, dict):
        raise FormError("the envelope field is not a JSON object")
    to, sender = envelope.get("to", []), envelope.get("from")
    return Posted(
        raw=raw,
        rcpt_to=tuple(str(a) for a in to) if isinstance(to, list) else (),
        mail_from=sender if isinstance(sender, str) else None,
    )


def _postmark(request: HttpRequest, check: ProviderCheck) -> Posted | Refusal:
    """Postmark's inbound webhook posts JSON; with "Include raw email content in JSON payload"
    the message is ``RawEmail``, and ``OriginalRecipient`` the address it arrived for
    (postmarkapp.com/developer/webhooks/inbound-webhook). A 403 answer stops its retries."""
    refusal = _shared_secret(request, check)
    if refusal is not None:
        return refusal
    try:
        payload = json.loads(request.body)
    except ValueError:
        raise FormError("the body is not JSON") from None
    if not isinstance(payload, dict):
        raise FormError("the body is not a JSON object")
    raw = payload.get("RawEmail")
    if not isinstance(raw, str) or not raw:
        return Refusal(
            status=400,
            code="no_raw_message",
            message="No RawEmail: turn on 'Include raw email content in JSON payload'.",
        )
    recipient = payload.get("OriginalRecipient")
    return Posted(
        raw=raw.encode("utf-8", "replace"),
        rcpt_to=(recipient,) if isinstance(recipient, str) and recipient else (),
    )


def _raw(request: HttpRequest, check: ProviderCheck) -> Posted | Refusal:
    """The message is the body; ``Authorization: Bearer SECRET``; the envelope, if the poster
    knows it, in ``X-Envelope-To`` (comma-separated) and ``X-Envelope-From``."""
    if not _same(bearer_token(request.headers), check.secret):
        return Refusal(
            status=401,
            code="bad_credentials",
            message="The bearer secret does not match.",
            challenge='Bearer realm="inboxcore"',
        )
    to = request.header("x-envelope-to") or ""
    return Posted(
        raw=request.body,
        rcpt_to=tuple(a.strip() for a in to.split(",") if a.strip()),
        mail_from=request.header("x-envelope-from"),
    )


_Reader = Callable[[HttpRequest, ProviderCheck], Posted | Refusal | Acknowledged]
_READERS: dict[Provider, _Reader] = {
    Provider.MAILGUN: _mailgun,
    Provider.SENDGRID: _sendgrid,
    Provider.POSTMARK: _postmark,
    Provider.RAW: _raw,
    Provider.SES: read_ses,
}


def read_post(
    provider: Provider, request: HttpRequest, check: ProviderCheck
) -> Posted | Refusal | Acknowledged:
    """The message and envelope of ``request`` in ``provider``'s format, once its origin is
    proven; a refusal otherwise (or an acknowledgement of a POST without a message). A body
    that is not the form it claims raises :class:`~inboxcore.entrypoints._http_forms.FormError`;
    an SNS certificate that cannot be had raises what the fetch raised."""
    return _READERS[provider](request, check)
