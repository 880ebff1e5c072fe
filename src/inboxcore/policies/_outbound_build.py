"""Building the bytes of outbound mail: the one composition path every kind of outbound mail
of :mod:`inboxcore.policies.outbound` goes through.

Every header value is checked (:func:`check_header_value`), display names are encoded (RFC 2047,
or UTF-8 under SMTPUTF8), and each message gets text and HTML alternatives, our loop header and
the size limit. What a message says is decided by its composer; how it is written is decided here.
"""

from __future__ import annotations

import email.policy
import email.utils
import html
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from typing import TYPE_CHECKING, Final

import attrs

from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import HeaderInjectionError, MessageTooLarge
from inboxcore.domain.model import OutboundMail
from inboxcore.mail.classify import LOOP_HEADER
from inboxcore.policies.threads import BOUNCE_TAG_HEADER

if TYPE_CHECKING:
    # Only a type here: the attachment value is defined with the other outbound values.
    from inboxcore.policies.outbound import OutboundAttachment

__all__ = ["build_mail", "check_header_value", "display_address", "text_to_html"]

_LINE_BREAKS: Final = frozenset("\r\n")


def check_header_value(header: str, value: str) -> str:
    """``value`` fit for the header ``header``: CR or LF raise
    :class:`~inboxcore.domain.errors.HeaderInjectionError`; other control, format and line-separator
    characters become spaces."""
    if any(c in _LINE_BREAKS for c in value):
        raise HeaderInjectionError(header, value)
    return "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in value)


def display_address(header: str, address: EmailAddress, name: str | None) -> EmailAddress:
    """``address`` with the display name ``name`` (checked for ``header``), or with none."""
    return attrs.evolve(address, display_name=check_header_value(header, name) if name else None)


def _policy(addresses: Iterable[EmailAddress]) -> email.policy.EmailPolicy[EmailMessage]:
    """SMTP, or SMTPUTF8 when an address has a non-ASCII local part (the transport then needs
    the server's SMTPUTF8 extension, and says so if it is missing)."""
    if all(a.local.isascii() for a in addresses):
        return email.policy.SMTP
    return email.policy.SMTPUTF8


def _cte(text: str) -> str:
    if text.isascii() and all(len(line) <= 78 for line in text.splitlines()):
        return "7bit"
    return "quoted-printable"


def _set(message: EmailMessage, header: str, value: str) -> None:
    message[header] = check_header_value(header, value)


def _set_addresses(message: EmailMessage, header: str, addresses: Sequence[EmailAddress]) -> None:
    """Address fields through the email package's own address objects, which encode display
    names (RFC 2047, or UTF-8 under SMTPUTF8) and allow internationalized local parts."""
    message[header] = tuple(
        Address(
            display_name=check_header_value(header, a.display_name or ""),
            username=a.local,
            domain=a.domain,
        )
        for a in addresses
    )


def text_to_html(text: str) -> str:
    """Plain text as HTML paragraphs: blank lines part them, line breaks become ``<br>``."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)


def _html_document(body: str) -> str:
    return f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>{body}</body></html>'


def _attach(message: EmailMessage, attachment: OutboundAttachment) -> None:
    maintype, _, subtype = attachment.content_type.strip().lower().partition("/")
    name = check_header_value("Content-Disposition", attachment.filename)
    # A path in a file name is meaningless to the receiver and risky in some clients.
    name = " ".join(name.replace("/", "_").replace("\\", "_").split()) or "attachment"
    message.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=name)


def build_mail(
    *,
    sender: EmailAddress,
    to: Sequence[EmailAddress],
    cc: Sequence[EmailAddress] = (),
    reply_to: EmailAddress | None = None,
    subject: str,
    now: datetime,
    rfc_message_id: str,
    references: Sequence[str] = (),
    automatic: bool = False,
    loop_id: str,
    bounce_tag: str | None = None,
    text: str,
    body_html: str,
    attachments: Sequence[OutboundAttachment] = (),
    mail_from: str,
    max_bytes: int,
) -> OutboundMail:
    """The one composition path of outbound mail: every header value checked, display names
    encoded, our Message-ID and loop header, text and HTML alternatives, the size limit.

    ``references`` are Message-IDs without brackets; the last is the In-Reply-To.
    ``automatic`` marks mail no person wrote (RFC 3834 ``Auto-Submitted`` and
    ``X-Auto-Response-Suppress``), so that auto-responders stay quiet. ``bounce_tag`` goes in
    :data:`~inboxcore.policies.threads.BOUNCE_TAG_HEADER`, for reports that quote our headers.
    """
    message = EmailMessage(policy=_policy([sender, *to, *cc, *([reply_to] if reply_to else [])]))
    _set_addresses(message, "From", [sender])
    _set_addresses(message, "To", to)
    if cc:
        _set_addresses(message, "Cc", cc)
    if reply_to is not None:
        _set_addresses(message, "Reply-To", [reply_to])
    _set(message, "Subject", subject)
    _set(message, "Date", email.utils.format_datetime(now))
    _set(message, "Message-ID", f"<{rfc_message_id}>")
    if references:
        _set(message, "In-Reply-To", f"<{references[-1]}>")
        _set(message, "References", " ".join(f"<{r}>" for r in references))
    if automatic:
        _set(message, "Auto-Submitted", "auto-generated")
        _set(message, "X-Auto-Response-Suppress", "All")
    _set(message, LOOP_HEADER, loop_id)
    if bounce_tag is not None:
        _set(message, BOUNCE_TAG_HEADER, bounce_tag)
    message.set_content(text + "\n", cte=_cte(text))
    document = _html_document(body_html)
    message.add_alternative(document, subtype="html", cte=_cte(document))
    for attachment in attachments:
        _attach(message, attachment)
    data = message.as_bytes()
    if len(data) > max_bytes:
        raise MessageTooLarge("message", len(data), max_bytes)
    return OutboundMail(
        mail_from=mail_from,
        rcpt_to=tuple(dict.fromkeys(a.address for a in (*to, *cc))),
        data=data,
        rfc_message_id=rfc_message_id,
    )
