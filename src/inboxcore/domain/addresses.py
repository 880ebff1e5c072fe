"""Email addresses as values, and the address lists of message headers.

An :class:`EmailAddress` keeps the local part as written (RFC 5321 says only the receiving host may
interpret it) but compares it case-insensitively, because every mailbox provider a helpdesk meets
does. Plus-tags (``support+vip@``) stay part of the address and are exposed through
:attr:`EmailAddress.tag` and :attr:`EmailAddress.untagged`.

**One form for domains.** The domain is stored, compared, looked up and sent as lowercase
A-labels, mapped by UTS #46 and checked by IDNA 2008 (the ``idna`` package): ``BÜCHER.example``
and ``xn--bcher-kva.example`` are one domain, and ``straße.de`` stays ``xn--strae-oqa.de`` (the
standard library's IDNA 2003 codec would make it ``strasse.de``, somebody else's domain).
:attr:`EmailAddress.unicode_domain` and :attr:`EmailAddress.display_address` give the U-label
form for people; :attr:`EmailAddress.key` is what every comparison uses.

**Structure before words.** :func:`parse_address_list` reads the structure of an address header
(RFC 5322 section 3.4, with the obsolete forms real mail uses) on the raw value, and only then
decodes the RFC 2047 encoded words of display names and comments. An encoded word is never an
address (RFC 2047 section 5): ``=?utf-8?q?ceo=40bank.example?= <attacker@evil.example>`` is one
mailbox, attacker's, named "ceo@bank.example". The parser is iterative and linear: a thousand
nested comments or a megabyte of addresses end in a value, not an exception.

**What a person reads.** :func:`recover_mailbox` reads the mailbox a person sees in a field that
holds no RFC 5322 address (``Ann ann@example.com``, ``<local part with spaces@example.com>``,
``"Name" <>``, a bare ``MAILER-DAEMON``); what it returns is for showing and for contacts, never
for authentication.
"""

from __future__ import annotations

import email.charset
import re
from collections.abc import Iterable, Iterator

import attrs
import idna

from inboxcore.domain.errors import InvalidEmailAddress
from inboxcore.domain.text import decode_rfc2047, replace_controls

__all__ = [
    "EmailAddress",
    "MAX_ADDRESSES",
    "decode_rfc2047",
    "domain_to_ascii",
    "domain_to_unicode",
    "normalize_domain",
    "parse_address_list",
    "recover_mailbox",
]

MAX_LOCAL_OCTETS = 64
MAX_DOMAIN_OCTETS = 253
MAX_ADDRESS_OCTETS = 254
# UTS #46 maps some characters to nothing (soft hyphens, joiners), so a domain as written may be
# longer than the 253 octets it becomes; nothing real is four times longer, and cutting there
# keeps a megabyte "domain" from reaching the IDNA code at all.
_MAX_DOMAIN_INPUT = 4 * MAX_DOMAIN_OCTETS

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]"
_DOT_ATOM = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")
# No control characters, not even escaped ones: a NUL or a TAB in a stored address is trouble.
_QUOTED = re.compile(r'"(?:[^"\\\x00-\x1f\x7f]|\\[^\x00-\x1f\x7f])*"')
_HOST_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# DNS names that are not host names hold underscores: _dmarc, DKIM selectors, SPF targets.
_DNS_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_DOMAIN_LITERAL = re.compile(r"\[[^\[\]\\\s]+\]")
_UTF8 = email.charset.Charset("utf-8")
_NEEDS_QUOTES = re.compile(r'[][\\()<>@,:;".]')  # RFC 5322 specials: a phrase must quote them
_NEEDS_ESCAPE = re.compile(r'[\\"]')


# --- domains -------------------------------------------------------------------------------------


