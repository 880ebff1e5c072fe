"""Forwarded-message blocks as mail clients write them, in many languages."""

from __future__ import annotations

import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inboxcore.mail import forwards
from inboxcore.mail.forwards import (
    HEADER_LABELS,
    ForwardClient,
    ForwardedMessage,
    SubjectKind,
    parse_forwarded,
    strip_subject_prefixes,
    subject_kind,
)


def _parse(text: str, subject: str | None = None) -> ForwardedMessage:
    found = parse_forwarded(text, subject)
    assert found is not None
    return found


GMAIL_EN = """\
Hi team, this customer can't log in since yesterday. Can someone take it?

Thanks,
Priya

---------- Forwarded message ---------
From: Marta Kowalski <marta.kowalski@example.org>
Date: Wed, Oct 27, 2021 at 9:31 AM
Subject: Cannot log in to my account
To: <priya@acme-support.com>
Cc: Tom Reed <tom.reed@example.org>, ops@example.org

Hello,

since yesterday the login page says "invalid token".

Best regards,
Marta
"""


def test_gmail_forward_gives_the_original_author_subject_and_body() -> None:
    """Gmail's block yields author, subject, recipients, the original body and the note above."""
    found = _parse(GMAIL_EN, "Fwd: Cannot log in to my account")
    assert found.from_address is not None
    assert found.from_address.address == "marta.kowalski@example.org"
    assert found.from_name == "Marta Kowalski"
    assert found.from_address.display_name == "Marta Kowalski"
    assert found.subject == "Cannot log in to my account"
    assert found.date == "Wed, Oct 27, 2021 at 9:31 AM"
    assert found.sent_at is None  # a wall-clock time of an unknown zone is not guessed
    assert [a.address for a in found.to] == ["priya@acme-support.com"]
    assert [a.address for a in found.cc] == ["tom.reed@example.org", "ops@example.org"]
    assert found.body.startswith("Hello,\n\nsince yesterday")
    assert found.body.endswith("Marta")
    assert found.forwarder_message is not None
    assert found.forwarder_message.startswith("Hi team,")
    assert found.forwarder_message.endswith("Priya")
    assert found.client is ForwardClient.GMAIL
    assert found.marker == "---------- Forwarded message ---------"


def test_gmail_in_swedish_uses_localized_from_label() -> None:
    """Gmail keeps its English marker in every locale but localizes the From label."""
    text = (
        "---------- Forwarded message ---------\n"
        "Från: Sven Lindqvist <sven@foretaget.se>\n"
        "Date: ons 27 okt. 2021 kl 09:31\n"
        "Subject: Faktura 2021-104\n"
        "To: <kundtjanst@acme.se>\n\n"
        "Hej! Fakturan har fel belopp.\n"
    )
    found = _parse(text, "Fwd: Faktura 2021-104")
    assert found.from_address is not None
    assert found.from_address.address == "sven@foretaget.se"
    assert found.subject == "Faktura 2021-104"
    assert found.body == "Hej! Fakturan har fel belopp."
    assert found.forwarder_message is None


def test_outlook_original_message_in_german_with_mailto() -> None:
    """Outlook desktop's -----Ursprüngliche Nachricht----- block with a [mailto:] author."""
    text = (
        "Bitte übernehmen.\r\n\r\n"
        "-----Ursprüngliche Nachricht-----\r\n"
        "Von: Max Mustermann [mailto:max.mustermann@kunde.de] \r\n"
        "Gesendet: Mittwoch, 27. Oktober 2021 15:14\r\n"
        "An: Support <support@acme.de>\r\n"
        "Betreff: Rechnung 4711 doppelt abgebucht\r\n\r\n"
        "Sehr geehrte Damen und Herren,\r\n\r\ndie Rechnung 4711 wurde zweimal abgebucht.\r\n"
    )
    found = _parse(text, "WG: Rechnung 4711 doppelt abgebucht")
    assert found.from_address is not None
    assert found.from_address.address == "max.mustermann@kunde.de"
    assert found.from_name == "Max Mustermann"
    assert found.date == "Mittwoch, 27. Oktober 2021 15:14"
    assert found.subject == "Rechnung 4711 doppelt abgebucht"
    assert found.body.startswith("Sehr geehrte Damen und Herren,\n\ndie Rechnung")
    assert found.forwarder_message == "Bitte übernehmen."
    assert found.client is ForwardClient.OUTLOOK


