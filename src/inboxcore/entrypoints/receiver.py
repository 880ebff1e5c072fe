"""An LMTP/SMTP receiver on aiosmtpd: the mail server hands mail over, the inbox answers.

Install the extra: ``pip install 'inboxcore[serve]'``. ``inboxcore serve`` runs it; a host can
run :class:`Receiver` itself around any :class:`~inboxcore.app.service.InboxService`.

What a sending mail server (Postfix, say) sees, and why:

- **Unknown recipients are refused at RCPT** (``550 5.1.1``), a disconnected channel's address
  too: the sender learns at once and no bytes are transferred for nobody.
- **SIZE** (RFC 1870) is advertised with the receiver's limit (30 MB by default). ``MAIL FROM``
  declaring more is refused with ``552 5.3.4``; a recipient whose channel has a lower limit is
  refused at ``RCPT`` with the same code, and data beyond the limit is discarded as it arrives,
  never held in memory, and answered ``552 5.3.4`` after the final dot.
- **One reply per recipient.** LMTP (RFC 2033) answers each accepted recipient after the data:
  recipients of the same channel share one verdict (the message is received once per channel),
  other channels get their own. SMTP has a single reply for the whole transaction, so this
  receiver accepts recipients of **one channel per transaction** and answers the others
  ``452 4.5.3``, which tells the sender to deliver to them in another transaction (RFC 5321
  section 3.3): every recipient still gets exactly its own verdict.
- **No 250 before the message is safe.** :meth:`InboxService.receive` stores the raw message
  durably first and decides after; the reply is sent only when it has returned, so a receiver
  killed at any point has answered 250 only for messages in the store. Blocking work (storage,
  DNS) runs in worker threads, never on the event loop.
- **Split intake.** Given ``accept`` (:data:`Accept`), the receiver hands each message to it
  instead of :meth:`InboxService.receive`: :mod:`inboxcore.contrib.celery` passes one that only
  stores the raw message and enqueues its id, answering 250 once both succeeded.
- **Temporary trouble is a 4xx**: ``live_smtp=True`` makes a DNS failure that could change the
  verdict a ``451``, and a broken storage port a ``451 4.3.0``; the sender retries.
- **The original client.** A connection from a trusted relay (loopback by default: the local
  Postfix) is not the client that sent the mail, so its address is never used for SPF; Postfix
  can pass the real client's address and HELO name with ``XFORWARD``
  (``lmtp_send_xforward_command = yes``), accepted from trusted relays only. A connection from
  anyone else is the client itself.
- **Graceful shutdown** (:meth:`Receiver.request_stop`, wired to SIGTERM/SIGINT by the CLI): stop
  listening, answer idle sessions ``421 4.3.2``, let sessions inside DATA finish their delivery
  (up to a grace period), then close.
- **By the protocol.** LHLO and EHLO list PIPELINING and ENHANCEDSTATUSCODES (RFC 2033 section 5
  requires both of LMTP), SIZE, 8BITMIME and SMTPUTF8. Every reply but the greeting and the
  LHLO/EHLO reply carries an enhanced status code (RFC 2034), the receiver's own and those
  aiosmtpd writes for syntax and sequence errors (derived from the basic code, RFC 5248). A
  non-ASCII address in MAIL FROM or RCPT TO of a transaction without ``SMTPUTF8`` is refused
  ``553 5.6.7`` (RFC 6531 section 3.5). A command that fails inside the receiver is a ``451
  4.3.0``. The receiver reads DATA itself and checks sizes itself: it never matches the text of
  an aiosmtpd reply.

Every message is logged in one line (logger ``inboxcore.receiver``, level INFO): the time, the
protocol, the raw-message id, the recipients, the disposition, the reason codes, the size and the
reply. A recipient refused at RCPT gets a line too, without a raw id.
"""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from aiosmtpd.smtp import SMTP, Envelope, Session

from inboxcore.app.service import Delivery, InboxService, Stored
from inboxcore.domain.errors import InvalidValueError
from inboxcore.domain.ids import ChannelId
from inboxcore.domain.model import Envelope as InboxEnvelope
from inboxcore.domain.outcomes import Reply, SmtpReply
from inboxcore.entrypoints._listening import (
    BoundListener,
    ListenAddress,
    ReceiverProtocol,
    ReceiverSettings,
    format_delivery_line,
)

__all__ = [
    "Accept",
    "BoundListener",
    "InboxHandler",
    "ListenAddress",
    "Receiver",
    "ReceiverProtocol",
    "ReceiverSettings",
    "format_delivery_line",
]

