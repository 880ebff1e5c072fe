"""Parsing raw messages without ever raising.

:func:`parse_message` accepts any bytes and returns a :class:`ParsedMessage`, a read-only view whose
parts are computed on first use (headers first; bodies and attachments only when a stage asks).
MIME defects are recorded in :attr:`ParsedMessage.defects`, never raised. Header values are
unfolded and RFC 2047-decoded with charset fallbacks; a missing or garbled Date falls back to
python-dateutil, then to None (the caller uses the time received).
"""

from __future__ import annotations

import email
import email.message
import email.utils
import html
import re
from datetime import UTC, datetime
from email import policy as email_policy
from email.message import Message as StdMessage
from email.parser import BytesHeaderParser
from functools import cached_property

import attrs
from dateutil import parser as dateutil_parser

from inboxcore.addresses import EmailAddress, decode_rfc2047, parse_address_list

__all__ = [
    "Attachment",
    "MimePart",
    "ParsedMessage",
    "html_to_text",
    "parse_message",
]

_MSGID = re.compile(r"<([^<>\s]+)>")
_TAG = re.compile(r"<[^>]*>")
_BLOCK_END = re.compile(r"</(p|div|tr|h[1-6]|li|blockquote|table)\s*>|<br\s*/?>", re.I)
_DROP = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.I | re.S)


def html_to_text(markup: str) -> str:
    """A readable plain-text rendering of HTML (for messages without a text part)."""
    text = _DROP.sub("", markup)
    text = _BLOCK_END.sub("\n", text)
    text = _TAG.sub("", text)
    text = html.unescape(text)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def _decode_payload(part: StdMessage) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # a broken transfer encoding: keep the raw text
        payload = None
    if isinstance(payload, bytes):
        return payload
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    return b""


def _as_bytes(part: StdMessage) -> bytes:
    try:
        return part.as_bytes()
    except Exception:  # a part the generator cannot re-serialize: fall back to its text form
        return part.as_string().encode("utf-8", "surrogateescape")


def _decode_text(data: bytes, charset: str | None) -> str:
    for candidate in (charset, "utf-8", "cp1252"):
        if not candidate:
            continue
        try:
            return data.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("latin-1")


