"""Text from the outside world, made fit to keep: charsets, RFC 2047 encoded words, controls.

Everything here takes whatever a sender wrote and returns text, never raising and in time linear
in the input (a hostile header is megabytes long):

* :func:`decode_bytes` reads bytes in a declared MIME charset with the fallbacks mail clients
  use (an unknown or lying charset never loses the text);
* :func:`decode_header_bytes` reads raw 8-bit header bytes (no RFC 2047) as UTF-8, else in the
  message's declared charset, else in a detected legacy charset, never as Latin-1 mojibake of
  Chinese, Japanese or Cyrillic;
* :func:`decode_encoded_words` undoes RFC 2047 encoded words (``=?utf-8?q?J=C3=B6rg?=``) and
  reports what was wrong with them as defects; :func:`decode_rfc2047` is the same without them;
* :func:`replace_controls` turns control characters into spaces, so that a decoded subject or
  name can be stored, shown and put back into a header of our own.

Why not the standard library: its legacy ``email.header.decode_header`` raises on a bad charset
or bad base64 and takes time quadratic in the number of encoded words (a 5 MB subject ran for
minutes); its modern ``email.headerregistry`` parser recurses (a thousand nested comments raise
``RecursionError``), is quadratic too (8,000 words: 2.5 s, 4,000 addresses: 0.8 s) and puts a
space between adjacent encoded words, which RFC 2047 section 6.2 says to drop.
"""

from __future__ import annotations

import binascii
import functools
import re
from collections.abc import Callable

__all__ = [
    "decode_bytes",
    "decode_encoded_words",
    "decode_header_bytes",
    "decode_rfc2047",
    "detect_charset",
    "replace_controls",
    "split_outside_quotes",
]

# Charset labels seen in real mail that Python does not know, or knows under a narrower meaning
# than mail clients give them (the WHATWG encoding standard's mapping, which browsers use).
_CHARSET_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "ascii",
    "ascii": "ascii",
    "ansi_x3.4-1968": "ascii",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "iso-8859-8-i": "iso-8859-8",
    "tis-620": "cp874",
    "windows-874": "cp874",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "sjis": "cp932",
    "unicode-1-1-utf-7": "utf-7",
    "x-unicode20utf8": "utf-8",
    "utf8": "utf-8",
    "iso-8859-9": "cp1254",
    "iso-8859-11": "cp874",
    "x-mac-roman": "mac-roman",
    "macintosh": "mac-roman",
}
_NO_CHARSET = frozenset({"unknown-8bit", "x-unknown", "unknown", "x-user-defined", "default", ""})
_MULTIBYTE = frozenset({"gb18030", "cp949", "cp932", "big5", "euc-jp", "iso-2022-jp"})
# Where a declared charset fails, the text is most often in a relative of it: Japanese mail
# labelled ISO-2022-JP but sent as EUC-JP or Shift_JIS, or using the vendor extensions.
_SIBLINGS = {
    "iso-2022-jp": ("iso2022_jp_2", "iso2022_jp_ext", "euc-jp", "cp932"),
    "euc-jp": ("cp932", "iso2022_jp_2"),
    "cp932": ("euc-jp", "iso2022_jp_2"),
    "big5": ("big5hkscs",),
}

# The legacy charsets raw header bytes are detected among (charset-normalizer's codec names). The
# Latin ones are candidates only to be recognised: a short Latin text fits every one of them, so
# a Latin guess keeps the Windows-1252 fallback, the commonest by far.
_DETECT_AMONG = (
    "gb18030",
    "big5",
    "cp932",
    "euc_jp",
    "cp949",
    "koi8_r",
    "cp1251",
    "cp1253",
    "cp1255",
    "cp1256",
    "cp874",
    "cp1252",
    "cp1250",
)
_LATIN_GUESSES = frozenset({"cp1252", "cp1250"})

# An encoded word: no white space in the charset, no "?" in the text (so that a search for the
# next one never rescans text: linear time). White space inside the text is not allowed by the
# RFC but sent by old mailers, and the words are still meant to be read.
_ENCODED_WORD = re.compile(r"=\?([^?\s]*)\?([bBqQ])\?([^?]*)\?=")
_CHARSET_NAME = re.compile(r"[!-~]{1,100}")  # printable ASCII, as RFC 2978 names are
_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_NOT_BASE64 = bytes(b for b in range(256) if b not in _BASE64_ALPHABET)
# C0 and C1 controls (CR, LF, NUL, TAB, ESC, NEL...) and the Unicode line and paragraph
# separators, which str.splitlines() and the email package treat as line breaks.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def _decode_single_byte(data: bytes) -> str:
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:  # the five bytes Windows-1252 leaves undefined
        return data.decode("latin-1")


