"""Tests for inboxcore.mail.parsing: a lazy MIME parser that never raises."""

from __future__ import annotations

import base64
import binascii
import textwrap
import tracemalloc
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inboxcore.mail.parsing import Attachment, ParsedMessage, html_to_text, parse_message


def msg(text: str, *, crlf: bool = True) -> bytes:
    """A message written in the test as indented text, with CRLF (or LF) line endings."""
    body = textwrap.dedent(text).lstrip("\n")
    data = body.encode("utf-8")
    return data.replace(b"\n", b"\r\n") if crlf else data


def touch_everything(m: ParsedMessage, depth: int = 0) -> None:
    """Read every accessor, as the pipeline and `inboxcore inspect` do."""
    for name in (
        "message_id",
        "subject",
        "date",
        "from_",
        "sender",
        "reply_to",
        "to",
        "cc",
        "in_reply_to",
        "references",
        "list_id",
        "content_type",
        "html",
        "text",
        "attachments",
        "defects",
        "raw_body",
    ):
        getattr(m, name)
    m.header_names()
    m.raw_headers()
    m.header("Subject")
    m.headers("Received")
    for part in m.parts():
        assert isinstance(part.content_type, str)
        part.header("Content-Type")
        assert part.filename is None or part.filename.strip() == part.filename
        assert isinstance(part.is_attachment, bool)
        part.text()
        assert len(part.payload) == part.size
    for i in range(len(m.attachments)):
        m.attachment_payload(i)
    if depth < 3:
        for inner in m.attached_messages:
            touch_everything(inner, depth + 1)


GMAIL_ALTERNATIVE = msg(
    """
    Delivered-To: support@acme-help.example
    Received: from mail-sor-f41.google.com (mail-sor-f41.google.com [209.85.220.41])
    \tby mx.acme-help.example with ESMTPS id x12; Tue, 04 Jun 2024 09:12:44 -0700 (PDT)
    MIME-Version: 1.0
    From: =?UTF-8?Q?Bj=C3=B6rn_Str=C3=B6m?= <bjorn.strom@gmail.example>
    Date: Tue, 4 Jun 2024 18:12:31 +0200
    Message-ID: <CAB+x9Q1a2b3@mail.gmail.example>
    Subject: =?UTF-8?Q?Fr=C3=A5ga_om_leverans?=
     =?UTF-8?Q?_av_order_4711?=
    To: Acme Support <support@acme.example>
    Cc: "Lena, Ops" <lena@acme.example>, bad address, ola@acme.example
    In-Reply-To: <prev-1@acme.example>
    References: <root-0@acme.example>
     <prev-1@acme.example>
    List-Id: Customers <customers.acme.example>
    Content-Type: multipart/alternative; boundary="000000000000a1b2c3"

    --000000000000a1b2c3
    Content-Type: text/plain; charset="UTF-8"
    Content-Transfer-Encoding: quoted-printable

    Hej!

    N=C3=A4r kommer min order? Den skulle ha kommit i fredags, men jag har =
    inte sett n=C3=A5got.

    Mvh Bj=C3=B6rn

    --000000000000a1b2c3
    Content-Type: text/html; charset="UTF-8"
    Content-Transfer-Encoding: quoted-printable

    <div dir=3D"ltr">Hej!<br><br>N=C3=A4r kommer min order?</div>

    --000000000000a1b2c3--
    """
)


# --- headers ---------------------------------------------------------------------------------------


def test_headers_are_unfolded_and_rfc2047_decoded() -> None:
    """Encoded words across a fold join into one subject; names decode too."""
    m = parse_message(GMAIL_ALTERNATIVE)
    assert m.subject == "Fråga om leverans av order 4711"
    assert m.from_[0].display_name == "Björn Ström"
    assert m.from_[0].address == "bjorn.strom@gmail.example"


def test_typed_header_accessors() -> None:
    """Message-ID, Date, addresses, threading headers and List-Id come out typed and clean."""
    m = parse_message(GMAIL_ALTERNATIVE)
    assert m.message_id == "CAB+x9Q1a2b3@mail.gmail.example"
    assert m.date == datetime(2024, 6, 4, 16, 12, 31, tzinfo=UTC)
    assert [a.address for a in m.cc] == ["lena@acme.example", "ola@acme.example"]
    assert m.in_reply_to == ("prev-1@acme.example",)
    assert m.references == ("root-0@acme.example", "prev-1@acme.example")
    assert m.list_id == "customers.acme.example"
    assert m.content_type == "multipart/alternative"
    assert m.sender is None


def test_header_names_keep_order_case_and_repeats() -> None:
    """header_names() lists every field as written, repeats included."""
    raw = msg(
        """
        Received: from a
        received: from b
        Subject: x

        body
        """
    )
    m = parse_message(raw)
    assert m.header_names() == ("Received", "received", "Subject")
    assert m.headers("RECEIVED") == ("from a", "from b")


def test_raw_headers_are_the_exact_bytes() -> None:
    """raw_headers() returns each field's bytes untouched (folding, case, CRLF) for DKIM."""
    m = parse_message(GMAIL_ALTERNATIVE)
    fields = dict(m.raw_headers())
    assert fields["Subject"] == (
        b"Subject: =?UTF-8?Q?Fr=C3=A5ga_om_leverans?=\r\n =?UTF-8?Q?_av_order_4711?=\r\n"
    )
    assert b"".join(v for _, v in m.raw_headers()) + b"\r\n" + m.raw_body == m.raw


def test_eight_bit_headers_decode_as_utf8_or_windows_1252() -> None:
    """Raw UTF-8 (RFC 6532) and raw Latin-1 header bytes both come out readable."""
    raw = (
        "From: Zoë Ångström <zoe@example.se>\r\nSubject: Bestätigung\r\n\r\nhej\r\n".encode() + b""
    )
    assert parse_message(raw).subject == "Bestätigung"
    latin = b"From: zoe@example.se\r\nSubject: R\xe9clamation \xe0 traiter\r\n\r\nx\r\n"
    assert parse_message(latin).subject == "Réclamation à traiter"
    assert parse_message(raw).from_[0].display_name == "Zoë Ångström"


def test_unknown_charset_in_encoded_word_falls_back() -> None:
    """An encoded word in a charset nobody knows still yields text, not an exception."""
    raw = b"Subject: =?x-klingon?Q?Caf=C3=A9?=\r\n\r\nbody\r\n"
    assert parse_message(raw).subject == "Café"