def test_outlook_original_message_under_a_reply_subject_is_a_reply() -> None:
    """-----Original Message----- under "RE:" is a quoted reply, not a forward."""
    text = (
        "Thanks, that fixed it.\n\n-----Original Message-----\n"
        "From: Helpdesk <support@acme.com>\nSent: Monday, 3 May 2021 10:00\n"
        "To: Ann Lee <ann@example.com>\nSubject: Your ticket\n\nTry clearing the cache.\n"
    )
    assert parse_forwarded(text, "RE: Your ticket") is None
    assert parse_forwarded(text, "FW: Your ticket") is not None


def test_outlook_web_underscore_block_with_bold_french_labels() -> None:
    """Outlook on the web's underscore line, with bold labels as HTML-derived text shows them."""
    text = (
        "Pouvez-vous répondre à Mme Dupont ?\n\n"
        "________________________________\n"
        "*De :* Jeanne Dupont <jeanne.dupont@client.fr>\n"
        "*Envoyé :* mercredi 27 octobre 2021 15:14\n"
        "*À :* contact@acme.fr <contact@acme.fr>\n"
        "*Objet :* Retard de livraison\n\n"
        "Bonjour, ma commande n° 5521 n'est toujours pas arrivée.\n"
    )
    found = _parse(text, "TR: Retard de livraison")
    assert found.from_address is not None
    assert found.from_address.address == "jeanne.dupont@client.fr"
    assert found.from_name == "Jeanne Dupont"
    assert found.subject == "Retard de livraison"
    assert [a.address for a in found.to] == ["contact@acme.fr"]
    assert found.to[0].display_name is None  # "x@y <x@y>": the name is just the address
    assert found.body == "Bonjour, ma commande n° 5521 n'est toujours pas arrivée."
    assert found.forwarder_message == "Pouvez-vous répondre à Mme Dupont ?"
    assert found.client is ForwardClient.OUTLOOK


NEW_OUTLOOK_NL = (
    "Van: Pieter de Vries <pieter@bedrijf.nl>\n"
    "Datum: donderdag, 28 oktober 2021 om 12:06\n"
    "Aan: info@acme.nl <info@acme.nl>\n"
    "Onderwerp: Offerte aanvraag\n"
    "Goedemiddag, graag ontvang ik een offerte.\n"
)


def test_new_outlook_block_without_separator_in_dutch() -> None:
    """New Outlook writes the header block alone; a forward subject confirms it."""
    found = _parse(NEW_OUTLOOK_NL, "Doorst: Offerte aanvraag")
    assert found.from_address is not None
    assert found.from_address.address == "pieter@bedrijf.nl"
    assert found.subject == "Offerte aanvraag"
    assert found.body == "Goedemiddag, graag ontvang ik een offerte."
    assert found.marker is None
    assert found.client is ForwardClient.OUTLOOK


def test_new_outlook_block_needs_forward_subject_or_top_position() -> None:
    """A bare header block under a reply subject, or below other text with no subject, is not
    taken as a forward (replies quote the same way)."""
    assert parse_forwarded(NEW_OUTLOOK_NL, "Re: Offerte aanvraag") is None
    assert parse_forwarded(NEW_OUTLOOK_NL, None) is not None
    assert parse_forwarded("Zie hieronder.\n\n" + NEW_OUTLOOK_NL, None) is None
    assert parse_forwarded("Zie hieronder.\n\n" + NEW_OUTLOOK_NL, "FW: Offerte") is not None