log = logging.getLogger("inboxcore.receiver")

_T = TypeVar("_T")


_OK_SENDER = str(Reply.SENDER_OK.value)
_OK_RECIPIENT = str(Reply.RECIPIENT_OK.value)
_BAD_ADDRESS = Reply.BAD_ADDRESS.value
_TOO_BIG = Reply.TOO_BIG.value
_OTHER_CHANNEL = Reply.OTHER_CHANNEL.value
_STORE_DOWN = Reply.STORAGE_DOWN.value

Accept = Callable[[bytes, InboxEnvelope], Delivery | Stored]
"""What takes one message's data after the final dot and gives the verdict to answer: by default
the service's :meth:`~InboxService.receive` (live), or a split intake's store-and-enqueue."""
_LINE_TOO_LONG = Reply.LINE_TOO_LONG.value
_SHUTTING_DOWN = str(Reply.SHUTTING_DOWN.value)
_UTF8_SENDER = str(Reply.UTF8_SENDER.value)
_UTF8_RECIPIENT = Reply.UTF8_RECIPIENT.value
_BAD_SENDER = str(Reply.BAD_SENDER.value)

# The enhanced status code (RFC 3463) of a reply aiosmtpd writes itself (syntax and sequence
# errors, NOOP, RSET, QUIT): derived from its basic code, as RFC 5248 associates them. Every
# reply the receiver writes carries one (RFC 2034), except the greeting and the HELO/EHLO/LHLO
# replies, which RFC 2034 section 3 leaves without.
_ENHANCED_FOR_CODE = {
    421: "4.3.2",
    451: "4.3.0",
    452: "4.3.1",
    454: "4.7.0",
    500: "5.5.2",
    501: "5.5.4",
    502: "5.5.1",
    503: "5.5.1",
    504: "5.5.4",
    530: "5.7.0",
    552: "5.3.4",
    555: "5.5.4",
}
_NEEDS_ENHANCED = re.compile(rb"[245]\d\d[ -](?![245]\.\d{1,3}\.\d{1,3}(?: |$))")
_SIZE_PARAM = re.compile(r"^SIZE=(\d+)$", re.IGNORECASE)
_XTEXT = re.compile(r"\+([0-9A-Fa-f]{2})")
_XFORWARD_UNAVAILABLE = ("[UNAVAILABLE]", "[TEMPUNAVAIL]")


def _xtext_decode(value: str) -> str:
    """RFC 3461 xtext, as XFORWARD encodes attribute values."""
    return _XTEXT.sub(lambda m: chr(int(m.group(1), 16)), value)


class _InboxEnvelope(Envelope):
    """The aiosmtpd envelope with what the receiver learns along the transaction."""

    def __init__(self) -> None:
        super().__init__()
        self.channels: list[ChannelId] = []
        """The channel of each accepted recipient, parallel to ``rcpt_tos``."""
        self.declared_size: int | None = None
        self.xforward: dict[str, str] = {}


def _with_enhanced_code(reply: bytes) -> bytes:
    """``reply`` (one line or several) with an enhanced status code on each line."""
    lines = reply.split(b"\r\n")
    for index, line in enumerate(lines):
        if line[:3] != b"220" and _NEEDS_ENHANCED.match(line):
            code = int(line[:3])
            enhanced = _ENHANCED_FOR_CODE.get(code, f"{code // 100}.0.0")
            lines[index] = line[:4] + enhanced.encode("ascii") + b" " + line[4:]
    return b"\r\n".join(lines)