def test_address_headers_are_parsed_before_names_are_decoded() -> None:
    """An encoded ``@`` or CR LF in a display name is a name: one From, one Cc (issue 12)."""
    raw = (
        b"From: =?utf-8?q?ceo=40bigbank=2Eexample?= <attacker@evil.example>\r\n"
        b"Cc: =?utf-8?q?Bob=0D=0ABcc=3A_x=40y.example?= <bob@customer.example>\r\n"
        b"X-Original-From: =?utf-8?q?ceo=40bigbank=2Eexample?= <attacker@evil.example>\r\n"
        b"Subject: x\r\n\r\nbody\r\n"
    )
    m = parse_message(raw)
    assert [(a.display_name, a.address) for a in m.from_] == [
        ("ceo@bigbank.example", "attacker@evil.example")
    ]
    assert [(a.display_name, a.address) for a in m.cc] == [
        ("Bob Bcc: x@y.example", "bob@customer.example")
    ]
    assert m.addresses("X-Original-From") == m.from_


def test_encoded_names_of_real_senders_still_decode() -> None:
    """The legitimate twin: encoded names, a comma inside one, on the real addresses."""
    raw = (
        b"From: =?iso-8859-1?Q?=C5berg=2C_Sven?= <sven@customer.example>\r\n"
        b"Reply-To: =?utf-8?q?Sven_=C3=85berg?= <sven.aberg@customer.example>\r\n"
        b"Sender: =?utf-8?q?Assistant?= <assistant@customer.example>\r\n"
        b"To: support@acme.example,\r\n =?utf-8?q?Lena?= <lena@acme.example>\r\n"
        b"Subject: x\r\n\r\nbody\r\n"
    )
    m = parse_message(raw)
    assert [(a.display_name, a.address) for a in m.from_] == [
        ("Åberg, Sven", "sven@customer.example")
    ]
    assert m.reply_to[0].display_name == "Sven Åberg"
    assert m.sender is not None
    assert m.sender.address == "assistant@customer.example"
    assert [a.address for a in m.to] == ["support@acme.example", "lena@acme.example"]


def test_decoded_header_values_hold_no_control_characters() -> None:
    """A web-form subject with an encoded CR LF (and NUL, ESC, TAB) is kept with spaces."""
    raw = (
        b"Subject: =?utf-8?q?Contact_form=0D=0ABcc=3A_x=40y.example?= =?utf-8?q?=00=1B?=\tend\r\n"
        b"X-Note: =?utf-8?q?a=0Ab?=\r\n\r\nbody\r\n"
    )
    m = parse_message(raw)
    assert m.subject == "Contact form Bcc: x@y.example end"
    assert m.header("X-Note") == "a b"


@pytest.mark.parametrize(
    ("header", "defect"),
    [
        (b"Subject: =?utf-8?b?QUJDRA=x?=", "InvalidBase64CharactersDefect"),
        (b"From: =?undefined?q?x?= <ada@customer.example>", "UnknownCharsetDefect"),
        (b"To: =?utf\x00-8?q?x?= <ada@customer.example>", "UnknownCharsetDefect"),
        (b"Cc: =?iso-8859-1\xc3\xa9?q?x?= <ada@customer.example>", "UnknownCharsetDefect"),
        (b"Reply-To: =?utf-8?q?J=F6rg?= <ada@customer.example>", "CharsetMismatchDefect"),
    ],
)
def test_malformed_encoded_words_are_recorded_defects(header: bytes, defect: str) -> None:
    """The fuzz findings in address headers and the subject: text, the address, a defect."""
    m = parse_message(header + b"\r\n\r\nbody\r\n")
    assert defect in m.defects
    name = header.split(b":", 1)[0].decode()
    if name != "Subject":
        (found,) = m.addresses(name)
        assert found.address == "ada@customer.example"


def test_well_formed_encoded_words_record_no_defect() -> None:
    """The twin: correct encoded words leave the defects empty."""
    raw = b"Subject: =?utf-8?b?QUJDRA==?=\r\nFrom: =?utf-8?q?J=C3=B6rg?= <j@x.example>\r\n\r\nx\r\n"
    assert parse_message(raw).defects == ()


@pytest.mark.parametrize("name", ["From", "To", "Cc", "Reply-To"])
@pytest.mark.parametrize("depth", [1_000, 5_000])
def test_nested_comments_in_address_headers_end_in_no_address(name: str, depth: int) -> None:
    """Thousands of nested ``(`` (a RecursionError before) give no address, not an error."""
    m = parse_message(f"{name}: {'(' * depth}a@x.example\r\n\r\nbody\r\n".encode())
    assert m.from_ == m.to == m.cc == m.reply_to == ()
    assert m.defects == (("InvalidFromAddressDefect",) if name == "From" else ())


def test_five_megabytes_of_encoded_words_in_a_subject() -> None:
    """A 5 MB subject of encoded words (past 240 s before: quadratic) decodes in one pass."""
    words = 5_000_000 // 14
    m = parse_message(b"Subject: " + b"=?utf-8?q?x?= " * words + b"\r\n\r\nbody\r\n")
    assert m.subject == "x" * words


def test_megabyte_domain_and_address_list_lines_end_in_values() -> None:
    """A megabyte domain in From (IDNA) gives none; a 500 KB To list gives its first 1,000
    (``MAX_ADDRESSES``), in order."""
    to = ", ".join(f"u{i}@x.example" for i in range(30_000))
    raw = f"From: a@{'ü' * 1_000_000}.example\r\nTo: {to}\r\n\r\nbody\r\n".encode()
    m = parse_message(raw)
    assert m.from_ == ()
    assert len(m.to) == 1_000
    assert m.to[-1].address == "u999@x.example"


def test_garbled_date_falls_back_to_dateutil_then_none() -> None:
    """A non-RFC date is read by dateutil; a date without a year is None, never today's date."""
    fuzzy = parse_message(b"Date: Tue 4 June 2024 6pm CEST\r\n\r\nx")
    assert fuzzy.date == datetime(2024, 6, 4, 16, 0, tzinfo=UTC)
    unknown_zone = parse_message(b"Date: 2024-06-04 18:12 XYZT\r\n\r\nx")
    assert unknown_zone.date == datetime(2024, 6, 4, 18, 12, tzinfo=UTC)
    assert parse_message(b"Date: Tuesday, around noon\r\n\r\nx").date is None
    assert parse_message(b"Date: \r\n\r\nx").date is None
    assert parse_message(b"Subject: no date\r\n\r\nx").date is None


def test_naive_date_is_taken_as_utc() -> None:
    """A Date without a zone is read as UTC so that every datetime is aware."""
    m = parse_message(b"Date: Tue, 04 Jun 2024 10:00:00\r\n\r\nx")
    assert m.date == datetime(2024, 6, 4, 10, 0, tzinfo=UTC)