@pytest.mark.parametrize(
    ("marker", "labels", "language"),
    [
        ("Begin forwarded message:", ("From", "Subject", "Date", "To"), "en"),
        ("Inizio messaggio inoltrato:", ("Da", "Oggetto", "Data", "A"), "it"),
        ("Inicio del mensaje reenviado:", ("De", "Asunto", "Fecha", "Para"), "es"),
        ("Start på videresendt besked:", ("Fra", "Emne", "Dato", "Til"), "da"),
        ("Välitetty viesti alkaa:", ("Lähettäjä", "Aihe", "Päivämäärä", "Vastaanottaja"), "fi"),
        ("Início da mensagem encaminhada:", ("De", "Assunto", "Data", "Para"), "pt-br"),
        ("Anfang der weitergeleiteten Nachricht:", ("Von", "Betreff", "Datum", "An"), "de"),
    ],
)
def test_apple_mail_quoted_forward_in_many_languages(
    marker: str, labels: tuple[str, str, str, str], language: str
) -> None:
    """Apple Mail quotes the whole forward with "> "; the quote marks are removed."""
    frm, subj, date, to = labels
    text = (
        f"> {marker}\n>\n"
        f"> {frm}: Lucía Fernández <lucia@cliente.example>\n"
        f"> {subj}: Pedido 88 ({language})\n"
        f"> {date}: 26 October 2021 at 14:25:08 EEST\n"
        f"> {to}: soporte@acme.example\n>\n"
        "> Hola,\n> el pedido 88 llegó roto.\n>\n> Lucía\n"
    )
    found = _parse(text)
    assert found.from_address is not None
    assert found.from_address.address == "lucia@cliente.example"
    assert found.from_name == "Lucía Fernández"
    assert found.subject == f"Pedido 88 ({language})"
    assert found.body == "Hola,\nel pedido 88 llegó roto.\n\nLucía"
    assert found.client is ForwardClient.APPLE_MAIL


def test_thunderbird_dutch_forward_has_a_utc_date() -> None:
    """Thunderbird's RFC 5322 date is turned into UTC; its tab-separated labels are read."""
    text = (
        "-------- Doorgestuurd bericht --------\n"
        "Onderwerp: \tStoring bij inloggen\n"
        "Datum: \tWed, 3 Nov 2021 15:51:30 +0100\n"
        "Van: \tJan Jansen <jan@voorbeeld.nl>\n"
        "Aan: \tsupport@acme.nl\n\n\n\n"
        "Ik kan niet meer inloggen.\n"
    )
    found = _parse(text)
    assert found.sent_at == datetime(2021, 11, 3, 14, 51, 30, tzinfo=UTC)
    assert found.from_address is not None
    assert found.from_address.address == "jan@voorbeeld.nl"
    assert found.subject == "Storing bij inloggen"
    assert found.body == "Ik kan niet meer inloggen."
    assert found.client is ForwardClient.THUNDERBIRD


def test_thunderbird_original_message_in_finnish_and_norwegian() -> None:
    """Thunderbird's Finnish "Välitetty viesti / Fwd.Msg" and Norwegian markers are known."""
    finnish = (
        "-------- Välitetty viesti / Fwd.Msg --------\n"
        "Aihe: \tLasku\nPäiväys: \tWed, 3 Nov 2021 15:51:30 +0200\n"
        "Lähettäjä: \tMatti Virtanen <matti@yritys.fi>\nVastaanottaja: \ttuki@acme.fi\n\n"
        "Lasku on väärin.\n"
    )
    norwegian = (
        "-------- Videresendt melding --------\n"
        "Emne: \tFaktura\nDato: \tWed, 3 Nov 2021 15:51:30 +0100\n"
        "Fra: \tKari Nordmann <kari@firma.no>\nTil: \tkundeservice@acme.no\n\n"
        "Fakturaen er feil.\n"
    )
    for text, author in ((finnish, "matti@yritys.fi"), (norwegian, "kari@firma.no")):
        found = _parse(text)
        assert found.from_address is not None
        assert found.from_address.address == author
        assert found.client is ForwardClient.THUNDERBIRD


