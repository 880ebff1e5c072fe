"""Email addresses as values.

An :class:`EmailAddress` keeps the local part as written (RFC 5321 says only the receiving host may
interpret it) but compares it case-insensitively, because every mailbox provider a helpdesk meets
does; the domain is normalised to lowercase A-labels (IDNA), so ``Støtte@BÜCHER.example`` and
``støtte@xn--bcher-kva.example`` are the same mailbox. Plus-tags (``support+vip@``) stay part of
the address and are exposed through :attr:`EmailAddress.tag` and :attr:`EmailAddress.untagged`.
"""

from __future__ import annotations

import email.header
import email.utils
import re
from collections.abc import Iterable

import attrs

from inboxcore.domain.errors import InvalidEmailAddress

__all__ = [
    "EmailAddress",
    "decode_rfc2047",
    "normalize_domain",
    "parse_address_list",
]

MAX_LOCAL_OCTETS = 64
MAX_DOMAIN_OCTETS = 253
MAX_ADDRESS_OCTETS = 254

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]"
_DOT_ATOM = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")
_QUOTED = re.compile(r'"(?:[^"\\\r\n]|\\.)*"')
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_DOMAIN_LITERAL = re.compile(r"\[[^\[\]\\\s]+\]")


def decode_rfc2047(text: str) -> str:
    """Decode RFC 2047 encoded words; unknown or wrong charsets fall back rather than fail."""
    if "=?" not in text:
        return text
    try:
        parts = email.header.decode_header(text)
    except (ValueError, LookupError, AssertionError):
        return text
    try:
        return str(email.header.make_header(parts))
    except (LookupError, UnicodeDecodeError):
        pass
    # An unknown or lying charset: decode each word with fallbacks. Adjacent encoded words join
    # without space (RFC 2047 section 6.2); plain text keeps its own spacing.
    out: list[str] = []
    for chunk, charset in parts:
        if isinstance(chunk, str):
            out.append(chunk)
        else:
            out.append(_decode_bytes(chunk, charset))
    return "".join(out)


def _decode_bytes(chunk: bytes, charset: str | None) -> str:
    for candidate in (charset, "utf-8"):
        if candidate is None:
            continue
        try:
            return chunk.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return chunk.decode("latin-1")


def normalize_domain(domain: str) -> str:
    """Return the domain as lowercase A-labels, or raise :class:`InvalidEmailAddress`."""
    raw = domain.strip().rstrip(".")
    if not raw:
        raise InvalidEmailAddress(domain, "empty domain")
    if _DOMAIN_LITERAL.fullmatch(raw):
        return raw.lower()
    labels: list[str] = []
    for label in raw.split("."):
        if not label:
            raise InvalidEmailAddress(domain, "empty label in domain")
        try:
            ascii_label = label.encode("idna").decode("ascii").lower()
        except UnicodeError as exc:
            raise InvalidEmailAddress(domain, "domain label is not valid IDNA") from exc
        if not _LABEL.fullmatch(ascii_label):
            raise InvalidEmailAddress(domain, f"bad domain label {label!r}")
        labels.append(ascii_label)
    result = ".".join(labels)
    if len(result) > MAX_DOMAIN_OCTETS:
        raise InvalidEmailAddress(domain, "domain longer than 253 octets")
    return result


def _check_local(local: str) -> str:
    if not local:
        raise InvalidEmailAddress(local, "empty local part")
    if len(local.encode("utf-8")) > MAX_LOCAL_OCTETS:
        raise InvalidEmailAddress(local, "local part longer than 64 octets")
    if not (_DOT_ATOM.fullmatch(local) or _QUOTED.fullmatch(local)):
        raise InvalidEmailAddress(local, "local part is neither a dot-atom nor a quoted string")
    return local


def _split_name_addr(text: str) -> tuple[str | None, str]:
    """Split ``Name <addr>``, ``addr (comment)`` or a bare ``addr``, keeping the addr-spec as
    written (``email.utils.parseaddr`` silently drops white space inside it)."""
    if text.endswith(">") and "<" in text:
        lt = text.rfind("<")
        name = text[:lt].strip()
        if len(name) >= 2 and name[0] == name[-1] == '"':
            name = email.utils.unquote(name)
        return name or None, text[lt + 1 : -1].strip()
    if text.endswith(")") and "(" in text:
        lp = text.find("(")
        return text[lp + 1 : -1].strip() or None, text[:lp].strip()
    return None, text


def _clean_display_name(name: str | None) -> str | None:
    if name is None:
        return None
    cleaned = " ".join(decode_rfc2047(name).split())
    return cleaned or None


@attrs.frozen(kw_only=True)
class EmailAddress:
    """One mailbox: ``local@domain``, with an optional display name.

    Equality and hashing ignore the display name and the case of the local part.
    """

    local: str = attrs.field(converter=_check_local, eq=str.lower)
    domain: str = attrs.field(converter=normalize_domain)
    display_name: str | None = attrs.field(
        default=None, converter=_clean_display_name, eq=False, repr=False
    )

    def __attrs_post_init__(self) -> None:
        if len(self.address.encode("utf-8")) > MAX_ADDRESS_OCTETS:
            raise InvalidEmailAddress(self.address, "address longer than 254 octets")

    @classmethod
    def parse(cls, text: str) -> EmailAddress:
        """Parse ``addr-spec`` or ``Display Name <addr-spec>`` (RFC 5322, RFC 2047 names).

        Raises :class:`InvalidEmailAddress` for anything else, including lists of addresses.
        """
        if not isinstance(text, str):
            raise InvalidEmailAddress(repr(text), "not a string")
        stripped = text.strip()
        if not stripped:
            raise InvalidEmailAddress(text, "empty")
        if any(c in stripped for c in "\r\n\x00"):
            raise InvalidEmailAddress(text, "holds a line break or NUL")
        if "," in stripped and stripped.count("@") > 1 and "<" not in stripped:
            raise InvalidEmailAddress(text, "more than one address")
        name, addr = _split_name_addr(stripped)
        local, at, domain = addr.rpartition("@")
        if not at:
            raise InvalidEmailAddress(text, "no addr-spec")
        return cls(local=local, domain=domain, display_name=name or None)

    @property
    def address(self) -> str:
        """``local@domain`` as written (domain normalised)."""
        return f"{self.local}@{self.domain}"

    @property
    def key(self) -> str:
        """The comparison key, lowercase ``local@domain``: contacts and channels are found by it."""
        return f"{self.local.lower()}@{self.domain}"

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
        """The header form, RFC 2047-encoding a non-ASCII display name."""
        if not self.display_name:
            return self.address
        return email.utils.formataddr((self.display_name, self.address), charset="utf-8")

    def __str__(self) -> str:
        return self.address


def parse_address_list(values: str | Iterable[str]) -> tuple[EmailAddress, ...]:
    """Every usable address in one or more address-list headers, in order; garbage is skipped."""
    fields = [values] if isinstance(values, str) else list(values)
    found: list[EmailAddress] = []
    for name, addr in email.utils.getaddresses(
        [f.replace("\r", " ").replace("\n", " ") for f in fields]
    ):
        if not addr:
            continue
        local, at, domain = addr.rpartition("@")
        if not at:
            continue
        try:
            found.append(EmailAddress(local=local, domain=domain, display_name=name or None))
        except InvalidEmailAddress:
            continue
    return tuple(found)