def _a_labels(name: str, label_form: re.Pattern[str]) -> str:
    """``name`` as lowercase A-labels (UTS #46 mapping, then IDNA 2008), or raise
    :class:`InvalidEmailAddress` saying why."""
    raw = name.strip().rstrip(".")
    if not raw:
        raise InvalidEmailAddress(name[:300], "empty domain")
    if len(raw) > _MAX_DOMAIN_INPUT:
        raise InvalidEmailAddress(name[:300], "domain longer than 253 octets")
    if not raw.isascii():
        try:
            raw = idna.uts46_remap(raw, std3_rules=False, transitional=False).rstrip(".")
        except ValueError as exc:  # idna.IDNAError is a UnicodeError
            raise InvalidEmailAddress(name, "domain is not valid IDNA") from exc
    labels: list[str] = []
    for label in raw.split("."):
        if not label:
            raise InvalidEmailAddress(name, "empty label in domain")
        try:
            if not label.isascii():
                ascii_label = idna.alabel(label).decode("ascii")
            else:
                ascii_label = label.lower()
                if ascii_label.startswith("xn--"):
                    idna.ulabel(ascii_label)  # an A-label must decode to a valid U-label
        except ValueError as exc:  # idna.IDNAError is a UnicodeError
            raise InvalidEmailAddress(name, "domain label is not valid IDNA") from exc
        if not label_form.fullmatch(ascii_label):
            raise InvalidEmailAddress(name, f"bad domain label {label[:70]!r}")
        labels.append(ascii_label)
    result = ".".join(labels)
    if len(result) > MAX_DOMAIN_OCTETS:
        raise InvalidEmailAddress(name[:300], "domain longer than 253 octets")
    return result


def normalize_domain(domain: str) -> str:
    """Return the mail domain as lowercase A-labels, or raise :class:`InvalidEmailAddress`.

    UTS #46 mapping then IDNA 2008 (``Straße.DE`` gives ``xn--strae-oqa.de``); an A-label must be
    a valid one; labels are host names (letters, digits, hyphens); domain literals
    (``[192.0.2.1]``) pass as written.
    """
    raw = domain.strip().rstrip(".")
    if _DOMAIN_LITERAL.fullmatch(raw):
        return raw.lower()
    return _a_labels(domain, _HOST_LABEL)


def domain_to_ascii(name: str) -> str | None:
    """A DNS name as lowercase A-labels, as :func:`normalize_domain` makes it but with
    underscores allowed (``_dmarc``, DKIM selectors), or None if it is not a valid name.

    What DKIM ``d=``, DMARC and SPF compare and look up. Never raises.
    """
    try:
        return _a_labels(name, _DNS_LABEL)
    except InvalidEmailAddress:
        return None


def domain_to_unicode(domain: str) -> str:
    """The U-label form of a domain, for people to read (``xn--bcher-kva.example`` gives
    ``bücher.example``); a label that is not a valid A-label is left as it is."""
    if "xn--" not in domain.lower():
        return domain
    out: list[str] = []
    for label in domain.split("."):
        try:
            out.append(idna.ulabel(label) if label.lower().startswith("xn--") else label)
        except (idna.IDNAError, UnicodeError):
            out.append(label)
    return ".".join(out)


# --- address values ------------------------------------------------------------------------------


def _check_local(local: str) -> str:
    if not local:
        raise InvalidEmailAddress(local, "empty local part")
    if len(local.encode("utf-8", "replace")) > MAX_LOCAL_OCTETS:
        raise InvalidEmailAddress(local[:300], "local part longer than 64 octets")
    if not (_DOT_ATOM.fullmatch(local) or _QUOTED.fullmatch(local)):
        raise InvalidEmailAddress(local, "local part is neither a dot-atom nor a quoted string")
    return local


def _clean_display_name(name: str | None) -> str | None:
    """A display name as kept: control characters and runs of white space become one space.

    Not decoded here: encoded words are decoded by the parser, once, where it knows the name is
    a name (decoding again would turn a name that reads ``=?...?=`` into something else).
    """
    if name is None:
        return None
    cleaned = " ".join(replace_controls(name).split())
    return cleaned or None


