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

:func:`parse_forwarded` finds the first (outermost) such block and returns a
:class:`ForwardedMessage`. Marker lines and header labels live in data tables per language (the
``_*_PHRASES`` and ``HEADER_LABELS`` tables below), never in code branches, so adding a language is
adding words.

The subject is a *hint*, never proof. Some markers say "forwarded" outright and are trusted
alone. Others are written for replies and forwards alike (``-----Original Message-----``, the
Outlook underscore line, a bare ``From:``/``Sent:`` block, ``On ... wrote:``); those count only
when the subject does not say reply, and the weakest (a reply-style line) only when the subject
says forward (``Fwd:``, ``WG:``, ``TR:``, ``RV:``, ``VS:``, ``Doorst:`` ...).

Everything here is pure text processing: no I/O, never raises on any input.
"""

from __future__ import annotations

import email.utils
import enum
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime

import attrs
from dateutil import parser as dateutil_parser

from inboxcore.domain.addresses import EmailAddress, parse_address_list

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


# --- data tables ---------------------------------------------------------------------------------

HEADER_LABELS: Mapping[str, tuple[str, ...]] = {
    "from": (
        "From", "Von", "De", "Da", "Van", "Från", "Fra", "Lähettäjä", "Od", "Feladó",
        "Expeditorul", "De la", "Отправитель", "От", "Від", "Від кого", "Kimden", "Gönderen",
        "Šalje", "Mittente", "Nadawca", "Saatja", "Absender", "Afzender", "Avsändare",
        "Avsender", "Afsender", "Remitente", "Expéditeur", "Remetente", "Pošiljatelj",
        "Αποστολέας", "Από", "差出人", "送信者", "发件人", "寄件者", "寄件人", "보낸 사람",
        "보낸사람",
    ),
    "to": (
        "To", "An", "À", "A", "Para", "Aan", "Till", "Til", "Vastaanottaja", "Komu", "Do",
        "Címzett", "Destinatarul", "Către", "Кому", "Pre", "Kime", "Prima", "Pour", "Adresat",
        "Empfänger", "Destinataire", "Destinatario", "Ontvanger", "Mottagare", "Mottaker",
        "Modtager", "Προς", "宛先", "收件人", "收件者", "받는 사람", "받는사람",
    ),
    "cc": (
        "Cc", "Kopie", "Kopio", "Másolat", "Másolatot kap", "Kopi", "Dw", "Копия", "Kopia",
        "Bilgi", "Копія", "Kópia", "Kopie (CC)", "Copie à", "Copia", "Κοιν", "抄送", "副本",
        "참조",
    ),
    "date": (
        "Date", "Datum", "Dato", "Fecha", "Päivämäärä", "Päiväys", "Dátum", "Data", "Dată",
        "Дата", "Tarih", "Sent", "Sendt", "Gesendet", "Enviado", "Envoyé", "Lähetetty",
        "Elküldve", "Inviato", "Verzonden", "Wysłano", "Trimis", "Отправлено", "Odoslané",
        "Odesláno", "Skickat", "Gönderildi", "Gönderilen", "Відправлено", "Poslano",
        "Ημερομηνία", "日付", "送信日時", "发送时间", "日期", "時間", "传送时间", "傳送時間",
        "날짜", "보낸 날짜",
    ),
    "subject": (
        "Subject", "Betreff", "Objet", "Sujet", "Asunto", "Oggetto", "Onderwerp", "Ämne",
        "Emne", "Aihe", "Předmět", "Predmet", "Temat", "Tárgy", "Subiect", "Subiectul",
        "Тема", "Konu", "Naslov", "Assunto", "Θέμα", "件名", "主题", "主旨", "제목",
    ),
    "reply_to": (
        "Reply-To", "Antwort an", "Répondre à", "Responder a", "Rispondi a", "Antwoord aan",
        "Svara till", "Svar til", "Vastaus", "Odpověď na", "Odpowiedź-do", "Válaszcím",
        "Răspuns către", "Ответ-Кому", "Odpovedať-Pre", "Yanıt Adresi", "Кому відповісти",
        "Odgovori na",
    ),
}  # fmt: skip
"""Header labels of forwarded blocks, per field, in every language the module knows."""

# Dashed separator phrases that say "forwarded" outright (Gmail, Thunderbird, Yahoo, HubSpot...).
_FORWARD_PHRASES = (
    "forwarded message", "weitergeleitete nachricht", "message transféré", "message transmis",
    "mensaje reenviado", "messaggio inoltrato", "mensagem reencaminhada",
    "mensagem encaminhada", "doorgestuurd bericht", "vidarebefordrat meddelande",
    "vidarebefordrat mejl", "videresendt meddelelse", "videresendt besked",
    "videresendt melding", "edelleenlähetetty viesti", "välitetty viesti", "přeposlaná zpráva",
    "preposlaná správa", "przekazana wiadomość", "treść przekazanej wiadomości",
    "továbbított üzenet", "mesaj redirecționat", "mesaj redirectionat", "mesaj transmis",
    "пересылаемое сообщение", "перенаправленное сообщение", "пересланное сообщение",
    "перенаправлене повідомлення", "переслане повідомлення", "пересланий лист",
    "iletilmiş mesaj", "iletilen ileti", "proslijeđena poruka", "prosleđena poruka",
    "προωθημένο μήνυμα", "転送されたメッセージ", "转发的邮件", "转发邮件", "轉寄的郵件",
    "轉寄郵件", "전달된 메시지", "전달된 메일",
)  # fmt: skip

# Dashed separator phrases written for replies and forwards alike (Outlook, Ionos, Lotus...).
_ORIGINAL_PHRASES = (
    "original message", "ursprüngliche nachricht", "originalnachricht", "message d'origine",
    "message original", "mensaje original", "messaggio originale", "mensagem original",
    "oorspronkelijk bericht", "origineel bericht", "ursprungligt meddelande",
    "oprindelig meddelelse", "opprinnelig melding", "alkuperäinen viesti", "původní zpráva",
    "pôvodná správa", "oryginalna wiadomość", "wiadomość oryginalna", "eredeti üzenet",
    "mesaj original", "mesajul original", "исходное сообщение", "оригинальное сообщение",
    "вихідне повідомлення", "початкове повідомлення", "özgün ileti", "orijinal mesaj",
    "izvorna poruka", "αρχικό μήνυμα", "元のメッセージ", "原始邮件", "原始郵件", "원본 메시지",
)  # fmt: skip

# Whole-line markers ending in a colon: Apple Mail in every locale, MailMate.
_COLON_PHRASES: Mapping[str, ForwardClient] = {
    "begin forwarded message": ForwardClient.APPLE_MAIL,
    "začátek přeposílané zprávy": ForwardClient.APPLE_MAIL,
    "start på videresendt besked": ForwardClient.APPLE_MAIL,
    "anfang der weitergeleiteten nachricht": ForwardClient.APPLE_MAIL,
    "inicio del mensaje reenviado": ForwardClient.APPLE_MAIL,
    "välitetty viesti alkaa": ForwardClient.APPLE_MAIL,
    "début du message réexpédié": ForwardClient.APPLE_MAIL,
    "début du message transféré": ForwardClient.APPLE_MAIL,
    "započni proslijeđenu poruku": ForwardClient.APPLE_MAIL,
    "továbbított levél kezdete": ForwardClient.APPLE_MAIL,
    "inizio messaggio inoltrato": ForwardClient.APPLE_MAIL,
    "begin doorgestuurd bericht": ForwardClient.APPLE_MAIL,
    "videresendt melding": ForwardClient.APPLE_MAIL,
    "początek przekazywanej wiadomości": ForwardClient.APPLE_MAIL,
    "início da mensagem reencaminhada": ForwardClient.APPLE_MAIL,
    "início da mensagem encaminhada": ForwardClient.APPLE_MAIL,
    "începe mesajul redirecționat": ForwardClient.APPLE_MAIL,
    "начало переадресованного сообщения": ForwardClient.APPLE_MAIL,
    "začiatok preposlanej správy": ForwardClient.APPLE_MAIL,
    "vidarebefordrat mejl": ForwardClient.APPLE_MAIL,
    "vidarebefordrat brev": ForwardClient.APPLE_MAIL,
    "i̇leti başlangıcı": ForwardClient.APPLE_MAIL,
    "початок листа, що пересилається": ForwardClient.APPLE_MAIL,
    "以下是转发的邮件": ForwardClient.APPLE_MAIL,
    "転送されたメッセージ": ForwardClient.APPLE_MAIL,
    "forwarded message": ForwardClient.MAILMATE,
}

# Reply-style header lines ("On <date>, <name> <addr> wrote:"), which Outlook 2019 for Mac also
# writes above forwards. Placeholders: {date}, {name}, {addr}; a space matches any white space.
_REPLY_STYLE_TEMPLATES = (
    "On {date}, {name} {addr} wrote:",
    "On {date} {name} {addr} wrote:",
    "{name} {addr} wrote on {date}:",
    "{name} {addr} wrote:",
    "Am {date} schrieb {name} {addr}:",
    "Le {date}, {name} {addr} a écrit :",
    "El {date}, {name} {addr} escribió:",
    "Il giorno {date} {name} {addr} ha scritto:",
    "Il {date} {name} {addr} ha scritto:",
    "Op {date} heeft {name} {addr} geschreven:",
    "Op {date} schreef {name} {addr}:",
    "Den {date} skrev {name} {addr} följande:",
    "Den {date} skrev {name} {addr}:",
    "D. {date} skrev {name} {addr}:",
    "{name} {addr} skrev følgende den {date}:",
    "{name} {addr} skrev den {date}:",
    "{name} {addr} kirjoitti {date}:",
    "Dne {date}, {name} {addr} napsal(a):",
    "{date} používateľ {name} {addr} napísal:",
    "Dnia {date} {name} {addr} napisał:",
    "{date} időpontban {name} {addr} ezt írta:",
    "Em {date}, {name} {addr} escreveu:",
    "{date} пользователь {name} {addr} написал:",
    "{name} {addr}, {date} tarihinde şunu yazdı:",
    "Pe {date}, {name} {addr} a scris:",
)

# Subject prefixes (case-insensitive, before the colon). "VS" is Danish for forward and Finnish
# for reply; forwards are the commoner reading in mail that reaches a helpdesk.
_FORWARD_PREFIXES = frozenset(
    _fold(p)
    for p in (
        "Fwd", "Fw", "Tr", "Trs", "WG", "RV", "VS", "VB", "VL", "PD", "ENC", "I", "Doorst",
        "Redir", "Redir.", "İLT", "Videresend", "Wtg", "Továbbítás", "Továbbítva", "Přeposlat",
        "PŘ", "Fwd.", "Rif", "Inoltro", "İlt", "Пересл", "Пересылка", "ПЕР", "Πρθ", "转发",
        "轉寄", "転送", "전달",
    )
)  # fmt: skip
_REPLY_PREFIXES = frozenset(
    _fold(p)
    for p in (
        "Re", "AW", "SV", "Antw", "Odp", "YNT", "Ynt", "Vá", "R", "Ris", "Res", "Ref",
        "Отв", "Від", "Απ", "回复", "回覆", "答复", "返信", "답장",
    )
)  # fmt: skip

_MAX_SCAN_LINES = 5000
_MAX_HEADER_LINES = 100  # a forwarded header block is a few lines; more is not one
_MAX_REPLY_STYLE_LINE = 400
_HEAD_LINES = _MAX_SCAN_LINES + _MAX_HEADER_LINES + 8
"""Lines split for the scan (a block found on the last scanned line may read this far)."""
_BODY_CHUNK = 1 << 16
"""Characters of the rest of a body turned into lines at a time (a list of a chunk's lines costs
eight bytes a line, so a chunk of empty lines holds eight times its size)."""

# --- compiled forms -----------------------------------------------------------------------------


_LABEL_FIELD: dict[str, str] = {
    _fold(label): field for field, labels in HEADER_LABELS.items() for label in labels
}
# The value runs to the end of the line (its trailing "*" and blanks are stripped in code: a lazy
# value before "[ \t*]*$" rescans every run of blanks inside it).
_LABEL_LINE = re.compile(
    r"^[ \t]*[*_]{0,2}(?P<label>[^\W\d_][^:：\n]{0,40}?)[*_]{0,2}[ \t]*[:：][*_]{0,2}[ \t]*"
    r"(?P<value>.*)$"
)
_INLINE_LABEL = re.compile(
    "(?P<label>"
    + "|".join(
        re.escape(label)
        for label in sorted(
            {label for labels in HEADER_LABELS.values() for label in labels}, key=len, reverse=True
        )
    )
    + r")[ \t]*[:：][ \t]*"
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
_FORWARD_FOLDED = tuple(_fold(p) for p in _FORWARD_PHRASES)
_ORIGINAL_FOLDED = tuple(_fold(p) for p in _ORIGINAL_PHRASES)
_COLON_FOLDED = {_fold(p): client for p, client in _COLON_PHRASES.items()}
_SUBJECT_PREFIX = re.compile(
    r"^[ \t]*(?P<prefix>[^\W\d_][^\W\d_.]{0,11}\.?)[ \t]*(?:\[\d+\])?[ \t]*[:：][ \t]*"
)
_ADDR = r"[\[<(]*[ \t]*(?:mailto:)?(?P<addr>[^\s<>\[\]()\"',;:]+@[^\s<>\[\]()\"',;:]+)[ \t]*[\]>)]*"


def _compile_template(template: str) -> re.Pattern[str]:
    out: list[str] = []
    for piece in re.split(r"(\{date\}|\{name\}|\{addr\}| )", template):
        if piece == "{date}":
            out.append(r"(?P<date>.+?)")
        elif piece == "{name}":
            out.append(r"(?P<name>[^<>\[\]()@]*?)")
        elif piece == "{addr}":
            out.append(_ADDR)
        elif piece == " ":
            out.append(r"\s*")
        elif piece:
            out.append(re.escape(piece))
    return re.compile("^" + "".join(out) + r"\s*$", re.IGNORECASE)


_REPLY_STYLE = tuple(_compile_template(t) for t in _REPLY_STYLE_TEMPLATES)


# --- subjects -----------------------------------------------------------------------------------


def _prefixes(subject: str) -> tuple[list[str], str]:
    found: list[str] = []
    rest = subject
    for _ in range(10):
        match = _SUBJECT_PREFIX.match(rest)
        if not match:
            break
        prefix = _fold(match.group("prefix"))
        if prefix not in _FORWARD_PREFIXES and prefix not in _REPLY_PREFIXES:
            break
        found.append(prefix)
        rest = rest[match.end() :]
    return found, rest


def subject_kind(subject: str | None) -> SubjectKind | None:
    """What the subject's first prefix says (``Fwd:``/``WG:``/``TR:``... or ``Re:``/``AW:``...).

    A hint only: a subject is typed by people and rewritten by clients.
    """
    if not subject:
        return None
    found, _ = _prefixes(subject)
    if not found:
        return None
    return SubjectKind.FORWARD if found[0] in _FORWARD_PREFIXES else SubjectKind.REPLY


def strip_subject_prefixes(subject: str) -> str:
    """The subject without its reply and forward prefixes: ``Fwd: Re: Hello`` -> ``Hello``."""
    _, rest = _prefixes(subject)
    return rest.strip()


# --- mailboxes and dates ------------------------------------------------------------------------

_MAILTO_NESTED = re.compile(r"<([^<>]*)<mailto:[^<>]*>>", re.IGNORECASE)
# Linear on any value: a local part holds no "@" (one way to split a run at its "@", not one per
# "@" in it) and a bracket's content no opening bracket (each opening scans to its own close).
_MAILTO_BRACKET = re.compile(r"[\[<]mailto:([^\]>\[<]*)[\]>]", re.IGNORECASE)
_SQUARE_ADDR = re.compile(r"\[([^\[\]\s@]++@[^\[\]\s]+)\]")
_PAREN_ADDR = re.compile(r"\(\s*+<?([^()<>\s@]++@[^()<>\s]+?)>?\s*\)")
_SINGLE_QUOTED_NAME = re.compile(r"'([^'<>]*)'\s*<")
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
    cleaned = " ".join(name.split()).strip("\"'“”„«» ")
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
        return found[0], found[0].display_name
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


def _label_field(line: str) -> tuple[str, str] | None:
    match = _LABEL_LINE.match(line)
    if not match:
        return None
    field = _LABEL_FIELD.get(_fold(match.group("label")))
    if field is None:
        return None
    return field, match.group("value").rstrip(" \t*").strip()


@attrs.frozen(kw_only=True)
class _Headers:
    fields: dict[str, str]
    end: int
    """Index of the first line after the header block."""


def _read_headers(lines: Sequence[str], start: int, depth: int) -> _Headers:
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
                upcoming = _label_field(_unquote(lines[following], depth))
                if upcoming is not None and upcoming[0] not in fields:
                    index = following
                    continue
            break
        found = _label_field(line)
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


def _inline_headers(rest: str) -> dict[str, str]:
    """Split Yahoo's ``From: a <a@x>To: b <b@y>Sent: ...Subject: s`` run into fields."""
    fields: dict[str, str] = {}
    matches = list(_INLINE_LABEL.finditer(rest))
    for position, match in enumerate(matches):
        end = matches[position + 1].start() if position + 1 < len(matches) else len(rest)
        field = _LABEL_FIELD.get(_fold(match.group("label")))
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


