"""Structured header values read forgivingly, never raising: dates, ``main; name=value``
parameter lists (quoted strings, RFC 2231 continuations and charsets) and attachment filenames.

The value-level helpers of :mod:`inboxcore.mail.parsing`, and the header section they are read
from (:class:`_Headers`). Pure: no I/O.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from dateutil import parser as dateutil_parser

from inboxcore.domain.text import (
    decode_bytes,
    decode_header_bytes,
    decode_rfc2047,
    replace_controls,
    split_outside_quotes,
)
from inboxcore.mail._mime_scan import _Field

__all__: list[str] = []

_FOLD = re.compile(r"\r?\n[ \t]*")
_DATE_SENTINEL = datetime(1, 1, 1)  # a marker for "dateutil found no year" (naive on purpose)


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
    pieces = split_outside_quotes(value)
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


def _header_text(raw: str) -> str:
    """An unfolded, RFC 2047-decoded header value without control characters; never raises."""
    return replace_controls(decode_rfc2047(_FOLD.sub(" ", raw))).strip()


def _no_charset() -> str | None:
    return None


class _Headers:
    """A header section as offsets, with values decoded on demand.

    ``charset`` gives the charset raw 8-bit values are read in when they are not UTF-8 (the
    message's declared one); asked at most once, and only when such a value is read.
    """

    def __init__(
        self, buf: bytes, fields: list[_Field], charset: Callable[[], str | None] = _no_charset
    ) -> None:
        self._buf = buf
        self.fields = fields
        self._index: dict[str, list[int]] = {}
        for i, f in enumerate(fields):
            self._index.setdefault(f.name.lower(), []).append(i)
        self._charset_of = charset
        self._charset: list[str | None] = []  # empty until asked

    def raw_value(self, field: _Field) -> str:
        data = self._buf[field.value_start : field.end]
        if data.isascii() and b"\x1b" not in data:  # ESC: 7-bit ISO-2022 text, decoded below
            return data.decode("ascii").rstrip("\r\n")
        if not self._charset:
            self._charset.append(None)  # the charset's own look-up may read a field: no loop
            self._charset[0] = self._charset_of()
        return decode_header_bytes(data, self._charset[0], self._eight_bit).rstrip("\r\n")

    def _eight_bit(self) -> bytes:
        """Every 8-bit value of the section, the evidence a charset is detected from."""
        values = (self._buf[f.value_start : f.end] for f in self.fields)
        return b" ".join(v for v in values if not v.isascii())

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
