"""The SMTP transport against real SMTP servers on loopback (aiosmtpd), TLS and AUTH included."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")
aiosmtpd_smtp = pytest.importorskip("aiosmtpd.smtp")

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from inboxcore.adapters.smtp import SmtpSettings, SmtpTransport, TlsMode  # noqa: E402
from inboxcore.domain.errors import InvalidValueError  # noqa: E402
from inboxcore.domain.model import OutboundMail, SendStatus  # noqa: E402

MESSAGE = b"From: a@inbox.example\r\nTo: b@customer.example\r\nSubject: hi\r\n\r\nHello\r\n"


class Recorder:
    """An aiosmtpd handler that keeps envelopes and refuses some recipients."""

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
        if b"REJECT-ME" in envelope.content:
            return "554 5.6.0 Content refused"
        self.envelopes.append(envelope)
        return "250 2.0.0 queued as 42"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = data.login == b"agent" and data.password == b"s3cret-password"
    return aiosmtpd_smtp.AuthResult(success=ok, handled=False)


@pytest.fixture
def server(tls_files: tuple[Path, Path]) -> Iterator[tuple[Recorder, int, ssl.SSLContext]]:
    """An aiosmtpd server offering STARTTLS and AUTH (after TLS) on loopback."""
    cert, key = tls_files
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    client_context = ssl.create_default_context(cafile=str(cert))
    handler = Recorder()
    port = _free_port()
    controller = aiosmtpd_controller.Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        server_hostname="localhost",
        tls_context=server_context,
        authenticator=_authenticator,
        auth_require_tls=True,
        # smtplib falls back from PLAIN to LOGIN after a refusal; one mechanism keeps it simple.
        auth_exclude_mechanism=["LOGIN"],
    )
    controller.start()
    try:
        yield handler, port, client_context
    finally:
        controller.stop()


def _transport(port: int, context: ssl.SSLContext, **kw: Any) -> SmtpTransport:
    settings: dict[str, Any] = {
        "host": "localhost",
        "port": port,
        "tls": TlsMode.STARTTLS,
        "ssl_context": context,
        "timeout": 5.0,
    }
    settings.update(kw)
    return SmtpTransport(SmtpSettings(**settings))


def _mail(*rcpt: str, data: bytes = MESSAGE) -> OutboundMail:
    return OutboundMail(mail_from="a@inbox.example", rcpt_to=rcpt, data=data)


def test_delivers_over_starttls_with_auth(server: tuple[Recorder, int, ssl.SSLContext]) -> None:
    """A message goes through STARTTLS and AUTH and reaches the server intact."""
    handler, port, context = server
    transport = _transport(port, context, username="agent", password="s3cret-password")
    result = transport.send(_mail("b@customer.example"))
    assert result.status is SendStatus.ACCEPTED
    assert result.smtp_code == 250
    assert len(handler.envelopes) == 1
    assert handler.envelopes[0].rcpt_tos == ["b@customer.example"]
    assert handler.envelopes[0].content.replace(b"\r\n", b"\n") == MESSAGE.replace(b"\r\n", b"\n")


def test_the_signed_bounce_address_is_the_envelope_sender(
    server: tuple[Recorder, int, ssl.SSLContext],
) -> None:
    """A reply's Return-Path, plus-tag and all, reaches the server as MAIL FROM unchanged."""
    handler, port, context = server
    bounce = "support-7f3kq2m9xv4ab+abwxgzznn52xiljrvup3xcoshueqwxyz@acme.inbox.example.net"
    mail = OutboundMail(mail_from=bounce, rcpt_to=("b@customer.example",), data=MESSAGE)
    assert _transport(port, context).send(mail).status is SendStatus.ACCEPTED
    assert handler.envelopes[0].mail_from == bounce