def test_yahoo_inline_headers_in_portuguese() -> None:
    """Yahoo runs the headers into the marker's line; each label still splits its field."""
    text = (
        "Vejam abaixo.\n"
        "   ----- Mensagem encaminhada ----- De: João Silva <joao.silva@cliente.com.br>"
        'Para: "suporte@acme.com.br" <suporte@acme.com.br>Cc: Ana <ana@cliente.com.br>'
        "Enviado: terça-feira, 2 de novembro de 2021 09:26:50 BRTAssunto: Boleto vencido\n"
        " Olá, meu boleto venceu ontem.\n"
    )
    found = _parse(text)
    assert found.from_address is not None
    assert found.from_address.address == "joao.silva@cliente.com.br"
    assert found.from_name == "João Silva"
    assert found.subject == "Boleto vencido"
    assert found.date == "terça-feira, 2 de novembro de 2021 09:26:50 BRT"
    assert [a.address for a in found.to] == ["suporte@acme.com.br"]
    assert [a.address for a in found.cc] == ["ana@cliente.com.br"]
    assert found.body == "Olá, meu boleto venceu ontem."
    assert found.forwarder_message == "Vejam abaixo."
    assert found.client is ForwardClient.YAHOO


@pytest.mark.parametrize(
    ("block", "author", "subject"),
    [
        (
            "差出人: 山田 太郎 <taro.yamada@example.jp>\n送信日時: 2021年10月27日 15:14\n"
            "宛先: support@acme.jp\n件名: 請求書について\n\n請求書が届いていません。\n",
            "taro.yamada@example.jp",
            "請求書について",
        ),
        (
            "发件人: 王伟 <wang.wei@example.cn>\n发送时间: 2021年10月27日 15:14\n"
            "收件人: support@acme.cn\n主题: 发票问题\n\n发票金额不对。\n",
            "wang.wei@example.cn",
            "发票问题",
        ),
        (
            "보낸 사람: 김민수 <minsu.kim@example.kr>\n보낸 날짜: 2021년 10월 27일 15:14\n"
            "받는 사람: support@acme.kr\n제목: 배송 문의\n\n배송이 늦어요.\n",
            "minsu.kim@example.kr",
            "배송 문의",
        ),
        (
            "От: Иван Петров <ivan@example.ru>\nОтправлено: 27 октября 2021 г. 15:14\n"
            "Кому: support@acme.ru\nТема: Счёт\n\nСчёт не пришёл.\n",
            "ivan@example.ru",
            "Счёт",
        ),
    ],
)
def test_outlook_underscore_block_in_cjk_and_cyrillic(
    block: str, author: str, subject: str
) -> None:
    """Outlook's block is read in Japanese, Chinese, Korean and Russian."""
    found = _parse("________________________________\n" + block)
    assert found.from_address is not None
    assert found.from_address.address == author
    assert found.subject == subject


def test_quoted_gmail_forward_inside_a_reply_is_unquoted() -> None:
    """A forward quoted with "> " inside another message is found and unquoted."""
    text = (
        "See the customer's mail below.\n\n"
        "> ---------- Forwarded message ---------\n"
        "> From: Olga <olga@example.pl>\n"
        "> Date: Wed, 27 Oct 2021 09:31:00 +0200\n"
        "> Subject: Zwrot\n"
        "> To: <shop@acme.pl>\n"
        ">\n"
        "> Dzień dobry, chcę zwrócić towar.\n"
    )
    found = _parse(text)
    assert found.from_address is not None
    assert found.from_address.address == "olga@example.pl"
    assert found.body == "Dzień dobry, chcę zwrócić towar."
    assert found.sent_at == datetime(2021, 10, 27, 7, 31, tzinfo=UTC)


OUTLOOK_MAC = (
    '\ufeffOn 28/10/2021 12:46, "John Doe" <john.doe@example.com> wrote:\r\n\r\n'
    "    The export keeps failing at 99%.\r\n\r\n    John\r\n"
)