class _ReceiverSession(SMTP):
    """One SMTP session on the receiver: aiosmtpd with shutdown tracking, XFORWARD, its own DATA
    (the size and line limits, a reply per LMTP recipient) and an enhanced code on every reply."""

    def __init__(self, handler: InboxHandler, receiver: Receiver, **kwargs: Any) -> None:
        # aiosmtpd's own SIZE check would answer without an enhanced code and before our hooks:
        # the receiver checks the size itself (MAIL FROM, RCPT, DATA) and advertises it.
        super().__init__(handler, data_size_limit=None, **kwargs)
        self.inbox_handler = handler
        self.receiver = receiver
        self.in_data = False
        self.in_hello = False
        """Inside HELO/EHLO/LHLO, whose replies carry no enhanced code (RFC 2034 section 3)."""
        # MAIL FROM's line grows by SIZE (RFC 1870: 26) and BODY (RFC 6152: 14); aiosmtpd adds
        # SMTPUTF8's 10 at EHLO. Its limits live in a class-wide dict: give the session its own.
        self.command_size_limits = collections.defaultdict(
            lambda: SMTP.command_size_limit, {"MAIL": SMTP.command_size_limit + 26 + 14}
        )

    def _create_envelope(self) -> Envelope:
        return _InboxEnvelope()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.receiver._sessions.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self.receiver._sessions.discard(self)
        super().connection_lost(error)

    async def push(self, status: str | bytes) -> None:
        data = status.encode("utf-8") if isinstance(status, str) else status
        await super().push(data if self.in_hello else _with_enhanced_code(data))

    async def smtp_EHLO(self, hostname: str) -> None:
        self.in_hello = True
        try:
            await super().smtp_EHLO(hostname)
        finally:
            self.in_hello = False

    async def smtp_HELO(self, hostname: str) -> None:
        self.in_hello = True
        try:
            await super().smtp_HELO(hostname)
        finally:
            self.in_hello = False

    async def smtp_DATA(self, arg: str) -> None:
        # Inside DATA (reading the message, then delivering it) a shutdown waits for the session.
        self.in_data = True
        try:
            await self._data(arg)
        finally:
            self.in_data = False

    async def _data(self, arg: str | None) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        envelope = self.envelope
        assert isinstance(envelope, _InboxEnvelope)
        assert self.session is not None
        if not envelope.rcpt_tos:
            await self.push(str(Reply.NEED_RECIPIENT.value))
            return
        if arg:
            await self.push(str(Reply.DATA_SYNTAX.value))
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        content, refusal = await self._read_data()
        if refusal is not None:
            reason = "size_limit" if refusal is _TOO_BIG else "line_too_long"
            recipients = list(envelope.rcpt_tos)
            self.inbox_handler.log_refusal(self.session, envelope, recipients, refusal, reason)
            self.envelope = self._create_envelope()  # the transaction is over
            # LMTP owes one reply per accepted recipient (RFC 2033 section 4.2), or the client
            # waits for the rest forever; SMTP has one for the transaction.
            count = len(recipients) if isinstance(self, _LmtpSession) else 1
            await self.push("\r\n".join([str(refusal)] * count))
            return
        envelope.content = envelope.original_content = content
        status = await self._call_handler_hook("DATA")
        self.envelope = self._create_envelope()  # the transaction is over
        await self.push(status)

    async def _read_data(self) -> tuple[bytes, SmtpReply | None]:
        """The data up to the lone dot, dot-unstuffed (RFC 5321 section 4.5.2), or the refusal
        it earned: more than the size limit, or a line over the line limit. Data past a limit
        is read and discarded as it arrives, never held; the refusal waits for the end of the
        data (RFC 5321 section 4.2.5)."""
        limit = self.inbox_handler.settings.max_message_size
        buffer = bytearray()
        refusal: SmtpReply | None = None
        size = 0
        inside_long_line = False
        while True:
            try:
                line = await self._reader.readuntil(b"\r\n")
            except asyncio.LimitOverrunError as error:
                # a line longer than the reader's limit arrives in pieces, all discarded
                line = await self._reader.read(error.consumed)
                refusal, inside_long_line = refusal or _LINE_TOO_LONG, True
            if line == b".\r\n" and not inside_long_line:
                break
            size += len(line)
            if line.endswith(b"\r\n"):
                inside_long_line = False
            if refusal is None and len(line) > self.line_length_limit:
                refusal = _LINE_TOO_LONG
            if refusal is None and size > limit:
                refusal = _TOO_BIG
            if refusal is not None:
                buffer.clear()
            elif line.startswith(b"."):
                buffer += memoryview(line)[1:]
            else:
                buffer += line
        content = bytes(buffer)
        del buffer
        return content, refusal

    async def smtp_XFORWARD(self, arg: str | None) -> None:
        """Postfix's XFORWARD: the original client of the mail this relay passes on."""
        peer_trusted = self.inbox_handler.is_trusted_relay(self.session)
        if not peer_trusted:
            await self.push(str(Reply.XFORWARD_REFUSED.value))
            return
        envelope = self.envelope
        assert isinstance(envelope, _InboxEnvelope)
        if envelope.mail_from:
            await self.push(str(Reply.XFORWARD_IN_TRANSACTION.value))
            return
        attributes: dict[str, str] = {}
        for item in (arg or "").split():
            name, eq, value = item.partition("=")
            if not eq or not name.isalpha():
                await self.push(str(Reply.XFORWARD_SYNTAX.value))
                return
            attributes[name.upper()] = _xtext_decode(value)
        envelope.xforward.update(attributes)
        await self.push(str(Reply.OK.value))

    def close_idle(self) -> None:
        """Tell an idle client that the service is going away and close (RFC 5321 4.2.3)."""
        transport = self.transport
        if transport is not None and isinstance(transport, asyncio.WriteTransport):
            transport.write(_SHUTTING_DOWN.encode("ascii") + b"\r\n")
            transport.close()

    def close_now(self) -> None:
        if self.transport is not None:
            self.transport.close()


