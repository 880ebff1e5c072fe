"""Finding a manually forwarded message inside a body, in the forms mail clients write it.

When an agent forwards a customer's mail to the team's inbox, the customer is named only in the
body, in a block each mail client writes its own way and in the forwarder's language::

    ---------- Forwarded message ---------            Gmail (every locale)
    -----Original Message-----                         Outlook desktop
    ________________________________                   Outlook on the web, Microsoft 365
    From: ... Sent: ... To: ... Subject: ...           new Outlook (no separator line)
    Begin forwarded message:                           Apple Mail (quoted with "> ")
    -------- Forwarded Message --------                Thunderbird
      ----- Forwarded Message ----- From: ...To: ...   Yahoo Mail (headers run into one line)
    Le 28/10/2021 12:46, "John Doe" <...> a écrit :    Outlook 2019 for Mac (reply-style)

Missive and HubSpot write Gmail's block (HubSpot in the forwarder's language), MailMate writes
``Forwarded message:`` and IONOS ``---------- Original Message ----------``, both quoted.

:func:`parse_forwarded` finds the first (outermost) such block and returns a
:class:`ForwardedMessage`. The words (separator phrases, intro lines, header labels,
attribution templates, subject prefixes) are data, one
:class:`~inboxcore.mail.forward_languages.ForwardLanguage` row per language; the rules below are
the same for all of them, and a host adds a language by passing a longer table (``languages=``).

**The subject is a hint, never proof.** How much each kind of block needs:

1. A separator or intro that says "forwarded" (``Forwarded message``, ``Begin forwarded
   message:``, ``転送されたメッセージ``) is trusted alone.
2. A separator written for replies and forwards alike (``-----Original Message-----``, the
   Outlook underscore line) counts unless the subject says reply (``Re:``, ``AW:``, ``SV:``...).
3. A bare header block (``From:``, ``Sent:``, ``To:``, ``Subject:``, new Outlook) counts under a
   forward subject, or at the very top of the body when the subject has no prefix.
4. An attribution line (``On <date>, <name> <addr> wrote:``, in any language) heads a quoted
   reply in most clients and a forward only in Outlook for Mac. It counts as a forward only when
   the subject says forward (``Fwd:``, ``FW:``, ``WG:``, ``TR:``, ``RV:``, ``ENC:``, ``I:``,
   ``Doorst:``, ``VS:``, ``ДО:``, ``转发:``, ``転送:``...) **and** it is at the very top of the body
   (nothing but blank lines above it) or the text below it is not quoted with ``>``. An
   attribution line above ``>``-quoted text that is not such a forward is a quoted reply: the
   scan stops there, so nothing quoted below it (not even a forward marker) is unwrapped, and
   the writer of the reply stays its sender.

"At the very top" is the first line with content, quote marks aside; a byte-order mark does not
count. The text before a block is the forwarder's note (``forwarder_message``).

Everything here is pure text processing: no I/O, never raises on any input.
"""

from __future__ import annotations

import enum
import functools
import itertools
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime

import attrs

from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import ConfigurationError, Problem
from inboxcore.domain.text import replace_controls
from inboxcore.mail._forward_fields import (
    _attribution_fields,
    _author,
    _compile_template,
    _mailboxes,
    _sent_at,
)
from inboxcore.mail._forward_fields import (
    _clean_mailbox_text as _clean_mailbox_text,  # explicit: the tests read it here
)
from inboxcore.mail.forward_languages import FORWARD_LANGUAGES, ForwardLanguage

__all__ = [
    "ForwardClient",
    "ForwardedMessage",
    "HEADER_LABELS",
    "SubjectKind",
    "parse_forwarded",
    "strip_subject_prefixes",
    "subject_kind",
]


class ForwardClient(enum.Enum):
    """The mail client that most likely wrote the forwarded block (a best guess from its style)."""

    GMAIL = "gmail"
    OUTLOOK = "outlook"
    APPLE_MAIL = "apple_mail"
    THUNDERBIRD = "thunderbird"
    YAHOO = "yahoo"
    MAILMATE = "mailmate"
    UNKNOWN = "unknown"


class SubjectKind(enum.Enum):
    """What a subject's leading prefix says the message is."""

    FORWARD = "forward"
    REPLY = "reply"


