"""Content-Transfer-Encodings undone forgivingly and in bounded memory: base64 (counted or
decoded a chunk at a time, junk skipped, padding supplied), quoted-printable, uuencode.

The decoders of :mod:`inboxcore.mail.parsing`. Pure: no I/O.
"""

from __future__ import annotations

import binascii
import re

__all__: list[str] = []

# Work on huge encoded parts a chunk at a time so that memory stays bounded (a multiple of 4
# and of typical line lengths; the exact value matters little).
_CHUNK = 1 << 20
_QP_CHUNK = 1 << 13  # re.sub holds a piece per match: keep each substitution small
_TAB_AS_SPACE = bytes.maketrans(b"\t", b" ")
# From the start of a run only, and possessive: a long run of blanks not followed by a line break
# would otherwise be rescanned from each of its characters.
_QP_TRAILING_WS = re.compile(rb"(?<![ \t])[ \t]++(?=\r?\n)")
_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_NOT_B64 = bytes(b for b in range(256) if b not in _B64_ALPHABET)
_B64_WHITESPACE = b" \t\r\n="


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
    held ninety times its size in one substitution. A body with no blank before any line end
    (what encoders write: they encode a trailing blank as ``=20``) goes to ``a2b_qp`` at once.
    The test is one ``in`` over a copy with tabs made spaces and CRs dropped (0.5 ms on 200 KB,
    where four tests, one per kind of blank and line end, took 1.0 ms and the pattern 6 ms,
    ``benchmarks/bench_text.py``); a CR run it merges only sends a body the careful way."""
    if b" \n" not in data.translate(_TAB_AS_SPACE, b"\r"):
        return binascii.a2b_qp(data)
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