def _message(
    lines: _Head,
    *,
    marker_index: int | None,
    fields: Mapping[str, str],
    body_start: int,
    client: ForwardClient,
    forwarder_end: int,
    subject: str | None,
) -> ForwardedMessage:
    author, name = _author(fields.get("from"))
    block_subject = fields.get("subject")
    if block_subject is None and subject_kind(subject) is SubjectKind.FORWARD and subject:
        block_subject = strip_subject_prefixes(subject)
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


def _phrase_strength(phrase: str) -> bool | None:
    """True: says forwarded; False: "original message" (reply or forward); None: neither."""
    folded = _fold(phrase)
    if any(p in folded for p in _FORWARD_FOLDED):
        return True
    if any(p in folded for p in _ORIGINAL_FOLDED):
        return False
    return None


def _at(
    lines: _Head, index: int, kind: SubjectKind | None, subject: str | None, first: int
) -> ForwardedMessage | None:
    raw = lines[index]
    content = _content(raw)
    if not content:
        return None
    depth = _depth(raw)

    # Apple Mail, MailMate: a whole line ending in a colon.
    colon = _COLON_FOLDED.get(_fold(content.rstrip(":： \t")))
    if colon is not None and content.rstrip().endswith((":", "：")):
        after = next(
            (i for i in range(index + 1, len(lines)) if lines[i].strip(" \t>")), len(lines)
        )
        header_depth = _depth(lines[after]) if after < len(lines) else depth
        headers = _read_headers(lines, index + 1, header_depth)
        if "from" in headers.fields:
            return _message(
                lines,
                marker_index=index,
                fields=headers.fields,
                body_start=headers.end,
                client=colon,
                forwarder_end=index,
                subject=subject,
            )

    # Gmail, Thunderbird, Yahoo, Outlook desktop, Ionos: a phrase between dashes.
    dashed = _DASHED.match(content)
    if dashed is not None:
        strong = _phrase_strength(dashed.group("phrase"))
        if strong is not None and (strong or kind is not SubjectKind.REPLY):
            rest = dashed.group("rest")
            if rest and not rest.endswith(("-", "=")):
                fields = _inline_headers(rest)
                if "from" in fields:
                    return _message(
                        lines,
                        marker_index=index,
                        fields=fields,
                        body_start=index + 1,
                        client=ForwardClient.YAHOO,
                        forwarder_end=index,
                        subject=subject,
                    )
            else:
                headers = _read_headers(lines, index + 1, depth)
                if "from" in headers.fields or strong:
                    left = dashed.group("left")
                    spaced = content[len(left) : len(left) + 1] == " "
                    client = _dashed_client(left, " " if spaced else "", strong)
                    return _message(
                        lines,
                        marker_index=index,
                        fields=headers.fields,
                        body_start=headers.end,
                        client=client,
                        forwarder_end=index,
                        subject=subject,
                    )

    # Outlook on the web and Microsoft 365: a line of underscores above a header block.
    if _UNDERSCORES.match(content) and kind is not SubjectKind.REPLY:
        headers = _read_headers(lines, index + 1, depth)
        if "from" in headers.fields and len(headers.fields) >= 2:
            return _message(
                lines,
                marker_index=index,
                fields=headers.fields,
                body_start=headers.end,
                client=ForwardClient.OUTLOOK,
                forwarder_end=index,
                subject=subject,
            )

    # New Outlook: the header block alone, From first.
    label = _label_field(_unquote(raw, depth))
    if label is not None and label[0] == "from":
        at_top = index <= first
        if kind is SubjectKind.FORWARD or (kind is None and at_top):
            headers = _read_headers(lines, index, depth)
            fields = headers.fields
            if len(fields) >= 3 and ("subject" in fields or "date" in fields):
                return _message(
                    lines,
                    marker_index=None,
                    fields=fields,
                    body_start=headers.end,
                    client=ForwardClient.OUTLOOK,
                    forwarder_end=index,
                    subject=subject,
                )

    # Outlook 2019 for Mac: "On <date>, <name> <addr> wrote:", trusted only with a forward subject.
    if kind is SubjectKind.FORWARD:
        return _reply_style(lines, index, subject)
    return None