def _codec_for(charset: str | None) -> str | None:
    """The Python codec for a MIME charset label, or None when unknown or absent."""
    if charset is None:
        return None
    return _codec_for_label(charset[:100])


@functools.lru_cache(maxsize=256)
def _codec_for_label(charset: str) -> str | None:
    label = charset.strip().strip("\"'").lower()
    if label in _NO_CHARSET or not _CHARSET_NAME.fullmatch(label):
        return None  # Python's codec lookup would read "iso-8859-1é" as iso-8859-1
    label = _CHARSET_ALIASES.get(label, label)
    try:
        "".encode(label)
        b"".decode(label)
    except Exception:  # unknown (LookupError), a NUL in the name (ValueError), or a codec
        return None  # that is not a text encoding (rot13, zlib): not a charset
    return label


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """Decode ``data`` by its MIME charset with fallbacks; returns the text and a defect or None.

    The declared charset (with the aliases mail clients use: ISO-8859-1 is read as
    Windows-1252, GB2312 as GB18030), then UTF-8, then a relative of the declared charset, then
    Windows-1252. The defect is ``UnknownCharsetDefect`` or ``CharsetMismatchDefect``.
    """
    codec = _codec_for(charset)
    defect = None
    if codec is not None:
        try:
            return data.decode(codec), None
        except Exception:  # UnicodeDecodeError, or an odd codec's own complaint
            defect = "CharsetMismatchDefect"
    elif charset is not None and charset.strip().lower() not in _NO_CHARSET:
        defect = "UnknownCharsetDefect"
    try:
        return data.decode("utf-8"), defect
    except UnicodeDecodeError:
        pass
    for sibling in _SIBLINGS.get(codec or "", ()):
        try:
            return data.decode(sibling), defect
        except UnicodeDecodeError:
            continue
    if codec is not None and codec in _MULTIBYTE:
        # A few broken sequences in a Chinese or Japanese text: keep the rest readable.
        try:
            return data.decode(codec, "replace"), defect
        except Exception:
            pass
    return _decode_single_byte(data), defect


def decode_header_bytes(
    data: bytes, charset: str | None, evidence: Callable[[], bytes] | None = None
) -> str:
    """Raw header bytes as text, never failing: UTF-8 (RFC 6532; ASCII included), then the
    message's declared ``charset`` (what a GB2312 or Shift_JIS client writes its headers in, with
    no RFC 2047), then a legacy charset detected in ``evidence()`` (every 8-bit value of the
    header section: one short value is too little to tell GBK from Big5), then Windows-1252.
    """
    if b"\x1b" in data and _ISO_2022_ESCAPE.search(data):
        decoded = _decode_iso_2022(data)
        if decoded is not None:
            return decoded
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    codec = _codec_for(charset)
    if codec is not None:
        try:
            return data.decode(codec)
        except Exception:  # UnicodeDecodeError, or an odd codec's own complaint
            pass
    guessed = detect_charset(evidence() if evidence is not None else data)
    if guessed is not None:
        try:
            return data.decode(guessed)
        except Exception:  # the evidence was in it, this value is not
            pass
    return _decode_single_byte(data)


# ISO-2022-JP (and -KR) are 7-bit: ASCII with escape sequences switching character sets, as
# Japanese mailers wrote headers before RFC 2047. Read as ASCII they show "$B@A5a=q(B".
_ISO_2022_ESCAPE = re.compile(rb"\x1b(?:\$[@AB(D]|\$\)C|\([BJI])")
_ISO_2022_JP_CODECS = ("iso2022_jp_2", "iso2022_jp_ext", "iso2022_jp_3")


def _decode_iso_2022(data: bytes) -> str | None:
    # ISO-2022-KR announces itself ("ESC $ ) C"); ISO-2022-JP-2 would misread its shifts.
    codecs = ("iso2022_kr",) if b"\x1b$)C" in data else _ISO_2022_JP_CODECS
    for codec in codecs:
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    return None