def test_message_id_without_brackets_is_accepted() -> None:
    """A bare Message-ID (no angle brackets) is still the Message-ID."""
    assert parse_message(b"Message-ID: abc@x.example\r\n\r\n").message_id == "abc@x.example"
    assert parse_message(b"Message-ID: not an id\r\n\r\n").message_id is None


def test_headers_only_message() -> None:
    """A message that ends after its headers has an empty body and no text part issues."""
    m = parse_message(b"From: a@example.com\r\nSubject: ping\r\n")
    assert m.subject == "ping"
    assert m.text == ""
    assert m.attachments == ()
    assert m.raw_body == b""


def test_empty_input() -> None:
    """Zero bytes parse into an empty message: no headers, no body, no crash."""
    m = parse_message(b"")
    assert m.size == 0
    assert m.header_names() == ()
    assert m.subject == ""
    assert m.text == ""
    assert m.attachments == ()
    assert m.content_type == "text/plain"
    touch_everything(m)


def test_missing_header_body_separator_is_a_defect() -> None:
    """A body that starts without the blank line is kept as body and recorded."""
    m = parse_message(b"Subject: hi\r\nthis line is not a header\r\nsecond line\r\n")
    assert m.subject == "hi"
    assert m.text == "this line is not a header\nsecond line\n"
    assert "MissingHeaderBodySeparatorDefect" in m.defects


def test_parameter_list_folded_without_whitespace_is_repaired() -> None:
    """A Content-Type continued on a line without leading space still yields its boundary."""
    raw = msg(
        """
        From: post_master@vtext.example
        Content-Type: multipart/alternative;
        boundary="----=_Part_1"

        ------=_Part_1
        Content-Type: text/plain

        Error: Invalid user address
        ------=_Part_1--
        """
    )
    m = parse_message(raw)
    assert m.text == "Error: Invalid user address"
    assert "MissingFoldingWhitespaceDefect" in m.defects


def test_mbox_from_line_is_skipped() -> None:
    """A leading mbox 'From ' separator line is not taken for a header or the body."""
    m = parse_message(b"From alice@example.com Tue Jun  4 10:00:00 2024\nSubject: hi\n\nbody\n")
    assert m.subject == "hi"
    assert m.text == "body\n"


# --- bodies ------------------------------------------------------------------------------------


def test_alternative_gives_plain_and_html() -> None:
    """multipart/alternative yields the decoded plain text and the HTML, soft breaks undone."""
    m = parse_message(GMAIL_ALTERNATIVE)
    assert m.text is not None
    assert "Den skulle ha kommit i fredags, men jag har inte sett något." in m.text
    assert m.text.startswith("Hej!\n\nNär kommer")
    assert "\r" not in m.text
    assert m.html == '<div dir="ltr">Hej!<br><br>När kommer min order?</div>\n'
    assert m.attachments == ()


def test_lf_and_crlf_line_endings_parse_alike() -> None:
    """The same message with LF endings gives the same headers, text and parts."""
    crlf = parse_message(GMAIL_ALTERNATIVE)
    lf = parse_message(GMAIL_ALTERNATIVE.replace(b"\r\n", b"\n"))
    assert lf.subject == crlf.subject
    assert lf.text == crlf.text
    assert lf.html == crlf.html
    assert [p.content_type for p in lf.parts()] == [p.content_type for p in crlf.parts()]


def test_bare_cr_line_endings_are_understood() -> None:
    """Old Mac mail with CR-only line endings still has headers and a body."""
    raw = b"From: a@example.com\rSubject: Mac mail\r\rFirst line\rSecond line\r"
    m = parse_message(raw)
    assert m.subject == "Mac mail"
    assert m.text == "First line\nSecond line\n"
    assert m.raw == raw
    assert "BareCarriageReturnDefect" in m.defects


def test_html_only_message_derives_text() -> None:
    """Without a plain part, text is rendered from the HTML (scripts and styles dropped)."""
    raw = msg(
        """
        From: shop@store.example
        Subject: Your receipt
        Content-Type: text/html; charset=windows-1252

        <html><head><title>Receipt</title><style>p {color: red}</style></head>
        <body><p>Thank you &amp; welcome!</p><ul><li>Mug</li><li>Tea</li></ul>
        <script>alert(1)</script><!-- tracking --><p>Total:&nbsp;12&nbsp;&euro;</p></body></html>
        """
    )
    m = parse_message(raw)
    assert m.html is not None
    assert m.text == "Thank you & welcome!\n\n- Mug\n- Tea\n\nTotal: 12 €"


def test_no_body_at_all() -> None:
    """A multipart with only attachments has no text and no html."""
    pdf = base64.b64encode(b"%PDF-1.4 fake").decode()
    raw = msg(
        f"""
        From: scanner@office.example
        Subject: Scan
        Content-Type: multipart/mixed; boundary=b1

        --b1
        Content-Type: application/pdf; name=scan.pdf
        Content-Transfer-Encoding: base64

        {pdf}
        --b1--
        """
    )
    m = parse_message(raw)
    assert m.text is None
    assert m.html is None
    assert m.attachments == (
        Attachment(filename="scan.pdf", content_type="application/pdf", size=13),
    )


def test_apple_mail_body_split_around_an_inline_image_is_joined() -> None:
    """Inline text fragments of a multipart/mixed form one body, the image an inline file."""
    raw = msg(
        """
        From: Anna <anna@icloud.example>
        Subject: Photo of the damage
        Content-Type: multipart/mixed; boundary="Apple-Mail=_1"

        --Apple-Mail=_1
        Content-Type: text/plain; charset=us-ascii

        Here is the photo:
        --Apple-Mail=_1
        Content-Disposition: inline; filename=IMG_0042.jpg
        Content-Type: image/jpeg; name="IMG_0042.jpg"
        Content-Transfer-Encoding: base64

        /9j/4AAQSkZJRg==
        --Apple-Mail=_1
        Content-Type: text/plain; charset=us-ascii

        Please advise.
        --Apple-Mail=_1--
        """
    )
    m = parse_message(raw)
    assert m.text == "Here is the photo:\nPlease advise."
    assert m.attachments == (
        Attachment(filename="IMG_0042.jpg", content_type="image/jpeg", size=10, inline=True),
    )


def test_format_flowed_is_unflowed() -> None:
    """RFC 3676 soft line breaks are joined; quoted depth and signature separator survive."""
    raw = (
        b"Content-Type: text/plain; charset=utf-8; format=flowed; delsp=no\r\n\r\n"
        b"This paragraph was wrapped \r\nby the client.\r\n> quoted and \r\n> wrapped\r\n"
        b"-- \r\nAnna\r\n"
    )
    assert parse_message(raw).text == (
        "This paragraph was wrapped by the client.\n> quoted and wrapped\n-- \nAnna\n"
    )


