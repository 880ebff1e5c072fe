"""Reading delivery reports: RFC 3464, prose bounces, status inference, success and feedback."""

from __future__ import annotations

import ast
import base64
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inboxcore.mail import bounces
from inboxcore.mail.bounces import infer_status, read_delivery_report, reads_as_delivery_failure
from inboxcore.mail.parsing import parse_message


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode("utf-8")


SENDMAIL_DSN = """\
Return-Path: <>
From: Mail Delivery Subsystem <MAILER-DAEMON@relay.example.com>
To: <support@acme.example>
Subject: Returned mail: see transcript for details
Auto-Submitted: auto-generated (failure)
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="q1B2c3"

--q1B2c3

The original message was received at Tue, 19 Mar 2024 09:00:01 +0100
from mail.helpdesk.example [192.0.2.10]

   ----- The following addresses had permanent fatal errors -----
<k.nakamura@example.co.jp>
    (reason: 552 5.2.2 Mailbox full)
<t.ito@example.co.jp>
    (reason: 550 User unknown)

--q1B2c3
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.example.com
Arrival-Date: Tue, 19 Mar 2024 09:00:01 +0100

Final-Recipient: RFC822; k.nakamura@example.co.jp
Action: failed
Status: 5.2.2
Diagnostic-Code: SMTP; 552 5.2.2 Mailbox full

Final-Recipient: RFC822; t.ito@example.co.jp
Action: failed
Status: 5.0.0
Diagnostic-Code: SMTP; 550 User unknown

--q1B2c3
Content-Type: message/rfc822

Message-ID: <reply.3f3f@mail.helpdesk.example>
From: Acme Support <support@acme.example>
To: k.nakamura@example.co.jp, t.ito@example.co.jp
Subject: Re: Shipping to Osaka

Dear Nakamura-san,

--q1B2c3--
"""


def test_every_failed_recipient_of_a_dsn_is_read() -> None:
    """Each DSN recipient block gives its address, action, status and diagnostic."""
    report = read_delivery_report(parse_message(crlf(SENDMAIL_DSN)), "")
    assert report is not None
    assert report.kind == "bounce"
    bounce = report.bounce
    assert bounce is not None
    assert bounce.recipients == ("k.nakamura@example.co.jp", "t.ito@example.co.jp")
    assert [d.action for d in bounce.details] == ["failed", "failed"]
    assert bounce.details[0].status == "5.2.2"
    assert bounce.details[0].diagnostic == "552 5.2.2 Mailbox full"
    assert bounce.original_message_id == "reply.3f3f@mail.helpdesk.example"


def test_given_dsn_status_is_kept_as_written() -> None:
    """A DSN's own Status (5.0.0 here) is reported as given, not second-guessed."""
    report = read_delivery_report(parse_message(crlf(SENDMAIL_DSN)), "")
    assert report is not None
    assert report.bounce is not None
    second = report.bounce.details[1]
    assert second.status == "5.0.0"
    assert second.status_inferred is False
    assert second.diagnostic == "550 User unknown"


def test_dsn_with_a_status_only_in_the_diagnostic() -> None:
    """A DSN block without Status takes the enhanced code written in Diagnostic-Code."""
    raw = SENDMAIL_DSN.replace("Status: 5.2.2\n", "")
    report = read_delivery_report(parse_message(crlf(raw)), "")
    assert report is not None
    assert report.bounce is not None
    assert report.bounce.details[0].status == "5.2.2"
    assert report.bounce.details[0].status_inferred is False


def test_cr_only_line_endings_are_read() -> None:
    """A bounce stored with old Mac CR line ends is read the same."""
    raw = SENDMAIL_DSN.replace("\n", "\r").encode()
    report = read_delivery_report(parse_message(raw), "")
    assert report is not None
    assert report.bounce is not None
    assert report.bounce.recipients == ("k.nakamura@example.co.jp", "t.ito@example.co.jp")


def test_ordinary_mail_is_not_a_report() -> None:
    """A person's message is no delivery report, even from the null sender."""
    raw = crlf(
        "From: Ana <ana@example.org>\nTo: support@acme.example\nSubject: Hello\n\n"
        "Where is my parcel?\n"
    )
    assert read_delivery_report(parse_message(raw), "") is None
    assert read_delivery_report(parse_message(raw), "ana@example.org") is None