@attrs.frozen(kw_only=True)
class EmailAddress:
    """One mailbox: ``local@domain``, with an optional display name.

    Equality and hashing ignore the display name and the case of the local part. The domain is
    lowercase A-labels; the display name holds no control characters.
    """

    local: str = attrs.field(converter=_check_local, eq=str.lower)
    domain: str = attrs.field(converter=normalize_domain)
    display_name: str | None = attrs.field(
        default=None, converter=_clean_display_name, eq=False, repr=False
    )

    def __attrs_post_init__(self) -> None:
        if len(self.address.encode("utf-8", "replace")) > MAX_ADDRESS_OCTETS:
            raise InvalidEmailAddress(self.address, "address longer than 254 octets")

    @classmethod
    def parse(cls, text: str) -> EmailAddress:
        """Parse ``addr-spec``, ``Display Name <addr-spec>`` or ``addr-spec (Name)`` (RFC 5322,
        RFC 2047 encoded words in the name).

        Raises :class:`InvalidEmailAddress` for anything else, including lists and groups.
        """
        if not isinstance(text, str):
            raise InvalidEmailAddress(repr(text), "not a string")
        if not text.strip():
            raise InvalidEmailAddress(text, "empty")
        if any(c in text for c in "\r\n\x00"):
            raise InvalidEmailAddress(text, "holds a line break or NUL")
        found = list(_mailboxes(text))
        if len(found) > 1:
            raise InvalidEmailAddress(text, "more than one address")
        if not found or found[0].addr_spec is None:
            raise InvalidEmailAddress(text, "no addr-spec")
        if found[0].grouped:
            raise InvalidEmailAddress(text, "a group, not one address")
        name, (local, domain) = found[0].name(), found[0].addr_spec
        return cls(local=local, domain=domain, display_name=name)

    @property
    def address(self) -> str:
        """``local@domain`` as written (domain normalised): the form stored and sent."""
        return f"{self.local}@{self.domain}"

    @property
    def key(self) -> str:
        """The comparison key, lowercase ``local@domain``: contacts and channels are found by it."""
        return f"{self.local.lower()}@{self.domain}"

    @property
    def unicode_domain(self) -> str:
        """The domain in U-labels, for display (``bücher.example``)."""
        return domain_to_unicode(self.domain)

    @property
    def display_address(self) -> str:
        """``local@domain`` with the domain in U-labels, for display; never for comparing."""
        return f"{self.local}@{self.unicode_domain}"

    @property
    def tag(self) -> str | None:
        """The plus-tag of ``base+tag@domain``, or None."""
        if self.local.startswith('"'):
            return None
        base, plus, tag = self.local.partition("+")
        return tag if plus and base else None

    @property
    def untagged(self) -> EmailAddress:
        """The same mailbox without its plus-tag (display name kept)."""
        tag = self.tag
        if tag is None:
            return self
        return attrs.evolve(self, local=self.local[: -len(tag) - 1])

    def with_tag(self, tag: str) -> EmailAddress:
        """This mailbox with ``+tag`` (replacing any tag it had)."""
        return attrs.evolve(self.untagged, local=f"{self.untagged.local}+{tag}")

    def formatted(self) -> str:
        """The header form, RFC 2047-encoding a display name that is not plain ASCII (or that
        reads like an encoded word, which would otherwise be decoded on the way back)."""
        name = self.display_name
        if not name:
            return self.address
        if not name.isascii() or "=?" in name:
            name = _UTF8.header_encode(name)
        elif _NEEDS_QUOTES.search(name):
            name = '"' + _NEEDS_ESCAPE.sub(r"\\\g<0>", name) + '"'
        return f"{name} <{self.address}>"

    def __str__(self) -> str:
        return self.address


# --- address lists -------------------------------------------------------------------------------

# A token is (kind, raw text, value, white space before it). Kinds: "atom", "quoted" (value
# unescaped), "literal" (a domain literal), "comment" (value unescaped), or one of the specials
# below as itself.
_Token = tuple[str, str, str, bool]
# One pattern, tried at each position; the first alternative that matches is the token.
# An encoded word is one phrase word even when a sloppy encoder left a special inside it
# ("=?utf-8?Q?Smith,_John?="): it can only ever be (part of) a name.
_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r'|(?P<atom>=\?[^?\s]*\?[bBqQ]\?[^?\s]*\?=[^\s()<>@,;:".\[]*|[^\s()<>@,;:".\[]+)'
    r'|"(?P<quoted>[^"\\]*(?:\\[\s\S][^"\\]*)*)"?'
    r"|(?P<literal>\[[^\[\]\\]*(?:\\[\s\S][^\[\]\\]*)*\]?)"
    r"|(?P<special>[<>@,;:.])"
    r"|(?P<comment>\()"
    r"|(?P<other>[\s\S])"
)
_COMMENT_RUN = re.compile(r"[^()\\]+|\(+|\)+")
_QUOTED_PAIR = re.compile(r"\\([\s\S])")


def _comment(text: str, start: int) -> tuple[str, int]:
    """The unescaped content of the (nested) comment opening at ``start``, and where it ends.

    A depth counter, not recursion; an unclosed comment runs to the end of the text.
    """
    depth = 0
    parts: list[str] = []
    pos = start
    end = len(text)
    while pos < end:
        if text[pos] == "\\":
            parts.append(text[pos + 1 : pos + 2])
            pos += 2
            continue
        run = _COMMENT_RUN.match(text, pos)
        assert run is not None  # the three alternatives cover every character but "\\"
        chunk = run.group()
        if chunk[0] == "(":
            parts.append(chunk[1:] if depth == 0 else chunk)
            depth += len(chunk)
        elif chunk[0] == ")":
            if len(chunk) >= depth:
                parts.append(chunk[: depth - 1])
                return "".join(parts), pos + depth
            parts.append(chunk)
            depth -= len(chunk)
        else:
            parts.append(chunk)
        pos = run.end()
    return "".join(parts), end


