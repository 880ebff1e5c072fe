"""Text from the outside world: charsets, RFC 2047 encoded words, control characters."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inboxcore.domain.text import (
    decode_bytes,
    decode_encoded_words,
    decode_header_bytes,
    decode_rfc2047,
    replace_controls,
    split_outside_quotes,
)
from inboxcore.mail.parsing import parse_message


def test_adjacent_encoded_words_join_without_the_space_between() -> None:
    """RFC 2047 section 6.2: white space between two encoded words is not part of the text."""
    assert decode_rfc2047("=?utf-8?q?J=C3=B6rg?= \t =?utf-8?q?_M=C3=BCller?=") == "Jörg Müller"
    assert decode_rfc2047("=?utf-8?q?ab?= =?iso-8859-1?q?=E9?=") == "abé"


def test_plain_text_keeps_its_spacing_around_encoded_words() -> None:
    """Between an encoded word and plain text the space is text."""
    assert decode_rfc2047("Re: =?utf-8?q?Caf=C3=A9?= menu") == "Re: Café menu"


def test_a_character_split_between_two_words_comes_out_whole() -> None:
    """Some encoders cut a UTF-8 sequence across words; adjacent words of one charset are
    decoded together."""
    assert decode_encoded_words("=?utf-8?b?w6k=?=") == ("é", ())
    assert decode_encoded_words("=?utf-8?q?=C3?= =?UTF-8?q?=A9t=C3=A9?=") == ("été", ())


def test_language_suffix_and_alias_charsets_are_understood() -> None:
    """``utf-8*en`` (RFC 2231) and the labels mail clients use (latin1 read as Windows-1252)."""
    assert decode_rfc2047("=?utf-8*en?q?caf=C3=A9?=") == "café"
    assert decode_rfc2047("=?latin1?q?=80?=") == "€"


@pytest.mark.parametrize(
    ("word", "text", "defect"),
    [
        ("=?utf-8?b?QUJDRA=x?=", "ABCD\x0c", "InvalidBase64CharactersDefect"),
        ("=?utf-8?b?QUJDRA?=", "ABCD", "InvalidBase64PaddingDefect"),
        ("=?utf-8?b?QUJDR?=", "ABC", "InvalidBase64LengthDefect"),
        ("=?undefined?q?x?=", "x", "UnknownCharsetDefect"),
        ("=?utf\x00-8?q?x?=", "x", "UnknownCharsetDefect"),
        ("=?iso-8859-1é?q?x?=", "x", "UnknownCharsetDefect"),
        ("=?rot13?q?x?=", "x", "UnknownCharsetDefect"),
        ("=?utf-8?q?J=F6rg?=", "Jörg", "CharsetMismatchDefect"),
    ],
)
def test_malformed_words_decode_to_text_with_a_defect(word: str, text: str, defect: str) -> None:
    """Bad base64, an unknown or lying charset (the fuzz findings): text and a defect, no error."""
    decoded, defects = decode_encoded_words(f"Hi {word}")
    assert decoded == f"Hi {text}"
    assert defect in defects


def test_well_formed_words_have_no_defects() -> None:
    """The twin of the malformed words: nothing to report."""
    assert decode_encoded_words("Hi =?utf-8?b?QUJDRA==?= =?iso-8859-1?q?=E9?=") == ("Hi ABCDé", ())


def test_text_without_encoded_words_is_returned_as_is() -> None:
    """Only encoded words are touched; a lone ``=?`` is text."""
    assert decode_encoded_words("1 =? 2 ?= 3") == ("1 =? 2 ?= 3", ())
    assert decode_rfc2047("=?utf-8?x?abc?=") == "=?utf-8?x?abc?="


def test_forty_thousand_encoded_words_decode() -> None:
    """A subject of N encoded words (quadratic in the legacy decoder: a 5 MB one ran past
    240 s) decodes in one linear pass."""
    assert decode_rfc2047("=?utf-8?q?x?= " * 40_000) == "x" * 40_000 + " "
    mixed = "=?utf-8?q?x?= =?iso-8859-1?q?y?= a " * 40_000
    assert decode_rfc2047(mixed) == "xy a " * 40_000


def test_unterminated_words_on_a_megabyte_line_stay_text() -> None:
    """Half-words that never close are left as written, without rescanning the rest."""
    text = "=?utf-8?q?x " * 100_000
    assert decode_rfc2047(text) == text


def test_decode_bytes_falls_back_and_names_the_defect() -> None:
    """A declared charset first, then UTF-8, then a relative, then Windows-1252."""
    assert decode_bytes("Jörg".encode(), "iso-8859-1") == ("JÃ¶rg", None)
    assert decode_bytes("Jörg".encode(), "x-nonsense") == ("Jörg", "UnknownCharsetDefect")
    assert decode_bytes(b"J\xf6rg", "utf-8") == ("Jörg", "CharsetMismatchDefect")
    assert decode_bytes(b"J\xf6rg", None) == ("Jörg", None)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Contact form\r\nBcc: x@y.example", "Contact form Bcc: x@y.example"),
        ("a\x00b\x1bc\x7fd\x85e", "a b c d e"),
        ("tab\there", "tab here"),
        ("line\u2028separator\u2029x", "line separator x"),
        ("Zoë Åberg 🙂 \u200d", "Zoë Åberg 🙂 \u200d"),
    ],
)
def test_controls_become_one_space_each_run(text: str, kept: str) -> None:
    """C0 and C1 controls and the Unicode line separators become a space; other text stays."""
    assert replace_controls(text) == kept


@given(st.text())
def test_replace_controls_leaves_nothing_that_breaks_a_line(text: str) -> None:
    """Whatever the input, the result has no line break the email package would see, and
    replacing again changes nothing."""
    cleaned = replace_controls(text)
    assert len(cleaned.splitlines()) <= 1
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in cleaned)
    assert replace_controls(cleaned) == cleaned


@given(st.text(alphabet=st.sampled_from("=?bBqQ_ aé\x00utf-8xAQ=3D"), max_size=60))
def test_decoding_never_raises(text: str) -> None:
    """Any string of encoded-word pieces decodes to text."""
    decoded, defects = decode_encoded_words(text)
    assert isinstance(decoded, str)
    assert all(d.endswith("Defect") for d in defects)


@pytest.mark.parametrize(
    ("text", "charset"),
    [
        ("关于您的订单问题", "gb2312"),
        ("關於您的訂單問題", "big5"),
        ("ご注文についてのお問い合わせ", "shift_jis"),
        ("Не доставлено сообщение", "koi8-r"),
        ("Не доставлено сообщение", "windows-1251"),
        ("Zamówienie nr 12 – płatność", "windows-1250"),
    ],
)
def test_raw_header_bytes_read_in_the_declared_charset(text: str, charset: str) -> None:
    """A legacy client's raw 8-bit header is read in the message's declared charset."""
    assert decode_header_bytes(text.encode(charset), charset) == text


def test_raw_header_bytes_utf8_comes_first_and_latin_stays_the_fallback() -> None:
    assert decode_header_bytes("Grüße 关于".encode(), "gb2312") == "Grüße 关于"
    assert decode_header_bytes("Réclamation à traiter".encode("cp1252"), None) == (
        "Réclamation à traiter"
    )


def test_raw_header_bytes_without_a_charset_are_detected() -> None:
    """No declared charset: the section's 8-bit bytes are the evidence, not Latin-1."""
    evidence = "张三 关于发票的问题，请尽快回复".encode("gbk")
    assert decode_header_bytes("张三".encode("gbk"), None, lambda: evidence) == "张三"
    russian = "Иван Петров Не доставлено сообщение".encode("koi8-r")
    assert decode_header_bytes(russian, None) == "Иван Петров Не доставлено сообщение"


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        ("請求書の再発行について", "iso-2022-jp"),
        ("ｶﾀｶﾅの件", "iso2022_jp_ext"),
        ("안녕하세요", "iso2022_kr"),
    ],
)
def test_raw_iso_2022_header_text_is_decoded(text: str, codec: str) -> None:
    """7-bit ISO-2022 headers (Japanese mailers before RFC 2047) read as text, not as
    ``$B@A5a=q(B``; an escape with no ISO-2022 designation stays a replaced control."""
    raw = b"From: a@b.example\r\nSubject: " + text.encode(codec) + b"\r\n\r\nx"
    assert parse_message(raw).subject == text
    assert decode_header_bytes(text.encode(codec), None) == text


def test_a_stray_escape_is_no_iso_2022_and_utf7_encoded_words_decode() -> None:
    """ESC without a designation stays a replaced control; UTF-7, a rare charset, decodes."""
    assert parse_message(b"Subject: plain \x1b stray\r\n\r\nx").subject == "plain   stray"
    assert decode_encoded_words("=?utf-7?q?Hi_+AOQ-?=")[0] == "Hi \u00e4"


def test_split_outside_quotes_keeps_quoted_separators() -> None:
    """Parameters and results split on ``;`` outside quotes; an escaped quote stays quoted."""
    assert split_outside_quotes('a; name="x;y"; b') == ["a", ' name="x;y"', " b"]
    assert split_outside_quotes('x="a\\";b"; c') == ['x="a\\";b"', " c"]
    assert split_outside_quotes("") == [""]