@pytest.mark.parametrize(
    ("subject", "body", "expected"),
    [
        ("Undeliverable: Your order", "Hi", True),
        ("Mail delivery failed: returning message to sender", "Hi", True),
        ("Hello", "Your message could not be delivered to bob@example.com.", True),
        ("Re: Undeliverable mail?", "Did my last mail bounce?", False),
        ("Exclusive offer: 80% off", "Click here for the best prices.", False),
    ],
)
def test_reads_as_delivery_failure_looks_at_the_words(
    subject: str, body: str, expected: bool
) -> None:
    """Failure wording in the subject (not a reply's) or the text reads as a delivery failure."""
    raw = crlf(f"From: someone@example.org\nSubject: {subject}\n\n{body}\n")
    assert reads_as_delivery_failure(parse_message(raw)) is expected


def test_reads_as_delivery_failure_sees_a_report_structure() -> None:
    """A standard DSN reads as a delivery failure whatever its words."""
    assert reads_as_delivery_failure(parse_message(crlf(SENDMAIL_DSN)))


def test_gmail_prose_bounce_without_code_infers_status() -> None:
    """Gmail's "address not found" notice without a code gets 5.1.1 inferred."""
    raw = crlf(
        """\
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: support@acme.example
Subject: Delivery Status Notification (Failure)
Content-Type: text/plain; charset=UTF-8

** Address not found **

Your message wasn't delivered to olga.petrova@example.ru because the address couldn't be
found, or is unable to receive mail.

The response from the remote server was:
The email account that you tried to reach does not exist.
"""
    )
    report = read_delivery_report(parse_message(raw), None)
    assert report is not None
    assert report.bounce is not None
    assert report.bounce.recipients == ("olga.petrova@example.ru",)
    assert report.bounce.status == "5.1.1"
    assert report.bounce.details[0].status_inferred is True


def test_feedback_report_carries_type_recipient_and_original() -> None:
    """An ARF report gives its Feedback-Type, the complaining recipient and our Message-ID."""
    raw = crlf(
        """\
From: fbl@isp.example
To: fbl-reports@acme.example
Subject: FW: Re: Your order
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="fb"

--fb
Content-Type: text/plain

This is an email abuse report.

--fb
Content-Type: message/feedback-report

Feedback-Type: abuse
Version: 1
Original-Rcpt-To: <reader@isp.example>

--fb
Content-Type: message/rfc822

Message-ID: <reply.ab12@mail.helpdesk.example>
From: support@acme.example
Subject: Re: Your order

Thanks
--fb--
"""
    )
    report = read_delivery_report(parse_message(raw), "")
    assert report is not None
    assert report.kind == "feedback_report"
    assert report.feedback_type == "abuse"
    assert report.recipients == ("reader@isp.example",)
    assert report.original_message_id == "reply.ab12@mail.helpdesk.example"


@pytest.mark.parametrize(
    ("text", "temporary", "status"),
    [
        ("550 Requested action not taken: mailbox unavailable", None, "5.1.1"),
        ("No such user here", None, "5.1.1"),
        ("Mailbox is full / quota exceeded", None, "5.2.2"),
        ("452 mailbox full, try again later", True, "4.2.2"),
        ("Host or domain name not found. Name service error", None, "5.1.2"),
        ("Relay access denied", None, "5.7.1"),
        ("Message size exceeds fixed maximum message size", None, "5.3.4"),
        ("retry timeout exceeded", None, "4.4.7"),
        ("Connection refused", None, "4.4.1"),
        ("This account has been disabled or discontinued", None, "5.2.1"),
        ("Unauthenticated email is not accepted due to domain's DMARC policy", None, "5.7.26"),
        ("Client host rejected: cannot find your reverse hostname", None, "5.7.25"),
        ("Message rejected as spam", None, "5.7.1"),
        ("We are sorry", None, None),
    ],
)
def test_status_inferred_from_diagnostic_text(
    text: str, temporary: bool | None, status: str | None
) -> None:
    """Diagnostic phrases map to the RFC 3463 code they mean, in the class asked for."""
    assert infer_status(text, temporary=temporary) == status


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300), st.one_of(st.none(), st.booleans()))
def test_infer_status_is_total(text: str, temporary: bool | None) -> None:
    """Any text gives None or a well-formed enhanced status code."""
    status = infer_status(text, temporary=temporary)
    if status is not None:
        klass, subject, detail = status.split(".")
        assert klass in "245"
        assert subject.isdigit()
        assert detail.isdigit()


