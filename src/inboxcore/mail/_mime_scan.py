"""Scanning a message's bytes for its structure: header fields and multipart parts as offsets.

The scanner of :mod:`inboxcore.mail.parsing`: it copies nothing (``bytes.find`` over the
original buffer), records defects under the standard library's names, and keeps at most
:data:`MAX_HEADER_FIELDS` fields per header section. Pure: no I/O.
"""

from __future__ import annotations

import re

__all__: list[str] = []

# Header fields past this many in one header section are left out (and recorded): a field costs
# a few hundred bytes of objects, so a section of 10**6 tiny fields would hold thirty times its
# size. Real mail has tens, a long relay chain a few hundred.
MAX_HEADER_FIELDS = 10_000
_FIELD_NAME = re.compile(rb"[!-9;-~]+")
# A line a reader takes for a header field: a plausible name, a colon, a value.
_HEADER_SHAPED = re.compile(rb"[A-Za-z][A-Za-z0-9-]{0,75}[ \t]*:")
# The fields whose presence further down shows that a line without a colon sits inside a header
# block (and did not start the body): the ones every message or part has.
_KNOWN_FIELDS = frozenset(
    {
        b"from",
        b"to",
        b"cc",
        b"subject",
        b"date",
        b"message-id",
        b"reply-to",
        b"sender",
        b"received",
        b"return-path",
        b"mime-version",
        b"content-type",
        b"content-transfer-encoding",
        b"content-disposition",
        b"in-reply-to",
        b"references",
    }
)
# A line without a colon after a line this long is the rest of a wrapped value (a tracking
# token or base64 folded without its leading white space); after a shorter one it is stray.
_WRAPPED_WIDTH = 60


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


def _recoverable_until(buf: bytes, pos: int, end: int, fields: list[_Field]) -> int:
    """Where the empty line ending the header block is, when the stray line at ``pos`` sits
    inside a header block a reader would still read; -1 when it starts the body.

    A reader reads on when an empty line follows, every line before it is header-shaped, a
    continuation or a few more stray lines, and a well-known field not yet seen is among them
    (so that a body quoting a forwarded header block is not taken for headers). One pass to the
    empty line: the caller asks at most once per header section.
    """
    seen = {f.name.lower().encode("ascii") for f in fields}
    stray = 0
    new_known = False
    line = pos
    while line < end:
        nl = buf.find(b"\n", line, end)
        content_end = _line_content_end(buf, line, nl, end)
        if content_end == line:
            return line if new_known and stray <= 8 else -1
        if buf[line] not in (0x20, 0x09):
            shaped = _HEADER_SHAPED.match(buf, line, content_end)
            if shaped is None:
                stray += 1
            else:
                name = buf[line : shaped.end() - 1].rstrip(b" \t").lower()
                new_known = new_known or (name in _KNOWN_FIELDS and name not in seen)
        if nl < 0:
            break
        line = nl + 1
    return -1


def _continues(buf: bytes, fields: list[_Field], kept: bool, line_end: int) -> bool:
    """Take a stray line into the field before it when that field's last line was long (the
    rest of a wrapped value); returns whether the lines after it may continue a field."""
    if not fields or not kept:
        return False
    last = fields[-1]
    previous_start = buf.rfind(b"\n", last.start, last.end - 1) + 1
    if last.end - max(previous_start, last.start) < _WRAPPED_WIDTH:
        return False
    last.end = line_end
    return True


def _scan_headers(
    buf: bytes, start: int, end: int, defects: list[str], *, top: bool
) -> tuple[list[_Field], int]:
    """Scan a header section; returns its fields and where the body starts.

    The section ends at the first empty line. A line that is neither a field nor a continuation
    is read past as a reader would (``MisplacedHeaderLineDefect``) when the lines after it are
    still header fields (:func:`_recoverable_until`); otherwise it ends the section (the
    standard library's ``MissingHeaderBodySeparatorDefect``) and starts the body.
    """
    fields: list[_Field] = []
    pos = start
    kept = True  # whether the field the current line may continue was kept
    recover_until = -1  # the end of a header block found to read past stray lines, once found
    asked = False
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
            if not asked:
                asked = True
                recover_until = _recoverable_until(buf, pos, end, fields)
            if pos >= recover_until:
                defects.append("MissingHeaderBodySeparatorDefect")
                return fields, pos
            if "MisplacedHeaderLineDefect" not in defects:
                defects.append("MisplacedHeaderLineDefect")
            kept = _continues(buf, fields, kept, line_end)
            pos = line_end
            continue
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