def _header_text(value: object) -> str:
    """An unfolded, RFC 2047-decoded header value; never raises."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = str(value)
        except Exception:
            return ""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    text = re.sub(r"\r?\n[ \t]*", " ", text)
    return decode_rfc2047(text).strip()


def _message_ids(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    found = _MSGID.findall(value)
    if found:
        return tuple(found)
    bare = value.strip().strip("<>").strip()
    return (bare,) if bare and " " not in bare else ()


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        parsed = None
    if parsed is None:
        try:
            parsed = dateutil_parser.parse(value, fuzzy=True)
        except (ValueError, OverflowError, TypeError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


@attrs.frozen(kw_only=True)
class Attachment:
    """A file attached to a message, with its decoded size."""

    filename: str | None
    content_type: str
    size: int
    content_id: str | None = None
    inline: bool = False


class MimePart:
    """One leaf of the MIME tree: its headers and, on demand, its decoded content."""

    def __init__(self, part: StdMessage) -> None:
        self._part = part

    @property
    def content_type(self) -> str:
        return self._part.get_content_type().lower()

    def header(self, name: str) -> str | None:
        value = self._part.get(name)
        return None if value is None else _header_text(value)

    @cached_property
    def payload(self) -> bytes:
        """The decoded bytes (transfer encoding undone)."""
        return _decode_payload(self._part)

    def text(self) -> str:
        """The content as text, decoded by its charset with fallbacks."""
        return _decode_text(self.payload, self._part.get_content_charset())

    @property
    def filename(self) -> str | None:
        try:
            name = self._part.get_filename()
        except Exception:
            return None
        return _header_text(name) if name else None

    @property
    def is_attachment(self) -> bool:
        disposition = (self._part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        return (
            disposition == "attachment"
            or (self.filename is not None and not self.content_type.startswith("text/"))
            or (disposition != "inline" and self.filename is not None)
        )


class ParsedMessage:
    """A parsed message: typed header accessors, bodies, attachments, nested messages.

    Built by :func:`parse_message`; every attribute is computed on first use and never raises.
    """

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.size = len(raw)

    # --- headers -------------------------------------------------------------------------------

    @cached_property
    def _headers(self) -> StdMessage:
        return BytesHeaderParser(policy=email_policy.compat32).parsebytes(self.raw)

    @cached_property
    def _tree(self) -> StdMessage:
        return email.message_from_bytes(self.raw, policy=email_policy.compat32)

    def header(self, name: str) -> str | None:
        """The first value of header ``name``, unfolded and decoded, or None."""
        value = self._headers.get(name)
        return None if value is None else _header_text(value)

    def headers(self, name: str) -> tuple[str, ...]:
        """Every value of header ``name``, in order."""
        return tuple(_header_text(v) for v in self._headers.get_all(name) or ())

    def header_names(self) -> tuple[str, ...]:
        """The header field names in order (with repeats)."""
        return tuple(self._headers.keys())

    @cached_property
    def message_id(self) -> str | None:
        """The Message-ID without angle brackets."""
        ids = _message_ids(self.header("Message-ID"))
        return ids[0] if ids else None

    @cached_property
    def subject(self) -> str:
        return self.header("Subject") or ""

    @cached_property
    def date(self) -> datetime | None:
        """The Date header in UTC; None when missing or beyond repair."""
        return _parse_date(self.header("Date"))

    @cached_property
    def from_(self) -> tuple[EmailAddress, ...]:
        return parse_address_list(self.headers("From"))

    @cached_property
    def sender(self) -> EmailAddress | None:
        found = parse_address_list(self.headers("Sender"))
        return found[0] if found else None

    @cached_property
    def reply_to(self) -> tuple[EmailAddress, ...]:
        return parse_address_list(self.headers("Reply-To"))

    @cached_property
    def to(self) -> tuple[EmailAddress, ...]:
        return parse_address_list(self.headers("To"))

    @cached_property
    def cc(self) -> tuple[EmailAddress, ...]:
        return parse_address_list(self.headers("Cc"))

    @cached_property
    def in_reply_to(self) -> tuple[str, ...]:
        return _message_ids(self.header("In-Reply-To"))

    @cached_property
    def references(self) -> tuple[str, ...]:
        return tuple(i for v in self.headers("References") for i in _message_ids(v))

    @cached_property
    def list_id(self) -> str | None:
        """The List-Id's identifier (inside angle brackets), or the raw value."""
        value = self.header("List-Id")
        if not value:
            return None
        found = _MSGID.search(value)
        return found.group(1) if found else value.strip()

    @property
    def content_type(self) -> str:
        return self._headers.get_content_type().lower()

    # --- body ----------------------------------------------------------------------------------

    @cached_property
    def _leaves(self) -> tuple[tuple[MimePart, ...], tuple[ParsedMessage, ...]]:
        leaves: list[MimePart] = []
        nested: list[ParsedMessage] = []
        stack: list[StdMessage] = [self._tree]
        while stack:
            part = stack.pop(0)
            ctype = part.get_content_type().lower()
            if ctype == "message/rfc822" or (
                ctype.startswith("message/")
                and part.is_multipart()
                and ctype != "message/delivery-status"
            ):
                inner = part.get_payload()
                if isinstance(inner, list) and inner and isinstance(inner[0], StdMessage):
                    nested.append(ParsedMessage(_as_bytes(inner[0])))
                leaves.append(MimePart(part))
                continue
            if part.is_multipart():
                payload = part.get_payload()
                if isinstance(payload, list):
                    stack[0:0] = [p for p in payload if isinstance(p, StdMessage)]
                continue
            leaves.append(MimePart(part))
        return tuple(leaves), tuple(nested)

    def parts(self) -> tuple[MimePart, ...]:
        """Every leaf part (and every ``message/*`` part) in document order."""
        return self._leaves[0]

    @cached_property
    def attached_messages(self) -> tuple[ParsedMessage, ...]:
        """Messages carried as ``message/rfc822`` parts (forwards as attachment, DSN originals)."""
        return self._leaves[1]

    def _first_body(self, ctype: str) -> str | None:
        for part in self.parts():
            if part.content_type == ctype and not part.is_attachment:
                return part.text()
        return None

    @cached_property
    def html(self) -> str | None:
        return self._first_body("text/html")

    @cached_property
    def text(self) -> str | None:
        """The plain-text body; derived from the HTML body when there is no plain part."""
        plain = self._first_body("text/plain")
        if plain is not None:
            return plain
        if self.html is not None:
            return html_to_text(self.html)
        return None

    @cached_property
    def attachments(self) -> tuple[Attachment, ...]:
        found: list[Attachment] = []
        for part in self.parts():
            if not part.is_attachment and not part.content_type.startswith("message/"):
                continue
            if part.content_type.startswith("message/") and not part.filename:
                continue
            cid = part.header("Content-ID")
            disposition = (part.header("Content-Disposition") or "").split(";")[0].strip().lower()
            found.append(
                Attachment(
                    filename=part.filename,
                    content_type=part.content_type,
                    size=len(part.payload),
                    content_id=cid.strip().strip("<>") if cid else None,
                    inline=disposition == "inline",
                )
            )
        return tuple(found)

    @cached_property
    def defects(self) -> tuple[str, ...]:
        """MIME defects found while parsing, as class names (``StartBoundaryNotFoundDefect``)."""
        found: list[str] = []
        for part in self._tree.walk():
            found.extend(type(d).__name__ for d in getattr(part, "defects", ()))
        return tuple(dict.fromkeys(found))


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse raw message bytes; never raises for any input."""
    return ParsedMessage(bytes(raw))