def test_x_failed_recipients_header_names_the_failures() -> None:
    """Gmail and Exim list failed recipients in X-Failed-Recipients; that list is used."""
    raw = crlf(
        """\
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: support@acme.example
X-Failed-Recipients: announce@googlegroups.com
Subject: Delivery Status Notification (Failure)
Content-Type: text/plain; charset=UTF-8

Hello support@acme.example,

We're writing to let you know that the group you tried to contact (announce) may not exist,
or you may not have permission to post messages to the group.
"""
    )
    report = read_delivery_report(parse_message(raw), "")
    assert report is not None
    assert report.bounce is not None
    assert report.bounce.recipients == ("announce@googlegroups.com",)
    assert report.bounce.permanent is True


# --- reading the parser's own tree ----------------------------------------------------------


def test_the_module_does_not_parse_messages_with_the_standard_library() -> None:
    """Reports are read from ParsedMessage's tree: bounces.py never imports ``email``."""
    source = Path(bounces.__file__).read_text(encoding="utf-8")
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert "inboxcore" in imported
    assert "email" not in imported


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_line_endings_do_not_change_the_reading(newline: str) -> None:
    """CRLF, LF and classic Mac CR copies of a DSN give the same report, original id included."""
    raw = SENDMAIL_DSN.replace("\n", newline).encode("utf-8")
    report = read_delivery_report(parse_message(raw), "")
    assert report == read_delivery_report(parse_message(crlf(SENDMAIL_DSN)), "")
    assert report is not None
    assert report.original_message_id == "reply.3f3f@mail.helpdesk.example"


def test_original_sent_in_base64_is_decoded_for_its_message_id() -> None:
    """A returned original wrongly sent as base64 message/rfc822 still names the bounced reply."""
    original = (
        "Message-ID: <reply.9c1d@mail.helpdesk.example>\r\n"
        "From: Acme Support <support@acme.example>\r\n"
        "To: lena.berg@example.se\r\n"
        "Subject: Re: Faktura 2024-117\r\n\r\n"
        "Hej Lena,\r\n"
    )
    encoded = base64.encodebytes(original.encode()).decode()
    raw = SENDMAIL_DSN.replace(
        "Content-Type: message/rfc822\n",
        "Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n",
    )
    head, _, _ = raw.partition("Message-ID: <reply.3f3f@mail.helpdesk.example>")
    raw = head + encoded + "\n--q1B2c3--\n"
    report = read_delivery_report(parse_message(crlf(raw)), "")
    assert report is not None
    assert report.bounce is not None
    assert report.original_message_id == "reply.9c1d@mail.helpdesk.example"
    assert report.bounce.recipients == ("k.nakamura@example.co.jp", "t.ito@example.co.jp")


def test_diagnostic_code_continued_without_indent_keeps_the_servers_words() -> None:
    """A Diagnostic-Code whose next lines lack folding white space is still the diagnostic."""
    raw = SENDMAIL_DSN.replace(
        "Status: 5.2.2\nDiagnostic-Code: SMTP; 552 5.2.2 Mailbox full\n",
        "Diagnostic-Code: smtp; 550-Please turn on SMTP Authentication in your mail client.\n"
        "550-mail0.relay.example.com [198.51.100.21]:25 is not permitted to\n"
        "550 relay through this server without authentication.\n"
        "Status: 5.7.1\n",
    )
    report = read_delivery_report(parse_message(crlf(raw)), "")
    assert report is not None
    assert report.bounce is not None
    first = report.bounce.details[0]
    assert first.address == "k.nakamura@example.co.jp"
    assert first.status == "5.7.1"
    assert first.diagnostic == "550-Please turn on SMTP Authentication in your mail client."


GLOBAL_DSN = """\
From: Mail Delivery System <MAILER-DAEMON@mx.example.jp>
To: support@acme.example
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="g-77"

--g-77
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

This is the mail system at host mx.example.jp.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<山田@例え.jp>: host mx.例え.jp said: 550 5.1.1 ユーザーが存在しません

--g-77
Content-Type: message/global-delivery-status
Content-Transfer-Encoding: 8bit

Reporting-MTA: dns; mx.example.jp

Original-Recipient: utf-8; 山田@例え.jp
Final-Recipient: utf-8; 山田@例え.jp
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 ユーザーが存在しません

--g-77
Content-Type: message/global-headers
Content-Transfer-Encoding: 8bit

Message-ID: <reply.jp01@mail.helpdesk.example>
From: Acme Support <support@acme.example>
To: 山田@例え.jp
Subject: Re: 配送について

--g-77--
"""


def test_internationalized_dsn_reads_utf8_status_and_global_headers() -> None:
    """An RFC 6533 DSN: the UTF-8 status block and message/global-headers original are read."""
    report = read_delivery_report(parse_message(crlf(GLOBAL_DSN)), "")
    assert report is not None
    assert report.kind == "bounce"
    assert report.bounce is not None
    detail = report.bounce.details[0]
    assert detail.action == "failed"
    assert detail.status == "5.1.1"
    assert detail.diagnostic == "550 5.1.1 ユーザーが存在しません"
    assert report.original_message_id == "reply.jp01@mail.helpdesk.example"