@attrs.frozen(kw_only=True)
class ForwardedMessage:
    """The original message of a manual forward, as far as its block in the body tells.

    ``date`` is the date as the client wrote it (often localized); ``sent_at`` is that date in
    UTC when it names its zone (an RFC 5322 date or an explicit offset), else None: a wall-clock
    time of an unknown zone would be hours off.
    """

    from_address: EmailAddress | None
    from_name: str | None
    subject: str | None
    date: str | None
    sent_at: datetime | None
    to: tuple[EmailAddress, ...] = ()
    cc: tuple[EmailAddress, ...] = ()
    reply_to: tuple[EmailAddress, ...] = ()
    body: str
    forwarder_message: str | None
    client: ForwardClient
    marker: str | None
    """The separator line as written (None for a block without one)."""


def _fold(text: str) -> str:
    # Turkish dotted capital I casefolds to "i" plus a combining dot; drop the dot so that
    # "İLETİLEN İLETİ" and "iletilen ileti" compare equal.
    # White space collapsed by a substitution: text.split() would hold a long line word by word.
    return _SPACES.sub(" ", text).strip().casefold().replace("\u0307", "")


_SPACES = re.compile(r"\s+")


# --- the rules, compiled from the language table ----------------------------------------------

_FIELDS = ("from", "to", "cc", "date", "subject", "reply_to")

# Intros that are not Apple Mail's, by the client that writes them (any other intro: Apple Mail).
_INTRO_CLIENTS: Mapping[str, ForwardClient] = {"forwarded message": ForwardClient.MAILMATE}

_MAX_SCAN_LINES = 5000
_MAX_HEADER_LINES = 100  # a forwarded header block is a few lines; more is not one
_MAX_REPLY_STYLE_LINE = 400
_HEAD_LINES = _MAX_SCAN_LINES + _MAX_HEADER_LINES + 8
"""Lines split for the scan (a block found on the last scanned line may read this far)."""
_BODY_CHUNK = 1 << 16
"""Characters of the rest of a body turned into lines at a time (a list of a chunk's lines costs
eight bytes a line, so a chunk of empty lines holds eight times its size)."""
_MAX_ATTRIBUTIONS = 50  # candidate attribution lines read per body

# The value runs to the end of the line (its trailing "*" and blanks are stripped in code: a lazy
# value before "[ \t*]*$" rescans every run of blanks inside it).
_LABEL_LINE = re.compile(
    r"^[ \t]*[*_]{0,2}(?P<label>[^\W\d_][^:：\n]{0,40}?)[*_]{0,2}[ \t]*[:：][*_]{0,2}[ \t]*"
    r"(?P<value>.*)$"
)
_DASHED = re.compile(
    r"^(?P<left>[-=]{2,})[ \t]*(?P<phrase>[^-=\n][^\n]*?)[ \t]*[-=]{2,}[ \t]*(?P<rest>.*)$"
)
_UNDERSCORES = re.compile(r"^_{10,}$")
# Possessive: nothing after the repeat can fail, and a line of 10**5 ">" would otherwise keep a
# backtracking mark per quote (50 MB).
_QUOTE_PREFIX = re.compile(r"^(?:[ \t]*>)++[ \t]?")
_ONE_QUOTE = re.compile(r"[ \t]*>[ \t]?")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_SUBJECT_PREFIX = re.compile(
    r"^[ \t]*(?P<prefix>[^\W\d_][^\W\d_.]{0,19}\.?)[ \t]*(?:\[\d+\])?[ \t]*[:：][ \t]*"
)
# An address as attribution lines write it: bare, <x@y>, [x@y], (x@y), [mailto:x@y], (<x@y>).
_ADDR = re.compile(
    r"[\[<(]{0,2} ?(?:mailto:)?(?P<addr>[^\s<>\[\]()\"',;:@]+@[^\s<>\[\]()\"',;:@]+) ?[\]>)]{0,2}",
    re.IGNORECASE,
)


@attrs.frozen(kw_only=True)
class _Rules:
    """A language table compiled for the scanner."""

    label_field: Mapping[str, str]
    inline_label: re.Pattern[str]
    forward_phrases: tuple[str, ...]
    original_phrases: tuple[str, ...]
    intros: Mapping[str, ForwardClient]
    reply_style: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...]
    forward_prefixes: frozenset[str]
    reply_prefixes: frozenset[str]


