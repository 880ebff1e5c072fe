"""The values of the inbound HTTP intake (the request, the answer, what a provider's POST
carries or why it is refused) and the header lookups every provider format shares: a piece of
:mod:`inboxcore.entrypoints.http_intake`."""

from __future__ import annotations

import base64
import binascii
import json
import urllib.parse
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import attrs

from inboxcore.entrypoints._http_replay import TokenLedger

if TYPE_CHECKING:
    from inboxcore.entrypoints._http_sns import SnsCertificates

__all__ = [
    "Acknowledged",
    "Headers",
    "HttpAnswer",
    "HttpRequest",
    "Posted",
    "ProviderCheck",
    "Refusal",
    "basic_password",
    "bearer_token",
    "error_answer",
    "header",
    "json_answer",
]

Headers = Mapping[str, str] | Iterable[tuple[str, str]]
"""Request headers as a framework hands them over: a mapping or (name, value) pairs."""


def _header_pairs(value: Headers) -> tuple[tuple[str, str], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    return tuple((str(name).lower(), str(text)) for name, text in items)


@attrs.frozen(kw_only=True)
class HttpRequest:
    """One POST as the web server received it. ``path`` may carry the query string
    (``/inbound/s3cret?x=1``); header names are kept lowercase."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_header_pairs)
    body: bytes = b""

    @property
    def query(self) -> dict[str, str]:
        """The query string's parameters (the first of a repeated one)."""
        found: dict[str, str] = {}
        for name, value in urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query):
            found.setdefault(name, value)
        return found

    @property
    def last_segment(self) -> str:
        """The last segment of the path, where a shared secret may sit (``/inbound/SECRET``)."""
        path = urllib.parse.urlsplit(self.path).path.rstrip("/")
        return urllib.parse.unquote(path.rpartition("/")[2])

    def header(self, name: str) -> str | None:
        return header(self.headers, name)


@attrs.frozen(kw_only=True)
class HttpAnswer:
    """The answer to give: status, headers, body. A 2xx only once the message is committed."""

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def json(self) -> object:
        """The body, decoded (every answer of the intake is JSON, or empty)."""
        return json.loads(self.body) if self.body else None


@attrs.frozen(kw_only=True)
class Posted:
    """What an authenticated POST carries: the raw message and the envelope the provider saw."""

    raw: bytes
    rcpt_to: tuple[str, ...] = ()
    mail_from: str | None = None
    token: str | None = None
    """Mailgun's one-time token: remembered once the POST was answered finally."""


@attrs.frozen(kw_only=True)
class Refusal:
    """Why a POST is not read further: its status, reason code and a sentence."""

    status: int
    code: str
    message: str
    challenge: str | None = None
    """A ``WWW-Authenticate`` value for a 401."""


@attrs.frozen(kw_only=True)
class ProviderCheck:
    """What checking a POST's origin needs: the secret, the time, the token ledger, and (for
    Amazon SNS) the way to its signing certificates."""

    secret: str
    now: datetime
    max_age: timedelta
    tokens: TokenLedger
    sns: SnsCertificates


@attrs.frozen(kw_only=True)
class Acknowledged:
    """A genuine POST that carries no message (an SNS subscription confirmed): a 200."""

    code: str
    message: str


def header(headers: Headers, name: str) -> str | None:
    """The first value of header ``name`` (any case), or None."""
    wanted = name.lower()
    for key, value in _header_pairs(headers):
        if key == wanted:
            return value
    return None


def json_answer(status: int, body: object, headers: Iterable[tuple[str, str]] = ()) -> HttpAnswer:
    data = json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return HttpAnswer(
        status=status,
        headers=(("content-type", "application/json"), *headers),
        body=data,
    )


def error_answer(
    status: int, code: str, message: str, headers: Iterable[tuple[str, str]] = ()
) -> HttpAnswer:
    """A refusal with its reason code, in the shape every refusal of the intake has."""
    return json_answer(status, {"error": code, "message": message}, headers)


def _credentials(headers: Headers, scheme: str) -> str | None:
    value = header(headers, "authorization")
    if value is None:
        return None
    given, _, credentials = value.strip().partition(" ")
    return credentials.strip() if given.lower() == scheme else None


def basic_password(headers: Headers) -> str | None:
    """The password of HTTP Basic credentials (RFC 7617), the user name ignored; None without."""
    credentials = _credentials(headers, "basic")
    if credentials is None:
        return None
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    _user, colon, password = decoded.partition(":")
    return password if colon else None


def bearer_token(headers: Headers) -> str | None:
    """The token of ``Authorization: Bearer TOKEN`` (RFC 6750), or None."""
    return _credentials(headers, "bearer")
