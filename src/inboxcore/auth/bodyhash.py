"""The header fields and canonical body hashes of one message, shared by DKIM and ARC.

Every DKIM signature and every ARC-Message-Signature of a message hashes the same body, and most
of them with the same canonicalization and hash algorithm. dkimpy canonicalizes and hashes the
body again for each signature, with whole-body regular expressions that copy the message several
times: seconds and hundreds of megabytes on a 30 MB message. :class:`BodyHashes` instead walks the
body once per canonicalization, in chunks cut at line ends (so that no whitespace run and no line
end straddles two chunks), feeding every hash that was asked for (each algorithm, each ``l=``
length) from the same canonical bytes. Memory stays at about two chunks whatever the message size.

The header fields are split the way dkimpy's ``rfc822_parse`` does (bare LF accepted and turned
into CRLF, folded lines kept with their line breaks), so that dkimpy's header canonicalization and
hashing primitives can be used on them, but without raising: a line that is neither a header field
nor a continuation is skipped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator

import attrs

from inboxcore.domain.errors import InvalidValueError
from inboxcore.mail.parsing import MAX_HEADER_FIELDS

__all__ = [
    "BodyHashKey",
    "BodyHashes",
    "CHUNK_SIZE",
    "canonical_body",
    "split_message",
]

CHUNK_SIZE = 1 << 20
"""Bytes of body canonicalized at a time (cut back to the last line end)."""

_ALGORITHMS: dict[str, Callable[[], hashlib._Hash]] = {
    "sha1": hashlib.sha1,
    "sha256": hashlib.sha256,
}
_CANONICALIZATIONS = ("simple", "relaxed")
_WSP_TO_EOL = re.compile(rb"[\t\r ]*\n?")
_FIELD_START = re.compile(rb"\n(?![ \t])")
_FIELD_NAME = re.compile(rb"[\x21-\x39\x3b-\x7e]+[\t ]*")

Header = tuple[bytes, bytes]


def _blank_line(raw: bytes) -> tuple[int, int] | None:
    """Where the first empty line starts (at the LF ending the line before) and ends."""
    if raw.startswith(b"\n"):
        return 0, 1
    if raw.startswith(b"\r\n"):
        return 0, 2
    # Finds (C speed) in a window that grows fourfold: the header is usually a few kilobytes,
    # and a message without a blank line still costs only O(n).
    size = len(raw)
    window = 1 << 16
    while True:
        stop = min(window, size)
        lf = raw.find(b"\n\n", 0, stop)
        crlf = raw.find(b"\n\r\n", 0, stop if lf == -1 else lf + 1)
        if crlf != -1:
            return crlf, crlf + 3
        if lf != -1:
            return lf, lf + 2
        if stop == size:
            return None
        window *= 4


def split_message(raw: bytes) -> tuple[tuple[Header, ...], int]:
    """The header fields as ``(name, value)`` pairs and the offset where the body starts.

    ``value`` is everything after the colon, continuation lines included, each line ending in
    CRLF (as dkimpy keeps them). The body starts after the first empty line; a message without
    one is all header and its body offset is ``len(raw)``.
    """
    blank = _blank_line(raw)
    if blank is None:
        block, body_offset = raw, len(raw)
    else:
        block, body_offset = raw[: blank[0]], blank[1]
    text = block.replace(b"\r\n", b"\n")
    if blank is not None and text.endswith(b"\r"):
        text = text[:-1]  # the CR of the last field's CRLF, whose LF ends the block
    headers: list[Header] = []
    for field in _fields(text):
        match = _FIELD_NAME.match(field)
        if match is None or field[match.end() : match.end() + 1] != b":":
            continue  # an mbox "From " line, a stray continuation or garbage: nothing signs it
        value = field[match.end() + 1 :].replace(b"\n", b"\r\n") + b"\r\n"
        headers.append((field[: match.end()], value))
        if len(headers) == MAX_HEADER_FIELDS:
            break  # the parser keeps as many (TooManyHeadersDefect): both see the same fields
    return tuple(headers), body_offset


def _fields(text: bytes) -> Iterator[bytes]:
    """The header block's fields (each with its continuation lines), one at a time."""
    start = 0
    for found in _FIELD_START.finditer(text):
        yield text[start : found.start()]
        start = found.end()
    yield text[start:]


@attrs.frozen(kw_only=True)
class BodyHashKey:
    """What a body hash depends on: canonicalization, hash algorithm and ``l=`` length."""

    canonicalization: str = attrs.field(validator=attrs.validators.in_(_CANONICALIZATIONS))
    algorithm: str = attrs.field(validator=attrs.validators.in_(tuple(_ALGORITHMS)))
    length: int | None = attrs.field(
        default=None,
        validator=attrs.validators.optional(attrs.validators.ge(0)),
    )


