"""Parsing raw messages without ever raising, lazily and in bounded memory.

:func:`parse_message` accepts any bytes and returns a :class:`ParsedMessage`, a read-only view
whose parts are computed on first use. Why not simply the standard library's parser: it copies
every part into Python strings up front (a 30 MB message with a base64 attachment peaks near 8x
its size) and spends most of its time on parts an intake stage never looks at. Here:

* the header section is scanned first, and only it, when a stage asks for a header;
* the MIME tree is a scan over the original bytes (``bytes.find`` for boundary delimiters), each
  part kept as a pair of offsets, so nothing is copied until a part's content is asked for;
* attachment sizes are computed from the encoded length (base64 is counted, not decoded), in
  chunks, so that metadata for a 30 MB attachment costs a fixed few megabytes at most;
* text parts are decoded by their declared charset with fallbacks (an unknown or lying charset
  never loses the text), ``format=flowed`` is undone and line endings become ``\\n``.

Nothing here raises for bad input. MIME defects are recorded in :attr:`ParsedMessage.defects`
under the standard library's defect names where one exists (``StartBoundaryNotFoundDefect``) and
under names in the same style where it has none (``UnknownCharsetDefect``). Header values are
unfolded and RFC 2047-decoded with charset fallbacks, and their control characters become spaces
(:mod:`inboxcore.domain.text`); address headers are parsed on the raw value and only display
names are decoded (:func:`~inboxcore.domain.addresses.parse_address_list`). A missing or garbled
Date falls back to python-dateutil, then to None (the caller uses the time received).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from functools import cached_property

import attrs

from inboxcore.domain.addresses import EmailAddress, parse_address_list, recover_mailbox
from inboxcore.domain.text import (
    decode_bytes,
    decode_encoded_words,
)
from inboxcore.mail._header_values import (
    _FOLD,
    _Headers,
    _parse_date,
    _parse_structured,
    _safe_filename,
)
from inboxcore.mail._html_text import html_to_text
from inboxcore.mail._mime_scan import MAX_HEADER_FIELDS as MAX_HEADER_FIELDS
from inboxcore.mail._mime_scan import _find_delimiters, _scan_headers
from inboxcore.mail._transfer_encodings import (
    _base64_decode,
    _base64_size,
    _base64_stats,
    _qp_decode,
    _uu_decode,
)

__all__ = [
    "Attachment",
    "MimePart",
    "ParsedMessage",
    "html_to_text",
    "parse_message",
]

# Deeper nesting than this is treated as an opaque leaf (and recorded): real mail never gets
# near it, and a hostile message must not exhaust the stack or the time budget.
MAX_DEPTH = 40
# More parts than this in one message's tree are left out (and recorded): a part costs about two
# kilobytes of objects, so 10**5 parts of a few bytes each would hold forty times the message.
# Real mail has tens; 1,000 leaves room for the largest digests.
MAX_PARTS = 1000

_MSGID = re.compile(r"<([^<>\s]+)>")
_MEDIA_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+")
_LINE_BREAK = re.compile(r"\r?\n")
_CRLF = re.compile(r"\r+\n?")
_ATTACHED_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global", "message/news"})
_HEADER_ONLY_TYPES = frozenset({"text/rfc822-headers", "message/global-headers"})
# The headers whose decoded words inboxcore keeps: their encoding defects are reported.
_DECODED_HEADERS = ("Subject", "From", "Sender", "Reply-To", "To", "Cc")

# --- small decoding helpers --------------------------------------------------------------------


def _line_ends(text: str) -> str:
    """Every CR, CRLF or run of CRs as one LF. CRLF is replaced by ``str.replace`` first:
    ``re.sub`` holds a piece per match, sixteen times a text of short CRLF lines."""
    if "\r" not in text:
        return text
    text = text.replace("\r\n", "\n")
    return _CRLF.sub("\n", text) if "\r" in text else text


def _message_ids(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    found = _MSGID.findall(value)
    if found:
        return tuple(found)
    bare = value.strip().strip("<>").strip()
    return (bare,) if bare and " " not in bare else ()


_STUFFED = re.compile(r"^ ", re.MULTILINE)
_SOFT_BREAK = re.compile(r" (?<!^-- )\n", re.MULTILINE)


def _unflow(text: str, delsp: bool) -> str:
    """Undo RFC 3676 ``format=flowed``: soft line breaks (a trailing space) join their lines.

    Text with no quoted line (the common case) is joined without the line loop that quoted text
    needs, several times faster (``benchmarks/bench_text.py``): space-stuffing removed, then
    every line break after a space joined, except after a signature separator ``-- ``."""
    if text.startswith(">") or "\n>" in text:
        return _unflow_quoted(text, delsp)
    if text.startswith(" ") or "\n " in text:
        text = _STUFFED.sub("", text)
    if delsp and text.endswith(" ") and text.rpartition("\n")[2] != "-- ":
        text = text[:-1]  # a soft last line loses its space too
    joined = "" if delsp else " "
    if text.startswith("-- \n") or "\n-- \n" in text:
        return _SOFT_BREAK.sub(joined, text)
    return text.replace(" \n", joined)


def _unflow_quoted(text: str, delsp: bool) -> str:
    """:func:`_unflow` line by line: quoted lines join only lines of the same depth."""
    out: list[str] = []
    current: str | None = None
    current_depth = 0
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        body = line[depth:]
        if body.startswith(" "):
            body = body[1:]  # space-stuffing
        soft = body.endswith(" ") and body != "-- "
        if soft and delsp:
            body = body[:-1]
        if current is not None and depth == current_depth:
            current += body
        else:
            if current is not None:
                out.append(">" * current_depth + (" " if current_depth else "") + current)
            current, current_depth = body, depth
        if not soft:
            out.append(">" * current_depth + (" " if current_depth else "") + current)
            current = None
    if current is not None:
        out.append(">" * current_depth + (" " if current_depth else "") + current)
    return "\n".join(out)


# --- the tree, over the scanner's offsets ------------------------------------------------------


class MimePart:
    """One entity of the MIME tree: its headers and, on demand, its decoded content.

    Leaves carry content; multiparts carry :attr:`children`; ``message/rfc822`` parts (and
    ``text/rfc822-headers``) carry the message inside as :attr:`message`. Built by
    :class:`ParsedMessage`; the content is decoded only when :attr:`payload` or :meth:`text` is
    read, and :attr:`size` is computed without decoding.
    """

    def __init__(
        self,
        buf: bytes,
        start: int,
        end: int,
        *,
        depth: int,
        default_type: str = "text/plain",
        top: bool = False,
        budget: list[int] | None = None,
        lead: bool = False,
    ) -> None:
        # The parts the tree may still grow, shared by every part of one tree.
        self._budget = [MAX_PARTS] if budget is None else budget
        self._buf = buf
        self._start = start
        self._end = end
        self._depth = depth
        # Whether this part is a message's root (its whole content, when it is a leaf).
        self._lead = lead
        self._defects: list[str] = []
        fields, self._body_start = _scan_headers(buf, start, end, self._defects, top=top)
        self._headers = _Headers(buf, fields, self._declared_charset)
        declared = self._headers.first_raw("Content-Type")
        main, self._params = (
            _parse_structured(_LINE_BREAK.sub("", declared)) if declared else ("", {})
        )
        if declared is None:
            self._type = default_type
        elif _MEDIA_TYPE.fullmatch(main):
            self._type = main
        else:
            self._type = "text/plain"
            self._defects.append("InvalidContentTypeDefect")
        self.children: tuple[MimePart, ...] = ()
        """The parts of a multipart, in order; empty for every other part."""
        if self._type.startswith("multipart/"):
            self._split()

    def _split(self) -> None:
        boundary = self._params.get("boundary")
        if not boundary:
            self._defects.append("NoBoundaryInMultipartDefect")
            self._type = "text/plain"
            return
        if self._depth >= MAX_DEPTH:
            self._defects.append("NestingTooDeepDefect")
            return
        encoded = boundary.encode("utf-8", "surrogateescape")
        parts, closed, preamble_end = _find_delimiters(
            self._buf, self._body_start, self._end, encoded
        )
        if not parts and encoded != encoded.rstrip():
            # The standard library strips trailing white space from boundaries; mime4j does not.
            # Try the exact one first and the stripped one only when the exact one never occurs.
            parts, closed, preamble_end = _find_delimiters(
                self._buf, self._body_start, self._end, encoded.rstrip()
            )
        self._preamble_end = preamble_end
        if not parts and not closed:
            self._defects.append("StartBoundaryNotFoundDefect")
            return
        if not closed:
            self._defects.append("CloseBoundaryNotFoundDefect")
        child_type = "message/rfc822" if self._type == "multipart/digest" else "text/plain"
        if len(parts) > self._budget[0]:
            self._defects.append("TooManyPartsDefect")
            parts = parts[: self._budget[0]]
        self._budget[0] -= len(parts)
        self.children = tuple(
            MimePart(
                self._buf,
                s,
                e,
                depth=self._depth + 1,
                default_type=child_type,
                budget=self._budget,
            )
            for s, e in parts
        )

    # --- headers ---------------------------------------------------------------------------------

    @property
    def content_type(self) -> str:
        """The effective media type, lowercase (``text/plain`` when absent or unusable)."""
        return self._type

    @property
    def params(self) -> dict[str, str]:
        """The Content-Type parameters by lowercase name (RFC 2231 decoded)."""
        return dict(self._params)

    @property
    def charset(self) -> str | None:
        """The declared charset parameter, as written (lowercased), or None."""
        value = self._params.get("charset")
        return value.strip().lower() if value else None

    def _declared_charset(self) -> str | None:
        # None while the Content-Type itself is being read (its parameters are not known yet).
        return self.charset if hasattr(self, "_params") else None

    def header(self, name: str) -> str | None:
        """The first value of header ``name``, unfolded and decoded, or None."""
        return self._headers.get(name)

    def headers(self, name: str) -> tuple[str, ...]:
        """Every value of header ``name``, in order."""
        return self._headers.get_all(name)

    def header_names(self) -> tuple[str, ...]:
        """The header field names of this part, in order (with repeats)."""
        return self._headers.names()

    @cached_property
    def _disposition(self) -> tuple[str, dict[str, str]]:
        raw = self._headers.first_raw("Content-Disposition")
        return _parse_structured(_LINE_BREAK.sub("", raw)) if raw else ("", {})

    @property
    def disposition(self) -> str | None:
        """``inline``, ``attachment`` (or another token as written, lowercase), or None."""
        return self._disposition[0] or None

    @cached_property
    def filename(self) -> str | None:
        """The file name (Content-Disposition ``filename``, else Content-Type ``name``), RFC 2231
        and RFC 2047 decoded, without directory components or control characters."""
        name = self._disposition[1].get("filename") or self._params.get("name")
        return _safe_filename(name) if name else None

    @cached_property
    def content_id(self) -> str | None:
        """The Content-ID without angle brackets (what ``cid:`` URLs in HTML refer to)."""
        value = self._headers.get("Content-ID")
        if not value:
            return None
        found = _MSGID.search(value)
        return found.group(1) if found else (value.strip().strip("<>").strip() or None)

    @property
    def transfer_encoding(self) -> str:
        """The Content-Transfer-Encoding, lowercase; ``7bit`` when absent."""
        value = self._headers.first_raw("Content-Transfer-Encoding")
        return value.strip().lower() if value and value.strip() else "7bit"

    @property
    def is_multipart(self) -> bool:
        return bool(self.children) or (
            self._type.startswith("multipart/") and "boundary" in self._params
        )

    @property
    def is_attachment(self) -> bool:
        """Whether a mail client would list this part as an attachment.

        Declared attachments always; files of any non-text type (images, PDFs, signatures),
        named or not; text parts only when named and not declared inline; a carried message
        only when named or declared an attachment (otherwise it is a forward or a DSN's original).
        A single-part ``text/plain`` message named only by a Content-Type ``name=``, with no
        Content-Disposition, is a body: clients that name every part write it.
        """
        if self._type.startswith("multipart/"):
            return False
        if self.disposition == "attachment":
            return True
        if self._type.startswith("message/"):
            return self.filename is not None
        if self._type.startswith("text/"):
            if self._lead and self._type == "text/plain" and self.disposition is None:
                return False
            return self.filename is not None and self.disposition != "inline"
        return True

    @property
    def is_inline(self) -> bool:
        """Declared inline, or undeclared with a Content-ID (an image an HTML body shows)."""
        disposition = self.disposition
        return disposition == "inline" or (disposition is None and self.content_id is not None)

    # --- content ---------------------------------------------------------------------------------

    @property
    def raw_body(self) -> bytes:
        """The body as it stands in the message (transfer encoding not undone)."""
        return self._buf[self._body_start : self._end]

    @cached_property
    def _encoding_stats(self) -> tuple[int, list[str]]:
        """The decoded size and the transfer-encoding defects, computed without decoding where
        the encoding allows it (base64 is counted; identity encodings are measured)."""
        cte = self.transfer_encoding
        if cte == "base64":
            valid, junk = _base64_stats(self._buf, self._body_start, self._end)
            defects = []
            if junk:
                defects.append("InvalidBase64CharactersDefect")
            if valid % 4 == 1:
                defects.append("InvalidBase64LengthDefect")
            elif valid % 4:
                # Only a defect when the padding is missing too (it is counted as white space).
                tail = self._buf[max(self._body_start, self._end - 8) : self._end].rstrip()
                if not tail.endswith(b"="):
                    defects.append("InvalidBase64PaddingDefect")
            return _base64_size(valid), defects
        if cte in ("7bit", "8bit", "binary"):
            return self._end - self._body_start, []
        if cte == "quoted-printable" or self._known_uu():
            return len(self.payload), []
        return len(self.payload), ["UnknownTransferEncodingDefect"]

    def _known_uu(self) -> bool:
        return self.transfer_encoding in ("x-uuencode", "uuencode", "x-uue", "uue")

    @property
    def size(self) -> int:
        """The decoded size in bytes, computed without decoding base64."""
        return self._encoding_stats[0]

    @cached_property
    def payload(self) -> bytes:
        """The decoded bytes (transfer encoding undone; an unknown encoding is left as is)."""
        cte = self.transfer_encoding
        if cte == "base64":
            return _base64_decode(self._buf, self._body_start, self._end)
        data = self._buf[self._body_start : self._end]
        if cte == "quoted-printable":
            return _qp_decode(data)
        if self._known_uu():
            return _uu_decode(data)
        return data

    @cached_property
    def _text(self) -> tuple[str, str | None]:
        data = self.payload
        text, defect = decode_bytes(data, self._params.get("charset"))
        text = _line_ends(text)
        if self._params.get("format", "").lower() == "flowed" and self._type == "text/plain":
            text = _unflow(text, self._params.get("delsp", "").lower() == "yes")
        return text, defect

    def text(self) -> str:
        """The content as text, decoded by its charset with fallbacks; lines end in ``\\n`` and
        ``format=flowed`` text is joined back into its paragraphs."""
        return self._text[0]

    @cached_property
    def message(self) -> ParsedMessage | None:
        """The message carried by a ``message/rfc822`` (``global``, ``news``) part, or the
        header block of a ``text/rfc822-headers`` part, as a :class:`ParsedMessage`."""
        if self._type not in _ATTACHED_MESSAGE_TYPES and self._type not in _HEADER_ONLY_TYPES:
            return None
        if self._depth >= MAX_DEPTH:
            return None
        if self.transfer_encoding in ("base64", "quoted-printable") or self._known_uu():
            data = self.payload  # not allowed by RFC 2046, but sent: decode, then parse
            return ParsedMessage._view(data, 0, len(data), depth=self._depth + 1)
        return ParsedMessage._view(self._buf, self._body_start, self._end, depth=self._depth + 1)

    def walk(self) -> Iterator[MimePart]:
        """This part and every part below it, depth first, in document order (not descending
        into carried messages: use :attr:`message` for those)."""
        stack: list[MimePart] = [self]
        while stack:
            part = stack.pop()
            yield part
            stack.extend(reversed(part.children))

    def _preamble(self) -> bytes:
        return self._buf[self._body_start : getattr(self, "_preamble_end", self._end)]

    def _structure_defects(self) -> list[str]:
        return list(self._defects)

    def _content_defects(self) -> list[str]:
        if self.children or self._type.startswith("multipart/"):
            return []
        found = list(self._encoding_stats[1])
        if self._type.startswith("text/"):
            defect = self._text[1]
            if defect:
                found.append(defect)
        return found


def _collect(part: MimePart, want: str, depth: int = 0) -> list[str] | None:
    """The body text of type ``want`` under ``part``: the preferred alternative of a
    multipart/alternative, the root of a multipart/related, every inline fragment of a
    multipart/mixed (Apple Mail splits a body around inline images)."""
    if depth > MAX_DEPTH:
        return None
    if part.children:
        if part.content_type == "multipart/alternative":
            for child in reversed(part.children):  # the last alternative is the richest
                found = _collect(child, want, depth + 1)
                if found is not None:
                    return found
            return None
        if part.content_type == "multipart/related":
            start = part.params.get("start", "").strip().strip("<>")
            root = next((c for c in part.children if start and c.content_id == start), None)
            return _collect(root or part.children[0], want, depth + 1)
        collected: list[str] = []
        for child in part.children:
            found = _collect(child, want, depth + 1)
            if found is not None:
                collected.extend(found)
        return collected or None
    if part.content_type.startswith("multipart/"):
        # No delimiter was ever found: a reader still wants to see what the sender wrote.
        if want == "text/plain":
            text = decode_bytes(part._preamble(), part.charset)[0]
            return [_line_ends(text)] if text.strip() else None
        return None
    if part.content_type == want and not part.is_attachment:
        return [part.text()]
    return None


@attrs.frozen(kw_only=True)
class Attachment:
    """A file attached to a message, with its decoded size."""

    filename: str | None
    content_type: str
    size: int
    content_id: str | None = None
    inline: bool = False


class ParsedMessage:
    """A parsed message: typed header accessors, bodies, attachments, nested messages.

    Built by :func:`parse_message`; every attribute is computed on first use and never raises.
    Reading a header scans only the header section; the MIME tree is scanned on the first
    access to a body, part or attachment.
    """

    def __init__(self, raw: bytes) -> None:
        original = bytes(raw)
        self._buf = original
        self._bare_cr = False
        head = original[:65536]
        if b"\n" not in head and b"\r" in head:
            # Classic Mac OS line endings (a lone CR): scan a copy with LF endings. Rare enough
            # that the copy's memory does not matter; ``raw`` stays the bytes as received.
            self._buf = original.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            self._bare_cr = True
            self.raw = original
        self._start = 0
        self._end = len(self._buf)
        self._depth = 0
        self.size = len(original)

    @classmethod
    def _view(cls, buf: bytes, start: int, end: int, *, depth: int) -> ParsedMessage:
        """A message that lives inside another one's bytes, sharing them (no copy)."""
        view = cls.__new__(cls)
        view._buf = buf
        view._start = start
        view._end = end
        view._depth = depth
        view._bare_cr = False
        view.size = end - start
        return view

    @cached_property
    def raw(self) -> bytes:
        """The message's bytes, exactly as received."""
        if self._start == 0 and self._end == len(self._buf):
            return self._buf
        return self._buf[self._start : self._end]

    # --- headers -------------------------------------------------------------------------------

    @cached_property
    def _header_scan(self) -> tuple[_Headers, int, list[str]]:
        defects: list[str] = []
        fields, body_start = _scan_headers(
            self._buf, self._start, self._end, defects, top=self._depth == 0
        )
        return _Headers(self._buf, fields, self._declared_charset), body_start, defects

    @property
    def _headers(self) -> _Headers:
        return self._header_scan[0]

    def _declared_charset(self) -> str | None:
        """The charset of the message's Content-Type, else of its first text part: what a
        client that writes raw 8-bit headers wrote them in."""
        if self.root.charset:
            return self.root.charset
        text_parts = (p for p in self._leaves if p.content_type.startswith("text/"))
        return next((p.charset for p in text_parts if p.charset), None)

    def header(self, name: str) -> str | None:
        """The first value of header ``name``, unfolded and decoded, or None."""
        return self._headers.get(name)

    def headers(self, name: str) -> tuple[str, ...]:
        """Every value of header ``name``, in order."""
        return self._headers.get_all(name)

    def header_names(self) -> tuple[str, ...]:
        """The header field names in order (with repeats)."""
        return self._headers.names()

    def raw_headers(self) -> tuple[tuple[str, bytes], ...]:
        """Every header field as (name, exact bytes): name, colon, value, folding and line
        ending untouched, as DKIM and ARC need them."""
        return tuple((f.name, self._buf[f.start : f.end]) for f in self._header_scan[0].fields)

    @property
    def raw_body(self) -> bytes:
        """The body exactly as received (everything after the blank line ending the headers)."""
        return self._buf[self._header_scan[1] : self._end]

    @cached_property
    def message_id(self) -> str | None:
        """The Message-ID without angle brackets."""
        ids = _message_ids(self.header("Message-ID"))
        return ids[0] if ids else None

    def addresses(self, name: str) -> tuple[EmailAddress, ...]:
        """Every usable address in the headers ``name`` (``X-Original-From``...), in order.

        Parsed on the raw values, so that an encoded word can only ever be a display name.
        """
        return parse_address_list(self._headers.all_raw(name))

    @cached_property
    def subject(self) -> str:
        """The Subject, decoded, control characters replaced by spaces ("" when absent)."""
        return self.header("Subject") or ""

    @cached_property
    def date(self) -> datetime | None:
        """The Date header in UTC; None when missing or beyond repair."""
        return _parse_date(self.header("Date"))

    @cached_property
    def from_(self) -> tuple[EmailAddress, ...]:
        """The From addresses; when From holds none by RFC 5322, the one a person reads in it
        (``Ann ann@example.com``), with ``InvalidFromAddressDefect``. Not for authentication:
        DMARC reads :attr:`rfc5322_from`."""
        return self.rfc5322_from or self._recovered_from[0]

    @cached_property
    def rfc5322_from(self) -> tuple[EmailAddress, ...]:
        """The From addresses by RFC 5322 alone (the Author Domain DMARC aligns with)."""
        return self.addresses("From")

    @cached_property
    def _recovered_from(self) -> tuple[tuple[EmailAddress, ...], str | None]:
        raw = self._headers.first_raw("From")
        if raw is None or self.rfc5322_from:
            return (), None
        address, name = recover_mailbox(raw)
        return ((address,) if address is not None else ()), name

    @property
    def from_name(self) -> str | None:
        """The sender's name as a person reads it: the first From address's display name, or
        for a From with no address at all (``MAILER-DAEMON``, ``"Name" <>``) the text written."""
        return self.from_[0].display_name if self.from_ else self._recovered_from[1]

    @cached_property
    def sender(self) -> EmailAddress | None:
        found = self.addresses("Sender")
        return found[0] if found else None

    @cached_property
    def reply_to(self) -> tuple[EmailAddress, ...]:
        return self.addresses("Reply-To")

    @cached_property
    def to(self) -> tuple[EmailAddress, ...]:
        return self.addresses("To")

    @cached_property
    def cc(self) -> tuple[EmailAddress, ...]:
        return self.addresses("Cc")

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

    @cached_property
    def content_type(self) -> str:
        """The top-level media type, lowercase (``text/plain`` when absent or unusable)."""
        raw = self._headers.first_raw("Content-Type")
        if raw is None:
            return "text/plain"
        main = _parse_structured(_LINE_BREAK.sub("", raw))[0]
        return main if _MEDIA_TYPE.fullmatch(main) else "text/plain"

    # --- body ----------------------------------------------------------------------------------

    @cached_property
    def root(self) -> MimePart:
        """The message itself as the root of its MIME tree."""
        return MimePart(
            self._buf, self._start, self._end, depth=self._depth, top=self._depth == 0, lead=True
        )

    def parts(self) -> tuple[MimePart, ...]:
        """Every leaf part (and every ``message/*`` part) in document order; multipart
        containers are left out and carried messages are not descended into."""
        return self._leaves

    @cached_property
    def _leaves(self) -> tuple[MimePart, ...]:
        return tuple(p for p in self.root.walk() if not p.children)

    @cached_property
    def attached_messages(self) -> tuple[ParsedMessage, ...]:
        """Messages carried as ``message/rfc822`` parts (forwards as attachment, DSN originals)."""
        found: list[ParsedMessage] = []
        for part in self.parts():
            if part.content_type in _ATTACHED_MESSAGE_TYPES:
                inner = part.message
                if inner is not None:
                    found.append(inner)
        return tuple(found)

    @cached_property
    def html(self) -> str | None:
        found = _collect(self.root, "text/html")
        return None if found is None else "\n".join(found)

    @cached_property
    def text(self) -> str | None:
        """The plain-text body; derived from the HTML body when there is no plain part."""
        found = _collect(self.root, "text/plain")
        if found is not None:
            return "\n".join(found)
        if self.html is not None:
            return html_to_text(self.html)
        return None

    @cached_property
    def attachment_parts(self) -> tuple[MimePart, ...]:
        """The parts behind :attr:`attachments`, index for index (for their payloads)."""
        return tuple(p for p in self.parts() if p.is_attachment)

    @cached_property
    def attachments(self) -> tuple[Attachment, ...]:
        return tuple(
            Attachment(
                filename=part.filename,
                content_type=part.content_type,
                size=part.size,
                content_id=part.content_id,
                inline=part.is_inline,
            )
            for part in self.attachment_parts
        )

    def attachment_payload(self, index: int) -> bytes:
        """The decoded bytes of ``attachments[index]`` (decoded now, on request)."""
        return self.attachment_parts[index].payload

    @cached_property
    def defects(self) -> tuple[str, ...]:
        """MIME defects found while parsing, as class names (``StartBoundaryNotFoundDefect``),
        each once, including those of carried messages. Checks every part's transfer encoding
        and charset, so it is the one accessor that reads every part."""
        found: list[str] = list(self._header_scan[2])
        if not self.rfc5322_from and self._headers.first_raw("From") is not None:
            found.append("InvalidFromAddressDefect")
        for name in _DECODED_HEADERS:
            for raw in self._headers.all_raw(name):
                found.extend(decode_encoded_words(_FOLD.sub(" ", raw))[1])
        if self._bare_cr:
            found.append("BareCarriageReturnDefect")
        for part in self.root.walk():
            found.extend(part._structure_defects())
            found.extend(part._content_defects())
            inner = part.message
            if inner is not None:
                found.extend(inner.defects)
        return tuple(dict.fromkeys(found))


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse raw message bytes; never raises for any input."""
    return ParsedMessage(raw)