def test_reply_style_header_counts_only_under_a_forward_subject() -> None:
    """Outlook 2019 for Mac forwards with a reply-style line; only "FW:" makes it a forward."""
    found = _parse(OUTLOOK_MAC, "FW: Export fails")
    assert found.from_address is not None
    assert found.from_address.address == "john.doe@example.com"
    assert found.from_name == "John Doe"
    assert found.subject == "Export fails"
    assert found.date == "28/10/2021 12:46"
    assert found.body == "The export keeps failing at 99%.\n\nJohn"
    assert parse_forwarded(OUTLOOK_MAC, "Re: Export fails") is None
    assert parse_forwarded(OUTLOOK_MAC, None) is None


@pytest.mark.parametrize(
    "line",
    [
        "Am 28.10.2021 um 12:46 schrieb Anna Schmidt <anna@kunde.de>:",
        "Le 28/10/2021 12:46, « Anna Schmidt » <anna@kunde.de> a écrit :",
        "El 28/10/2021 12:46, Anna Schmidt <anna@kunde.de> escribió:",
        "Op 28-10-2021 12:46 heeft Anna Schmidt <anna@kunde.de> geschreven:",
        "Den 28/10/2021 12:46 skrev Anna Schmidt <anna@kunde.de> följande:",
        "Anna Schmidt <anna@kunde.de> kirjoitti 28/10/2021 12.46:",
        "28/10/2021 12:46 időpontban Anna Schmidt (anna@kunde.de) ezt írta:",
    ],
)
def test_reply_style_lines_in_several_languages(line: str) -> None:
    """The reply-style line is read in German, French, Spanish, Dutch, Swedish, Finnish, Hungarian."""
    found = _parse(line + "\n\nHallo.\n", "Fwd: Frage")
    assert found.from_address is not None
    assert found.from_address.address == "anna@kunde.de"
    assert found.from_name == "Anna Schmidt"


def test_nested_forwards_return_the_outermost() -> None:
    """Of forwards of forwards, the outermost block is returned; its body holds the inner one."""
    text = (
        "---------- Forwarded message ---------\n"
        "From: Bea <bea@acme.com>\nDate: Thu, 6 Apr 2023 at 16:17\nSubject: Fwd: Broken\n"
        "To: <team@acme.com>\n\nFYI\n\n"
        "---------- Forwarded message ---------\n"
        "From: Carl <carl@customer.example>\nDate: Thu, 6 Apr 2023 at 15:00\nSubject: Broken\n"
        "To: <bea@acme.com>\n\nIt is broken.\n"
    )
    outer = _parse(text)
    assert outer.from_address is not None
    assert outer.from_address.address == "bea@acme.com"
    inner = _parse(outer.body, outer.subject)
    assert inner.from_address is not None
    assert inner.from_address.address == "carl@customer.example"
    assert inner.body == "It is broken."


@pytest.mark.parametrize(
    ("value", "address", "name"),
    [
        ("John Doe <john@x.example<mailto:john@x.example>>", "john@x.example", "John Doe"),
        ("John Doe [mailto:john@x.example]", "john@x.example", "John Doe"),
        ("'Doe, John' <john@x.example>", "john@x.example", "Doe, John"),
        ("\"'john@x.example'\" <john@x.example>", "john@x.example", None),
        ("John Doe (john@x.example)", "john@x.example", "John Doe"),
        ("john@x.example", "john@x.example", None),
        ("John Doe", None, "John Doe"),
    ],
)
def test_author_forms(value: str, address: str | None, name: str | None) -> None:
    """Every client's way of writing the author gives the same address and name."""
    found = _parse(
        f"-----Original Message-----\nFrom: {value}\nSent: 1 May 2021\nSubject: Hi\n\nBody\n"
    )
    assert (found.from_address.address if found.from_address else None) == address
    assert found.from_name == name


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Hello, just a normal message.\n\nThanks!",
        "From: the desk of the CEO: a word about our values.\n",
        "Meeting notes\nDate: Monday\nSubject: budget\n",
        "On Wed, Oct 27, 2021 at 9:31 AM John Doe <john.doe@acme.com>\nwrote:\n\n> Hi\n",
        "-------- Some other section --------\ntext\n",
    ],
)
def test_messages_without_a_forward_give_none(text: str) -> None:
    """Ordinary text, a quoted reply and unrelated dashed lines are not forwards."""
    assert parse_forwarded(text) is None


