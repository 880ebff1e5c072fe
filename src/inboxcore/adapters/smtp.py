"""The mail transport port over SMTP, with the standard library's smtplib.

:class:`SmtpTransport` submits each message in its own session (connect, EHLO, STARTTLS or
implicit TLS, AUTH, MAIL, RCPT, DATA). What the server says becomes a
:class:`~inboxcore.domain.model.SendResult`: a 5xx refusal is permanent, a 4xx refusal, a refused
connection or a timeout before the message was handed over is temporary, and recipients the server
refused while accepting others are listed in ``refused_recipients``. Only when the outcome is
unknown (the connection broke after the message data was sent, before the server answered) does
it raise :class:`~inboxcore.domain.errors.TransportError`: the caller must not assume either
outcome.
"""

from __future__ import annotations

import enum
import smtplib
import ssl

import attrs

from inboxcore.domain.errors import InvalidValueError, TransportError
from inboxcore.domain.model import OutboundMail, SendResult, SendStatus

__all__ = ["SmtpSettings", "SmtpTransport", "TlsMode"]


class TlsMode(enum.Enum):
    STARTTLS = "starttls"
    """Plain connection upgraded with STARTTLS (port 587); refused if the server lacks it."""
    IMPLICIT = "implicit"
    """TLS from the first byte (port 465)."""
    NONE = "none"
    """No TLS: only for a relay on the same host or a test server."""


@attrs.frozen(kw_only=True)
class SmtpSettings:
    host: str
    port: int = 587
    tls: TlsMode = TlsMode.STARTTLS
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    timeout: float = 30.0
    """Seconds for the connection and for each server reply."""
    local_hostname: str | None = None
    """The name sent in EHLO; the machine's name when None."""
    ssl_context: ssl.SSLContext | None = attrs.field(default=None, eq=False, repr=False)
    """TLS settings (certificate checks are on by default); pass one to trust a private CA."""

    def __attrs_post_init__(self) -> None:
        if (self.username is None) != (self.password is None):
            raise InvalidValueError("SMTP username and password go together")
        if self.username is not None and self.tls is TlsMode.NONE:
            raise InvalidValueError("refusing to send SMTP credentials without TLS")


def _status(code: int) -> SendStatus:
    return SendStatus.PERMANENT_FAILURE if 500 <= code < 600 else SendStatus.TEMPORARY_FAILURE


def _text(response: bytes | str) -> str:
    if isinstance(response, bytes):
        return response.decode("utf-8", "replace")
    return response


class SmtpTransport:
    """The :class:`~inboxcore.ports.MailTransport` port over SMTP submission."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = s.ssl_context or ssl.create_default_context()
        client: smtplib.SMTP
        if s.tls is TlsMode.IMPLICIT:
            client = smtplib.SMTP_SSL(
                s.host, s.port, local_hostname=s.local_hostname, timeout=s.timeout, context=context
            )
        else:
            client = smtplib.SMTP(
                s.host, s.port, local_hostname=s.local_hostname, timeout=s.timeout
            )
        try:
            client.ehlo()
            if s.tls is TlsMode.STARTTLS:
                if not client.has_extn("starttls"):
                    raise smtplib.SMTPNotSupportedError("server does not offer STARTTLS")
                client.starttls(context=context)
                client.ehlo()
            if s.username is not None and s.password is not None:
                client.login(s.username, s.password)
        except BaseException:
            client.close()
            raise
        return client

    def send(self, mail: OutboundMail) -> SendResult:
        if not mail.rcpt_to:
            raise InvalidValueError("a message needs at least one recipient")
        try:
            client = self._connect()
        except smtplib.SMTPAuthenticationError as exc:
            return SendResult(
                status=_status(exc.smtp_code),
                smtp_code=exc.smtp_code,
                detail=f"authentication refused: {_text(exc.smtp_error)}",
            )
        except smtplib.SMTPNotSupportedError as exc:
            return SendResult(status=SendStatus.PERMANENT_FAILURE, detail=str(exc))
        except smtplib.SMTPResponseException as exc:
            return SendResult(
                status=_status(exc.smtp_code), smtp_code=exc.smtp_code, detail=_text(exc.smtp_error)
            )
        except ssl.SSLError as exc:
            return SendResult(status=SendStatus.TEMPORARY_FAILURE, detail=f"TLS failed: {exc}")
        except (OSError, smtplib.SMTPException) as exc:
            # Refused, unreachable, timed out before the message was offered: nothing was sent.
            return SendResult(
                status=SendStatus.TEMPORARY_FAILURE, detail=f"connection failed: {exc}"
            )
        try:
            return self._transact(client, mail)
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()

    def _transact(self, client: smtplib.SMTP, mail: OutboundMail) -> SendResult:
        needs_utf8 = not (mail.mail_from + "".join(mail.rcpt_to)).isascii()
        options: list[str] = []
        if needs_utf8:
            if not client.has_extn("smtputf8"):
                return SendResult(
                    status=SendStatus.PERMANENT_FAILURE,
                    detail="the server does not accept internationalized addresses (SMTPUTF8)",
                )
            options.append("SMTPUTF8")
        if client.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
        try:
            code, response = client.mail(mail.mail_from, options)
            if code != 250:
                return SendResult(status=_status(code), smtp_code=code, detail=_text(response))
            refused: list[tuple[str, int, str]] = []
            for recipient in mail.rcpt_to:
                code, response = client.rcpt(recipient)
                if code not in (250, 251):
                    refused.append((recipient, code, _text(response)))
            if len(refused) == len(mail.rcpt_to):
                worst = min(refused, key=lambda r: r[1])  # a 4xx among them keeps it retryable
                client.rset()
                return SendResult(
                    status=_status(worst[1]),
                    smtp_code=worst[1],
                    detail=_text(worst[2]),
                    refused_recipients=tuple(r[0] for r in refused),
                )
        except (OSError, smtplib.SMTPException) as exc:
            return SendResult(status=SendStatus.TEMPORARY_FAILURE, detail=f"session failed: {exc}")
        try:
            code, response = client.data(mail.data)
        except smtplib.SMTPResponseException as exc:
            return SendResult(
                status=_status(exc.smtp_code), smtp_code=exc.smtp_code, detail=_text(exc.smtp_error)
            )
        except (TimeoutError, OSError, smtplib.SMTPServerDisconnected) as exc:
            raise TransportError(
                f"the connection failed during DATA; the message may or may not be delivered: {exc}"
            ) from exc
        if code != 250:
            return SendResult(status=_status(code), smtp_code=code, detail=_text(response))
        return SendResult(
            status=SendStatus.ACCEPTED,
            smtp_code=code,
            detail=_text(response),
            refused_recipients=tuple(r[0] for r in refused),
        )
