"""Classification: forwarding confirmations, bounces, auto-replies, loops, list mail."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.model import MessageKind
from inboxcore.mail.classify import (
    LOOP_HEADER,
    Classification,
    ClassificationContext,
    classify,
    is_auto_reply_subject,
)
from inboxcore.mail.parsing import parse_message

CHANNEL = EmailAddress.parse("acme-support@inbox.helpdesk.example")
CONTEXT = ClassificationContext(
    channel_address=CHANNEL,
    channel_id="ch_1",
    own_message_id_domains=frozenset({"mail.helpdesk.example"}),
    loop_header_value="ch_1.4f2a9c",
)


def message(headers: str, body: str = "Hello,\n\nA question about my order.\n") -> bytes:
    """A raw message from header lines (one per line) and a body, with CRLF line ends."""
    text = headers.strip("\n") + "\n\n" + body
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def run(raw: bytes, mail_from: str | None = "customer@example.org") -> Classification:
    return classify(parse_message(raw), mail_from, CONTEXT)


PLAIN = """\
From: Maria Lopez <maria.lopez@example.org>
To: support@acme.example
Subject: Order 4471 arrived damaged
Date: Tue, 12 Mar 2024 09:14:02 +0100
Message-ID: <CAF=3Dk2x9@mail.example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
"""

# --- forwarding confirmations ---------------------------------------------------------------

GMAIL_OLD = """\
Delivered-To: acme-support@inbox.helpdesk.example
Return-Path: <forwarding-noreply@google.com>
X-Google-Address-Confirmation: 4lmN2cQyXf0aZ7uT3bJk9w
From: Gmail Team <forwarding-noreply@google.com>
To: acme-support@inbox.helpdesk.example
Subject: (#578694102) Gmail Forwarding Confirmation - Receive Mail from support@acme.example
Date: Mon, 11 Mar 2024 16:02:11 +0000
Message-ID: <000000000000a1b2c3@google.com>
MIME-Version: 1.0
Content-Type: text/plain; charset="UTF-8"
"""
GMAIL_OLD_BODY = """\
support@acme.example has requested to automatically forward mail to your email
address acme-support@inbox.helpdesk.example.
Confirmation code: 578694102

To allow support@acme.example to automatically forward mail to your address,
please click the link below to confirm the request:

https://mail.google.com/mail/vf-%5BANGjdJ_7xQ2k%5D-Rb4nWd0XkP3sYtQmLwZ9aH2cE

If you click the link and it appears to be broken, please copy and paste it
into a new browser window. If you aren't able to access the link, you can send
the confirmation code 578694102 to support@acme.example.

Thanks for using Gmail!

Sincerely,

The Gmail Team
"""

GMAIL_NEW = """\
Return-Path: <forwarding-noreply@google.com>
X-Google-Address-Confirmation: Qz8pLmW3sT0vYb1R
Auto-Submitted: auto-generated
From: Gmail Team <forwarding-noreply@google.com>
To: acme-support@inbox.helpdesk.example
Subject: Gmail Forwarding Confirmation - Receive Mail from support@acme.example
Date: Wed, 17 Jul 2024 08:40:55 +0000
Message-ID: <b7d1e0f3a2c4@google.com>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="000000000000f1e2"

--000000000000f1e2
Content-Type: text/plain; charset="UTF-8"

support@acme.example has requested to automatically forward mail to your email
address acme-support@inbox.helpdesk.example.

To allow support@acme.example to automatically forward mail to your address,
please click the link below to confirm the request:

https://mail-settings.google.com/mail/vf-%5BANGjdJ9kT4%5D-hP2sLq8ZrVx0Ye3Wn5Ud

If you click the link and it appears to be broken, please copy and paste it into
a new browser window.

Thanks for using Gmail!

--000000000000f1e2
Content-Type: text/html; charset="UTF-8"

<p>support@acme.example has requested to automatically forward mail to your email address
acme-support@inbox.helpdesk.example.</p>
<p><a href="https://mail-settings.google.com/mail/vf-%5BANGjdJ9kT4%5D-hP2sLq8ZrVx0Ye3Wn5Ud">
Confirm</a></p>

--000000000000f1e2--
"""


def test_gmail_old_format_yields_code_link_and_requester() -> None:
    """Gmail's older confirmation gives the provider, requester, code and vf- link."""
    result = run(message(GMAIL_OLD, GMAIL_OLD_BODY), "forwarding-noreply@google.com")
    assert result.kind is MessageKind.FORWARDING_CONFIRMATION
    assert result.reason == "forwarding_confirmation.gmail"
    confirmation = result.forwarding_confirmation
    assert confirmation is not None
    assert confirmation.provider == "gmail"
    assert confirmation.requesting_address == "support@acme.example"
    assert confirmation.code == "578694102"
    assert confirmation.url == (
        "https://mail.google.com/mail/vf-%5BANGjdJ_7xQ2k%5D-Rb4nWd0XkP3sYtQmLwZ9aH2cE"
    )


def test_gmail_new_format_has_link_without_code() -> None:
    """Gmail's current confirmation carries only a mail-settings.google.com link."""
    result = run(GMAIL_NEW.replace("\n", "\r\n").encode(), "")
    assert result.kind is MessageKind.FORWARDING_CONFIRMATION
    confirmation = result.forwarding_confirmation
    assert confirmation is not None
    assert confirmation.code is None
    assert confirmation.requesting_address == "support@acme.example"
    assert confirmation.url == (
        "https://mail-settings.google.com/mail/vf-%5BANGjdJ9kT4%5D-hP2sLq8ZrVx0Ye3Wn5Ud"
    )


def test_confirmation_check_runs_before_auto_reply_and_null_sender() -> None:
    """A confirmation with Auto-Submitted from the null sender is still a confirmation."""
    result = run(GMAIL_NEW.replace("\n", "\r\n").encode(), "")
    assert result.kind is MessageKind.FORWARDING_CONFIRMATION
    assert result.opens_ticket is False


def test_zoho_style_confirmation_is_recognised_by_provider_domain() -> None:
    """A Zoho forwarding verification yields the provider and its verification link."""
    raw = message(
        """\
From: Zoho Mail <noreply@zohomail.com>
To: acme-support@inbox.helpdesk.example
Subject: Verify your email forwarding address
Message-ID: <1710166000000.zm@zohomail.com>
Content-Type: text/plain; charset=utf-8
""",
        "help@acme.example wants to forward emails to acme-support@inbox.helpdesk.example.\n"
        "Click to confirm: https://mail.zoho.com/mail/verifyForward?code=9f3b2c1d\n",
    )
    result = run(raw, "bounce-zm@zohomail.com")
    assert result.kind is MessageKind.FORWARDING_CONFIRMATION
    assert result.forwarding_confirmation is not None
    assert result.forwarding_confirmation.provider == "zoho"
    assert result.forwarding_confirmation.url == (
        "https://mail.zoho.com/mail/verifyForward?code=9f3b2c1d"
    )
    assert result.forwarding_confirmation.requesting_address == "help@acme.example"


def test_localised_gmail_confirmation_is_recognised_by_sender() -> None:
    """A German Gmail confirmation is recognised by its sender; code and requester are read."""
    raw = message(
        """\
From: Gmail-Team <forwarding-noreply@google.com>
To: acme-support@inbox.helpdesk.example
Subject: (#302118745) Gmail-Weiterleitungsbestätigung – E-Mails von vertrieb@acme.example empfangen
Content-Type: text/plain; charset=UTF-8
""",
        "vertrieb@acme.example möchte E-Mails automatisch an Ihre E-Mail-Adresse\n"
        "acme-support@inbox.helpdesk.example weiterleiten.\n"
        "Bestätigungscode: 302118745\n\n"
        "https://mail-settings.google.com/mail/vf-%5BANGjdJ-2xY%5D-Kq9\n",
    )
    result = run(raw, "forwarding-noreply@google.com")
    assert result.kind is MessageKind.FORWARDING_CONFIRMATION
    confirmation = result.forwarding_confirmation
    assert confirmation is not None
    assert confirmation.code == "302118745"
    assert confirmation.requesting_address == "vertrieb@acme.example"
    assert confirmation.url == "https://mail-settings.google.com/mail/vf-%5BANGjdJ-2xY%5D-Kq9"


def test_unknown_provider_confirmation_uses_the_generic_rule() -> None:
    """An automated sender asking to confirm forwarding is a confirmation from its domain."""
    raw = message(
        """\
From: Mailbox Service <no-reply@smallmail.example>
To: acme-support@inbox.helpdesk.example
Subject: Please confirm your forwarding address
Content-Type: text/plain; charset=utf-8
""",
        "The mailbox info@acme.example wants to forward its mail to this address.\n"
        "Your verification code is 841207.\n"
        "Or open https://smallmail.example/forwarding/confirm?t=Zx81\n",
    )
    result = run(raw, "no-reply@smallmail.example")
    assert result.kind is MessageKind.FORWARDING_CONFIRMATION
    assert result.reason == "forwarding_confirmation.smallmail_example"
    confirmation = result.forwarding_confirmation
    assert confirmation is not None
    assert confirmation.code == "841207"
    assert confirmation.url == "https://smallmail.example/forwarding/confirm?t=Zx81"
    assert confirmation.requesting_address == "info@acme.example"


def test_customer_mentioning_forwarding_is_not_a_confirmation() -> None:
    """A person asking about forwarding confirmation is an ordinary message."""
    raw = message(
        PLAIN.replace("Order 4471 arrived damaged", "Re: confirm forwarding setup?"),
        "Did you get the Gmail forwarding confirmation yet?\n",
    )
    assert run(raw).kind is MessageKind.MESSAGE


# --- bounces --------------------------------------------------------------------------------

POSTFIX_DSN = """\
Return-Path: <>
From: MAILER-DAEMON@mx1.mail.helpdesk.example (Mail Delivery System)
To: acme-support@inbox.helpdesk.example
Subject: Undelivered Mail Returned to Sender
Date: Thu, 14 Mar 2024 10:22:31 +0000 (UTC)
Message-Id: <20240314102231.7F2A1C0143@mx1.mail.helpdesk.example>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="7F2A1C0143.1710411751/mx1.mail.helpdesk.example"

This is a MIME-encapsulated message.

--7F2A1C0143.1710411751/mx1.mail.helpdesk.example
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx1.mail.helpdesk.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

<jon.smiht@example.net>: host mx.example.net[203.0.113.25] said: 550 5.1.1
    <jon.smiht@example.net>: Recipient address rejected: User unknown in virtual
    mailbox table (in reply to RCPT TO command)

--7F2A1C0143.1710411751/mx1.mail.helpdesk.example
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx1.mail.helpdesk.example
X-Postfix-Queue-ID: 7F2A1C0143
X-Postfix-Sender: rfc822; acme-support@inbox.helpdesk.example
Arrival-Date: Thu, 14 Mar 2024 10:22:30 +0000 (UTC)

Final-Recipient: rfc822; jon.smiht@example.net
Original-Recipient: rfc822;jon.smiht@example.net
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.net
Diagnostic-Code: smtp; 550 5.1.1 <jon.smiht@example.net>: Recipient address
    rejected: User unknown in virtual mailbox table

--7F2A1C0143.1710411751/mx1.mail.helpdesk.example
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: Acme Support <support@acme.example>
To: jon.smiht@example.net
Subject: Re: Your refund
Message-ID: <reply.81c2d9@mail.helpdesk.example>
Date: Thu, 14 Mar 2024 10:22:29 +0000

--7F2A1C0143.1710411751/mx1.mail.helpdesk.example--
"""


def test_rfc3464_report_yields_status_recipient_and_original_id() -> None:
    """A Postfix DSN gives 5.1.1, the failed recipient and the bounced reply's Message-ID."""
    result = run(POSTFIX_DSN.replace("\n", "\r\n").encode(), "")
    assert result.kind is MessageKind.BOUNCE
    assert result.reason == "bounce.rfc3464"
    bounce = result.bounce
    assert bounce is not None
    assert bounce.status == "5.1.1"
    assert bounce.recipients == ("jon.smiht@example.net",)
    assert bounce.original_message_id == "reply.81c2d9@mail.helpdesk.example"
    assert bounce.permanent is True
    assert bounce.diagnostic is not None
    assert "User unknown" in bounce.diagnostic
    assert result.opens_ticket is False


def test_bounce_wins_over_its_auto_submitted_header() -> None:
    """A DSN carrying Auto-Submitted: auto-replied is a bounce, not an auto-reply."""
    assert run(POSTFIX_DSN.encode(), "").kind is MessageKind.BOUNCE


def test_delayed_dsn_is_a_temporary_bounce() -> None:
    """Action: delayed gives a bounce that is not permanent."""
    raw = (
        POSTFIX_DSN.replace("Action: failed", "Action: delayed")
        .replace("Status: 5.1.1", "Status: 4.4.1")
        .replace("550 5.1.1", "connect to mx.example.net: Connection timed out")
    )
    result = run(raw.encode(), "")
    assert result.kind is MessageKind.BOUNCE
    assert result.bounce is not None
    assert result.bounce.status == "4.4.1"
    assert result.bounce.permanent is False


def test_delivery_success_dsn_is_an_automated_notice() -> None:
    """A DSN whose recipients were all delivered is an auto-reply kind, never a bounce."""
    raw = POSTFIX_DSN.replace("Action: failed", "Action: delivered").replace(
        "Status: 5.1.1", "Status: 2.0.0"
    )
    result = run(raw.encode(), "")
    assert result.kind is MessageKind.AUTO_REPLY
    assert result.reason == "auto_reply.delivery_success"
    assert result.bounce is None


EXIM = """\
Return-path: <>
From: Mail Delivery System <Mailer-Daemon@smtp.example.net>
To: support@acme.example
Subject: Mail delivery failed: returning message to sender
Message-Id: <E1rkT2v-0003Qd-9x@smtp.example.net>
Date: Fri, 15 Mar 2024 11:03:12 +0000
Auto-Submitted: auto-replied
"""
EXIM_BODY = """\
This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  anna.berg@example.se
    host mx.example.se [198.51.100.7]
    SMTP error from remote mail server after RCPT TO:<anna.berg@example.se>:
    552 5.2.2 Mailbox full
  ops@example.se
    Unrouteable address

------ This is a copy of the message, including all the headers. ------

Return-path: <support@acme.example>
Message-ID: <reply.0c77e1@mail.helpdesk.example>
From: support@acme.example
To: anna.berg@example.se, ops@example.se
Subject: Re: Invoice question

Hi Anna,
"""


def test_exim_prose_bounce_yields_per_recipient_status() -> None:
    """An Exim bounce gives each failed recipient with its own (given or inferred) status."""
    result = run(message(EXIM, EXIM_BODY), "")
    assert result.kind is MessageKind.BOUNCE
    bounce = result.bounce
    assert bounce is not None
    assert bounce.format == "exim"
    assert bounce.recipients == ("anna.berg@example.se", "ops@example.se")
    assert [d.status for d in bounce.details] == ["5.2.2", "5.1.1"]
    assert bounce.details[1].status_inferred is True
    assert bounce.original_message_id == "reply.0c77e1@mail.helpdesk.example"


def test_qmail_bounce_is_read() -> None:
    """A qmail failure notice gives the recipient and the remote host's status."""
    raw = message(
        """\
From: MAILER-DAEMON@mail.example.com
To: support@acme.example
Subject: failure notice
Date: 15 Mar 2024 12:00:01 -0000
""",
        """\
Hi. This is the qmail-send program at mail.example.com.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<li.wei@example.com>:
203.0.113.9 does not like recipient.
Remote host said: 550 5.1.1 <li.wei@example.com>... User Unknown
Giving up on 203.0.113.9.

--- Below this line is a copy of the message.

Message-ID: <reply.5521@mail.helpdesk.example>
Subject: Re: delivery date
""",
    )
    result = run(raw, None)
    assert result.kind is MessageKind.BOUNCE
    assert result.bounce is not None
    assert result.bounce.format == "qmail"
    assert result.bounce.recipients == ("li.wei@example.com",)
    assert result.bounce.status == "5.1.1"
    assert result.bounce.original_message_id == "reply.5521@mail.helpdesk.example"


def test_office365_ndr_is_read() -> None:
    """An Office 365 non-delivery report (no status code in the prose) infers 5.1.1."""
    raw = message(
        """\
From: Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@contoso.example>
To: support@acme.example
Subject: Undeliverable: Re: Quote 2024-118
X-MS-Exchange-Message-Is-Ndr:
Content-Type: text/plain; charset=us-ascii
""",
        """\
Your message to p.jansen@contoso.example couldn't be delivered.
p.jansen wasn't found at contoso.example.

p.jansen@contoso.example
Office 365
Action Required
Unknown To address

How to Fix It
The address may be misspelled or may not exist.
""",
    )
    result = run(raw, "")
    assert result.kind is MessageKind.BOUNCE
    assert result.bounce is not None
    assert result.bounce.recipients == ("p.jansen@contoso.example",)
    assert result.bounce.status == "5.1.1"
    assert result.bounce.format == "exchange"


def test_customer_writing_about_a_bounce_is_a_message() -> None:
    """A person who quotes an error about their own failed mail is not a bounce."""
    raw = message(
        PLAIN.replace("Order 4471 arrived damaged", "My email bounced"),
        "I tried to write to billing@acme.example and it could not be delivered:\n"
        "550 5.1.1 user unknown. Which address should I use?\n",
    )
    assert run(raw).kind is MessageKind.MESSAGE


def test_shop_writing_from_a_system_like_address_is_a_message() -> None:
    """A shop's mail@ address asking about a failed delivery is a customer, not a daemon."""
    raw = message(
        PLAIN.replace(
            "Maria Lopez <maria.lopez@example.org>", "Bakery Jensen <mail@bakery.example>"
        ).replace("Order 4471 arrived damaged", "Delivery failure for order 4471"),
        "Your courier could not deliver to <orders@bakery.example>: nobody was there.\n"
        "Could you send it again on Friday?\n",
    )
    result = run(raw, "mail@bakery.example")
    assert result.kind is MessageKind.MESSAGE


def test_forwarded_bounce_from_a_person_is_a_message() -> None:
    """A customer forwarding a bounce they received asks for help: it stays a message."""
    raw = message(
        PLAIN.replace("Order 4471 arrived damaged", "Fwd: Undeliverable: Order 4471"),
        "See below, your address bounced.\n\n---------- Forwarded message ---------\n"
        "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n"
        "Delivery to the following recipient failed permanently:\n\n  orders@acme.example\n",
    )
    assert run(raw).kind is MessageKind.MESSAGE


def test_null_sender_alone_is_not_a_bounce() -> None:
    """Mail from MAIL FROM:<> with no report and no failure wording (spam does this) is an
    automated notice: never answered, never work, and not counted as a bounce."""
    result = run(message(PLAIN), "")
    assert result.kind is MessageKind.AUTO_REPLY
    assert result.reason == "auto_reply.null_sender"
    assert result.bounce is None
    assert not result.opens_ticket


def test_null_sender_spam_is_not_a_bounce() -> None:
    """A sales pitch sent from <> reads as nothing like a delivery report."""
    spam = PLAIN.replace("Order 4471 arrived damaged", "Exclusive offer: 80% off watches")
    result = run(message(spam, "Dear friend,\n\nClick here for the best prices.\n"), "")
    assert result.reason == "auto_reply.null_sender"


def test_null_sender_with_failure_wording_is_a_bounce_even_when_unreadable() -> None:
    """The twin: from <> with a failure subject but no readable report, still a bounce."""
    notice = PLAIN.replace("Order 4471 arrived damaged", "Undeliverable: your message")
    result = run(message(notice, "Something went wrong.\n"), "")
    assert result.kind is MessageKind.BOUNCE
    assert result.reason == "bounce.null_sender"
    body_only = run(message(PLAIN, "Your message could not be delivered to anyone.\n"), "")
    assert body_only.reason == "bounce.null_sender"


def test_null_sender_with_a_broken_report_structure_is_a_bounce() -> None:
    """A multipart/report from <> whose parts cannot be read is a bounce we cannot read."""
    report = PLAIN.replace(
        "Content-Type: text/plain; charset=utf-8",
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
    )
    result = run(message(report, "--b\nContent-Type: text/plain\n\nHello\n--b--\n"), "")
    assert result.kind is MessageKind.BOUNCE


def test_return_path_stands_in_for_an_unknown_envelope() -> None:
    """With no envelope, a Return-Path: <> header marks the null sender."""
    result = run(message("Return-Path: <>\n" + PLAIN), None)
    assert result.reason == "auto_reply.null_sender"
    assert run(message(PLAIN), None).reason == "message"


ARF = """\
From: Abuse Desk <abuse@mailprovider.example>
To: acme-support@inbox.helpdesk.example
Subject: Complaint about message from 192.0.2.40
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="arf_boundary"

--arf_boundary
Content-Type: text/plain; charset=us-ascii

This is an email abuse report for an email message received from IP 192.0.2.40.

--arf_boundary
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeGenerator/1.0
Version: 1
Original-Rcpt-To: <someone@mailprovider.example>

--arf_boundary
Content-Type: message/rfc822

From: support@acme.example
To: someone@mailprovider.example
Subject: Re: your ticket
Message-ID: <reply.9a9a@mail.helpdesk.example>

Thanks!
--arf_boundary--
"""


def test_feedback_report_is_an_automated_notice_with_its_type() -> None:
    """An ARF complaint is not a bounce; it is an auto-reply kind with its feedback type."""
    result = run(ARF.replace("\n", "\r\n").encode(), "")
    assert result.kind is MessageKind.AUTO_REPLY
    assert result.reason == "auto_reply.feedback_report"
    assert result.feedback_type == "abuse"


def test_read_receipt_is_an_automated_notice() -> None:
    """A message disposition notification (read receipt) never becomes work."""
    raw = message(
        """\
From: Maria Lopez <maria.lopez@example.org>
To: support@acme.example
Subject: Read: Re: Order 4471
MIME-Version: 1.0
Content-Type: multipart/report; report-type=disposition-notification; boundary="mdn"
""",
        "--mdn\nContent-Type: text/plain\n\nYour message was read.\n\n"
        "--mdn\nContent-Type: message/disposition-notification\n\n"
        "Final-Recipient: rfc822; maria.lopez@example.org\n"
        "Disposition: manual-action/MDN-sent-manually; displayed\n\n--mdn--\n",
    )
    result = run(raw, "")
    assert result.kind is MessageKind.AUTO_REPLY
    assert result.reason == "auto_reply.read_receipt"


# --- auto-replies ---------------------------------------------------------------------------


def test_auto_submitted_auto_replied_is_an_auto_reply() -> None:
    """RFC 3834 Auto-Submitted: auto-replied marks an auto-reply."""
    raw = message("Auto-Submitted: auto-replied (vacation)\n" + PLAIN)
    result = run(raw)
    assert result.kind is MessageKind.AUTO_REPLY
    assert result.reason == "auto_reply.auto_submitted"


def test_auto_submitted_no_is_a_message() -> None:
    """Auto-Submitted: no is what a person's mail says: a message."""
    assert run(message("Auto-Submitted: no\n" + PLAIN)).kind is MessageKind.MESSAGE


@pytest.mark.parametrize(
    "header",
    ["X-Autoreply: yes", "X-Autorespond: Vacation", "Precedence: auto_reply"],
)
def test_auto_reply_headers(header: str) -> None:
    """X-Autoreply, X-Autorespond and Precedence: auto_reply mark auto-replies."""
    assert run(message(header + "\n" + PLAIN)).kind is MessageKind.AUTO_REPLY


OUTLOOK_OOF = """\
From: Pieter Jansen <p.jansen@contoso.example>
To: Acme Support <support@acme.example>
Subject: Automatic reply: Re: Quote 2024-118
Thread-Topic: Re: Quote 2024-118
Date: Mon, 18 Mar 2024 07:00:12 +0000
Message-ID: <AM0PR04MB6F1A@AM0PR04MB6F1A.eurprd04.prod.outlook.example>
X-Auto-Response-Suppress: All
X-MS-Exchange-Inbox-Rules-Loop: p.jansen@contoso.example
Content-Type: text/plain; charset="us-ascii"
"""


def test_outlook_out_of_office_is_an_auto_reply() -> None:
    """Outlook's "Automatic reply:" out-of-office is an auto-reply."""
    result = run(message(OUTLOOK_OOF, "I am out of the office until 25 March.\n"))
    assert result.kind is MessageKind.AUTO_REPLY
    assert result.reason == "auto_reply.subject"


def test_x_auto_response_suppress_alone_is_not_an_auto_reply() -> None:
    """Outlook sets X-Auto-Response-Suppress on ordinary mail: that alone is a message."""
    raw = message(
        """\
From: Pieter Jansen <p.jansen@contoso.example>
To: Acme Support <support@acme.example>
Subject: Quote 2024-118: two more questions
Thread-Topic: Quote 2024-118: two more questions
Message-ID: <AM0PR04MB7E2B@AM0PR04MB7E2B.eurprd04.prod.outlook.example>
X-Auto-Response-Suppress: All
X-MS-Has-Attach:
Content-Type: text/plain; charset="us-ascii"
""",
        "Hello, two more questions about the quote.\n",
    )
    result = run(raw, "p.jansen@contoso.example")
    assert result.kind is MessageKind.MESSAGE
    assert result.reason == "message"


@pytest.mark.parametrize(
    "subject",
    [
        "Automatic reply: Order 4471",
        "Automatische Antwort: Bestellung 4471",
        "Réponse automatique : Commande 4471",
        "Respuesta automática: Pedido 4471",
        "Risposta automatica: Ordine 4471",
        "Autosvar: Order 4471",
        "Automatisch antwoord: Bestelling 4471",
        "Automatisk svar: Ordre 4471",
        "Automaattinen vastaus: Tilaus 4471",
        "Resposta automática: Pedido 4471",
        "Abwesenheitsnotiz: Bestellung 4471",
        "Out of Office: Order 4471",
        "Out of Office AutoReply: Order 4471",
        "Auto reply: Order 4471",
    ],
)
def test_auto_reply_subjects_in_many_languages(subject: str) -> None:
    """Auto-responders' subject prefixes in the languages a helpdesk meets are recognised."""
    assert is_auto_reply_subject(subject)
    raw = message(PLAIN.replace("Order 4471 arrived damaged", subject))
    assert run(raw).kind is MessageKind.AUTO_REPLY


@pytest.mark.parametrize(
    "subject",
    ["Out of office next week - can you ship earlier?", "Replying about my away order"],
)
def test_vacation_words_from_a_person_stay_a_message(subject: str) -> None:
    """Vacation words in a person's own subject, with no automated signal, are a message."""
    raw = message(PLAIN.replace("Order 4471 arrived damaged", subject))
    assert run(raw).kind is MessageKind.MESSAGE


def test_vacation_subject_from_null_sender_is_an_auto_reply() -> None:
    """A vacation subject from the null sender is a vacation notice."""
    raw = message(PLAIN.replace("Order 4471 arrived damaged", "Away until May 5"))
    result = run(raw, "")
    assert result.kind is MessageKind.AUTO_REPLY
    assert result.reason == "auto_reply.vacation"


# --- loops ----------------------------------------------------------------------------------


def test_own_loop_header_for_this_channel_is_a_loop() -> None:
    """Our loop header with this channel's value is our own mail coming back."""
    raw = message(f"{LOOP_HEADER}: ch_1.4f2a9c\n" + PLAIN)
    result = run(raw)
    assert result.kind is MessageKind.LOOP
    assert result.reason == "loop.own_header"


def test_loop_header_of_another_channel_is_not_a_loop() -> None:
    """Mail from another inboxcore channel (another team) is an ordinary message here."""
    raw = message(f"{LOOP_HEADER}: ch_2.0b1c2d\n" + PLAIN)
    assert run(raw).kind is MessageKind.MESSAGE


def test_own_message_id_domain_is_a_loop() -> None:
    """A Message-ID on our own outbound domain means the mail is one we sent."""
    raw = message(PLAIN.replace("CAF=3Dk2x9@mail.example.org", "out.77a1@Mail.Helpdesk.Example"))
    result = run(raw)
    assert result.kind is MessageKind.LOOP
    assert result.reason == "loop.own_message_id"


def test_channel_address_as_sender_is_a_loop() -> None:
    """Mail whose From is the channel's own forwarding address (plus-tagged too) is a loop."""
    raw = message(
        PLAIN.replace(
            "Maria Lopez <maria.lopez@example.org>", "<acme-support+x1@inbox.helpdesk.example>"
        )
    )
    result = run(raw)
    assert result.kind is MessageKind.LOOP
    assert result.reason == "loop.own_address"


# --- messages and list mail -----------------------------------------------------------------


def test_plain_message_is_a_message_that_opens_a_ticket() -> None:
    """A customer's ordinary mail is a message."""
    result = run(message(PLAIN))
    assert result.kind is MessageKind.MESSAGE
    assert result.reason == "message"
    assert result.is_list is False
    assert result.opens_ticket is True


def test_list_mail_is_recorded_with_its_list_id() -> None:
    """A message with List-Id is a message marked as list mail, Precedence noted."""
    raw = message(
        "List-Id: Acme customers <customers.lists.acme.example>\nPrecedence: list\n" + PLAIN
    )
    result = run(raw)
    assert result.kind is MessageKind.MESSAGE
    assert result.is_list is True
    assert result.list_id == "customers.lists.acme.example"
    assert result.precedence == "list"
    assert result.reason == "message.list"


def test_bulk_precedence_is_noted() -> None:
    """Precedence: bulk is noted on an otherwise ordinary message."""
    result = run(message("Precedence: bulk\n" + PLAIN))
    assert result.kind is MessageKind.MESSAGE
    assert result.precedence == "bulk"
    assert result.reason == "message.precedence_bulk"


# --- never raises ---------------------------------------------------------------------------

SAMPLES = [
    message(GMAIL_OLD, GMAIL_OLD_BODY),
    POSTFIX_DSN.encode(),
    message(EXIM, EXIM_BODY),
    ARF.encode(),
    message(OUTLOOK_OOF, "Away.\n"),
    message(PLAIN),
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=2000), mail_from=st.one_of(st.none(), st.just(""), st.text()))
def test_classify_never_raises_on_arbitrary_bytes(data: bytes, mail_from: str | None) -> None:
    """Any bytes at all get a classification."""
    result = classify(parse_message(data), mail_from, CONTEXT)
    assert isinstance(result.kind, MessageKind)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sample=st.sampled_from(SAMPLES),
    cuts=st.lists(
        st.tuples(st.integers(min_value=0, max_value=4000), st.binary(max_size=12)), max_size=6
    ),
)
def test_classify_never_raises_on_mutated_messages(
    sample: bytes, cuts: list[tuple[int, bytes]]
) -> None:
    """Real messages with bytes spliced in or cut out still get a classification."""
    data = bytearray(sample)
    for position, chunk in cuts:
        at = position % (len(data) + 1)
        if chunk:
            data[at:at] = chunk
        else:
            del data[at : at + 40]
    result = classify(parse_message(bytes(data)), "", CONTEXT)
    assert isinstance(result.kind, MessageKind)
    assert result.reason


def test_our_own_automatic_mail_coming_back_is_a_loop_not_an_auto_reply() -> None:
    """An owner notification of ours (Auto-Submitted and our loop header) looping back is a LOOP."""
    raw = (
        b"From: Acme Support <support@acme.example>\r\nTo: owner@acme.example\r\n"
        b"Subject: New conversation: Invoice\r\nAuto-Submitted: auto-generated\r\n"
        b"X-Auto-Response-Suppress: All\r\nX-Inboxcore-Loop: ch_1\r\nMessage-ID: <n1@x.example>\r\n\r\nHi\r\n"
    )
    context = ClassificationContext(
        channel_address=EmailAddress.parse("support-7f3k@inbox.example.net"),
        channel_id="ch_1",
        loop_header_value="ch_1",
    )
    result = classify(parse_message(raw), "support-7f3k@inbox.example.net", context)
    assert result.kind is MessageKind.LOOP
    assert result.reason == "loop.own_header"
    other_channel = attrs.evolve(context, channel_id="ch_2", loop_header_value="ch_2")
    assert classify(parse_message(raw), "x@y.example", other_channel).kind is MessageKind.AUTO_REPLY
