"""Outbound mail through the host's Django email backend, byte for byte.

:class:`DjangoMailTransport` is the :class:`~inboxcore.ports.MailTransport` on
``django.core.mail.get_connection()``: whatever ``EMAIL_BACKEND`` the host set (SMTP, an ESP's
backend, ``locmem`` in tests). A composed message may be DKIM-signed, so its bytes must reach the
wire unchanged: Django would rebuild headers and fold lines if it composed the message itself.
:class:`PreparedEmailMessage` hands over a message object whose ``as_bytes()``/``as_string()``
return the stored bytes (CRLF or LF as the backend asks), the envelope sender and recipients
from :class:`~inboxcore.domain.model.OutboundMail`. Django's backends read exactly these: the SMTP
backend ``message()``/``as_bytes(linesep="\\r\\n")``, ``from_email`` and ``recipients()``;
``locmem`` keeps the object; ``filebased`` and ``console`` write ``message().as_bytes()``.
"""

from __future__ import annotations

import smtplib
from typing import Any

import attrs
from django.core.mail import EmailMessage, get_connection

from inboxcore.domain.errors import TransportError
from inboxcore.domain.model import OutboundMail, SendResult, SendStatus

__all__ = ["DjangoMailTransport", "PreparedEmailMessage", "PreparedMessage"]


class PreparedMessage:
    """What Django's backends take for an ``email.message.Message``: the prepared bytes."""

    def __init__(self, data: bytes) -> None:
        # One canonical form (LF) to convert from: the stored bytes are CRLF or LF throughout.
        self._lines = data.replace(b"\r\n", b"\n")

    def as_bytes(self, unixfrom: bool = False, linesep: str = "\n", **_: Any) -> bytes:
        return self._lines.replace(b"\n", linesep.encode("ascii"))

    def as_string(self, unixfrom: bool = False, linesep: str = "\n", **_: Any) -> str:
        return self.as_bytes(linesep=linesep).decode("utf-8", "surrogateescape")

    def get_charset(self) -> None:
        """None: the console and file backends then decode the bytes as UTF-8."""
        return None

    def __bytes__(self) -> bytes:
        return self.as_bytes()

    def __str__(self) -> str:
        return self.as_string()


class PreparedEmailMessage(EmailMessage):  # type: ignore[misc]  # django ships no types
    """An :class:`~django.core.mail.EmailMessage` whose message is the given bytes, unchanged."""

    def __init__(self, mail: OutboundMail, connection: Any = None) -> None:
        super().__init__(from_email=mail.mail_from, to=list(mail.rcpt_to), connection=connection)
        self.prepared = mail.data

    def message(self, **_: Any) -> PreparedMessage:
        return PreparedMessage(self.prepared)

    def recipients(self) -> list[str]:
        return list(self.to)


class DjangoMailTransport:
    """Send through ``get_connection(backend, **options)`` (the host's ``EMAIL_BACKEND`` when
    ``backend`` is None), one connection per message.

    An SMTP refusal is a :class:`~inboxcore.domain.model.SendResult`: 4xx temporary, 5xx
    permanent (every recipient refused, or the sender); when the connection fails or breaks the
    outcome is unknown and :class:`~inboxcore.domain.errors.TransportError` is raised. A backend
    that sends nothing (returns 0) is a temporary failure.
    """

    def __init__(self, backend: str | None = None, **options: Any) -> None:
        self._backend = backend
        self._options = options

    def send(self, mail: OutboundMail) -> SendResult:
        connection = get_connection(self._backend, fail_silently=False, **self._options)
        try:
            connection.open()
        except smtplib.SMTPResponseException as exc:
            return _result(exc.smtp_code, _text(exc.smtp_error))
        except (smtplib.SMTPException, OSError) as exc:
            # Refused, unreachable, timed out before the message was offered: nothing was sent.
            return SendResult(
                status=SendStatus.TEMPORARY_FAILURE, detail=f"connection failed: {exc}"
            )
        try:
            sent = connection.send_messages([PreparedEmailMessage(mail, connection)])
        except smtplib.SMTPRecipientsRefused as exc:
            return _refused(exc.recipients)
        except smtplib.SMTPResponseException as exc:
            return _result(exc.smtp_code, _text(exc.smtp_error))
        except (smtplib.SMTPException, OSError) as exc:
            # Broken off while the message was offered: it may or may not have gone out.
            raise TransportError(f"mail backend failed: {exc}") from exc
        finally:
            connection.close()
        if not sent:
            return SendResult(
                status=SendStatus.TEMPORARY_FAILURE, detail="the mail backend sent nothing"
            )
        return SendResult(status=SendStatus.ACCEPTED)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _result(code: int, detail: str) -> SendResult:
    status = SendStatus.PERMANENT_FAILURE if 500 <= code < 600 else SendStatus.TEMPORARY_FAILURE
    return SendResult(status=status, smtp_code=code, detail=detail)


def _refused(recipients: dict[str, tuple[int, bytes]]) -> SendResult:
    """Every recipient refused: permanent only when every refusal was (a 4xx may pass later)."""
    code = min((code for code, _ in recipients.values()), default=450)
    detail = "; ".join(f"{r}: {_text(m)}" for r, (_, m) in recipients.items())
    return attrs.evolve(_result(code, detail), refused_recipients=tuple(recipients))