def _reply_style(lines: _Head, index: int, subject: str | None) -> ForwardedMessage | None:
    content = _content(lines[index])
    candidates = [(content, index + 1)]
    if index + 1 < len(lines):
        candidates.append((content + " " + _content(lines[index + 1]), index + 2))
    for text, body_start in candidates:
        if len(text) > _MAX_REPLY_STYLE_LINE or not text.endswith((":", "：")):
            continue
        for pattern in _REPLY_STYLE:
            match = pattern.match(text)
            if match is None:
                continue
            address = match.group("addr")
            name = _clean_name(match.group("name"))
            fields = {"from": f'"{name}" <{address}>' if name else f"<{address}>"}
            date = match.groupdict().get("date")
            if date:
                fields["date"] = date.strip(" ,")
            return _message(
                lines,
                marker_index=index,
                fields=fields,
                body_start=body_start,
                client=ForwardClient.OUTLOOK,
                forwarder_end=index,
                subject=subject,
            )
    return None


def parse_forwarded(text: str, subject: str | None = None) -> ForwardedMessage | None:
    """The first (outermost) forwarded message in ``text``, or None when there is none.

    ``subject`` is the forwarding message's subject, used as a hint for markers that replies
    use too (see the module documentation). Never raises.
    """
    if not isinstance(text, str) or not text:
        return None
    kind = subject_kind(subject) if isinstance(subject, str) else None
    lines = _Head(text)
    # The first line with content (quote marks aside): a bare header block there is at the top.
    first = next((i for i, line in enumerate(lines) if _content(line)), len(lines))
    for index in range(min(len(lines), _MAX_SCAN_LINES)):
        found = _at(lines, index, kind, subject if isinstance(subject, str) else None, first)
        if found is not None:
            return found
    return None