_FLOWED_PIECES = st.lists(
    st.sampled_from([" ", "\n", ">", "> ", "-- ", "-- \n", "--", "a", "b c", " \n", "\n "]),
    max_size=30,
).map("".join)


@given(_FLOWED_PIECES, st.booleans())
def test_unflowing_without_quotes_joins_as_the_line_loop_does(text: str, delsp: bool) -> None:
    """The fast join of unquoted flowed text gives what the line-by-line join gives."""
    from inboxcore.mail.parsing import _unflow, _unflow_quoted

    assert _unflow(text, delsp) == _unflow_quoted(text, delsp)


def test_unknown_and_lying_charsets_fall_back() -> None:
    """An unknown charset and a UTF-8 label on Latin-1 bytes both yield the text, recorded."""
    unknown = parse_message(
        b"Content-Type: text/plain; charset=x-mystery\r\n\r\nVoil\xc3\xa0 tout\r\n"
    )
    assert unknown.text == "Voilà tout\n"
    assert "UnknownCharsetDefect" in unknown.defects
    lying = parse_message(b"Content-Type: text/plain; charset=utf-8\r\n\r\nVoil\xe0 tout\r\n")
    assert lying.text == "Voilà tout\n"
    assert "CharsetMismatchDefect" in lying.defects


def test_iso_2022_jp_label_on_euc_jp_bytes_is_read_as_japanese() -> None:
    """Japanese mail labelled ISO-2022-JP but sent as EUC-JP decodes as Japanese."""
    body = "次のあて先へのメッセージ".encode("euc-jp")
    raw = b"Content-Type: text/plain; charset=iso-2022-jp\r\n\r\n" + body
    assert parse_message(raw).text == "次のあて先へのメッセージ"


def test_bad_base64_is_decoded_forgivingly_and_recorded() -> None:
    """Junk characters and missing padding in base64 do not lose the content."""
    encoded = base64.b64encode("Grüße aus Berlin!!".encode()).decode().rstrip("=")
    raw = msg(
        f"""
        Content-Type: text/plain; charset=utf-8
        Content-Transfer-Encoding: base64

        {encoded[:8]}!!{encoded[8:]}
        """
    )
    m = parse_message(raw)
    assert m.text == "Grüße aus Berlin!!"
    assert "InvalidBase64CharactersDefect" in m.defects
    assert "InvalidBase64PaddingDefect" in m.defects


def test_unknown_transfer_encoding_keeps_the_bytes() -> None:
    """A transfer encoding we do not know leaves the content as sent, with a defect."""
    raw = b"Content-Transfer-Encoding: x-gzip64\r\n\r\nH4sIAAAA\r\n"
    m = parse_message(raw)
    assert m.text == "H4sIAAAA\n"
    assert "UnknownTransferEncodingDefect" in m.defects


def test_uuencoded_part_is_decoded() -> None:
    """An x-uuencode attachment decodes to its bytes."""
    import binascii

    line = binascii.b2a_uu(b"hello world").decode()
    raw = msg(
        f"""
        Content-Type: multipart/mixed; boundary=u

        --u
        Content-Type: application/octet-stream; name=hello.txt
        Content-Transfer-Encoding: x-uuencode

        begin 644 hello.txt
        {line.rstrip()}
        `
        end
        --u--
        """
    )
    m = parse_message(raw)
    assert m.attachment_payload(0) == b"hello world"
    assert m.attachments[0].size == 11


# --- broken structure -------------------------------------------------------------------------


def test_missing_end_boundary_keeps_the_last_part() -> None:
    """A multipart cut off before its close delimiter still yields all its parts."""
    raw = msg(
        """
        Content-Type: multipart/mixed; boundary="XYZ"

        --XYZ
        Content-Type: text/plain

        first
        --XYZ
        Content-Type: text/plain; name=notes.txt
        Content-Disposition: attachment

        second
        """
    )
    m = parse_message(raw)
    assert m.text == "first"
    assert [a.filename for a in m.attachments] == ["notes.txt"]
    assert "CloseBoundaryNotFoundDefect" in m.defects


def test_boundary_never_found_still_shows_the_body() -> None:
    """A multipart whose boundary never occurs shows its content as text, with a defect."""
    raw = msg(
        """
        Content-Type: multipart/alternative; boundary="inner-boundary"

        AAA
        """
    )
    m = parse_message(raw)
    assert m.text == "AAA\n"
    assert m.parts()[0].children == ()
    assert "StartBoundaryNotFoundDefect" in m.defects


def test_multipart_without_boundary_parameter_is_text() -> None:
    """multipart/* without a boundary is read as one text body."""
    m = parse_message(b"Content-Type: multipart/mixed\r\n\r\nplain words\r\n")
    assert m.text == "plain words\n"
    assert "NoBoundaryInMultipartDefect" in m.defects


def test_longer_boundary_with_same_prefix_is_not_a_delimiter() -> None:
    """--outer_2 is a different boundary from --outer, so nested parts stay nested."""
    raw = msg(
        """
        Content-Type: multipart/mixed; boundary="outer"

        --outer
        Content-Type: multipart/alternative; boundary="outer_2"

        --outer_2
        Content-Type: text/plain

        plain
        --outer_2
        Content-Type: text/html

        <p>html</p>
        --outer_2--
        --outer
        Content-Type: application/zip; name=a.zip

        PK
        --outer--
        """
    )
    m = parse_message(raw)
    assert m.text == "plain"
    assert m.html == "<p>html</p>"
    assert [p.content_type for p in m.parts()] == ["text/plain", "text/html", "application/zip"]
    assert m.defects == ()


def test_text_after_whitespace_on_a_delimiter_line_is_ignored() -> None:
    """'--boundary trailing words' still delimits (RFC 2046 lets the line carry padding)."""
    raw = msg(
        """
        Content-Type: multipart/mixed; boundary="boundary"

        --boundary This should be ignored
        Content-Type: text/plain

        first part
        --boundary-- and so should this
        --boundary--
        """
    )
    m = parse_message(raw)
    assert m.text == "first part"
    assert len(m.parts()) == 1


def test_folded_quoted_boundary_keeps_its_space() -> None:
    """A boundary folded inside its quotes is unfolded to the space it contains."""
    raw = msg(
        """
        Content-type: multipart/mixed; boundary="simple
         boundary"

        preamble
        --simple boundary
        Content-type: text/plain; charset=us-ascii

        Hello
        --simple boundary--
        """
    )
    assert parse_message(raw).text == "Hello"


