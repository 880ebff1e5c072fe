"""The values a forwarded block names, read from the forms mail clients write them in.

The mailboxes of a block's From, To, Cc and Reply-To lines (``[mailto:...]``, ``(addr)``,
Outlook's ``addr <addr>``) made RFC 5322 ones, display names cleaned, the sent date in UTC when
its zone is known, and the author and date an attribution line ("On <date>, <name> <addr>
wrote:") names, with the patterns a language's attribution templates compile to. The field
readers of :mod:`inboxcore.mail.forwards`. Pure: no I/O.
"""

from __future__ import annotations

import email.utils
import re
import warnings
from datetime import UTC, datetime

import attrs
from dateutil import parser as dateutil_parser

from inboxcore.domain.addresses import EmailAddress, parse_address_list
from inboxcore.domain.text import replace_controls

__all__: list[str] = []

# --- mailboxes and dates ------------------------------------------------------------------------

_MAILTO_NESTED = re.compile(r"<([^<>]*)<mailto:[^<>]*>>", re.IGNORECASE)
# Linear on any value: a local part holds no "@" (one way to split a run at its "@", not one per
# "@" in it) and a bracket's content no opening bracket (each opening scans to its own close).
_MAILTO_BRACKET = re.compile(r"[\[<]mailto:([^\]>\[<]*)[\]>]", re.IGNORECASE)
_SQUARE_ADDR = re.compile(r"\[([^\[\]\s@]++@[^\[\]\s]+)\]")
_PAREN_ADDR = re.compile(r"\(\s*+<?([^()<>\s@]++@[^()<>\s]+?)>?\s*\)")
_SINGLE_QUOTED_NAME = re.compile(r"'([^'<>]*)'\s*<")
_ONE_MAILBOX = re.compile(r"^\s*(?P<name>[^<>@\s][^<>@]*)<[^<>@\s]+@[^<>@\s]+>\s*$")
_ADDRESS_AS_NAME = re.compile(r"(^|[,;]\s*+)([^\s<>,;\"'@]++@[^\s<>,;\"']+)\s*<")


def _clean_mailbox_text(value: str) -> str:
    """Rewrite the client-specific mailbox forms into RFC 5322 ones."""
    text = _MAILTO_NESTED.sub(r"<\1>", value)
    text = _MAILTO_BRACKET.sub(r"<\1>", text)
    text = _SQUARE_ADDR.sub(r"<\1>", text)
    text = _PAREN_ADDR.sub(r"<\1>", text)
    text = _SINGLE_QUOTED_NAME.sub(lambda m: '"' + m.group(1).replace('"', "") + '" <', text)
    # Outlook's "x@y <x@y>": an unquoted address as display name would read as two mailboxes.
    text = _ADDRESS_AS_NAME.sub(r'\1"\2" <', text)
    return text.replace(";", ",")


def _clean_name(name: str | None) -> str | None:
    if not name:
        return None
    cleaned = " ".join(replace_controls(name).split()).strip("\"'“”„«» ")
    return cleaned or None


def _mailboxes(value: str | None) -> tuple[EmailAddress, ...]:
    if not value:
        return ()
    found = []
    for address in parse_address_list(_clean_mailbox_text(value)):
        name = _clean_name(address.display_name)
        if name is not None and name.casefold() == address.address.casefold():
            name = None
        found.append(attrs.evolve(address, display_name=name))
    return tuple(found)


def _author(value: str | None) -> tuple[EmailAddress | None, str | None]:
    """The author's address and name; a name alone when the block shows no address."""
    if not value:
        return None, None
    found = _mailboxes(value)
    if found:
        # One author: an unquoted comma is part of the name (Outlook's "Doe, John <x@y>").
        whole = _ONE_MAILBOX.match(_clean_mailbox_text(value))
        name = _clean_name(whole.group("name")) if whole else found[0].display_name
        if name is not None and name.casefold() == found[0].address.casefold():
            name = None
        return attrs.evolve(found[0], display_name=name), name
    if "@" in value:
        return None, None
    return None, _clean_name(value)


def _sent_at(text: str | None) -> datetime | None:
    if not text:
        return None
    parsed: datetime | None
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        parsed = None
    if parsed is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                parsed = dateutil_parser.parse(text.replace(" at ", " "))
            except (ValueError, OverflowError, TypeError, LookupError):
                return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return None
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


# --- attribution lines ("On <date>, <name> <addr> wrote:") --------------------------------------

# Where the person's name begins inside what a template took for it: after a quoted name's
# opening quote, else after the last time or year ("at 11:43, John Doe" is John Doe).
_QUOTED_TAIL = re.compile(r"[\"“„«]([^\"“”„«»]*)[\"”“»]\s*$")
_DATE_TOKEN = re.compile(
    r"\d{1,2}[:.h]\d{2}(?:[:.]\d{2})?(?:\s*[AaPp]\.?\s?[Mm]\b\.?)?"
    r"(?:\s*(?:GMT|UTC)(?:\s*[+-]\s*\d{1,2}(?::?\d{2})?)?)?(?:\s*Uhr\b)?"
    r"|\b\d{4}\b"
)


def _compile_part(part: str) -> re.Pattern[str]:
    out: list[str] = []
    for piece in re.split(r"(\{date\}|\{name\}| |[:：])", part):
        if piece == "{date}":
            # A date holds a digit; requiring one keeps "On Mon, ..." from ending at "Mon".
            out.append(r"(?P<date>[^\d]*\d.*?)")
        elif piece == "{name}":
            out.append(r"(?P<name>[^<>\[\]()@]*?)")
        elif piece == " ":
            out.append(" ?")  # the line's white space is collapsed before matching
        elif piece in (":", "："):
            out.append("[:：]")
        elif piece:
            out.append(re.escape(piece))
    return re.compile("".join(out), re.IGNORECASE)


def _compile_template(template: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The template's parts before and after ``{addr}``, matched on each side of an address
    found first: an address pattern inside the template would backtrack over the whole line."""
    before, after = template.split("{addr}")
    return _compile_part(before), _compile_part(after)


def _name_start(text: str) -> int:
    quoted = _QUOTED_TAIL.search(text)
    if quoted is not None:
        return quoted.start()
    last = None
    for last in _DATE_TOKEN.finditer(text):  # noqa: B007 (the last match is wanted)
        pass
    if last is None:
        return 0
    name = text[last.end() :].lstrip(" ,;-")
    return len(text) - len(name) if name.strip() else 0


def _group(match: re.Match[str], name: str) -> str | None:
    return match.group(name) if name in match.re.groupindex else None


def _attribution_fields(
    before: re.Match[str], after: re.Match[str], address: str
) -> dict[str, str]:
    name = _group(before, "name")
    date = _group(before, "date") or _group(after, "date")
    if name and _group(before, "date"):
        # The lazy date stops at the first separator ("On 25 Oct 2021, at 11:43, John Doe"):
        # the rest of the date went into the name; move it back.
        cut = _name_start(name)
        if cut:
            date = before.string[before.start("date") : before.start("name") + cut]
            name = name[cut:]
    cleaned = _clean_name((name or "").replace('"', " "))
    fields = {"from": f'"{cleaned}" <{address}>' if cleaned else f"<{address}>"}
    if date and date.strip(" ,"):
        fields["date"] = date.strip(" ,")
    return fields