class _LmtpSession(_ReceiverSession):
    """LMTP: the LHLO greeting instead of HELO/EHLO (what aiosmtpd's LMTP class does)."""

    async def smtp_LHLO(self, arg: str) -> None:
        await super().smtp_EHLO(arg)

    async def smtp_HELO(self, arg: str) -> None:
        await self.push(str(Reply.HELO_IN_LMTP.value))

    async def smtp_EHLO(self, arg: str) -> None:
        await self.push(str(Reply.EHLO_IN_LMTP.value))


def _utf8_address(address: str) -> bool:
    """Whether an address arrived as UTF-8 (aiosmtpd keeps other bytes as lone surrogates)."""
    try:
        address.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _declared_size(options: Iterable[str]) -> int | None:
    for option in options:
        match = _SIZE_PARAM.match(option)
        if match:
            return int(match.group(1))
    return None


def _peer_ip(session: Session) -> str | None:
    peer = session.peer
    if isinstance(peer, tuple) and peer and isinstance(peer[0], str):
        return peer[0]
    return None


class InboxHandler:
    """The aiosmtpd handler: RCPT checks, and DATA delivered through the inbox service."""

    def __init__(
        self,
        service: InboxService,
        *,
        protocol: ReceiverProtocol,
        settings: ReceiverSettings,
        executor: ThreadPoolExecutor,
        closing: Callable[[], bool] = lambda: False,
        accept: Accept | None = None,
    ) -> None:
        self.service = service
        self.accept: Accept = accept or self._receive
        self.protocol = protocol
        self.settings = settings
        self._executor = executor
        self._closing = closing

    async def _in_thread(self, function: Callable[..., _T], *args: Any) -> _T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, function, *args)

    def _now(self) -> str:
        return self.service.clock.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def is_trusted_relay(self, session: Session | None) -> bool:
        ip = _peer_ip(session) if session is not None else None
        if ip is None:
            return False
        try:
            address = ipaddress.ip_address(ip.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.settings.trusted_relays)

    def _client(self, session: Session, envelope: _InboxEnvelope) -> tuple[str | None, str | None]:
        """The original client's address and HELO name: the peer itself, unless it is a relay,
        whose XFORWARD (if any) names them."""
        if not self.is_trusted_relay(session):
            return _peer_ip(session), session.host_name
        addr = envelope.xforward.get("ADDR")
        helo = envelope.xforward.get("HELO")
        if addr in _XFORWARD_UNAVAILABLE:
            addr = None
        if helo in _XFORWARD_UNAVAILABLE:
            helo = None
        if addr is not None and addr.upper().startswith("IPV6:"):
            addr = addr[5:]
        return addr, helo

    # --- aiosmtpd hooks ------------------------------------------------------------------------

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        extensions = [
            "PIPELINING",  # RFC 2920; RFC 2033 section 5 requires it of LMTP
            f"SIZE {self.settings.max_message_size}",
            "8BITMIME",
            "SMTPUTF8",
            "ENHANCEDSTATUSCODES",  # RFC 2034; required of LMTP too
        ]
        if self.is_trusted_relay(session):
            extensions.append("XFORWARD NAME ADDR PROTO HELO")
        return [f"250-{server.hostname}", *(f"250-{e}" for e in extensions), "250 HELP"]

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self._closing():
            return _SHUTTING_DOWN
        declared = _declared_size(mail_options)
        if declared is not None and declared > self.settings.max_message_size:
            return str(_TOO_BIG)
        if not _utf8_address(address):
            return _BAD_SENDER
        if not address.isascii() and not envelope.smtp_utf8:
            return _UTF8_SENDER
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        if isinstance(envelope, _InboxEnvelope):
            envelope.declared_size = declared
        return _OK_SENDER

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        """The protocol's checks here (syntax, SMTPUTF8, one channel per SMTP transaction); who
        receives, and how much, is the service's answer (:meth:`InboxService.check_recipient`),
        the same rule intake applies to the message."""
        assert isinstance(envelope, _InboxEnvelope)
        if not _utf8_address(address):
            return self._refuse(session, envelope, address, _BAD_ADDRESS, "invalid_recipient")
        if not address.isascii() and not envelope.smtp_utf8:
            return self._refuse(
                session, envelope, address, _UTF8_RECIPIENT, "utf8_without_smtputf8"
            )
        size = envelope.declared_size
        check = await self._in_thread(
            lambda: self.service.check_recipient(address, declared_size=size)
        )
        if check.refusal is not None:
            reply, code = check.refusal.reply, check.refusal.reason.code
            return self._refuse(session, envelope, address, reply, code)
        assert check.channel is not None  # no refusal: a channel receives
        channel_id = check.channel.id
        smtp = self.protocol is ReceiverProtocol.SMTP
        if smtp and envelope.channels and channel_id != envelope.channels[0]:
            # One SMTP reply cannot carry two channels' verdicts: deliver this one apart.
            return str(_OTHER_CHANNEL)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        envelope.channels.append(channel_id)
        return _OK_RECIPIENT

    def _refuse(
        self,
        session: Session,
        envelope: _InboxEnvelope,
        address: str,
        reply: SmtpReply,
        reason: str,
    ) -> str:
        self.log_refusal(session, envelope, (address,), reply, reason)
        return str(reply)

    async def handle_exception(self, error: Exception) -> str:
        """A command that failed inside the receiver: a temporary failure, so that the sender
        tries again, never aiosmtpd's default reply naming the exception."""
        log.error("session command failed", exc_info=error)
        return str(_STORE_DOWN)

    def log_refusal(
        self,
        session: Session,
        envelope: _InboxEnvelope,
        recipients: Sequence[str],
        reply: SmtpReply,
        reason: str,
    ) -> None:
        """The log line of recipients refused before a delivery (at RCPT, or data too big)."""
        client_ip, _helo = self._client(session, envelope)
        log.info(
            "%s",
            format_delivery_line(
                protocol=self.protocol,
                recipients=recipients,
                reply=reply,
                mail_from=_mail_from(envelope),
                client_ip=client_ip,
                size=envelope.declared_size,
                reason_codes=(reason,),
                at=self._now(),
            ),
        )

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope, _InboxEnvelope)
        content = envelope.original_content or b""
        client_ip, helo = self._client(session, envelope)
        groups: dict[ChannelId, list[str]] = {}
        for address, channel_id in zip(envelope.rcpt_tos, envelope.channels, strict=True):
            groups.setdefault(channel_id, []).append(address)
        replies: dict[ChannelId, SmtpReply] = {}
        for channel_id, recipients in groups.items():
            inbox_envelope = InboxEnvelope(
                received_at=self.service.clock.now(),
                mail_from=_mail_from(envelope),
                rcpt_to=tuple(recipients),
                client_ip=client_ip,
                helo=helo,
            )
            replies[channel_id] = await self._deliver(content, inbox_envelope)
        if self.protocol is ReceiverProtocol.SMTP:
            (reply,) = replies.values()
            return str(reply)
        return "\r\n".join(str(replies[channel_id]) for channel_id in envelope.channels)

    def _receive(self, content: bytes, envelope: InboxEnvelope) -> Delivery:
        return self.service.receive(content, envelope, live_smtp=True)

    async def _deliver(self, content: bytes, envelope: InboxEnvelope) -> SmtpReply:
        """Run one delivery in a worker thread; the reply exists only once ``accept`` returned,
        that is once the raw message is durably stored."""
        try:
            delivery = await self._in_thread(self.accept, content, envelope)
        except Exception:  # a broken port: the sender keeps the message and retries
            log.exception("delivery to %s failed", ",".join(envelope.rcpt_to))
            log.info(
                "%s",
                format_delivery_line(
                    protocol=self.protocol,
                    recipients=envelope.rcpt_to,
                    reply=_STORE_DOWN,
                    mail_from=envelope.mail_from,
                    client_ip=envelope.client_ip,
                    size=len(content),
                    reason_codes=("internal_error",),
                    at=self._now(),
                ),
            )
            return _STORE_DOWN
        log.info(
            "%s",
            format_delivery_line(
                protocol=self.protocol,
                recipients=envelope.rcpt_to,
                reply=delivery.smtp,
                delivery=delivery if isinstance(delivery, Delivery) else None,
                mail_from=envelope.mail_from,
                client_ip=envelope.client_ip,
                size=len(content),
                reason_codes=delivery.reason_codes,
                stored_as=delivery.raw_id if isinstance(delivery, Stored) else None,
                at=self._now(),
            ),
        )
        return delivery.smtp