def test_deep_nesting_is_cut_off_not_crashing() -> None:
    """Thousands of nested multiparts neither overflow the stack nor hang."""
    depth = 3000
    head = b"".join(
        b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i, i + 1)
        for i in range(depth)
    )
    raw = b"Content-Type: multipart/mixed; boundary=b0\r\n\r\n" + head + b"--b3000\r\n\r\nx\r\n"
    m = parse_message(raw)
    touch_everything(m)
    assert "NestingTooDeepDefect" in m.defects


@pytest.mark.parametrize(
    "piece", ["<", "<li", "<p", "<!--", "<script", "<style x", "</p ", "<br ", " ", "a "]
)
def test_html_to_text_is_linear_on_a_piece_repeated(piece: str) -> None:
    """300 KB of one piece of markup that never closes (each opener once rescanned the rest of the
    text for its ">": minutes) is rendered; so is the same with one ">" at the end."""
    markup = piece * (300_000 // len(piece))
    assert isinstance(html_to_text(markup), str)
    assert isinstance(html_to_text(markup + ">"), str)


@pytest.mark.parametrize("piece", ["\n", "a\n", " \n", "a  "])
def test_html_to_text_of_many_short_lines_stays_small(piece: str) -> None:
    """400 KB of short lines or short runs of blanks is rendered in under seven times its size
    (every line was a list slot and a string, every word too: up to twenty times)."""
    markup = piece * (400_000 // len(piece))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        html_to_text(markup)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert peak < 7 * len(markup)


def test_html_to_text_still_drops_tags_comments_and_scripts() -> None:
    """The linear rendering keeps the rules: tags, comments and script bodies go, blocks break
    lines, list items get a marker, an unclosed comment stays text."""
    markup = (
        "<div>Hello <b>Ann</b><!-- hidden --></div><ul><li class=x>one<li>two</ul>"
        "<script>alert(1)</script><p title='a'>Bye</p>x <!-- never closed"
    )
    assert html_to_text(markup) == "Hello Ann\n\n- one\n- two\n\nBye\nx <!-- never closed"


def test_quoted_printable_of_blank_ended_short_lines_stays_small() -> None:
    """400 KB of " \\n" lines in quoted-printable is decoded in under four times its size (one
    substitution over it held ninety times)."""
    body = b" \r\n" * 130_000
    raw = b"Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + body
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        text = parse_message(raw).text
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert text == "\n" * 130_000
    assert peak < 4 * len(raw)


def test_quoted_printable_with_a_long_blank_run_is_decoded() -> None:
    """Trailing blanks are removed before each line break (RFC 2045), in one pass even when a
    run of 300,000 blanks ends without one."""
    body = b"a  \r\nb" + b" " * 300_000 + b"c=\r\nd\r\n"
    m = parse_message(
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + body
    )
    assert m.text == "a\nb" + " " * 300_000 + "cd\n"


def _fields(count: int) -> bytes:
    fillers = "".join(f"X-Filler-{i}: {i}\r\n" for i in range(count))
    return ("Subject: many\r\n" + fillers + "X-Last: yes\r\n\r\nthe body\r\n").encode()


def test_a_header_section_of_thousands_of_fields_keeps_them_all() -> None:
    """9,000 header fields (a long relay chain is a few hundred) are all read."""
    m = parse_message(_fields(9_000))
    assert m.header("X-Last") == "yes"
    assert "TooManyHeadersDefect" not in m.defects
    assert m.text == "the body\n"


def test_header_fields_past_ten_thousand_are_left_out_and_recorded() -> None:
    """20,000 fields (a few hundred bytes of objects each: thirty times the section) keep the
    first 10,000, with TooManyHeadersDefect; the body still starts after the section."""
    m = parse_message(_fields(20_000))
    assert m.header("Subject") == "many"
    assert m.header("X-Filler-9998") == "9998"
    assert m.header("X-Filler-9999") is None
    assert m.header("X-Last") is None
    assert "TooManyHeadersDefect" in m.defects
    assert m.text == "the body\n"


def _parts(count: int, *, nested: bool = False) -> bytes:
    """A multipart/mixed of ``count`` small named text parts (each in its own multipart when
    ``nested``)."""
    lines = ["Subject: parts", 'Content-Type: multipart/mixed; boundary="b"', ""]
    for i in range(count):
        if nested:
            lines += ["--b", 'Content-Type: multipart/mixed; boundary="c"', "", "--c"]
        else:
            lines.append("--b")
        lines += [f'Content-Type: text/plain; name="f{i}.txt"', "", "x"]
        if nested:
            lines.append("--c--")
    lines.append("--b--")
    return "\r\n".join(lines).encode() + b"\r\n"


def test_a_digest_of_hundreds_of_parts_keeps_them_all() -> None:
    """A message of 900 parts (a large digest) lists every one, with no defect."""
    m = parse_message(_parts(900))
    assert len(m.attachments) == 900
    assert "TooManyPartsDefect" not in m.defects


def test_parts_past_a_thousand_are_left_out_and_recorded() -> None:
    """100,000 tiny parts (about 2 KB of objects each: 40 times the message) stop at 1,000
    parts in the tree, with TooManyPartsDefect; nested multiparts count against the same
    budget."""
    flat = parse_message(_parts(100_000))
    assert len(flat.attachments) == 1_000
    assert "TooManyPartsDefect" in flat.defects
    nested = parse_message(_parts(2_000, nested=True))
    assert sum(1 for _ in nested.root.walk()) <= 1_001
    assert "TooManyPartsDefect" in nested.defects
    touch_everything(nested)


def test_deeply_nested_messages_are_cut_off() -> None:
    """A message/rfc822 chain thousands deep neither overflows the stack nor hangs."""
    raw = b"Content-Type: message/rfc822\r\n\r\n" * 3000 + b"Subject: core\r\n\r\nx"
    m = parse_message(raw)
    touch_everything(m)
    inner = m
    levels = 0
    while inner.attached_messages:
        inner = inner.attached_messages[0]
        levels += 1
    assert 10 < levels < 3000


# --- attachments and nested messages ---------------------------------------------------------


OUTLOOK_WITH_FILES = msg(
    """
    From: "Sandra Ek" <sandra.ek@kund.example>
    To: support@acme.example
    Subject: Fakturor
    Content-Type: multipart/mixed; boundary="_004_DB9PR"

    --_004_DB9PR
    Content-Type: multipart/related; boundary="_003_DB9PR"; type="multipart/alternative"

    --_003_DB9PR
    Content-Type: multipart/alternative; boundary="_000_DB9PR"

    --_000_DB9PR
    Content-Type: text/plain; charset="iso-8859-1"
    Content-Transfer-Encoding: quoted-printable

    Hej, h=E4r =E4r fakturorna.

    --_000_DB9PR
    Content-Type: text/html; charset="iso-8859-1"
    Content-Transfer-Encoding: quoted-printable

    <p>Hej, h=E4r =E4r fakturorna.<img src=3D"cid:image001.png@01DA"></p>

    --_000_DB9PR--

    --_003_DB9PR
    Content-Type: image/png; name="image001.png"
    Content-Description: image001.png
    Content-Disposition: inline; filename="image001.png"; size=4
    Content-ID: <image001.png@01DA>
    Content-Transfer-Encoding: base64

    iVBORw==

    --_003_DB9PR--

    --_004_DB9PR
    Content-Type: application/pdf;
    \tname="=?iso-8859-1?Q?Faktura_m=E4rz.pdf?="
    Content-Disposition: attachment;
    \tfilename*=iso-8859-1''Faktura%20m%E4rz%202024.pdf
    Content-Transfer-Encoding: base64

    JVBERi0xLjQK
    JVBERi0xLjQK

    --_004_DB9PR
    Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet;
    \tname="Rapport.xlsx"
    Content-Disposition: attachment;
    \tfilename*0*=utf-8''Rapport%20f%C3%B6r%20;
    \tfilename*1="juni.xlsx"
    Content-Transfer-Encoding: base64

    UEsDBA==

    --_004_DB9PR--
    """
)


def test_attachments_carry_metadata_with_rfc2231_names() -> None:
    """Filenames from RFC 2231 (charset, continuations) win over RFC 2047 names; sizes decode."""
    m = parse_message(OUTLOOK_WITH_FILES)
    assert m.attachments == (
        Attachment(
            filename="image001.png",
            content_type="image/png",
            size=4,
            content_id="image001.png@01DA",
            inline=True,
        ),
        Attachment(filename="Faktura märz 2024.pdf", content_type="application/pdf", size=18),
        Attachment(
            filename="Rapport för juni.xlsx",
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            size=4,
        ),
    )
    assert m.attachment_payload(1) == b"%PDF-1.4\n%PDF-1.4\n"


def test_related_body_and_latin1_quoted_printable() -> None:
    """The body inside multipart/related/alternative is found and decoded from ISO-8859-1."""
    m = parse_message(OUTLOOK_WITH_FILES)
    assert m.text == "Hej, här är fakturorna.\n"
    assert m.html is not None
    assert 'src="cid:image001.png@01DA"' in m.html


def test_part_accessors() -> None:
    """MimePart exposes headers, disposition, charset, content-id and its tree."""
    m = parse_message(OUTLOOK_WITH_FILES)
    image = next(p for p in m.parts() if p.content_type == "image/png")
    assert image.header("Content-Description") == "image001.png"
    assert image.headers("Content-ID") == ("<image001.png@01DA>",)
    assert image.disposition == "inline"
    assert image.content_id == "image001.png@01DA"
    assert image.is_inline
    assert image.payload == b"\x89PNG"
    plain = m.parts()[0]
    assert plain.charset == "iso-8859-1"
    assert plain.header_names() == ("Content-Type", "Content-Transfer-Encoding")
    assert [p.content_type for p in m.root.walk()][:3] == [
        "multipart/mixed",
        "multipart/related",
        "multipart/alternative",
    ]


def test_filenames_lose_directories_and_control_characters() -> None:
    """A name like ../../etc/passwd or C:\\dir\\x.exe keeps only its last component."""
    raw = msg(
        """
        Content-Type: multipart/mixed; boundary=z

        --z
        Content-Type: application/octet-stream; name="../../etc/passwd"

        x
        --z
        Content-Type: application/octet-stream
        Content-Disposition: attachment; filename="C:\\Users\\me\\report\x07.exe"

        y
        --z--
        """
    )
    assert [a.filename for a in parse_message(raw).attachments] == ["passwd", "report.exe"]


def test_rfc2047_encoded_filename_is_decoded() -> None:
    """An RFC 2047 word used as a filename (common, though not standard) is decoded."""
    raw = (
        b"Content-Type: text/plain; charset=US-ASCII; name==?koi8-r?B?89DJ08/LLmRvYw==?=\r\n"
        b"Content-Disposition: attachment; filename==?koi8-r?B?89DJ08/LLmRvYw==?=\r\n\r\nbody\r\n"
    )
    m = parse_message(raw)
    assert m.attachments[0].filename == "Список.doc"
    assert m.text is None


def test_unnamed_file_parts_are_attachments() -> None:
    """A PDF without a name is still an attachment (never silently dropped)."""
    raw = msg(
        """
        Content-Type: multipart/mixed; boundary=q

        --q
        Content-Type: text/plain

        see attached
        --q
        Content-Type: application/pdf

        %PDF
        --q--
        """
    )
    m = parse_message(raw)
    assert m.attachments == (Attachment(filename=None, content_type="application/pdf", size=4),)


FORWARD_AS_ATTACHMENT = msg(
    """
    From: Agent Smith <agent@acme.example>
    To: support@acme.example
    Subject: Fwd: Broken delivery
    Content-Type: multipart/mixed; boundary="fwd1"

    --fwd1
    Content-Type: text/plain; charset=utf-8

    Forwarding the customer's mail.
    --fwd1
    Content-Type: message/rfc822
    Content-Disposition: inline

    From: Kim Customer <kim@customer.example>
    To: agent@acme.example
    Subject: Broken delivery
    Message-ID: <orig-42@customer.example>
    Content-Type: multipart/mixed; boundary="inner"

    --inner
    Content-Type: text/plain

    The box was crushed.
    --inner
    Content-Type: image/jpeg; name=box.jpg
    Content-Transfer-Encoding: base64

    /9j/4AAQ
    --inner--

    --fwd1--
    """
)


def test_nested_rfc822_is_a_parsed_message() -> None:
    """A forwarded message/rfc822 part is a ParsedMessage of its own, sharing the bytes."""
    m = parse_message(FORWARD_AS_ATTACHMENT)
    assert m.text == "Forwarding the customer's mail."
    (inner,) = m.attached_messages
    assert inner.from_[0].address == "kim@customer.example"
    assert inner.message_id == "orig-42@customer.example"
    assert inner.text == "The box was crushed."
    assert inner.attachments[0].filename == "box.jpg"
    assert inner.raw.startswith(b"From: Kim Customer")
    assert inner.size == len(inner.raw)
    assert m.attachments == ()


def test_base64_encoded_rfc822_is_decoded_then_parsed() -> None:
    """A message/rfc822 part sent in base64 (not allowed, but seen) is still a message."""
    inner = b"From: x@example.org\r\nSubject: inside\r\n\r\nhello\r\n"
    raw = (
        b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(inner)
    )
    (nested,) = parse_message(raw).attached_messages
    assert nested.subject == "inside"
    assert nested.text == "hello\n"


def test_digest_children_default_to_messages() -> None:
    """In multipart/digest a part without Content-Type is a message/rfc822."""
    raw = msg(
        """
        Content-Type: multipart/digest; boundary=d

        --d

        From: one@example.org
        Subject: first

        one
        --d

        From: two@example.org
        Subject: second

        two
        --d--
        """
    )
    m = parse_message(raw)
    assert [n.subject for n in m.attached_messages] == ["first", "second"]


def test_dsn_exposes_report_parts_and_the_original() -> None:
    """A DSN's human text is the body; the original is an attached message; no attachments."""
    raw = msg(
        """
        From: Mail Delivery System <MAILER-DAEMON@mx.example>
        Subject: Undelivered Mail Returned to Sender
        Content-Type: multipart/report; report-type=delivery-status; boundary="rep"

        --rep
        Content-Type: text/plain

        Your message could not be delivered.
        --rep
        Content-Type: message/delivery-status

        Reporting-MTA: dns; mx.example

        Final-Recipient: rfc822; gone@customer.example
        Action: failed
        Status: 5.1.1
        --rep
        Content-Type: text/rfc822-headers

        Message-ID: <sent-1@acme.example>
        Subject: Your quote
        --rep--
        """
    )
    m = parse_message(raw)
    assert m.text == "Your message could not be delivered."
    assert m.attachments == ()
    assert m.attached_messages == ()
    headers_part = m.parts()[2]
    assert headers_part.message is not None
    assert headers_part.message.message_id == "sent-1@acme.example"
    assert "Status: 5.1.1" in m.parts()[1].text()


# --- laziness and size --------------------------------------------------------------------------


def test_attachment_size_does_not_decode_base64() -> None:
    """Sizes come from counting base64, so reading metadata leaves the payload undecoded."""
    data = bytes(range(256)) * 1000
    raw = (
        b"Content-Type: multipart/mixed; boundary=s\r\n\r\n--s\r\nContent-Type: text/plain\r\n\r\n"
        b"hi\r\n--s\r\nContent-Type: application/octet-stream; name=blob.bin\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(data).replace(b"\n", b"\r\n")
        + b"--s--\r\n"
    )
    m = parse_message(raw)
    assert m.attachments[0].size == len(data)
    part = m.attachment_parts[0]
    assert "payload" not in vars(part)
    assert m.attachment_payload(0) == data


def test_headers_are_read_without_scanning_the_body() -> None:
    """Reading headers does not build the MIME tree."""
    m = parse_message(OUTLOOK_WITH_FILES)
    assert m.subject == "Fakturor"
    assert "root" not in vars(m)


def test_html_to_text_is_linear_on_unclosed_scripts() -> None:
    """Many unclosed <script> tags do not make html_to_text quadratic (it returns promptly)."""
    text = html_to_text("<p>hello</p>" + "<script>x" * 20000)
    assert text.startswith("hello")


# --- never raising ----------------------------------------------------------------------------

SEEDS = [GMAIL_ALTERNATIVE, OUTLOOK_WITH_FILES, FORWARD_AS_ATTACHMENT]


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    """Any bytes at all parse, and every accessor answers."""
    touch_everything(parse_message(raw))


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(SEEDS),
    st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=1, exclude_max=True),
            st.integers(min_value=0, max_value=40),
            st.binary(max_size=12)
            | st.sampled_from([b"\r\n", b"\n\n", b"--", b"=?utf-8?b?", b";", b'"', b"=", b"\r"]),
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_mutated_real_messages_never_raise(
    seed: bytes, edits: list[tuple[float, int, bytes]]
) -> None:
    """Real messages with bytes deleted, replaced and inserted still parse completely."""
    raw = bytearray(seed)
    for where, cut, insert in edits:
        at = int(where * len(raw))
        raw[at : at + cut] = insert
    touch_everything(parse_message(bytes(raw)))


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                b"Content-Type: multipart/mixed; boundary=a\r\n",
                b"Content-Type: message/rfc822\r\n",
                b"Content-Transfer-Encoding: base64\r\n",
                b"Content-Type: text/plain; charset=x-bad\r\n",
                b"Content-Disposition: attachment; filename*0*=utf-8''%E2%82; filename*1=x\r\n",
                b"\r\n",
                b"--a\r\n",
                b"--a--\r\n",
                b"QUJD\r\n",
                b"\xff\xfe text\r\n",
                b" folded\r\n",
            ]
        ),
        max_size=30,
    )
)
def test_structured_garbage_never_raises(lines: list[bytes]) -> None:
    """MIME-shaped garbage (boundaries, nesting, encodings in any order) parses completely."""
    touch_everything(parse_message(b"".join(lines)))