def _labels_of(language: ForwardLanguage, field: str) -> tuple[str, ...]:
    labels: tuple[str, ...] = getattr(language, f"{field}_labels")
    return labels


def _label_fields(languages: Sequence[ForwardLanguage]) -> dict[str, str]:
    """Every label's field; a label naming two fields makes the table unreadable: refused."""
    found: dict[str, str] = {}
    problems: list[Problem] = []
    for language in languages:
        for field in _FIELDS:
            for label in _labels_of(language, field):
                key = _fold(label)
                if found.setdefault(key, field) != field:
                    problems.append(
                        Problem(
                            code="forward_languages.label_clash",
                            message=f"the label {label!r} ({language.code}) names both "
                            f"{found[key]} and {field}",
                            field="languages",
                        )
                    )
    if problems:
        raise ConfigurationError(problems)
    return found


@functools.lru_cache(maxsize=8)
def _compile(languages: tuple[ForwardLanguage, ...]) -> _Rules:
    label_field = _label_fields(languages)
    every_label = {label for lang in languages for f in _FIELDS for label in _labels_of(lang, f)}
    labels = sorted(every_label, key=len, reverse=True)  # the longest first: "De la" before "De"
    forward = {_fold(p) for language in languages for p in language.forward_prefixes}
    reply = {_fold(p) for language in languages for p in language.reply_prefixes}
    return _Rules(
        label_field=label_field,
        inline_label=re.compile(
            "(?P<label>" + "|".join(re.escape(label) for label in labels) + r")[ \t]*[:：][ \t]*"
        ),
        forward_phrases=tuple(_fold(p) for lang in languages for p in lang.forward_markers),
        original_phrases=tuple(_fold(p) for lang in languages for p in lang.original_markers),
        intros={
            _fold(p): _INTRO_CLIENTS.get(_fold(p), ForwardClient.APPLE_MAIL)
            for language in languages
            for p in language.forward_intros
        },
        reply_style=tuple(
            _compile_template(t) for language in languages for t in language.reply_templates
        ),
        # Danish "VS" forwards, Finnish "VS" replies: the forward reading wins (module docs).
        forward_prefixes=frozenset(forward),
        reply_prefixes=frozenset(reply - forward),
    )


def _rules(languages: Sequence[ForwardLanguage]) -> _Rules:
    if languages is FORWARD_LANGUAGES:
        return _DEFAULT_RULES
    table = tuple(languages)
    if not all(isinstance(language, ForwardLanguage) for language in table):
        raise TypeError("languages must be a sequence of ForwardLanguage values")
    return _compile(table)


_DEFAULT_RULES = _compile(FORWARD_LANGUAGES)


def _spellings(field: str) -> tuple[str, ...]:
    """The field's labels in table order, each once (its first spelling: "Cc", not "CC")."""
    seen: dict[str, str] = {}
    for language in FORWARD_LANGUAGES:
        for label in _labels_of(language, field):
            seen.setdefault(_fold(label), label)
    return tuple(seen.values())


HEADER_LABELS: Mapping[str, tuple[str, ...]] = {field: _spellings(field) for field in _FIELDS}
"""Header labels of forwarded blocks, per field, in every language of :data:`FORWARD_LANGUAGES`."""


# --- subjects -----------------------------------------------------------------------------------


def _prefixes(subject: str, rules: _Rules) -> tuple[list[str], str]:
    found: list[str] = []
    rest = subject
    for _ in range(10):
        match = _SUBJECT_PREFIX.match(rest)
        if not match:
            break
        prefix = _fold(match.group("prefix"))
        if prefix not in rules.forward_prefixes and prefix not in rules.reply_prefixes:
            break
        found.append(prefix)
        rest = rest[match.end() :]
    return found, rest


def subject_kind(
    subject: str | None, *, languages: Sequence[ForwardLanguage] = FORWARD_LANGUAGES
) -> SubjectKind | None:
    """What the subject's first prefix says (``Fwd:``/``WG:``/``TR:``... or ``Re:``/``AW:``...).

    A hint only: a subject is typed by people and rewritten by clients.
    """
    return _kind(subject, _rules(languages))