def _mail_from(envelope: Envelope) -> str | None:
    """aiosmtpd keeps the null sender as ``<>``; the inbox writes it ``""``."""
    value = envelope.mail_from
    if value is None:
        return None
    return "" if value == "<>" else value


class Receiver:
    """The listeners of one inbox, run on an asyncio event loop.

    ``await start()`` binds them (and returns where, for port 0); ``await serve()`` runs until
    :meth:`request_stop`, then shuts down gracefully. :meth:`run` does all of it, for a process
    that is only a receiver.
    """

    def __init__(
        self,
        service: InboxService,
        listeners: Sequence[ListenAddress],
        settings: ReceiverSettings | None = None,
        *,
        accept: Accept | None = None,
    ) -> None:
        """``accept``: what takes each message (:data:`Accept`); the service's ``receive`` by
        default."""
        if not listeners:
            raise InvalidValueError("a receiver needs at least one listener")
        self.service = service
        self.listeners = tuple(listeners)
        self.settings = settings or ReceiverSettings()
        self.accept = accept
        self._executor = ThreadPoolExecutor(
            max_workers=self.settings.workers, thread_name_prefix="inboxcore-receive"
        )
        self._sessions: set[_ReceiverSession] = set()
        self._servers: list[asyncio.Server] = []
        self._stop: asyncio.Event | None = None
        self.closing = False

    def _session_factory(self, protocol: ReceiverProtocol) -> Callable[[], _ReceiverSession]:
        handler = InboxHandler(
            self.service,
            protocol=protocol,
            settings=self.settings,
            executor=self._executor,
            closing=lambda: self.closing,
            accept=self.accept,
        )
        cls = _LmtpSession if protocol is ReceiverProtocol.LMTP else _ReceiverSession

        def factory() -> _ReceiverSession:
            return cls(
                handler,
                self,
                enable_SMTPUTF8=True,
                decode_data=False,
                hostname=self.settings.hostname,
                ident=f"inboxcore {protocol.value.upper()}",
                timeout=self.settings.idle_timeout,
                loop=asyncio.get_running_loop(),
            )

        return factory

    async def start(self) -> tuple[BoundListener, ...]:
        """Bind every listener; raises OSError when an address cannot be bound."""
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        bound: list[BoundListener] = []
        for listener in self.listeners:
            server = await loop.create_server(
                self._session_factory(listener.protocol),
                host=listener.host or None,
                port=listener.port,
                reuse_address=True,
            )
            self._servers.append(server)
            for sock in server.sockets:
                host, port = sock.getsockname()[:2]
                bound.append(BoundListener(protocol=listener.protocol, host=host, port=port))
        return tuple(bound)

    def request_stop(self) -> None:
        """Begin a graceful shutdown (safe to call from a signal handler on the loop)."""
        if self._stop is not None:
            self._stop.set()

    async def serve(self) -> None:
        """Serve until :meth:`request_stop`, then shut down gracefully."""
        assert self._stop is not None, "start() first"
        await self._stop.wait()
        await self.shutdown()

    async def shutdown(self) -> None:
        """Stop listening, close idle sessions with 421, give sessions inside DATA up to the
        grace period to finish, close the rest, and wait for deliveries still in threads."""
        self.closing = True
        for server in self._servers:
            server.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.grace_period
        while True:
            busy = False
            for session in list(self._sessions):
                if session.in_data:
                    busy = True
                else:
                    session.close_idle()
            if not busy or loop.time() >= deadline:
                break
            await asyncio.sleep(0.05)
        for session in list(self._sessions):
            session.close_now()
        # A delivery whose session was closed still runs to its end in its thread: its message
        # is stored (the sender, without a reply, sends it again and it is a duplicate).
        await loop.run_in_executor(None, self._executor.shutdown, True)
        for server in self._servers:
            await server.wait_closed()

    def run(self, on_started: Callable[[tuple[BoundListener, ...]], None] | None = None) -> None:
        """Run in this thread until SIGTERM or SIGINT, then shut down gracefully."""
        asyncio.run(self._run(on_started))

    async def _run(self, on_started: Callable[[tuple[BoundListener, ...]], None] | None) -> None:
        import signal

        bound = await self.start()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.request_stop)
        if on_started is not None:
            on_started(bound)
        await self.serve()