# --- headers a person can read (issue 16) ------------------------------------------------------


def _koi8_word(text: str) -> bytes:
    return b"=?KOI8-R?B?" + base64.b64encode(text.encode("koi8-r")) + b"?="


def test_bounce_subject_drops_the_space_between_encoded_words() -> None:
    """RFC 2047 section 6.2: the folding white space between two encoded words and the text
    right after them is read as written; the legacy stdlib pair gave "доставлено . Mail"."""
    raw = (
        b"From: MAILER-DAEMON@mx.example.ru\r\nSubject: "
        + _koi8_word("Сообщение не ")
        + b"\r\n "
        + _koi8_word("доставлено")
        + b". Mail failure.\r\n\r\nbody\r\n"
    )
    assert parse_message(raw).subject == "Сообщение не доставлено. Mail failure."


@pytest.mark.parametrize(
    ("charset", "name", "subject"),
    [
        ("gb2312", "张三", "关于您的订单问题"),
        ("big5", "陳大文", "關於您的訂單問題"),
        ("shift_jis", "山田太郎", "ご注文についてのお問い合わせ"),
        ("koi8-r", "Иван Петров", "Не доставлено сообщение"),
        ("windows-1251", "Иван Петров", "Заказ № 12"),
    ],
)
def test_raw_8bit_headers_read_in_the_declared_charset(
    charset: str, name: str, subject: str
) -> None:
    """No RFC 2047, the message's Content-Type (or its first text part's) names the charset."""
    head = f"From: {name} <a@example.com>\r\nSubject: {subject}\r\n".encode(charset)
    single = head + f"Content-Type: text/plain; charset={charset}\r\n\r\nx\r\n".encode()
    multi = head + (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        + f"Content-Type: text/plain; charset={charset}\r\n\r\nx\r\n--b--\r\n".encode()
    )
    for raw in (single, multi):
        m = parse_message(raw)
        assert (m.subject, m.from_[0].display_name) == (subject, name)