def strip_subject_prefixes(
    subject: str, *, languages: Sequence[ForwardLanguage] = FORWARD_LANGUAGES
) -> str:
    """The subject without its reply and forward prefixes: ``Fwd: Re: Hello`` -> ``Hello``."""
    _, rest = _prefixes(subject, _rules(languages))
    return rest.strip()


# --- the scanner --------------------------------------------------------------------------------


def _normalise(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    return text.split("\n")


class _Head(list[str]):
    """The first :data:`_HEAD_LINES` lines of a text, normalised; the text after them stays one
    string (``text[rest:]``), read only for a block's body: a long message is never held as a
    list of lines."""

    def __init__(self, text: str) -> None:
        rest = len(text)
        for count, match in enumerate(_LINE_BREAK.finditer(text), start=1):
            if count == _HEAD_LINES:
                rest = match.end()
                break
        lines = _normalise(text[:rest])
        if rest < len(text):
            lines.pop()  # the empty string after the last line break: the rest begins there
        super().__init__(lines)
        self.text = text
        self.rest = rest

    def chunks(self, start: int) -> Iterator[list[str]]:
        """The lines from ``start`` to the end of the text, a chunk of lines at a time."""
        yield self[start:]
        text, position = self.text, self.rest
        while position < len(text):
            end = text.find("\n", position + _BODY_CHUNK)
            end = len(text) if end < 0 else end
            piece = text[position:end]
            if end < len(text) and piece.endswith("\r"):
                piece = piece[:-1]  # the "\r" of a "\r\n" cut at its "\n"
            yield _normalise(piece)
            position = end + 1


def _depth(line: str) -> int:
    match = _QUOTE_PREFIX.match(line)
    return match.group(0).count(">") if match else 0


def _unquote(line: str, depth: int) -> str:
    position = 0
    for _ in range(depth):
        match = _ONE_QUOTE.match(line, position)
        if not match:
            break
        position = match.end()
    return line[position:]


def _content(line: str) -> str:
    return _QUOTE_PREFIX.sub("", line, count=1).strip()


def _label_field(line: str, rules: _Rules) -> tuple[str, str] | None:
    match = _LABEL_LINE.match(line)
    if not match:
        return None
    field = rules.label_field.get(_fold(match.group("label")))
    if field is None:
        return None
    return field, match.group("value").rstrip(" \t*").strip()


@attrs.frozen(kw_only=True)
class _Headers:
    fields: dict[str, str]
    end: int
    """Index of the first line after the header block."""


def _read_headers(lines: Sequence[str], start: int, depth: int, rules: _Rules) -> _Headers:
    """Read ``Label: value`` lines from ``start``, skipping blank lines before the first."""
    fields: dict[str, str] = {}
    index = start
    skipped = 0
    while index < len(lines) and not _unquote(lines[index], depth).strip() and skipped < 3:
        index += 1
        skipped += 1
    last: str | None = None
    limit = min(len(lines), index + _MAX_HEADER_LINES)
    while index < limit:
        line = _unquote(lines[index], depth)
        if not line.strip():
            # Text derived from HTML may hold a blank line between header lines: continue
            # only when a header the block has not had yet follows at once.
            following = index + 1
            if following < len(lines) and fields:
                upcoming = _label_field(_unquote(lines[following], depth), rules)
                if upcoming is not None and upcoming[0] not in fields:
                    index = following
                    continue
            break
        found = _label_field(line, rules)
        if found is not None:
            field, value = found
            if field in fields and field in {"to", "cc"}:
                fields[field] += ", " + value
            elif field in fields:
                # A repeated label (a second From:) starts another block: stop here.
                break
            else:
                fields[field] = value
            last = field
        elif last in {"to", "cc", "from"} and line[:1] in {" ", "\t"} and "@" in line:
            fields[last] += " " + line.strip()
        else:
            break
        index += 1
    return _Headers(fields=fields, end=index)


def _inline_headers(rest: str, rules: _Rules) -> dict[str, str]:
    """Split Yahoo's ``From: a <a@x>To: b <b@y>Sent: ...Subject: s`` run into fields."""
    fields: dict[str, str] = {}
    matches = list(rules.inline_label.finditer(rest))
    for position, match in enumerate(matches):
        end = matches[position + 1].start() if position + 1 < len(matches) else len(rest)
        field = rules.label_field.get(_fold(match.group("label")))
        if field is not None and field not in fields:
            fields[field] = rest[match.end() : end].strip()
        if field == "subject":
            fields[field] = rest[match.end() :].strip()
            break
    return fields


def _body(lines: _Head, start: int) -> str:
    """The block's body: the lines from ``start`` unquoted to the depth of the first line with
    text, blank lines emptied, trailing blanks and the common indentation removed (the rule of
    :func:`textwrap.dedent`). Built a chunk of lines at a time, so that a long body is held as
    its pieces and the result, never as a list of lines."""
    depth: int | None = None
    margin: str | None = None
    pieces: list[str] = []
    for chunk in lines.chunks(start):
        if depth is None:
            depth = next((_depth(line) for line in chunk if line.strip()), None)
        out = [_unquote(line, depth or 0) for line in chunk]
        out = ["" if not line.strip() else line.rstrip() for line in out]
        margin = _margin(margin, out)
        pieces.append("\n".join(out))
    if margin:
        indented = re.compile("^" + margin, re.M)
        pieces = [indented.sub("", piece) for piece in pieces]
    body = "\n".join(pieces)
    pieces.clear()  # before the strip's copy: the body is held twice at most, never three times
    return body.strip()


def _margin(margin: str | None, lines: Sequence[str]) -> str | None:
    """The white space every non-empty line of ``lines`` starts with, within ``margin`` (None:
    no line yet), as :func:`textwrap.dedent` finds it."""
    for line in lines:
        if not line:
            continue
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if margin is None or margin.startswith(indent):
            margin = indent
        elif not indent.startswith(margin):
            common = 0
            while margin[common] == indent[common]:  # they differ before either ends
                common += 1
            margin = margin[:common]
    return margin


def _above(lines: Sequence[str], index: int) -> str | None:
    text = "\n".join(line.rstrip() for line in lines[:index]).strip()
    return text or None


# --- the decision -------------------------------------------------------------------------------


class _Stop(enum.Enum):
    QUOTED_REPLY = "quoted_reply"
    """An attribution line heading a quoted reply: what follows is history, not a forward."""


@attrs.define(kw_only=True)
class _Scan:
    """One body being scanned: its lines, what its subject says, the compiled rules, and how
    many candidate attribution lines were read (the only state that changes during a scan)."""

    lines: _Head
    subject: str | None
    kind: SubjectKind | None
    first: int
    """Index of the first line with content (quote marks aside): a block there is at the top."""
    rules: _Rules
    attributions: int = 0


def _message(
    scan: _Scan,
    *,
    marker_index: int | None,
    fields: Mapping[str, str],
    body_start: int,
    client: ForwardClient,
    forwarder_end: int,
) -> ForwardedMessage:
    lines = scan.lines
    author, name = _author(fields.get("from"))
    block_subject = fields.get("subject")
    if block_subject is None and scan.kind is SubjectKind.FORWARD and scan.subject:
        block_subject = _prefixes(scan.subject, scan.rules)[1].strip()
    if block_subject is not None:  # kept as the conversation's subject, reused in replies
        block_subject = replace_controls(block_subject)
    return ForwardedMessage(
        from_address=author,
        from_name=name,
        subject=block_subject,
        date=fields.get("date") or None,
        sent_at=_sent_at(fields.get("date")),
        to=_mailboxes(fields.get("to")),
        cc=_mailboxes(fields.get("cc")),
        reply_to=_mailboxes(fields.get("reply_to")),
        body=_body(lines, body_start),
        forwarder_message=_above(lines, forwarder_end),
        client=client,
        marker=None if marker_index is None else lines[marker_index].strip() or None,
    )


def _dashed_client(left: str, phrase: str, strong: bool) -> ForwardClient:
    dashes = len(left)
    if dashes >= 9 and strong:
        return ForwardClient.GMAIL
    if dashes == 8:
        return ForwardClient.THUNDERBIRD
    if dashes == 5 and not strong and not phrase.startswith(" "):
        return ForwardClient.OUTLOOK
    return ForwardClient.UNKNOWN


def _phrase_strength(phrase: str, rules: _Rules) -> bool | None:
    """True: says forwarded; False: "original message" (reply or forward); None: neither."""
    folded = _fold(phrase)
    if any(p in folded for p in rules.forward_phrases):
        return True
    if any(p in folded for p in rules.original_phrases):
        return False
    return None


def _intro(scan: _Scan, index: int, content: str, depth: int) -> ForwardedMessage | None:
    """Apple Mail, MailMate: a whole line ending in a colon (``Begin forwarded message:``)."""
    if not content.endswith((":", "：")):
        return None
    client = scan.rules.intros.get(_fold(content.rstrip(":： \t")))
    if client is None:
        return None
    lines = scan.lines
    limit = min(len(lines), index + 1 + _MAX_HEADER_LINES)
    after = next((i for i in range(index + 1, limit) if lines[i].strip(" \t>")), limit)
    header_depth = _depth(lines[after]) if after < len(lines) else depth
    headers = _read_headers(lines, index + 1, header_depth, scan.rules)
    if "from" not in headers.fields:
        return None
    return _message(
        scan,
        marker_index=index,
        fields=headers.fields,
        body_start=headers.end,
        client=client,
        forwarder_end=index,
    )


def _dashed(scan: _Scan, index: int, content: str, depth: int) -> ForwardedMessage | None:
    """Gmail, Thunderbird, Yahoo, HubSpot, Missive, Outlook desktop, IONOS: a dashed phrase."""
    dashed = _DASHED.match(content)
    if dashed is None:
        return None
    strong = _phrase_strength(dashed.group("phrase"), scan.rules)
    if strong is None or (not strong and scan.kind is SubjectKind.REPLY):
        return None
    rest = dashed.group("rest")
    if rest and not rest.endswith(("-", "=")):
        fields = _inline_headers(rest, scan.rules)
        if "from" not in fields:
            return None
        return _message(
            scan,
            marker_index=index,
            fields=fields,
            body_start=index + 1,
            client=ForwardClient.YAHOO,
            forwarder_end=index,
        )
    headers = _read_headers(scan.lines, index + 1, depth, scan.rules)
    fields, end = headers.fields, headers.end
    if "from" not in fields and strong:
        # Yandex, Mail.ru: the marker, then "27.10.2021, 09:31, "Name" <addr>:" for a header.
        following = _next_content(scan.lines, index + 1)
        attributed = None if following is None else _attribution(scan, following)
        if attributed is not None:
            fields, end = attributed.fields, attributed.end
    if "from" not in fields and not strong:
        return None
    left = dashed.group("left")
    spaced = content[len(left) : len(left) + 1] == " "
    return _message(
        scan,
        marker_index=index,
        fields=fields,
        body_start=end,
        client=_dashed_client(left, " " if spaced else "", strong),
        forwarder_end=index,
    )


def _underscores(scan: _Scan, index: int, content: str, depth: int) -> ForwardedMessage | None:
    """Outlook on the web and Microsoft 365: a line of underscores above a header block."""
    if not _UNDERSCORES.match(content) or scan.kind is SubjectKind.REPLY:
        return None
    headers = _read_headers(scan.lines, index + 1, depth, scan.rules)
    if "from" not in headers.fields or len(headers.fields) < 2:
        return None
    return _message(
        scan,
        marker_index=index,
        fields=headers.fields,
        body_start=headers.end,
        client=ForwardClient.OUTLOOK,
        forwarder_end=index,
    )


def _bare_block(scan: _Scan, index: int, depth: int) -> ForwardedMessage | None:
    """New Outlook: the header block alone, From first, under a forward subject or at the top."""
    if not (scan.kind is SubjectKind.FORWARD or (scan.kind is None and index <= scan.first)):
        return None
    label = _label_field(_unquote(scan.lines[index], depth), scan.rules)
    if label is None or label[0] != "from":
        return None
    headers = _read_headers(scan.lines, index, depth, scan.rules)
    fields = headers.fields
    if len(fields) < 3 or not ("subject" in fields or "date" in fields):
        return None
    return _message(
        scan,
        marker_index=None,
        fields=fields,
        body_start=headers.end,
        client=ForwardClient.OUTLOOK,
        forwarder_end=index,
    )


# --- attribution lines ("On <date>, <name> <addr> wrote:") --------------------------------------


@attrs.frozen(kw_only=True)
class _Attribution:
    fields: dict[str, str]
    end: int
    """Index of the first line after the attribution (which may take two lines)."""


def _next_content(lines: Sequence[str], start: int) -> int | None:
    """The index of the first line with content from ``start``, within a few blank lines."""
    for index in range(start, min(len(lines), start + 4)):
        if _content(lines[index]):
            return index
    return None


def _attribution(scan: _Scan, index: int) -> _Attribution | None:
    """The attribution line at ``index`` (Gmail wraps it: then it takes two lines), or None."""
    lines = scan.lines
    text, end = _content(lines[index]), index + 1
    if not text.endswith((":", "：")) and end < len(lines):
        if not lines[end].rstrip().endswith((":", "：")):
            return None
        text, end = text + " " + _content(lines[end]), end + 1
    if len(text) > _MAX_REPLY_STYLE_LINE or "@" not in text or not text.endswith((":", "：")):
        return None
    # Each candidate costs a match per template: bounding them keeps a body of thousands of
    # "... <a@b> wrote:" lines linear. Real mail has a handful.
    scan.attributions += 1
    if scan.attributions > _MAX_ATTRIBUTIONS:
        return None
    text = " ".join(text.split())
    for found in itertools.islice(_ADDR.finditer(text), 3):
        head, tail = text[: found.start()], text[found.end() :]
        for before_pattern, after_pattern in scan.rules.reply_style:
            after = after_pattern.fullmatch(tail)
            before = before_pattern.fullmatch(head) if after else None
            if after and before:
                fields = _attribution_fields(before, after, found.group("addr"))
                return _Attribution(fields=fields, end=end)
    return None


def _quoted_below(lines: Sequence[str], start: int) -> bool:
    following = _next_content(lines, start)
    return following is not None and _depth(lines[following]) > 0


def _reply_style(scan: _Scan, index: int) -> ForwardedMessage | _Stop | None:
    """An attribution line heads a forward only under a forward subject, and then only at the
    very top of the body or above text that is not quoted with ">" (Outlook for Mac indents a
    forward); one above ">"-quoted lines is a reply, and ends the scan."""
    found = _attribution(scan, index)
    if found is None:
        return None
    quoted = _quoted_below(scan.lines, found.end)
    if scan.kind is SubjectKind.FORWARD and (index <= scan.first or not quoted):
        return _message(
            scan,
            marker_index=index,
            fields=found.fields,
            body_start=found.end,
            client=ForwardClient.OUTLOOK,
            forwarder_end=index,
        )
    return _Stop.QUOTED_REPLY if quoted else None


# --- the scan -----------------------------------------------------------------------------------


def _at(scan: _Scan, index: int) -> ForwardedMessage | _Stop | None:
    raw = scan.lines[index]
    content = _content(raw)
    if not content:
        return None
    depth = _depth(raw)
    return (
        _intro(scan, index, content, depth)
        or _dashed(scan, index, content, depth)
        or _underscores(scan, index, content, depth)
        or _bare_block(scan, index, depth)
        or _reply_style(scan, index)
    )


def _kind(subject: str | None, rules: _Rules) -> SubjectKind | None:
    if not subject:
        return None
    found, _ = _prefixes(subject, rules)
    if not found:
        return None
    return SubjectKind.FORWARD if found[0] in rules.forward_prefixes else SubjectKind.REPLY


def parse_forwarded(
    text: str,
    subject: str | None = None,
    *,
    languages: Sequence[ForwardLanguage] = FORWARD_LANGUAGES,
) -> ForwardedMessage | None:
    """The first (outermost) forwarded message in ``text``, or None when there is none.

    ``subject`` is the forwarding message's subject, used as a hint for markers that replies
    use too (see the module documentation). ``languages`` is the table of words to read
    (:data:`~inboxcore.mail.forward_languages.FORWARD_LANGUAGES` unless a host adds its own).
    Never raises on any text or subject; a language table where a label names two fields
    raises :class:`~inboxcore.domain.errors.ConfigurationError`.
    """
    rules = _rules(languages)
    if not isinstance(text, str) or not text:
        return None
    subject = subject if isinstance(subject, str) else None
    lines = _Head(text)
    first = next((i for i, line in enumerate(lines) if _content(line)), len(lines))
    scan = _Scan(lines=lines, subject=subject, kind=_kind(subject, rules), first=first, rules=rules)
    for index in range(min(len(lines), _MAX_SCAN_LINES)):
        found = _at(scan, index)
        if found is _Stop.QUOTED_REPLY:
            return None
        if found is not None:
            return found
    return None
