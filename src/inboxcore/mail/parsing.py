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

import binascii
import email.utils
import html as html_module
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import cached_property

import attrs
from dateutil import parser as dateutil_parser

from inboxcore.domain.addresses import EmailAddress, parse_address_list
from inboxcore.domain.text import (
    decode_bytes,
    decode_encoded_words,
    decode_rfc2047,
    replace_controls,
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
# Header fields past this many in one header section are left out (and recorded): a field costs
# a few hundred bytes of objects, so a section of 10**6 tiny fields would hold thirty times its
# size. Real mail has tens, a long relay chain a few hundred.
MAX_HEADER_FIELDS = 10_000
# Work on huge encoded parts a chunk at a time so that memory stays bounded (a multiple of 4
# and of typical line lengths; the exact value matters little).
_CHUNK = 1 << 20
_QP_CHUNK = 1 << 13  # re.sub holds a piece per match: keep each substitution small

_MSGID = re.compile(r"<([^<>\s]+)>")
_FIELD_NAME = re.compile(rb"[!-9;-~]+")
_MEDIA_TYPE = re.compile(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+")
_FOLD = re.compile(r"\r?\n[ \t]*")
_LINE_BREAK = re.compile(r"\r?\n")
_CRLF = re.compile(r"\r+\n?")
# From the start of a run only, and possessive: a long run of blanks not followed by a line break
# would otherwise be rescanned from each of its characters.
_QP_TRAILING_WS = re.compile(rb"(?<![ \t])[ \t]++(?=\r?\n)")
_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_NOT_B64 = bytes(b for b in range(256) if b not in _B64_ALPHABET)
_B64_WHITESPACE = b" \t\r\n="
_ATTACHED_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global", "message/news"})
_HEADER_ONLY_TYPES = frozenset({"text/rfc822-headers", "message/global-headers"})
# The headers whose decoded words inboxcore keeps: their encoding defects are reported.
_DECODED_HEADERS = ("Subject", "From", "Sender", "Reply-To", "To", "Cc")
_DATE_SENTINEL = datetime(1, 1, 1)  # a marker for "dateutil found no year" (naive on purpose)

# --- small decoding helpers --------------------------------------------------------------------


def _bytes_to_str(data: bytes) -> str:
    """Header bytes as text: UTF-8 (RFC 6532, ASCII included), else Windows-1252, never failing."""
    return decode_bytes(data, None)[0]


def _line_ends(text: str) -> str:
    """Every CR, CRLF or run of CRs as one LF. CRLF is replaced by ``str.replace`` first:
    ``re.sub`` holds a piece per match, sixteen times a text of short CRLF lines."""
    if "\r" not in text:
        return text
    text = text.replace("\r\n", "\n")
    return _CRLF.sub("\n", text) if "\r" in text else text


def _header_text(raw: str) -> str:
    """An unfolded, RFC 2047-decoded header value without control characters; never raises."""
    return replace_controls(decode_rfc2047(_FOLD.sub(" ", raw))).strip()


def _message_ids(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    found = _MSGID.findall(value)
    if found:
        return tuple(found)
    bare = value.strip().strip("<>").strip()
    return (bare,) if bare and " " not in bare else ()


# Zone abbreviations seen in Date headers; dateutil knows none of them by itself (and warns).
_ZONES = {
    "UT": 0, "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "WEST": 1, "BST": 1, "IST": 1,
    "CET": 1, "CEST": 2, "MET": 1, "MEST": 2, "EET": 2, "EEST": 3, "MSK": 3,
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "AKST": -9, "AKDT": -8, "HST": -10, "JST": 9, "KST": 9, "HKT": 8, "SGT": 8,
    "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13,
}  # fmt: skip


def _zone_for(name: str | None, offset: int | None) -> tzinfo | None:
    """dateutil's tzinfos hook: a known abbreviation's offset; None (naive, read as UTC) else."""
    hours = _ZONES.get((name or "").upper())
    return None if hours is None else timezone(timedelta(hours=hours))


def _parse_date(value: str | None) -> datetime | None:
    """RFC 5322 first, then dateutil's forgiving parser; None when no date with a year is found.

    dateutil fills missing fields from a default; giving it a sentinel year keeps the result
    independent of today's date, and a value without a year is rejected rather than guessed.
    """
    if not value:
        return None
    parsed: datetime | None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except Exception:
        parsed = None
    if parsed is None:
        try:
            parsed = dateutil_parser.parse(
                value[:200], fuzzy=True, default=_DATE_SENTINEL, tzinfos=_zone_for
            )
        except Exception:  # ParserError, OverflowError, and whatever else dateutil meets
            return None
        if parsed.year == _DATE_SENTINEL.year:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        # Only the escapes the standard library undoes: Windows paths keep their backslashes.
        return value[1:-1].replace("\\\\", "\\").replace('\\"', '"')
    return value


def _split_params(value: str) -> list[str]:
    """Split a structured header on ``;`` outside quoted strings."""
    out: list[str] = []
    start = 0
    quoted = False
    escaped = False
    for i, ch in enumerate(value):
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == ";" and not quoted:
            out.append(value[start:i])
            start = i + 1
    out.append(value[start:])
    return out


def _rfc2231_decode(segments: list[tuple[int, bool, str]]) -> str:
    """Join RFC 2231 continuations and undo their percent-encoding and charset."""
    segments.sort(key=lambda s: s[0])
    charset: str | None = None
    chunks: list[bytes] = []
    for position, (_, extended, value) in enumerate(segments):
        if extended and position == 0 and value.count("'") >= 2:
            charset, _, value = value.split("'", 2)
        if extended:
            try:
                chunks.append(_percent_decode(value))
            except ValueError:
                chunks.append(value.encode("utf-8", "replace"))
        else:
            chunks.append(_unquote(value).encode("utf-8", "replace"))
    return decode_bytes(b"".join(chunks), charset or None)[0]


def _percent_decode(value: str) -> bytes:
    out = bytearray()
    data = value.encode("utf-8", "replace")
    i = 0
    while i < len(data):
        if data[i] == 0x25 and i + 3 <= len(data):
            try:
                out.append(int(data[i + 1 : i + 3], 16))
                i += 3
                continue
            except ValueError:
                pass
        out.append(data[i])
        i += 1
    return bytes(out)


def _parse_structured(value: str) -> tuple[str, dict[str, str]]:
    """``main; a=1; b*=utf-8''x`` -> (``main`` lowercased, parameters by lowercase name).

    Handles quoted strings, RFC 2231 continuations and charsets, stray semicolons, and RFC 2047
    encoded words inside quoted parameters (not standard, but what many mailers send). The
    first occurrence of a repeated parameter wins, as in the standard library.
    """
    pieces = _split_params(value)
    main = pieces[0].strip().lower()
    simple: dict[str, str] = {}
    extended: dict[str, list[tuple[int, bool, str]]] = {}
    for piece in pieces[1:]:
        name, eq, raw = piece.partition("=")
        name = name.strip().lower()
        if not eq or not name:
            continue
        raw = raw.strip()
        if "*" in name:
            base, _, rest = name.partition("*")
            is_ext = rest.endswith("*") or rest == ""
            index_text = rest.rstrip("*")
            index = int(index_text) if index_text.isdigit() else 0
            if index_text and not index_text.isdigit():
                continue
            segs = extended.setdefault(base, [])
            if all(s[0] != index for s in segs):
                segs.append((index, is_ext, _unquote(raw) if is_ext else raw))
            continue
        simple.setdefault(name, _unquote(raw))
    params = dict(simple)
    for base, segs in extended.items():
        try:
            params[base] = _rfc2231_decode(segs)
        except Exception:  # a hostile continuation: keep the simple form if there is one
            continue
    return main, params


def _safe_filename(name: str) -> str | None:
    """A filename as a person would see it: decoded, without directories or control characters."""
    # Controls are dropped here, not made spaces: "report\x07.exe" is the file "report.exe".
    text = decode_rfc2047(_FOLD.sub(" ", name))
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(ch for ch in text if ch >= " " and ch != "\x7f").strip()
    return text or None


def _unflow(text: str, delsp: bool) -> str:
    """Undo RFC 3676 ``format=flowed``: soft line breaks (a trailing space) join their lines."""
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


# --- HTML to text ----------------------------------------------------------------------------

# The openers of tags whose attributes run to the next ">": matched with _through (linear),
# never with "[^>]*>" in a pattern (quadratic when many openers precede one ">" or none).
_BLOCK_CLOSE = re.compile(
    r"</(?:p|div|tr|h[1-6]|blockquote|table|ul|ol|pre|address|section|article)\s*+>|<br\s*+/?>",
    re.I,
)
_BLOCK_OPEN = re.compile(r"<(?:p|div|tr|li|h[1-6]|table)\b", re.I)
_LIST_ITEM = re.compile(r"<li\b", re.I)
_TAG_OPEN = re.compile(r"<")
_COMMENT_OPEN = re.compile(r"<!--")
_DROPPED_OPEN = re.compile(r"<(script|style|head|title)\b", re.I)
# Each matches only what it changes: re.sub holds a piece per match, and a text of 10**5 line
# breaks replaced by themselves would cost sixteen times its size.
_LINE_BREAKS = re.compile("\r\n?|[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_INLINE_BLANKS = re.compile(r"[^\S\n]{2,}|[^\S\n ]")
_EDGE_BLANKS = re.compile(r" \n ?|\n ")
_BLANK_LINES = re.compile(r"\n{3,}")


def _through(markup: str, opener: re.Pattern[str], closer: str, replacement: str) -> str:
    """Each ``opener`` and what follows it up to the next ``closer`` replaced: what ``re.sub``
    of ``opener + ".*?" + closer`` (DOTALL) does, in linear time."""
    out: list[str] = []
    pos = 0
    for found in opener.finditer(markup):
        if found.start() < pos:
            continue  # inside a span already replaced
        end = markup.find(closer, found.end())
        if end < 0:
            break  # no closer after this opener, so none after any later one either
        out += (markup[pos : found.start()], replacement)
        pos = end + len(closer)
    out.append(markup[pos:])
    return "".join(out)


def _drop_elements(markup: str) -> str:
    """Remove script, style, head and title elements with their content, in linear time."""
    out: list[str] = []
    pos = 0
    lower: str | None = None
    closes: dict[str, int] = {}  # the last closing tag found per element; -1 for none left
    while True:
        found = _DROPPED_OPEN.search(markup, pos)
        if found is None:
            out.append(markup[pos:])
            break
        out.append(markup[pos : found.start()])
        if lower is None:
            lower = markup.lower()
        name = found.group(1).lower()
        close = closes.get(name, 0)
        if 0 <= close < found.end():
            close = closes[name] = lower.find("</" + name, found.end())
        if close < 0:
            # An unclosed <head> in sloppy mail usually runs into the body: drop only the tag.
            gt = markup.find(">", found.end())
            pos = len(markup) if gt < 0 else gt + 1
            continue
        gt = markup.find(">", close)
        pos = len(markup) if gt < 0 else gt + 1
    return "".join(out)


def html_to_text(markup: str) -> str:
    """A readable plain-text rendering of HTML (for messages without a text part).

    Block elements and ``<br>`` become line breaks, list items get a ``- `` marker, scripts,
    styles and comments vanish, entities are decoded and runs of blank lines collapse to one.
    Linear in the input: it runs on whatever HTML the outside world sends.
    """
    text = _through(markup, _COMMENT_OPEN, "-->", "")
    text = _drop_elements(text)
    text = _through(text, _LIST_ITEM, ">", "\n- ")
    text = _BLOCK_CLOSE.sub("\n", text)
    text = _through(text, _BLOCK_OPEN, ">", "\n")
    text = _through(text, _TAG_OPEN, ">", "")
    text = html_module.unescape(text)
    # Substitutions over the whole text, not a list of its lines: a line costs a list slot and a
    # string object, fifty times the size of a text of empty lines.
    text = _LINE_BREAKS.sub("\n", text)  # every break str.splitlines() knows
    text = _INLINE_BLANKS.sub(" ", text)
    text = _EDGE_BLANKS.sub("\n", text)  # each line stripped
    return _BLANK_LINES.sub("\n\n", text).strip()  # a run of blank lines kept as one


# --- the scanner -------------------------------------------------------------------------------


class _Field:
    """One header field as offsets into the buffer: ``buf[start:end]`` is its exact bytes.

    Private scanner state, mutable while the scan extends it over continuation lines.
    """

    __slots__ = ("end", "name", "start", "value_start")

    def __init__(self, name: str, start: int, value_start: int, end: int) -> None:
        self.name = name
        self.start = start
        self.value_start = value_start
        self.end = end


def _line_content_end(buf: bytes, pos: int, nl: int, end: int) -> int:
    stop = end if nl < 0 else nl
    if stop > pos and buf[stop - 1] == 0x0D:
        stop -= 1
    return stop


def _ends_with_semicolon(buf: bytes, field: _Field) -> bool:
    return buf[max(field.value_start, field.end - 16) : field.end].rstrip().endswith(b";")


def _scan_headers(
    buf: bytes, start: int, end: int, defects: list[str], *, top: bool
) -> tuple[list[_Field], int]:
    """Scan a header section; returns its fields and where the body starts.

    The section ends at the first empty line; a line that is neither a field nor a continuation
    ends it too (the standard library's ``MissingHeaderBodySeparatorDefect``) and starts the body.
    """
    fields: list[_Field] = []
    pos = start
    kept = True  # whether the field the current line may continue was kept
    if top and buf.startswith(b"From ", pos, end):  # an mbox separator line
        nl = buf.find(b"\n", pos, end)
        pos = end if nl < 0 else nl + 1
    while pos < end:
        nl = buf.find(b"\n", pos, end)
        line_end = end if nl < 0 else nl + 1
        content_end = _line_content_end(buf, pos, nl, end)
        if content_end == pos:
            return fields, line_end
        first = buf[pos]
        if first in (0x20, 0x09):
            if fields and kept:
                fields[-1].end = line_end
            elif not fields:
                defects.append("FirstHeaderLineIsContinuationDefect")
            pos = line_end
            continue
        colon = buf.find(b":", pos, content_end)
        name = buf[pos:colon].rstrip(b" \t") if colon > pos else b""
        if not name or not _FIELD_NAME.fullmatch(name):
            if fields and _ends_with_semicolon(buf, fields[-1]):
                # A parameter list folded without the leading white space (some JavaMail
                # versions): the line continues the field rather than starting the body.
                defects.append("MissingFoldingWhitespaceDefect")
                fields[-1].end = line_end
                pos = line_end
                continue
            defects.append("MissingHeaderBodySeparatorDefect")
            return fields, pos
        kept = len(fields) < MAX_HEADER_FIELDS
        if kept:
            fields.append(_Field(name.decode("ascii"), pos, colon + 1, line_end))
        elif "TooManyHeadersDefect" not in defects:
            defects.append("TooManyHeadersDefect")
        pos = line_end
    return fields, end


def _find_delimiters(
    buf: bytes, start: int, end: int, boundary: bytes
) -> tuple[list[tuple[int, int]], bool, int]:
    """The parts of a multipart body as offset pairs, whether the close delimiter was seen, and
    where the first delimiter starts (the preamble's end; ``end`` when none was found).

    A delimiter is ``--boundary`` at the start of a line, followed by ``--`` (the close
    delimiter), white space, or the line's end; the line break before it belongs to it (RFC 2046
    section 5.1.1). Like mime4j, text after white space on the delimiter line is ignored, but
    ``--boundary`` followed directly by other characters is a longer boundary, not this one.
    """
    delim = b"--" + boundary
    parts: list[tuple[int, int]] = []
    current: int | None = None
    preamble_end = end
    pos = start
    while True:
        i = buf.find(delim, pos, end)
        if i < 0:
            break
        if i != start and buf[i - 1] != 0x0A:
            pos = i + 1
            continue
        after = i + len(delim)
        close = buf.startswith(b"--", after, end)
        if not close and after < end and buf[after] not in b" \t\r\n":
            pos = i + 1
            continue
        body_end = i
        if current is not None:
            if body_end > current and buf[body_end - 1] == 0x0A:
                body_end -= 1
                if body_end > current and buf[body_end - 1] == 0x0D:
                    body_end -= 1
            parts.append((current, body_end))
        else:
            preamble_end = i
        if close:
            return parts, True, preamble_end
        nl = buf.find(b"\n", after, end)
        current = end if nl < 0 else nl + 1
        pos = current
    if current is not None:
        parts.append((current, end))
    return parts, False, preamble_end


def _base64_stats(buf: bytes, start: int, end: int) -> tuple[int, int]:
    """(number of base64 alphabet characters, number of junk characters) in ``buf[start:end]``,
    counted a chunk at a time so that memory stays bounded whatever the part's size."""
    valid = 0
    junk = 0
    view = memoryview(buf)
    for chunk_start in range(start, end, _CHUNK):
        chunk = bytes(view[chunk_start : min(end, chunk_start + _CHUNK)])
        kept = len(chunk.translate(None, _NOT_B64))
        valid += kept
        others = len(chunk) - kept
        if others:
            white = sum(chunk.count(c) for c in (b"\n", b"\r", b" ", b"\t", b"="))
            junk += others - white
    return valid, junk


def _base64_size(valid: int) -> int:
    return valid // 4 * 3 + (0, 0, 1, 2)[valid % 4]


def _base64_decode(buf: bytes, start: int, end: int) -> bytes:
    """Decode forgivingly: junk characters are skipped, missing padding is supplied, a dangling
    last character is dropped. Works a chunk at a time; the result is exactly
    :func:`_base64_size` bytes long."""
    out: list[bytes] = []
    carry = b""
    view = memoryview(buf)
    for chunk_start in range(start, end, _CHUNK):
        chunk = carry + bytes(view[chunk_start : min(end, chunk_start + _CHUNK)]).translate(
            None, _NOT_B64
        )
        usable = len(chunk) - len(chunk) % 4
        carry = chunk[usable:]
        if usable:
            out.append(binascii.a2b_base64(chunk[:usable]))
    if len(carry) >= 2:
        out.append(binascii.a2b_base64(carry + b"=" * (4 - len(carry))))
    return b"".join(out)


def _qp_decode(data: bytes) -> bytes:
    """Quoted-printable decoded after the trailing blanks of each line are removed, a chunk of
    lines at a time: ``re.sub`` holds a piece per match, and a body of blank-ended short lines
    held ninety times its size in one substitution."""
    pieces: list[bytes] = []
    start = 0
    while start < len(data):
        end = data.find(b"\n", start + _QP_CHUNK)
        end = len(data) if end < 0 else end + 1
        pieces.append(_QP_TRAILING_WS.sub(b"", data[start:end]))
        start = end
    return binascii.a2b_qp(b"".join(pieces))


def _uu_decode(data: bytes) -> bytes:
    """uuencode bodies (``begin 644 name`` ... ``end``), line by line, skipping bad lines."""
    out: list[bytes] = []
    inside = False
    for line in data.splitlines():
        if not inside:
            inside = line.startswith(b"begin ")
            continue
        if line.strip() in (b"end", b"`", b""):
            if line.strip() == b"end":
                break
            continue
        try:
            out.append(binascii.a2b_uu(line))
        except binascii.Error:
            try:  # some encoders miscount: trust the line's length byte
                nbytes = (((line[0] - 32) & 63) * 4 + 5) // 3
                out.append(binascii.a2b_uu(line[:nbytes]))
            except (binascii.Error, IndexError):
                continue
    return b"".join(out)


class _Headers:
    """A header section as offsets, with values decoded on demand."""

    def __init__(self, buf: bytes, fields: list[_Field]) -> None:
        self._buf = buf
        self.fields = fields
        self._index: dict[str, list[int]] = {}
        for i, f in enumerate(fields):
            self._index.setdefault(f.name.lower(), []).append(i)

    def raw_value(self, field: _Field) -> str:
        data = self._buf[field.value_start : field.end]
        return _bytes_to_str(data).rstrip("\r\n")

    def first_raw(self, name: str) -> str | None:
        found = self._index.get(name.lower())
        return None if not found else self.raw_value(self.fields[found[0]])

    def get(self, name: str) -> str | None:
        raw = self.first_raw(name)
        return None if raw is None else _header_text(raw)

    def get_all(self, name: str) -> tuple[str, ...]:
        return tuple(_header_text(raw) for raw in self.all_raw(name))

    def all_raw(self, name: str) -> tuple[str, ...]:
        found = self._index.get(name.lower(), ())
        return tuple(self.raw_value(self.fields[i]) for i in found)

    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


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
    ) -> None:
        # The parts the tree may still grow, shared by every part of one tree.
        self._budget = [MAX_PARTS] if budget is None else budget
        self._buf = buf
        self._start = start
        self._end = end
        self._depth = depth
        self._defects: list[str] = []
        fields, self._body_start = _scan_headers(buf, start, end, self._defects, top=top)
        self._headers = _Headers(buf, fields)
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
        """
        if self._type.startswith("multipart/"):
            return False
        if self.disposition == "attachment":
            return True
        if self._type.startswith("message/"):
            return self.filename is not None
        if self._type.startswith("text/"):
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
        return _Headers(self._buf, fields), body_start, defects

    @property
    def _headers(self) -> _Headers:
        return self._header_scan[0]

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
        return self.addresses("From")

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
        return MimePart(self._buf, self._start, self._end, depth=self._depth, top=self._depth == 0)

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
