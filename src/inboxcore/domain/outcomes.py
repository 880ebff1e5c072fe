"""Outcomes are values: dispositions, reasons and the SMTP reply a host should give.

A host logs the reason codes, shows the human sentences to the team ("why was this mail
refused?") and maps :class:`SmtpReply` onto its SMTP or LMTP session.
"""

from __future__ import annotations

import enum

import attrs

__all__ = [
    "Disposition",
    "Reason",
    "Reply",
    "SmtpReply",
]


class Disposition(enum.Enum):
    """What became of an incoming message."""

    ACCEPTED = "accepted"
    """Delivered to the inbox."""
    DUPLICATE = "duplicate"
    """The channel already has it; nothing new was stored."""
    QUARANTINED = "quarantined"
    """Kept aside (raw message stored), not shown as work; can be released or re-processed."""
    REJECTED = "rejected"
    """Refused; the sender is told by the SMTP reply."""
    DEFERRED = "deferred"
    """Refused for now with a temporary reply; the sender will retry."""
    DISCARDED = "discarded"
    """Taken out of quarantine by a person who decided it is not wanted; never an intake verdict,
    only a line of the intake log. The raw message stays stored."""


@attrs.frozen(kw_only=True)
class Reason:
    """One reason for a disposition: a stable code and a sentence for people."""

    code: str
    message: str


@attrs.frozen(kw_only=True)
class SmtpReply:
    """An SMTP reply: ``250 2.0.0 Message accepted``."""

    code: int = attrs.field(
        validator=attrs.validators.and_(attrs.validators.ge(200), attrs.validators.le(599))
    )
    enhanced: str
    text: str = attrs.field()

    @text.validator
    def _single_line(self, attribute: attrs.Attribute[str], value: str) -> None:
        if "\r" in value or "\n" in value:
            raise ValueError("an SMTP reply text is one line")

    @property
    def is_permanent_failure(self) -> bool:
        return 500 <= self.code < 600

    @property
    def is_temporary_failure(self) -> bool:
        return 400 <= self.code < 500

    def __str__(self) -> str:
        return f"{self.code} {self.enhanced} {self.text}"


class Reply(enum.Enum):
    """Every SMTP reply inboxcore gives about a message, in one table (intake, authentication,
    the service and the LMTP/SMTP receiver all take theirs from here): ``Reply.ACCEPTED.value``.
    """

    ACCEPTED = SmtpReply(code=250, enhanced="2.0.0", text="Message accepted")
    KEPT = SmtpReply(code=250, enhanced="2.0.0", text="Message accepted for review")
    DUPLICATE = SmtpReply(code=250, enhanced="2.0.0", text="Message already received")
    UNKNOWN_RECIPIENT = SmtpReply(code=550, enhanced="5.1.1", text="No such mailbox")
    RETIRED = SmtpReply(code=550, enhanced="5.1.1", text="Mailbox no longer in service")
    BAD_ADDRESS = SmtpReply(code=553, enhanced="5.1.3", text="Bad recipient address syntax")
    TOO_BIG = SmtpReply(code=552, enhanced="5.3.4", text="Message too big")
    OTHER_CHANNEL = SmtpReply(
        code=452,
        enhanced="4.5.3",
        text="Too many recipients: send to this one in a new transaction",
    )
    STORAGE_DOWN = SmtpReply(code=451, enhanced="4.3.0", text="Temporary failure, try again later")
    REFUSED = SmtpReply(code=550, enhanced="5.7.1", text="Message refused")
    TRY_LATER = SmtpReply(code=451, enhanced="4.7.0", text="Temporary failure, try again later")
    DNS_TRY_LATER = SmtpReply(code=451, enhanced="4.7.0", text="DNS lookup failed, try again later")
    SPAM_FILTER_DOWN = SmtpReply(
        code=451, enhanced="4.7.0", text="Spam filter unavailable, try again later"
    )
    SPAM = SmtpReply(code=550, enhanced="5.7.1", text="Message refused as spam")
    DMARC_REJECT = SmtpReply(
        code=550,
        enhanced="5.7.26",
        text="Unauthenticated email from this domain is not accepted (DMARC)",
    )
    # The session's own replies (the LMTP/SMTP receiver), before or around a message.
    SENDER_OK = SmtpReply(code=250, enhanced="2.1.0", text="Sender OK")
    RECIPIENT_OK = SmtpReply(code=250, enhanced="2.1.5", text="Recipient OK")
    OK = SmtpReply(code=250, enhanced="2.0.0", text="Ok")
    BAD_SENDER = SmtpReply(code=553, enhanced="5.1.7", text="Bad sender address syntax")
    # RFC 6531 section 3.5: a non-ASCII address in a transaction that did not ask for SMTPUTF8.
    UTF8_SENDER = SmtpReply(
        code=553, enhanced="5.6.7", text="Non-ASCII addresses not permitted for that sender"
    )
    UTF8_RECIPIENT = SmtpReply(
        code=553, enhanced="5.6.7", text="Non-ASCII addresses not permitted for that recipient"
    )
    LINE_TOO_LONG = SmtpReply(code=500, enhanced="5.5.2", text="Line too long")
    NEED_RECIPIENT = SmtpReply(code=503, enhanced="5.5.1", text="Error: need RCPT command")
    DATA_SYNTAX = SmtpReply(code=501, enhanced="5.5.4", text="Syntax: DATA")
    XFORWARD_REFUSED = SmtpReply(
        code=550, enhanced="5.7.0", text="XFORWARD not allowed from this host"
    )
    XFORWARD_IN_TRANSACTION = SmtpReply(
        code=503, enhanced="5.5.1", text="XFORWARD not allowed inside a transaction"
    )
    XFORWARD_SYNTAX = SmtpReply(
        code=501, enhanced="5.5.4", text="Syntax: XFORWARD attribute=value..."
    )
    # LMTP greets with LHLO only (RFC 2033 section 4.1).
    HELO_IN_LMTP = SmtpReply(
        code=500, enhanced="5.5.1", text='Error: command "HELO" not recognized'
    )
    EHLO_IN_LMTP = SmtpReply(
        code=500, enhanced="5.5.1", text='Error: command "EHLO" not recognized'
    )
    SHUTTING_DOWN = SmtpReply(
        code=421, enhanced="4.3.2", text="Service shutting down, try again later"
    )