def test_raw_8bit_headers_without_a_charset_are_detected_not_latin1() -> None:
    raw = "From: 张三 <zs@example.cn>\r\nSubject: 关于发票的问题，请尽快回复\r\n\r\nx\r\n".encode(
        "gbk"
    )
    m = parse_message(raw)
    assert (m.subject, m.from_[0].display_name) == ("关于发票的问题，请尽快回复", "张三")


def test_a_wrapped_value_without_folding_white_space_does_not_end_the_headers() -> None:
    """A long tracking value (or base64) wrapped with no leading white space: the From and
    Subject further down are still read, the stray line joins the value it wraps."""
    token = base64.b64encode(bytes(range(120))).decode()
    raw = (
        f"Received: by mx.example.com\r\nX-Tracking-Id: {token[:70]}\r\n{token[70:]}\r\n"
        "From: Ann Lee <ann@example.com>\r\nSubject: Where is my order?\r\n\r\nHello\r\n"
    ).encode()
    m = parse_message(raw)
    assert (m.from_[0].address, m.subject, m.text) == (
        "ann@example.com",
        "Where is my order?",
        "Hello\n",
    )
    assert m.header("X-Tracking-Id") == f"{token[:70]} {token[70:]}"
    assert "MisplacedHeaderLineDefect" in m.defects
    assert "MissingHeaderBodySeparatorDefect" not in m.defects