class BodyHashes:
    """The per-message cache of canonical body hashes (and the parsed header fields).

    Create one per message and hand it to :func:`~inboxcore.auth.dkim_verify.verify_dkim` and
    :func:`~inboxcore.auth.arc.validate_arc`: each canonicalization of the body is then computed
    once
    for both. :meth:`request` announces hashes before the first :meth:`digest`, so that one pass
    computes them all; a later request of a new key under an already walked canonicalization
    costs one more pass. ``passes`` counts the walks over the body (tests and benchmarks use it).

    It is a mutable cache, not a value: use it for one message, from one thread at a time.
    """

    def __init__(self, raw: bytes, *, chunk_size: int = CHUNK_SIZE) -> None:
        if chunk_size < 1:
            raise InvalidValueError("chunk_size must be positive")
        self.raw = raw
        self.chunk_size = chunk_size
        self.headers, self.body_offset = split_message(raw)
        self.passes = 0
        self._pending: set[BodyHashKey] = set()
        self._digests: dict[BodyHashKey, bytes] = {}
        self._lengths: dict[str, int] = {}
        self._positions: dict[bool, dict[bytes, tuple[int, ...]]] = {}

    def header_positions(self, *, relaxed: bool) -> dict[bytes, tuple[int, ...]]:
        """Where each header field name occurs in :attr:`headers`, top to bottom.

        Names are lowercased, and for relaxed canonicalization also stripped of trailing
        whitespace, the way each canonicalization compares them with an ``h=`` list.
        """
        found = self._positions.get(relaxed)
        if found is None:
            index: dict[bytes, list[int]] = {}
            for at, (name, _value) in enumerate(self.headers):
                key = name.lower().rstrip() if relaxed else name.lower()
                index.setdefault(key, []).append(at)
            found = {name: tuple(at) for name, at in index.items()}
            self._positions[relaxed] = found
        return found

    def request(self, key: BodyHashKey) -> None:
        """Announce that :meth:`digest` will be asked for ``key``."""
        if key not in self._digests:
            self._pending.add(key)

    def digest(self, key: BodyHashKey) -> bytes:
        """The hash of the canonical body (its first ``key.length`` octets, when given).

        When ``key.length`` exceeds the canonical body, this is the hash of the whole body;
        compare :meth:`canonical_length` to tell.
        """
        found = self._digests.get(key)
        if found is None:
            self._pending.add(key)
            self._walk(key.canonicalization)
            found = self._digests[key]
        return found

    def canonical_length(self, canonicalization: str) -> int:
        """Octets in the body under ``canonicalization`` (``"simple"`` or ``"relaxed"``)."""
        if canonicalization not in _CANONICALIZATIONS:
            raise InvalidValueError(f"unknown body canonicalization {canonicalization!r}")
        if canonicalization not in self._lengths:
            self._walk(canonicalization)
        return self._lengths[canonicalization]

    def _walk(self, canonicalization: str) -> None:
        keys = [k for k in self._pending if k.canonicalization == canonicalization]
        self._pending.difference_update(keys)
        sinks = [(k, _ALGORITHMS[k.algorithm](), k.length) for k in keys]
        total = 0
        for piece in canonical_body(
            self.raw, self.body_offset, canonicalization, chunk_size=self.chunk_size
        ):
            size = len(piece)
            for _key, hasher, limit in sinks:
                if limit is None:
                    hasher.update(piece)
                elif total < limit:
                    hasher.update(piece if total + size <= limit else piece[: limit - total])
            total += size
        self.passes += 1
        self._lengths[canonicalization] = total
        for key, hasher, _limit in sinks:
            self._digests[key] = hasher.digest()


def _chunks(raw: bytes, start: int, chunk_size: int) -> Iterator[bytes]:
    """The body in pieces of about ``chunk_size``, each ending at a line end if it can."""
    size = len(raw)
    pos = start
    while pos < size:
        end = pos + chunk_size
        if end >= size:
            end = size
        else:
            nl = raw.rfind(b"\n", pos, end)
            if nl != -1:
                end = nl + 1
            else:
                # One line longer than a chunk: cut it where no whitespace run or CR straddles.
                while end > pos and raw[end - 1] in b" \t\r":
                    end -= 1
                if end == pos:
                    # All whitespace: take the whole run and the line end after it.
                    match = _WSP_TO_EOL.match(raw, pos + chunk_size)
                    end = match.end() if match else pos + chunk_size
        yield raw[pos:end]
        pos = end


def canonical_body(
    raw: bytes, start: int, canonicalization: str, *, chunk_size: int = CHUNK_SIZE
) -> Iterator[bytes]:
    """The canonical body (RFC 6376 section 3.4.3 and 3.4.4) as a stream of pieces.

    The rules are applied as dkimpy applies them (line ends made CRLF; for relaxed, whitespace
    before a line end removed, then runs of whitespace made one space; trailing empty lines
    dropped; a final CRLF added; relaxed turns an empty body into nothing), so that both agree
    on every message. Trailing CRLFs of a piece are held back until more content follows.
    """
    relaxed = canonicalization == "relaxed"
    pending = 0
    emitted = False
    for chunk in _chunks(raw, start, chunk_size):
        if chunk.count(b"\n") != chunk.count(b"\r\n"):
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        # A base64 chunk holds no whitespace: one memchr each settles it. Otherwise plain
        # replaces (C speed, unlike a regular expression) do what dkimpy's regexes do: tabs to
        # spaces, runs halved until single, then the one space left before a line end dropped.
        if relaxed and (b" " in chunk or b"\t" in chunk):
            if b"\t" in chunk:
                chunk = chunk.replace(b"\t", b" ")
            while b"  " in chunk:
                chunk = chunk.replace(b"  ", b" ")
            if b" \r\n" in chunk:
                chunk = chunk.replace(b" \r\n", b"\r\n")
        end = len(chunk)
        while chunk.endswith(b"\r\n", 0, end):
            end -= 2
        if end:
            if pending:
                yield b"\r\n" * pending
                pending = 0
            yield chunk if end == len(chunk) else chunk[:end]
            emitted = True
        pending += (len(chunk) - end) // 2
    if emitted or not relaxed:
        yield b"\r\n"