def test_wrong_password_is_a_permanent_refusal(
    server: tuple[Recorder, int, ssl.SSLContext],
) -> None:
    """A 535 authentication failure is a permanent result, not an exception."""
    _, port, context = server
    result = _transport(port, context, username="agent", password="wrong-password").send(
        _mail("b@c.example")
    )
    assert result.status is SendStatus.PERMANENT_FAILURE
    assert result.smtp_code == 535


def test_refused_recipient_is_permanent_and_temporary_is_temporary(
    server: tuple[Recorder, int, ssl.SSLContext],
) -> None:
    """550 on every recipient is permanent; 451 is temporary; the refused are listed."""
    _, port, context = server
    transport = _transport(port, context)
    refused = transport.send(_mail("refuse@customer.example"))
    assert refused.status is SendStatus.PERMANENT_FAILURE
    assert refused.smtp_code == 550
    assert refused.refused_recipients == ("refuse@customer.example",)
    later = transport.send(_mail("later@customer.example"))
    assert later.status is SendStatus.TEMPORARY_FAILURE
    assert later.smtp_code == 451
    mixed = transport.send(_mail("refuse@customer.example", "later@customer.example"))
    assert mixed.status is SendStatus.TEMPORARY_FAILURE  # one may still succeed on a retry


def test_partial_refusal_delivers_to_the_rest(server: tuple[Recorder, int, ssl.SSLContext]) -> None:
    """When some recipients are refused, the message goes to the others and the refused are named."""
    handler, port, context = server
    result = _transport(port, context).send(_mail("ok@customer.example", "refuse@customer.example"))
    assert result.status is SendStatus.ACCEPTED
    assert result.refused_recipients == ("refuse@customer.example",)
    assert handler.envelopes[-1].rcpt_tos == ["ok@customer.example"]


def test_content_refusal_after_data(server: tuple[Recorder, int, ssl.SSLContext]) -> None:
    """A 554 after DATA is a permanent failure with the server's text."""
    _, port, context = server
    result = _transport(port, context).send(
        _mail("b@customer.example", data=MESSAGE + b"REJECT-ME\r\n")
    )
    assert result.status is SendStatus.PERMANENT_FAILURE
    assert "Content refused" in result.detail


def test_untrusted_certificate_is_not_accepted(
    server: tuple[Recorder, int, ssl.SSLContext],
) -> None:
    """With default certificate checks, a self-signed server is refused (temporary: fixable)."""
    _, port, _ = server
    result = _transport(port, ssl.create_default_context()).send(_mail("b@customer.example"))
    assert result.status is SendStatus.TEMPORARY_FAILURE
    assert "TLS" in result.detail or "certificate" in result.detail.lower()


def test_connection_refused_is_temporary() -> None:
    """Nobody listening: a temporary failure, nothing raised."""
    result = _transport(_free_port(), ssl.create_default_context(), timeout=2.0).send(
        _mail("b@c.example")
    )
    assert result.status is SendStatus.TEMPORARY_FAILURE


def test_silent_server_times_out_as_temporary() -> None:
    """A server that accepts the connection and never greets times out: temporary failure."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    accepted: list[socket.socket] = []

    def accept() -> None:
        conn, _ = listener.accept()
        accepted.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        result = _transport(port, ssl.create_default_context(), timeout=0.5).send(
            _mail("b@c.example")
        )
        assert result.status is SendStatus.TEMPORARY_FAILURE
        assert "timed out" in result.detail
    finally:
        thread.join(2)
        for conn in accepted:
            conn.close()
        listener.close()


def test_settings_refuse_credentials_without_tls() -> None:
    """Credentials over an unencrypted connection are a configuration error."""
    with pytest.raises(InvalidValueError):
        SmtpSettings(host="x", tls=TlsMode.NONE, username="u", password="p")
    with pytest.raises(InvalidValueError):
        SmtpSettings(host="x", username="u")
    with pytest.raises(InvalidValueError):
        SmtpTransport(SmtpSettings(host="x")).send(
            OutboundMail(mail_from="a@x.example", rcpt_to=(), data=b"")
        )