def _tokens(text: str) -> Iterator[_Token]:
    """The lexical tokens of an address header, in one pass."""
    pos = 0
    end = len(text)
    space = False
    while pos < end:
        found = _TOKEN.match(text, pos)
        assert found is not None  # the last alternative matches any character
        kind, stop = found.lastgroup, found.end()
        raw = found.group()
        if kind == "space":
            pos, space = stop, True
            continue
        if kind == "comment":
            value, stop = _comment(text, pos)
            yield "comment", text[pos:stop], value, space
        elif kind == "quoted":
            yield "quoted", raw, _QUOTED_PAIR.sub(r"\1", found.group("quoted")), space
        elif kind == "special":
            yield raw, raw, raw, space
        else:  # an atom, a domain literal, or a stray ")" read as an atom
            yield ("literal" if kind == "literal" else "atom"), raw, raw, space
        pos, space = stop, False


class _Mailbox:
    """One mailbox while the parser collects it: the words before ``<``, the tokens inside
    ``<...>``, the comments. Private parser state, mutable while the parse extends it."""

    __slots__ = ("angle", "closed", "comments", "grouped", "overflow", "size", "words")

    def __init__(self, grouped: bool) -> None:
        self.size = 0
        """Tokens taken so far; past :data:`_MAX_MAILBOX_TOKENS` the mailbox is unusable."""
        self.overflow = False
        self.words: list[_Token] = []
        self.angle: list[_Token] | None = None
        self.closed = False
        self.comments: list[str] = []
        self.grouped = grouped

    def empty(self) -> bool:
        return not self.words and self.angle is None

    @property
    def addr_spec(self) -> tuple[str, str] | None:
        """(local part, domain) as written, or None when the tokens are not an addr-spec."""
        if self.overflow:
            return None
        tokens = self.angle if self.angle is not None else self.words
        ats = [i for i, t in enumerate(tokens) if t[0] == "@"]
        if len(ats) != 1:
            return None
        local = _dotted(tokens[: ats[0]], ("atom", "quoted"))
        domain = _dotted(tokens[ats[0] + 1 :], ("atom", "literal"))
        if local is None or domain is None:
            return None
        return local, domain

    def name(self) -> str | None:
        """The display name: the phrase before ``<...>``, else the first comment; decoded."""
        if self.angle is not None:
            words = [t for t in self.words if t[0] != "comment"]
            raw = "".join((" " if t[3] and i else "") + t[2] for i, t in enumerate(words))
        else:
            raw = next((c for c in self.comments if c.strip()), "")
        return decode_rfc2047(raw) or None


def _dotted(tokens: list[_Token], word_kinds: tuple[str, ...]) -> str | None:
    """Words separated by dots (white space around the dots allowed, as obs-local-part and
    obs-domain do), as written; None for two words in a row ("a b@x") or any other token."""
    out: list[str] = []
    previous_word = False
    for kind, raw, _, _ in tokens:
        if kind == ".":
            previous_word = False
        elif kind in word_kinds and not previous_word:
            previous_word = True
        else:
            return None
        out.append(raw)
    return "".join(out)


def _add_in_angle(angle: list[_Token], token: _Token) -> bool:
    """Take ``token`` into an open ``<...>``; False when it closes it (``>``, or a comma that
    is not part of an obsolete route)."""
    kind = token[0]
    if kind == ">" or (kind == "," and not (angle and angle[0][0] == "@")):
        return False
    if kind in (":", "<"):  # the end of an obsolete route "<@a,@b:x@y>"; a restart
        angle.clear()
    elif kind != "comment":
        angle.append(token)
    return True


MAX_ADDRESSES = 1_000
"""Addresses :func:`parse_address_list` keeps (the first ones, in order)."""

_MAX_MAILBOX_TOKENS = 1_000
"""Words, dots and comments one mailbox may hold. An address is at most 254 octets and a display
name a few dozen words; a megabyte "a.a.a..." domain held a million tokens (100 times its size)."""
_DELIMITERS = frozenset({",", ";", ":", "<", ">"})