def split_outside_quotes(text: str, separator: str = ";") -> list[str]:
    """``text`` split on ``separator`` where it stands outside a quoted string (a backslash
    escapes inside quotes): the parameters of a structured header, the results of an
    Authentication-Results field. One pass, slices of the text (linear on hostile input)."""
    parts: list[str] = []
    start = 0
    quoted = False
    escaped = False
    for index, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == separator and not quoted:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


def detect_charset(data: bytes) -> str | None:
    """The non-Latin legacy charset ``data`` is most likely in, or None (Latin or unknown).

    charset-normalizer's mess and coherence measures over a fixed list of candidates; only
    reached for 8-bit bytes that are not UTF-8 and had no usable declared charset, so its cost
    (a millisecond for a header section) is paid by few messages.
    """
    # Imported here: most messages never get this far, and the import costs tens of ms.
    from charset_normalizer import from_bytes

    try:
        best = from_bytes(data[:4096], cp_isolation=list(_DETECT_AMONG)).best()
    except Exception:  # a detector bug must not lose the header
        return None
    if best is None or best.encoding in _LATIN_GUESSES:
        return None
    return best.encoding


def _base64_word(text: str, defects: list[str]) -> bytes:
    """Forgiving base64: junk skipped, missing padding supplied, a dangling character dropped."""
    data = text.encode("ascii", "replace")
    compact = data.translate(None, _NOT_BASE64)
    if len(data.rstrip(b"=")) - len(compact):  # anything but the alphabet and final padding
        defects.append("InvalidBase64CharactersDefect")
    extra = len(compact) % 4
    if extra == 1:
        defects.append("InvalidBase64LengthDefect")
        compact = compact[:-1]
    elif extra:
        if not data.endswith(b"="):
            defects.append("InvalidBase64PaddingDefect")
        compact += b"=" * (4 - extra)
    return binascii.a2b_base64(compact)


def _q_word(text: str) -> bytes:
    # a2b_qp keeps a malformed "=XY" as written, which is what a reader would want to see.
    return binascii.a2b_qp(text.encode("utf-8", "replace"), header=True)


def decode_encoded_words(text: str) -> tuple[str, tuple[str, ...]]:
    """Decode the RFC 2047 encoded words in ``text``; returns the text and the defects found.

    White space between adjacent encoded words is dropped (RFC 2047 section 6.2); plain text
    keeps its own. Adjacent words in one charset are decoded together, so that a character split
    between two words (which some encoders do) comes out whole. An unknown or lying charset, bad
    base64 or quoted-printable give replacement text and a defect, never an exception. Linear
    in the length of ``text``.
    """
    if "=?" not in text:
        return text, ()
    out: list[str] = []
    defects: list[str] = []
    pending = bytearray()
    pending_charset: str | None = None
    pos = 0
    for match in _ENCODED_WORD.finditer(text):
        between = text[pos : match.start()]
        adjacent = pending_charset is not None and (not between or between.isspace())
        label = match.group(1).partition("*")[0].lower()  # "utf-8*en": RFC 2231 language
        if not adjacent or label != pending_charset:
            _flush(pending, pending_charset, out, defects)
            pending_charset = label
        if not adjacent:
            out.append(between)
        if match.group(2) in "bB":
            pending += _base64_word(match.group(3), defects)
        else:
            pending += _q_word(match.group(3))
        pos = match.end()
    _flush(pending, pending_charset, out, defects)
    out.append(text[pos:])
    return "".join(out), tuple(dict.fromkeys(defects))


def _flush(pending: bytearray, charset: str | None, out: list[str], defects: list[str]) -> None:
    if charset is None:
        return
    decoded, defect = decode_bytes(bytes(pending), charset)
    out.append(decoded)
    if defect is not None:
        defects.append(defect)
    pending.clear()


def decode_rfc2047(text: str) -> str:
    """:func:`decode_encoded_words` without the defects: the decoded text, never raising."""
    return decode_encoded_words(text)[0]


def replace_controls(text: str) -> str:
    """``text`` with each run of control characters replaced by one space.

    C0 and C1 controls (CR, LF, NUL, ESC...; TAB too, as a space is what it shows as) and the
    Unicode line and paragraph separators. Applied to every header value inboxcore decodes and
    keeps (subjects, display names), so that stored records never hold them and a reply or a
    notification built from them never carries a line break into a header.
    """
    return _CONTROLS.sub(" ", text)
