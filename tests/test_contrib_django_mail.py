"""Outbound mail through Django's email backends: the DKIM-signed bytes arrive unchanged."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dkim
import pytest

from inboxcore.auth.dkim_sign import sign_message
from inboxcore.domain.errors import TransportError
from inboxcore.domain.model import DkimSigningKey, OutboundMail, SendStatus
from inboxcore.testing import InMemoryDkimKeys, InMemoryDns, generate_rsa_key
from tests.django_support import setup_django

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")

NOW = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)
RSA = generate_rsa_key("s2026")
# Long and non-ASCII lines: what Django would refold or re-encode if it composed the message.
MESSAGE = (
    b"From: =?utf-8?q?Zo=C3=AB?= from Acme <support@acme.example>\r\n"
    b"To: Ada Lovelace <ada@customer.example>\r\n"
    b"Subject: Re: Invoice 1042 is wrong, and here is a subject long enough that a mail "
    b"library would want to fold it\r\n"
    b"Date: Mon, 04 May 2026 09:30:00 +0000\r\n"
    b"Message-ID: <abc.1@acme.inbox.example.net>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
    b"Hello Ada,  \r\n"
    b"Zo\xc3\xab\r\n"
)


def signed_mail(*, rcpt: tuple[str, ...] = ("ada@customer.example",)) -> OutboundMail:
    keys = InMemoryDkimKeys(
        {"acme.example": [DkimSigningKey(selector="s2026", private_key=RSA.key.private_key)]}
    )
    signed = sign_message(MESSAGE, keys, from_domain="acme.example", now=NOW)
    return OutboundMail(mail_from="bounces@acme.example", rcpt_to=rcpt, data=signed.data)


def dkim_passes(data: bytes) -> bool:
    dns = InMemoryDns({"s2026._domainkey.acme.example": {"TXT": RSA.record}})

    def txt(name: bytes, timeout: int = 5) -> bytes | None:
        answers = dns.txt(name.decode().rstrip("."))
        return b"".join(answers[0]) if answers else None

    return bool(dkim.verify(data, dnsfunc=txt))


class Recorder:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("refuse@"):
            return "550 5.1.1 No such user"
        if address.startswith("later@"):
            return "451 4.3.0 Mailbox busy"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 2.0.0 queued"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[Recorder, int]]:
    handler = Recorder()
    port = _free_port()
    controller = aiosmtpd_controller.Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def smtp_transport(port: int) -> Any:
    setup_django()
    from inboxcore.contrib.django.mail import DjangoMailTransport

    return DjangoMailTransport(
        "django.core.mail.backends.smtp.EmailBackend", host="127.0.0.1", port=port, timeout=10
    )


def test_smtp_backend_delivers_the_signed_bytes_unchanged(
    smtp_server: tuple[Recorder, int],
) -> None:
    handler, port = smtp_server
    mail = signed_mail()
    result = smtp_transport(port).send(mail)
    assert result.status is SendStatus.ACCEPTED
    (envelope,) = handler.envelopes
    assert envelope.mail_from == "bounces@acme.example"
    assert envelope.rcpt_tos == ["ada@customer.example"]
    assert envelope.original_content == mail.data
    assert dkim_passes(envelope.original_content)


def test_smtp_refusals_are_results(smtp_server: tuple[Recorder, int]) -> None:
    _, port = smtp_server
    permanent = smtp_transport(port).send(signed_mail(rcpt=("refuse@customer.example",)))
    assert (permanent.status, permanent.smtp_code) == (SendStatus.PERMANENT_FAILURE, 550)
    assert permanent.refused_recipients == ("refuse@customer.example",)
    temporary = smtp_transport(port).send(
        signed_mail(rcpt=("refuse@customer.example", "later@customer.example"))
    )
    assert (temporary.status, temporary.smtp_code) == (SendStatus.TEMPORARY_FAILURE, 451)


def test_unreachable_server_is_a_temporary_failure() -> None:
    result = smtp_transport(_free_port()).send(signed_mail())
    assert result.status is SendStatus.TEMPORARY_FAILURE
    assert "connection failed" in result.detail


def test_a_break_while_sending_is_a_transport_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import smtplib

    setup_django()
    from django.core.mail.backends.locmem import EmailBackend

    def broken(self: Any, messages: Any) -> int:
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    monkeypatch.setattr(EmailBackend, "send_messages", broken)
    from inboxcore.contrib.django.mail import DjangoMailTransport

    with pytest.raises(TransportError):
        DjangoMailTransport("django.core.mail.backends.locmem.EmailBackend").send(signed_mail())


def test_locmem_backend_keeps_the_signed_bytes() -> None:
    setup_django()
    from django.core import mail as django_mail

    from inboxcore.contrib.django.mail import DjangoMailTransport

    django_mail.outbox = []
    mail = signed_mail()
    transport = DjangoMailTransport("django.core.mail.backends.locmem.EmailBackend")
    assert transport.send(mail).status is SendStatus.ACCEPTED
    (sent,) = django_mail.outbox
    assert sent.from_email == "bounces@acme.example"
    assert sent.recipients() == ["ada@customer.example"]
    assert sent.message().as_bytes(linesep="\r\n") == mail.data
    assert sent.message().as_bytes() == mail.data.replace(b"\r\n", b"\n")
    assert dkim_passes(sent.message().as_bytes(linesep="\r\n"))


def test_filebased_backend_writes_the_signed_message(tmp_path: Path) -> None:
    setup_django()
    from inboxcore.contrib.django.mail import DjangoMailTransport

    transport = DjangoMailTransport(
        "django.core.mail.backends.filebased.EmailBackend", file_path=str(tmp_path)
    )
    mail = signed_mail()
    assert transport.send(mail).status is SendStatus.ACCEPTED
    (written,) = tmp_path.iterdir()
    # The file backend appends a separator line of dashes after each message.
    content = written.read_bytes()
    body = content[: content.rindex(b"\n" + b"-" * 79)]
    assert body == mail.data.replace(b"\r\n", b"\n")
    assert dkim_passes(body)
