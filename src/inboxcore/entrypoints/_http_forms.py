"""Form bodies as the inbound providers post them, parsed byte-exact and within limits: a piece
of :mod:`inboxcore.entrypoints.http_intake`.

A message posted in a form field must reach intake with the very bytes the provider received,
or DKIM signatures fail. The stdlib's ``email`` parser re-encodes parts and its ``cgi`` module is
gone (PEP 594), so multipart bodies are split here on their boundary (RFC 7578), which keeps every
byte; URL-encoded bodies go through :func:`urllib.parse.parse_qsl` over latin-1, which maps each
percent-escape back to its own byte.
"""

from __future__ import annotations

import email.message
import urllib.parse

__all__ = ["MAX_FORM_FIELDS", "FormError", "content_type", "parse_form"]

MAX_FORM_FIELDS = 200
"""More fields than any provider posts (Mailgun's parsed fields plus attachments); a form with
more is refused as malformed rather than parsed at length."""


class FormError(ValueError):
    """A body that is not the form its Content-Type says (the answer is a 400)."""


def content_type(value: str | None) -> tuple[str, dict[str, str]]:
    """The media type (lowercase) of a ``Content-Type`` value and its parameters."""
    if not value:
        return "", {}
    header = email.message.Message()
    header["Content-Type"] = value
    params = {k.lower(): str(v) for k, v in header.get_params(failobj=[])[1:]}
    return header.get_content_type(), params


def parse_form(body: bytes, content_type_value: str | None) -> dict[str, bytes]:
    """The fields of a ``multipart/form-data`` or ``application/x-www-form-urlencoded`` body, as
    bytes; the first value of a repeated field wins. Raises :class:`FormError`."""
    media_type, params = content_type(content_type_value)
    if media_type == "multipart/form-data":
        boundary = params.get("boundary", "")
        if not boundary or len(boundary) > 70:  # RFC 2046 section 5.1.1
            raise FormError("multipart body without a usable boundary")
        return _multipart(body, boundary.encode("latin-1"))
    if media_type == "application/x-www-form-urlencoded":
        return _urlencoded(body)
    raise FormError(f"not a form: {media_type or 'no content type'}")


def _urlencoded(body: bytes) -> dict[str, bytes]:
    try:
        pairs = urllib.parse.parse_qsl(
            body.decode("ascii"),
            keep_blank_values=True,
            strict_parsing=bool(body),
            encoding="latin-1",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError) as error:
        raise FormError(f"malformed URL-encoded form: {error}") from None
    fields: dict[str, bytes] = {}
    for name, value in pairs:
        fields.setdefault(name, value.encode("latin-1"))
    return fields


def _multipart(body: bytes, boundary: bytes) -> dict[str, bytes]:
    """Scanned by offsets, so that each value is copied once and nothing else is (a body may be
    tens of megabytes)."""
    delimiter = b"\r\n--" + boundary  # RFC 2046 section 5.1.1; the first may open the body
    if body.startswith(delimiter[2:]):
        position = len(delimiter) - 2
    else:  # after a preamble
        found = body.find(delimiter)
        if found < 0:
            raise FormError("multipart body without a delimiter")
        position = found + len(delimiter)
    fields: dict[str, bytes] = {}
    while not body.startswith(b"--", position):  # the closing delimiter ends with "--"
        end = body.find(delimiter, position)
        if end < 0:
            raise FormError("multipart body without its closing delimiter")
        if len(fields) >= MAX_FORM_FIELDS:
            raise FormError(f"more than {MAX_FORM_FIELDS} form fields")
        name, value = _part(body, position, end)
        fields.setdefault(name, value)
        position = end + len(delimiter)
    return fields


def _part(body: bytes, start: int, end: int) -> tuple[str, bytes]:
    """The part between ``start`` (just after a delimiter) and ``end`` (the CRLF of the next):
    transport padding, CRLF, its headers, a blank line, its value."""
    line_end = body.find(b"\r\n", start, end)
    head_end = body.find(b"\r\n\r\n", line_end, end) if line_end >= 0 else -1
    if head_end < 0:
        raise FormError("a multipart part without its blank line")
    disposition = email.message.Message()
    for line in body[line_end + 2 : head_end].decode("utf-8", "replace").split("\r\n"):
        key, colon, text = line.partition(":")
        if colon and key.strip().lower() == "content-disposition":
            disposition["Content-Disposition"] = text.strip()
    name = disposition.get_param("name", header="content-disposition")
    if not isinstance(name, str) or not name:
        raise FormError("a multipart part without a field name")
    return name, body[head_end + 4 : end]