def test_a_leading_line_before_the_headers_does_not_hide_them() -> None:
    raw = (
        b"---- Original email message ----\r\nFrom: Ann Lee <ann@example.com>\r\n"
        b"To: support@help.example\r\nSubject: Refund\r\n\r\nPlease refund.\r\n"
    )
    m = parse_message(raw)
    assert (m.from_[0].address, m.subject, m.text) == (
        "ann@example.com",
        "Refund",
        "Please refund.\n",
    )
    assert "MisplacedHeaderLineDefect" in m.defects


@pytest.mark.parametrize(
    "raw",
    [
        # the body starts without the empty line and quotes a header block the message has
        b"From: Ann <ann@example.com>\r\nSubject: Hi\r\nDear Bob,\r\n"
        b"From: Carl <carl@example.com>\r\nSubject: old\r\n\r\nquoted\r\n",
        # prose, then an empty line: no header field follows at all
        b"From: Ann <ann@example.com>\r\nHello there\r\nhow are you\r\n\r\nbye\r\n",
        # no empty line anywhere: nothing shows where a header block would end
        b"From: Ann <ann@example.com>\r\nHello there\r\nSubject: a word\r\n",
    ],
)
def test_a_body_is_not_turned_into_headers(raw: bytes) -> None:
    m = parse_message(raw)
    assert m.from_[0].address == "ann@example.com"
    assert "MissingHeaderBodySeparatorDefect" in m.defects
    assert "MisplacedHeaderLineDefect" not in m.defects
    assert (m.text or "").startswith(("Dear Bob", "Hello there"))


@pytest.mark.parametrize(
    ("from_line", "address", "name"),
    [
        (b"Test test@example.com", "test@example.com", "Test"),
        (b'"x" <local part with spaces@example.com>', '"local part with spaces"@example.com', "x"),
        (b'"=?GB2312?B?1cXI/Q==?=" <>', None, "张三"),
        (b"MAILER-DAEMON", None, "MAILER-DAEMON"),
    ],
)
def test_from_lines_people_still_read(from_line: bytes, address: str | None, name: str) -> None:
    m = parse_message(b"From: " + from_line + b"\r\nSubject: s\r\n\r\nbody\r\n")
    assert ([a.address for a in m.from_], m.from_name) == ([address] if address else [], name)
    assert m.rfc5322_from == ()
    assert "InvalidFromAddressDefect" in m.defects


def test_a_well_formed_from_is_not_recovered() -> None:
    m = parse_message(b"From: Ann <ann@example.com>\r\nSubject: s\r\n\r\nbody\r\n")
    assert m.from_ == m.rfc5322_from
    assert m.from_name == "Ann"
    assert "InvalidFromAddressDefect" not in m.defects
    assert parse_message(b"Subject: s\r\n\r\nbody\r\n").from_name is None


def test_a_named_single_text_plain_part_without_disposition_is_still_the_body() -> None:
    raw = (
        b'From: a@example.com\r\nContent-Type: text/plain; charset=utf-8; name="msg.txt"\r\n'
        b"\r\nHello, my order is late.\r\n"
    )
    m = parse_message(raw)
    assert (m.text, m.attachments) == ("Hello, my order is late.\n", ())
    declared = raw.replace(b"\r\n\r\n", b"\r\nContent-Disposition: attachment\r\n\r\n", 1)
    assert parse_message(declared).text is None
    assert [a.filename for a in parse_message(declared).attachments] == ["msg.txt"]
    # in a multipart, a named text part with no disposition stays a file (digests, logs)
    mixed = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain'
        b'\r\n\r\nHello\r\n--b\r\nContent-Type: text/plain; name="log.txt"\r\n\r\nx\r\n--b--\r\n'
    )
    assert [a.filename for a in parse_message(mixed).attachments] == ["log.txt"]


_QP_PIECES = st.lists(
    st.sampled_from([b" ", b"\t", b"\r", b"\n", b"\r\n", b"=", b"=20", b"=\r\n", b"a", b"\xe9"]),
    max_size=40,
).map(b"".join)


@given(st.one_of(st.binary(max_size=300), _QP_PIECES))
def test_quoted_printable_fast_path_decodes_as_the_blank_stripping_path(data: bytes) -> None:
    """A body with no blank before a line end skips the stripping pattern; whatever the bytes,
    both ways decode alike (trailing blanks are removed before decoding, RFC 2045 6.7 (3))."""
    from inboxcore.mail import _transfer_encodings as te

    stripped = te._QP_TRAILING_WS.sub(b"", data)
    assert te._qp_decode(data) == binascii.a2b_qp(stripped)


def test_quoted_printable_strips_blanks_before_line_ends_but_keeps_encoded_ones() -> None:
    from inboxcore.mail._transfer_encodings import _qp_decode

    assert _qp_decode(b"caf=C3=A9 \t\r\nnext=20\r\nlast") == b"caf\xc3\xa9\r\nnext \r\nlast"