@pytest.mark.parametrize(
    ("subject", "kind", "stripped"),
    [
        ("Fwd: Hello", SubjectKind.FORWARD, "Hello"),
        ("FW: RE: Hello", SubjectKind.FORWARD, "Hello"),
        ("AW: WG: Rechnung", SubjectKind.REPLY, "Rechnung"),
        ("TR: Facture", SubjectKind.FORWARD, "Facture"),
        ("RV: Pedido", SubjectKind.FORWARD, "Pedido"),
        ("Doorst: Offerte", SubjectKind.FORWARD, "Offerte"),
        ("VB: Faktura", SubjectKind.FORWARD, "Faktura"),
        ("İLT: Fatura", SubjectKind.FORWARD, "Fatura"),
        ("Re[2]: Status", SubjectKind.REPLY, "Status"),
        ("SV: Fråga", SubjectKind.REPLY, "Fråga"),
        ("Invoice: March", None, "Invoice: March"),
        ("Hello", None, "Hello"),
        ("", None, ""),
    ],
)
def test_subject_prefixes(subject: str, kind: SubjectKind | None, stripped: str) -> None:
    """Forward and reply prefixes in many languages are told apart and stripped."""
    assert subject_kind(subject) is kind
    assert strip_subject_prefixes(subject) == stripped


def test_header_labels_are_unambiguous() -> None:
    """No label names two different fields, so the table can be read in any language."""
    counts = Counter(
        " ".join(label.split()).casefold() for labels in HEADER_LABELS.values() for label in labels
    )
    assert [label for label, count in counts.items() if count > 1] == []


def test_a_huge_body_is_scanned_quickly() -> None:
    """A body of 200,000 lines without a forward is handled in well under a few seconds."""
    text = "Just some line of a very long log file: value=42\n" * 200_000
    started = time.perf_counter()
    assert parse_forwarded(text) is None
    assert time.perf_counter() - started < 5


def test_adversarial_header_runs_are_scanned_quickly() -> None:
    """Thousands of markers over an endless header block stay linear, not quadratic."""
    text = "-----Original Message-----\n" * 3000 + "To: a@b.example\n" * 200_000
    started = time.perf_counter()
    parse_forwarded(text, "Fwd: x")
    parse_forwarded("From: x\n" * 200_000, "Fwd: x")
    assert time.perf_counter() - started < 5


_FRAGMENTS = st.sampled_from(
    [
        "---------- Forwarded message ---------",
        "-----Original Message-----",
        "________________________________",
        "Begin forwarded message:",
        "> ",
        ">",
        "From: ",
        "Von: ",
        "Subject: ",
        "Date: ",
        "To: ",
        "<a@b.example>",
        "[mailto:",
        "wrote:",
        "\n",
        "\r\n",
        " ",
        "\t",
        "\ufeff",
        "İ",
        "@",
        "<",
        ">",
    ]
)


@settings(max_examples=150, deadline=None)
@given(text=st.text(), subject=st.one_of(st.none(), st.text()))
def test_arbitrary_text_never_crashes(text: str, subject: str | None) -> None:
    """Any text and subject give None or a well-formed ForwardedMessage."""
    found = parse_forwarded(text, subject)
    if found is not None:
        assert isinstance(found.body, str)
        assert found.forwarder_message is None or found.forwarder_message.strip()


@settings(max_examples=150, deadline=None)
@given(
    parts=st.lists(st.one_of(_FRAGMENTS, st.text(max_size=8)), max_size=40),
    subject=st.sampled_from([None, "Fwd: x", "Re: x", "FW:"]),
)
def test_marker_soup_never_crashes(parts: list[str], subject: str | None) -> None:
    """Text built from marker and header fragments never crashes the parser."""
    found = parse_forwarded("".join(parts), subject)
    if found is not None and found.from_address is not None:
        assert "@" in found.from_address.address


