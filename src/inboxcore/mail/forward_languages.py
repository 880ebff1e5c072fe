"""The words mail clients write around a forwarded message, one table row per language.

A manual forward names the original sender only in the body, in a block each client writes in
the forwarder's language: a separator (``---------- Forwarded message ---------``,
``-----Ursprüngliche Nachricht-----``), an intro line (``Begin forwarded message:``), header
labels (``Von:``, ``差出人:``), an attribution line (``Il giorno <date> "Name" <addr> ha
scritto:``), and a subject prefix (``WG:``, ``転送:``). :class:`ForwardLanguage` holds one
language's words; :data:`FORWARD_LANGUAGES` is the table inboxcore ships. The rules that read the
words (:mod:`inboxcore.mail.forwards`) are the same for every language, so a host adds a language
by adding a row::

    from inboxcore.mail.forward_languages import FORWARD_LANGUAGES, ForwardLanguage
    from inboxcore.mail.forwards import parse_forwarded

    ICELANDIC = ForwardLanguage(
        code="is",
        name="Icelandic",
        from_labels=("Frá",),
        to_labels=("Til",),
        date_labels=("Dagsetning", "Sent"),
        subject_labels=("Efni",),
        forward_markers=("Áframsend skilaboð",),
        forward_prefixes=("Áfr",),
        reply_prefixes=("Sv",),
    )
    found = parse_forwarded(body, subject, languages=(*FORWARD_LANGUAGES, ICELANDIC))

Rows are values: nothing global changes, and two hosts (or two tests) can use different tables
in the same process. A label may appear in several rows, but always for the same field; a
table where a label names two fields is refused with a
:class:`~inboxcore.domain.errors.ConfigurationError`.

Pure data and validation: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import attrs

from inboxcore.domain.errors import InvalidValueError

__all__ = ["FORWARD_LANGUAGES", "ForwardLanguage"]

_NONE: tuple[str, ...] = ()
_PLACEHOLDER = re.compile(r"\{(\w*)\}")
# A label as a forwarded header block shows it (what the scanner's label pattern can read).
_LABEL = re.compile(r"[^\W\d_][^:：\n]{0,40}")
# A subject prefix as the subject reader reads it: letters, an optional final dot.
_PREFIX = re.compile(r"[^\W\d_][^\W\d_.]{0,19}\.?")


def _words(value: Iterable[str]) -> tuple[str, ...]:
    """Normalise a table cell: any iterable of strings (a lone string is one word)."""
    items = (value,) if isinstance(value, str) else tuple(value)
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise InvalidValueError(f"a forward-language entry must be non-empty text: {item!r}")
    return tuple(" ".join(item.split()) for item in items)


def _check_labels(
    _: Any, attribute: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]
) -> None:
    for label in value:
        if not _LABEL.fullmatch(label):
            raise InvalidValueError(
                f"{attribute.name}: {label!r} is not a header label (a letter first, no colon, "
                "at most 41 characters)"
            )


def _check_templates(
    _: Any, attribute: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]
) -> None:
    for template in value:
        names = _PLACEHOLDER.findall(template)
        if names.count("addr") != 1 or not set(names) <= {"date", "name", "addr"}:
            raise InvalidValueError(
                f"{attribute.name}: {template!r} must hold {{addr}} once, and otherwise only "
                "{date} and {name}"
            )
        if len(names) != len(set(names)) or not template.rstrip().endswith((":", "：")):
            raise InvalidValueError(
                f"{attribute.name}: {template!r} must use each placeholder once and end in a colon"
            )


def _check_prefixes(
    _: Any, attribute: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]
) -> None:
    for prefix in value:
        if not _PREFIX.fullmatch(prefix):
            raise InvalidValueError(
                f"{attribute.name}: {prefix!r} is not a subject prefix (letters, at most 20, an "
                "optional final dot, no colon)"
            )


def _check_text(_: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidValueError(f"ForwardLanguage.{attribute.name} must be non-empty text")


@attrs.frozen(kw_only=True, cache_hash=True)
class ForwardLanguage:
    """One language's words for forwarded blocks, as mail clients write them.

    Every cell is a tuple of strings (any iterable is accepted and white space is collapsed);
    matching ignores case. ``code`` is a language tag (``pt``, ``zh-Hans``) and ``name`` its
    English name, both for people reading the table.

    - ``from_labels`` ... ``reply_to_labels``: the header labels of a forwarded block, without
      the colon (``Von``, ``Gesendet``, ``Betreff``). ``date_labels`` includes "sent" words.
    - ``forward_markers``: phrases between dashes that say *forwarded*
      (``-------- Weitergeleitete Nachricht --------``); trusted alone.
    - ``original_markers``: phrases between dashes that replies use as well
      (``-----Ursprüngliche Nachricht-----``); they count unless the subject says reply.
    - ``forward_intros``: whole lines ending in a colon that introduce a forward
      (``Anfang der weitergeleiteten Nachricht:``, Apple Mail), without the colon.
    - ``reply_templates``: attribution lines, ``{date}``, ``{name}`` and ``{addr}`` standing for
      their parts and a space for any white space (``Am {date} schrieb {name} {addr}:``). They
      head quoted replies, and Outlook for Mac heads forwards with them; the rules for telling
      the two apart are in :mod:`inboxcore.mail.forwards`.
    - ``forward_prefixes`` / ``reply_prefixes``: subject prefixes, without the colon (``WG``,
      ``AW``). When one table has a prefix in both (Danish ``VS`` forwards, Finnish ``VS``
      replies), the forward reading wins.
    """

    code: str = attrs.field(validator=_check_text)
    name: str = attrs.field(validator=_check_text)
    from_labels: tuple[str, ...] = attrs.field(
        default=_NONE, converter=_words, validator=_check_labels
    )
    to_labels: tuple[str, ...] = attrs.field(
        default=_NONE, converter=_words, validator=_check_labels
    )
    cc_labels: tuple[str, ...] = attrs.field(
        default=_NONE, converter=_words, validator=_check_labels
    )
    date_labels: tuple[str, ...] = attrs.field(
        default=_NONE, converter=_words, validator=_check_labels
    )
    subject_labels: tuple[str, ...] = attrs.field(
        default=_NONE, converter=_words, validator=_check_labels
    )
    reply_to_labels: tuple[str, ...] = attrs.field(
        default=_NONE, converter=_words, validator=_check_labels
    )
    forward_markers: tuple[str, ...] = attrs.field(default=_NONE, converter=_words)
    original_markers: tuple[str, ...] = attrs.field(default=_NONE, converter=_words)
    forward_intros: tuple[str, ...] = attrs.field(default=_NONE, converter=_words)
    reply_templates: tuple[str, ...] = attrs.field(
        default=_NONE, converter=_words, validator=_check_templates
    )
    forward_prefixes: tuple[str, ...] = attrs.field(
        default=_NONE, converter=_words, validator=_check_prefixes
    )
    reply_prefixes: tuple[str, ...] = attrs.field(
        default=_NONE, converter=_words, validator=_check_prefixes
    )


FORWARD_LANGUAGES: tuple[ForwardLanguage, ...] = (
    ForwardLanguage(
        code="en",
        name="English",
        from_labels=("From",),
        to_labels=("To",),
        cc_labels=("Cc",),
        date_labels=("Date", "Sent"),
        subject_labels=("Subject",),
        reply_to_labels=("Reply-To",),
        forward_markers=("Forwarded message", "Forwarded e-mail", "Forwarded email"),
        original_markers=("Original Message", "Original e-mail", "Original email"),
        # "Forwarded message:" is MailMate's intro.
        forward_intros=("Begin forwarded message", "Forwarded message"),
        reply_templates=(
            "On {date}, {name} {addr} wrote:",
            "On {date} {name} {addr} wrote:",
            "{name} {addr} wrote on {date}:",
            "{name} {addr} wrote:",
        ),
        forward_prefixes=("Fwd", "Fw", "Fwd."),
        reply_prefixes=("Re",),
    ),
    ForwardLanguage(
        code="de",
        name="German",
        from_labels=("Von", "Absender"),
        to_labels=("An", "Empfänger"),
        cc_labels=("Kopie", "Kopie (CC)"),
        date_labels=("Datum", "Gesendet"),
        subject_labels=("Betreff",),
        reply_to_labels=("Antwort an",),
        forward_markers=("Weitergeleitete Nachricht",),
        original_markers=("Ursprüngliche Nachricht", "Originalnachricht"),
        forward_intros=("Anfang der weitergeleiteten Nachricht",),
        reply_templates=("Am {date} schrieb {name} {addr}:",),
        forward_prefixes=("WG", "Wtg"),
        reply_prefixes=("AW",),
    ),
    ForwardLanguage(
        code="fr",
        name="French",
        from_labels=("De", "Expéditeur"),
        to_labels=("À", "Pour", "Destinataire"),
        cc_labels=("Copie à",),
        date_labels=("Date", "Envoyé"),
        subject_labels=("Objet", "Sujet"),
        reply_to_labels=("Répondre à",),
        forward_markers=("Message transféré", "Message transmis"),
        original_markers=("Message d'origine", "Message original"),
        forward_intros=("Début du message réexpédié", "Début du message transféré"),
        reply_templates=("Le {date}, {name} {addr} a écrit :",),
        forward_prefixes=("TR", "Trs"),
        reply_prefixes=("Ref",),
    ),
    ForwardLanguage(
        code="es",
        name="Spanish",
        from_labels=("De", "Remitente"),
        to_labels=("Para", "Destinatario"),
        cc_labels=("Copia", "CC"),
        date_labels=("Fecha", "Enviado"),
        subject_labels=("Asunto",),
        reply_to_labels=("Responder a",),
        forward_markers=("Mensaje reenviado",),
        original_markers=("Mensaje original",),
        forward_intros=("Inicio del mensaje reenviado",),
        reply_templates=("El {date}, {name} {addr} escribió:",),
        forward_prefixes=("RV",),
        reply_prefixes=("RE",),
    ),
    ForwardLanguage(
        code="it",
        name="Italian",
        from_labels=("Da", "Mittente"),
        to_labels=("A", "Destinatario"),
        cc_labels=("Cc", "Copia"),
        date_labels=("Data", "Inviato"),
        subject_labels=("Oggetto",),
        reply_to_labels=("Rispondi a",),
        forward_markers=("Messaggio inoltrato",),
        original_markers=("Messaggio originale",),
        forward_intros=("Inizio messaggio inoltrato",),
        reply_templates=(
            "Il giorno {date} {name} {addr} ha scritto:",
            "Il {date} {name} {addr} ha scritto:",
        ),
        forward_prefixes=("I", "Inoltro", "Rif"),
        reply_prefixes=("R", "Ris"),
    ),
    ForwardLanguage(
        code="pt",
        name="Portuguese (Portugal and Brazil)",
        from_labels=("De", "Remetente"),
        to_labels=("Para",),
        cc_labels=("Cc",),
        date_labels=("Data", "Enviado", "Enviada em", "Enviado em"),
        subject_labels=("Assunto",),
        reply_to_labels=("Responder a",),
        forward_markers=("Mensagem reencaminhada", "Mensagem encaminhada"),
        original_markers=("Mensagem original",),
        forward_intros=("Início da mensagem reencaminhada", "Início da mensagem encaminhada"),
        reply_templates=("Em {date}, {name} {addr} escreveu:",),
        forward_prefixes=("ENC",),
        reply_prefixes=("Res",),
    ),
    ForwardLanguage(
        code="nl",
        name="Dutch",
        from_labels=("Van", "Afzender"),
        to_labels=("Aan", "Ontvanger"),
        cc_labels=("CC",),
        date_labels=("Datum", "Verzonden"),
        subject_labels=("Onderwerp",),
        reply_to_labels=("Antwoord aan",),
        forward_markers=("Doorgestuurd bericht",),
        original_markers=("Oorspronkelijk bericht", "Origineel bericht"),
        forward_intros=("Begin doorgestuurd bericht",),
        reply_templates=(
            "Op {date} heeft {name} {addr} geschreven:",
            "Op {date} schreef {name} {addr}:",
        ),
        forward_prefixes=("Doorst",),
        reply_prefixes=("Antw",),
    ),
    ForwardLanguage(
        code="sv",
        name="Swedish",
        from_labels=("Från", "Avsändare"),
        to_labels=("Till", "Mottagare"),
        cc_labels=("Kopia",),
        date_labels=("Datum", "Skickat"),
        subject_labels=("Ämne",),
        reply_to_labels=("Svara till",),
        forward_markers=("Vidarebefordrat meddelande", "Vidarebefordrat mejl"),
        original_markers=("Ursprungligt meddelande",),
        forward_intros=("Vidarebefordrat mejl", "Vidarebefordrat brev"),
        reply_templates=(
            "Den {date} skrev {name} {addr} följande:",
            "Den {date} skrev {name} {addr}:",
        ),
        forward_prefixes=("VB",),
        reply_prefixes=("SV",),
    ),
    ForwardLanguage(
        code="no",
        name="Norwegian",
        from_labels=("Fra", "Avsender"),
        to_labels=("Til", "Mottaker"),
        cc_labels=("Kopi",),
        date_labels=("Dato", "Sendt"),
        subject_labels=("Emne",),
        reply_to_labels=("Svar til",),
        forward_markers=("Videresendt melding",),
        original_markers=("Opprinnelig melding", "Original melding"),
        forward_intros=("Videresendt melding",),
        reply_templates=(
            "{name} {addr} skrev følgende den {date}:",
            "{name} {addr} skrev den {date}:",
            "{date} skrev {name} {addr}:",
        ),
        forward_prefixes=("Videresend", "VS"),
        reply_prefixes=("SV",),
    ),
    ForwardLanguage(
        code="da",
        name="Danish",
        from_labels=("Fra", "Afsender"),
        to_labels=("Til", "Modtager"),
        cc_labels=("Kopi", "Cc"),
        date_labels=("Dato", "Sendt"),
        subject_labels=("Emne",),
        forward_markers=("Videresendt meddelelse", "Videresendt besked"),
        original_markers=("Oprindelig meddelelse", "Original meddelelse"),
        forward_intros=("Start på videresendt besked",),
        reply_templates=("D. {date} skrev {name} {addr}:", "Den {date} skrev {name} {addr}:"),
        forward_prefixes=("VS",),
        reply_prefixes=("SV",),
    ),
    ForwardLanguage(
        code="fi",
        name="Finnish",
        from_labels=("Lähettäjä",),
        to_labels=("Vastaanottaja",),
        cc_labels=("Kopio",),
        date_labels=("Päivämäärä", "Päiväys", "Lähetetty"),
        subject_labels=("Aihe",),
        reply_to_labels=("Vastaus",),
        forward_markers=("Edelleenlähetetty viesti", "Välitetty viesti"),
        original_markers=("Alkuperäinen viesti",),
        forward_intros=("Välitetty viesti alkaa",),
        reply_templates=(
            "{name} {addr} kirjoitti {date}:",
            "{date} {name} {addr} kirjoitti:",
        ),
        forward_prefixes=("VL",),
        reply_prefixes=("VS",),
    ),
    ForwardLanguage(
        code="cs",
        name="Czech",
        from_labels=("Od",),
        to_labels=("Komu",),
        cc_labels=("Kopie",),
        date_labels=("Datum", "Odesláno"),
        subject_labels=("Předmět",),
        reply_to_labels=("Odpověď na",),
        forward_markers=("Přeposlaná zpráva", "Přeposlaný e-mail"),
        original_markers=("Původní zpráva", "Původní e-mail"),
        forward_intros=("Začátek přeposílané zprávy",),
        reply_templates=(
            "Dne {date}, {name} {addr} napsal(a):",
            "{date} odesílatel {name} {addr} napsal:",
        ),
        forward_prefixes=("PŘ", "Přeposlat"),
        reply_prefixes=("Odp",),
    ),
    ForwardLanguage(
        code="sk",
        name="Slovak",
        from_labels=("Od",),
        to_labels=("Komu", "Pre"),
        cc_labels=("Kópia",),
        date_labels=("Dátum", "Odoslané"),
        subject_labels=("Predmet",),
        reply_to_labels=("Odpovedať-Pre",),
        forward_markers=("Preposlaná správa",),
        original_markers=("Pôvodná správa",),
        forward_intros=("Začiatok preposlanej správy",),
        reply_templates=("{date} používateľ {name} {addr} napísal:",),
    ),
    ForwardLanguage(
        code="pl",
        name="Polish",
        from_labels=("Od", "Nadawca"),
        to_labels=("Do", "Adresat"),
        cc_labels=("DW", "Kopia"),
        date_labels=("Data", "Wysłano", "Wysłane"),
        subject_labels=("Temat",),
        reply_to_labels=("Odpowiedź-do",),
        forward_markers=(
            "Przekazana wiadomość",
            "Wiadomość przekazana",
            "Treść przekazanej wiadomości",
            "Wiadomość przesłana dalej",
        ),
        original_markers=("Oryginalna wiadomość", "Wiadomość oryginalna"),
        forward_intros=("Początek przekazywanej wiadomości",),
        reply_templates=(
            "Dnia {date} użytkownik {name} {addr} napisał:",
            "Dnia {date} {name} {addr} napisał:",
            "{date} {name} {addr} napisał(a):",
        ),
        forward_prefixes=("PD",),
        reply_prefixes=("Odp",),
    ),
    ForwardLanguage(
        code="hu",
        name="Hungarian",
        from_labels=("Feladó",),
        to_labels=("Címzett",),
        cc_labels=("Másolat", "Másolatot kap"),
        date_labels=("Dátum", "Elküldve"),
        subject_labels=("Tárgy",),
        reply_to_labels=("Válaszcím",),
        forward_markers=("Továbbított üzenet",),
        original_markers=("Eredeti üzenet",),
        forward_intros=("Továbbított levél kezdete",),
        reply_templates=("{date} időpontban {name} {addr} ezt írta:",),
        forward_prefixes=("Továbbítás", "Továbbítva"),
        reply_prefixes=("Vá",),
    ),
    ForwardLanguage(
        code="ro",
        name="Romanian",
        from_labels=("De la", "Expeditorul"),
        to_labels=("Către", "Destinatarul"),
        date_labels=("Dată", "Trimis"),
        subject_labels=("Subiect", "Subiectul"),
        reply_to_labels=("Răspuns către",),
        forward_markers=("Mesaj redirecționat", "Mesaj redirectionat", "Mesaj transmis"),
        original_markers=("Mesaj original", "Mesajul original"),
        forward_intros=("Începe mesajul redirecționat",),
        reply_templates=("Pe {date}, {name} {addr} a scris:",),
        forward_prefixes=("Redir", "Redir."),
    ),
    ForwardLanguage(
        code="hr",
        name="Croatian and Serbian (Latin)",
        from_labels=("Šalje", "Pošiljatelj"),
        to_labels=("Prima",),
        date_labels=("Datum", "Poslano"),
        subject_labels=("Naslov", "Predmet"),
        reply_to_labels=("Odgovori na",),
        forward_markers=("Proslijeđena poruka", "Prosleđena poruka"),
        original_markers=("Izvorna poruka",),
        forward_intros=("Započni proslijeđenu poruku",),
    ),
    ForwardLanguage(
        code="et",
        name="Estonian",
        from_labels=("Saatja",),
    ),
    ForwardLanguage(
        code="ru",
        name="Russian",
        from_labels=("От", "От кого", "Отправитель"),
        to_labels=("Кому",),
        cc_labels=("Копия",),
        date_labels=("Дата", "Отправлено"),
        subject_labels=("Тема",),
        reply_to_labels=("Ответ-Кому",),
        forward_markers=(
            "Пересылаемое сообщение",
            "Перенаправленное сообщение",
            "Пересланное сообщение",
        ),
        original_markers=("Исходное сообщение", "Оригинальное сообщение"),
        forward_intros=("Начало переадресованного сообщения",),
        reply_templates=(
            "{date} пользователь {name} {addr} написал:",
            # Gmail, Yandex and Mail.ru: "пн, 25 окт. 2021 г. в 11:43, Name <addr>:"
            "{date}, {name} {addr}:",
        ),
        # "ДО" is Cyrillic Outlook's forward prefix as the helpdesk's mail shows it.
        forward_prefixes=("Пересл", "Пересылка", "ПЕР", "ДО"),
        reply_prefixes=("Отв",),
    ),
    ForwardLanguage(
        code="uk",
        name="Ukrainian",
        from_labels=("Від", "Від кого"),
        to_labels=("Кому",),
        cc_labels=("Копія",),
        date_labels=("Дата", "Відправлено"),
        subject_labels=("Тема",),
        reply_to_labels=("Кому відповісти",),
        forward_markers=(
            "Перенаправлене повідомлення",
            "Переслане повідомлення",
            "Пересланий лист",
        ),
        original_markers=("Вихідне повідомлення", "Початкове повідомлення"),
        forward_intros=("Початок листа, що пересилається",),
        reply_prefixes=("Від",),
    ),
    ForwardLanguage(
        code="tr",
        name="Turkish",
        from_labels=("Kimden", "Gönderen"),
        to_labels=("Kime",),
        cc_labels=("Bilgi",),
        date_labels=("Tarih", "Gönderildi", "Gönderilen"),
        subject_labels=("Konu",),
        reply_to_labels=("Yanıt Adresi",),
        forward_markers=("İletilmiş mesaj", "İletilen ileti", "İletilen mesaj"),
        original_markers=("Özgün ileti", "Orijinal mesaj", "Orijinal ileti"),
        forward_intros=("İleti başlangıcı",),
        reply_templates=("{name} {addr}, {date} tarihinde şunu yazdı:",),
        forward_prefixes=("İLT",),
        reply_prefixes=("YNT",),
    ),
    ForwardLanguage(
        code="el",
        name="Greek",
        from_labels=("Από", "Αποστολέας"),
        to_labels=("Προς",),
        cc_labels=("Κοιν",),
        date_labels=("Ημερομηνία",),
        subject_labels=("Θέμα",),
        forward_markers=("Προωθημένο μήνυμα",),
        original_markers=("Αρχικό μήνυμα",),
        forward_prefixes=("Πρθ",),
        reply_prefixes=("Απ",),
    ),
    ForwardLanguage(
        code="ja",
        name="Japanese",
        # 差出人/宛先 (Outlook, Apple Mail, Gmail), 送信元/送信先 (HubSpot and others).
        from_labels=("差出人", "送信者", "送信元"),
        to_labels=("宛先", "送信先"),
        date_labels=("日付", "送信日時"),
        subject_labels=("件名",),
        forward_markers=("転送されたメッセージ", "メッセージを転送", "転送メッセージ"),
        original_markers=("元のメッセージ",),
        forward_intros=("転送されたメッセージ", "メッセージを転送"),
        reply_templates=("{date} {name} {addr}:",),
        forward_prefixes=("転送",),
        reply_prefixes=("返信",),
    ),
    ForwardLanguage(
        code="zh-Hans",
        name="Chinese (Simplified)",
        from_labels=("发件人",),
        to_labels=("收件人",),
        cc_labels=("抄送",),
        date_labels=("日期", "发送时间", "传送时间", "发送日期"),
        subject_labels=("主题",),
        forward_markers=("转发的邮件", "转发邮件", "转发邮件信息", "转发的消息"),
        original_markers=("原始邮件",),
        forward_intros=("以下是转发的邮件", "以下为转发的邮件", "开始转发的邮件"),
        reply_templates=("{name} {addr} 于{date}写道：",),
        forward_prefixes=("转发",),
        reply_prefixes=("回复", "答复"),
    ),
    ForwardLanguage(
        code="zh-Hant",
        name="Chinese (Traditional)",
        from_labels=("寄件者", "寄件人"),
        to_labels=("收件者",),
        cc_labels=("副本",),
        date_labels=("日期", "時間", "傳送時間", "寄件日期"),
        subject_labels=("主旨",),
        forward_markers=("轉寄的郵件", "轉寄郵件"),
        original_markers=("原始郵件",),
        forward_intros=("以下是轉寄的郵件", "開始轉寄的郵件"),
        reply_templates=("{name} {addr} 於 {date} 寫道：",),
        forward_prefixes=("轉寄",),
        reply_prefixes=("回覆",),
    ),
    ForwardLanguage(
        code="ko",
        name="Korean",
        from_labels=("보낸 사람", "보낸사람"),
        to_labels=("받는 사람", "받는사람"),
        cc_labels=("참조",),
        date_labels=("날짜", "보낸 날짜"),
        subject_labels=("제목",),
        forward_markers=("전달된 메시지", "전달된 메일"),
        original_markers=("원본 메시지", "원본 메일"),
        forward_intros=("전달된 메일", "전달된 메시지"),
        reply_templates=("{date}, {name} {addr}님이 작성:",),
        forward_prefixes=("전달",),
        reply_prefixes=("답장",),
    ),
)
"""The languages inboxcore knows, in the forms Gmail, Outlook (desktop, web, new, for Mac),
Apple Mail, Thunderbird, Yahoo, HubSpot, Missive, MailMate and IONOS write them."""