def test_html_only_notice_is_searched_for_recipients() -> None:
    """An NDR whose only notice is HTML is read through its text rendering."""
    raw = crlf(
        """\
From: Microsoft Outlook <postmaster@contoso.example>
To: support@acme.example
Subject: Undeliverable: Re: Order 5531
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="ndr-1"

--ndr-1
Content-Type: text/html; charset=us-ascii

<html><body><p><b>Your message to j.doe@contoso.example couldn't be delivered.</b></p>
<p>j.doe wasn't found at contoso.example.</p>
<p>Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not
found by SMTP address lookup'</p></body></html>

--ndr-1
Content-Type: message/rfc822

Message-ID: <reply.77aa@mail.helpdesk.example>
From: support@acme.example
To: j.doe@contoso.example
Subject: Re: Order 5531

Hello

--ndr-1--
"""
    )
    report = read_delivery_report(parse_message(raw), "")
    assert report is not None
    assert report.bounce is not None
    assert report.bounce.recipients == ("j.doe@contoso.example",)
    assert report.bounce.status == "5.1.10"
    assert report.original_message_id == "reply.77aa@mail.helpdesk.example"


def qmail_notice(recipients: int) -> bytes:
    """A qmail bounce listing ``recipients`` bare ``<address>:`` lines, one explanation above."""
    listed = "\n".join(f"<user{i}@x.example>:" for i in range(recipients))
    return crlf(
        f"""\
From: MAILER-DAEMON@mx.example
To: support@acme.example
Subject: failure notice

Hi. This is the qmail-send program at mx.example.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

{listed}

--- Below this line is a copy of the message.
"""
    )


def test_qmail_bounce_of_a_few_recipients_names_each() -> None:
    """A qmail bounce lists its bare addresses, each with the status the notice implies."""
    report = read_delivery_report(parse_message(qmail_notice(3)), "")
    assert report is not None
    assert report.bounce is not None
    assert report.bounce.format == "qmail"
    assert report.recipients == ("user0@x.example", "user1@x.example", "user2@x.example")
    assert {d.status[0] for d in report.bounce.details if d.status} == {"5"}


def test_qmail_bounce_of_a_thousand_recipients_names_the_first_hundred() -> None:
    """1,000 bare addresses (once tens of seconds: every address re-read the rest of the notice)
    give the first 100, in order, read in one pass."""
    report = read_delivery_report(parse_message(qmail_notice(1_000)), "")
    assert report is not None
    assert report.bounce is not None
    assert report.recipients == tuple(f"user{i}@x.example" for i in range(100))
    assert report.bounce.status is not None
    assert report.bounce.status.startswith("5.")


def test_an_address_after_the_phrase_is_read_whole() -> None:
    """ "to the following recipients: john@x.example" names john, not "n@x.example" (the
    phrase's pattern once took the shortest local part before the "@")."""
    raw = crlf(
        """\
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: support@acme.example
Subject: Delivery Status Notification (Failure)

Delivery to the following recipients failed permanently: john@x.example

Technical details of permanent failure: 550 5.1.1 user unknown
"""
    )
    report = read_delivery_report(parse_message(raw), "")
    assert report is not None
    assert report.recipients == ("john@x.example",)


@pytest.mark.parametrize(
    "unit",
    [
        "a@",
        "<a@a@",
        ":a",
        "a:",
        "a@b.example,",
        "connect to x ",
        "to the following recipients ",
        "RCPT TO:<a@",
        "Message-ID: <a@",
        " ",
        "\n",
        ">",
        "x",
    ],
)
def test_a_notice_of_one_piece_repeated_is_read_in_linear_time(unit: str) -> None:
    """A 300 KB notice of one piece repeated (each once made a pattern quadratic: minutes) is
    read, and what it reports stays bounded: 100 recipients, 1,000-character diagnostics."""
    body = "Your message could not be delivered.\n" + unit * (300_000 // len(unit))
    raw = crlf(f"From: MAILER-DAEMON@mx.example\nSubject: Undelivered Mail\n\n{body}\n")
    report = read_delivery_report(parse_message(raw), "")
    assert report is not None
    assert report.bounce is not None
    assert len(report.recipients) <= 100
    assert all(len(d.diagnostic or "") <= 1_000 for d in report.bounce.details)