def test_a_long_forward_is_read_in_a_small_multiple_of_its_size() -> None:
    """A 3 MB forward: its lines are never all held at once (once over four times the text)."""
    line = "The quoted original goes on and on, as long mail threads do.\n"
    text = (
        "FYI\n\n---------- Forwarded message ---------\nFrom: Ceo <ceo@bigbank.example>\n"
        "Subject: contract\n\n" + line * 50_000
    )
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        found = parse_forwarded(text, "Fwd: contract")
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert found is not None
    assert found.from_address is not None
    assert found.from_address.address == "ceo@bigbank.example"
    assert found.body == (line * 50_000).strip()
    assert peak < 3.5 * len(text)


@contextmanager
def _small_chunks() -> Iterator[None]:
    """The scanner with tiny limits: a few lines split up front, a few characters per chunk."""
    saved = (forwards._HEAD_LINES, forwards._BODY_CHUNK)
    forwards._HEAD_LINES, forwards._BODY_CHUNK = forwards._MAX_SCAN_LINES + 108, 5
    try:
        yield
    finally:
        forwards._HEAD_LINES, forwards._BODY_CHUNK = saved


_BODY_LINES = st.lists(
    st.sampled_from(
        ["", " ", "  indented", "\tTabbed", "> quoted", ">> deeper", "text  ", "\ufeff"]
    ),
    max_size=30,
)


@settings(max_examples=100, deadline=None)
@given(
    lines=_BODY_LINES,
    newline=st.sampled_from(["\n", "\r\n", "\r"]),
    quote=st.sampled_from(["", "> ", "  "]),
)
def test_a_body_read_in_chunks_is_the_body_read_whole(
    lines: list[str], newline: str, quote: str
) -> None:
    """The body assembled chunk by chunk (quotes, blank lines, indentation, line endings) is the
    body read in one piece."""
    block = ["---------- Forwarded message ---------", "From: Ann <ann@example.org>", ""]
    text = newline.join(quote + line for line in [*block, *lines])
    whole = parse_forwarded(text, "Fwd: x")
    with _small_chunks():
        chunked = parse_forwarded(text, "Fwd: x")
    assert whole == chunked


@pytest.mark.parametrize("body", [">" * 200_000, "From: x" + " " * 200_000 + "y", "-- a" * 50_000])
def test_long_runs_in_a_forward_are_read_in_linear_time(body: str) -> None:
    """Runs that once made a pattern quadratic (unquoting a line of 200,000 quote marks took
    minutes) are read."""
    text = f"---------- Forwarded message ---------\nFrom: Ann <ann@example.org>\n\n{body}"
    found = parse_forwarded(text, "Fwd: x")
    assert found is not None
    assert found.from_address is not None
    assert found.from_address.address == "ann@example.org"


@pytest.mark.parametrize("run", ["[mailto:", "<mailto:", "[a@a@", "(a@a@", ", a@a@"])
def test_long_runs_in_an_address_field_are_cleaned_in_linear_time(run: str) -> None:
    """Rewriting a To or Cc field's client forms ([mailto:...], (addr), addr <addr>) stays
    linear on a 300 KB run (each form once rescanned the rest of the field)."""
    value = run * (300_000 // len(run))
    assert len(forwards._clean_mailbox_text(value)) >= len(value) // 2


def test_a_line_of_quote_marks_is_read_in_small_memory() -> None:
    """A 400 KB line of ">" (the quote pattern once kept a backtracking mark per quote: 50 MB)
    peaks under four times the text."""
    text = "---------- Forwarded message ---------\nFrom: Ann <ann@example.org>\n\n" + ">" * 400_000
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        found = parse_forwarded(text, "Fwd: x")
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert found is not None
    assert peak < 4 * len(text)