def _mailboxes(text: str) -> Iterator[_Mailbox]:
    """Every non-empty mailbox of an address header, in order (groups opened up)."""
    grouped = False
    box = _Mailbox(grouped)
    for token in _tokens(text):
        kind = token[0]
        if kind not in _DELIMITERS:
            box.size += 1
            if box.size > _MAX_MAILBOX_TOKENS:  # no real mailbox is this long: keep no more of it
                box.overflow = True
                continue
        if box.angle is not None and not box.closed:
            if not _add_in_angle(box.angle, token):
                box.closed = kind == ">"
                if kind == ",":  # an unclosed "<x@y" ends at the next comma
                    yield box
                    box = _Mailbox(grouped)
            continue
        if kind in (",", ";"):
            if not box.empty():
                yield box
            grouped = grouped and kind == ","
            box = _Mailbox(grouped)
        elif kind == "comment":
            if not box.closed:
                box.comments.append(token[2])
        elif box.closed:  # more after "<x@y>": the next mailbox, though a comma is missing
            yield box
            box = _Mailbox(grouped)
            if kind == ":":
                grouped = box.grouped = True
            elif kind == "<":
                box.angle = []
            elif kind != ">":
                box.words.append(token)
        elif kind == ":":  # "Team: a@x, b@y;", and the "mailto:" some clients write
            grouped = True
            box = _Mailbox(grouped)
        elif kind == "<":
            box.angle = []
        elif kind != ">":
            box.words.append(token)
    if not box.empty():
        yield box


def parse_address_list(values: str | Iterable[str]) -> tuple[EmailAddress, ...]:
    """Every usable address in one or more address-list headers, in order; garbage is skipped.

    Give the raw header values (unfolded or not): the structure is read first, then the encoded
    words of display names are decoded. Never raises; linear in the length of the input. At most
    :data:`MAX_ADDRESSES` addresses are kept: an address costs a few hundred bytes of objects, so
    a 30 MB header of ``a@b.c,`` would otherwise hold 600 MB.
    """
    fields = [values] if isinstance(values, str) else list(values)
    found: list[EmailAddress] = []
    for field in fields:
        for box in _mailboxes(field):
            if len(found) >= MAX_ADDRESSES:
                return tuple(found)
            spec = box.addr_spec
            if spec is None:
                continue
            try:
                found.append(EmailAddress(local=spec[0], domain=spec[1], display_name=box.name()))
            except InvalidEmailAddress:
                continue
    return tuple(found)


# --- what a person reads -------------------------------------------------------------------------

_LAST_ANGLE = re.compile(r"<([^<>]*)>?[^<]*$")
_LOOSE_SPEC = re.compile(r"[^\s<>()\[\],;\"']+@[^\s<>()\[\],;\"']+")
_MAX_RECOVERED = 2000  # a field longer than this is not one a person reads as a sender


def recover_mailbox(raw: str) -> tuple[EmailAddress | None, str | None]:
    """The address and name a person reads in an address field that holds no RFC 5322 address.

    ``Test test@example.com`` gives test@example.com named "Test"; ``"x" <local part with
    spaces@example.com>`` gives the quoted local part ``"local part with spaces"@example.com``;
    ``"=?GB2312?B?...?=" <>`` and a bare ``MAILER-DAEMON`` give no address and the name as
    written (decoded). Only for fields :func:`parse_address_list` found no address in; never
    raises.
    """
    text = " ".join(replace_controls(raw[:_MAX_RECOVERED]).split())
    angle = _LAST_ANGLE.search(text)
    if angle is not None:
        spec, phrase = angle.group(1).strip(), text[: angle.start()]
    else:  # "Name name@x": the last word with an @, as a word (not inside a comment)
        words = text.split(" ")
        at = next((i for i in range(len(words) - 1, -1, -1) if "@" in words[i]), None)
        spec = "" if at is None else words[at].strip("\"'")
        phrase = text if at is None else " ".join(words[:at] + words[at + 1 :])
        if _LOOSE_SPEC.fullmatch(spec) is None:
            spec = ""
    name = _clean_display_name(decode_rfc2047(phrase.strip().strip("\"'").strip()))
    return _loose_address(spec, name), name


def _loose_address(spec: str, name: str | None) -> EmailAddress | None:
    local, at, domain = spec.rpartition("@")
    local = local.strip().strip('"').strip()
    if not at or not local:
        return None
    if not _DOT_ATOM.fullmatch(local):  # spaces and specials: the quoted form says the same
        local = '"' + _NEEDS_ESCAPE.sub(r"\\\g<0>", local) + '"'
    try:
        return EmailAddress(local=local, domain=domain.strip().rstrip("."), display_name=name)
    except InvalidEmailAddress:
        return None
