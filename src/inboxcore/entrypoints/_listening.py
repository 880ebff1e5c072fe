"""What the receiver listens on and how it logs: protocols, listen addresses, settings, and the
one log line per delivery. Values only; :mod:`inboxcore.entrypoints.receiver` runs them."""

from __future__ import annotations

import enum
import ipaddress
import socket
from collections.abc import Iterable, Sequence

import attrs

from inboxcore.app.service import Delivery
from inboxcore.domain.errors import InvalidValueError
from inboxcore.domain.model import DEFAULT_MAX_MESSAGE_SIZE
from inboxcore.domain.outcomes import SmtpReply

__all__ = [
    "BoundListener",
    "ListenAddress",
    "ReceiverProtocol",
    "ReceiverSettings",
    "format_delivery_line",
]

_LOOPBACK = ("127.0.0.0/8", "::1/128")


class ReceiverProtocol(enum.Enum):
    """The protocol a listener speaks."""

    LMTP = "lmtp"
    """RFC 2033: one reply per recipient after the data; what a local mail server delivers with."""
    SMTP = "smtp"
    """RFC 5321: one reply per transaction; recipients of one channel per transaction."""


@attrs.frozen(kw_only=True)
class ListenAddress:
    """Where to listen and which protocol to speak there."""

    protocol: ReceiverProtocol
    host: str
    port: int = attrs.field(
        validator=attrs.validators.and_(attrs.validators.ge(0), attrs.validators.le(65535))
    )

    @classmethod
    def parse(cls, protocol: ReceiverProtocol, text: str) -> ListenAddress:
        """``HOST:PORT``, ``[IPv6]:PORT`` or ``:PORT`` (all addresses); port 0 picks a free one.

        Raises :class:`~inboxcore.domain.errors.InvalidValueError` for anything else.
        """
        host, sep, port = text.strip().rpartition(":")
        if not sep or not port.isdigit() or int(port) > 65535:
            raise InvalidValueError(f"expected HOST:PORT, got {text!r}")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        elif ":" in host:
            raise InvalidValueError(f"write an IPv6 address in brackets: [{host}]:{port}")
        return cls(protocol=protocol, host=host, port=int(port))

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.protocol.value}://{host}:{self.port}"


@attrs.frozen(kw_only=True)
class BoundListener:
    """A listener as bound: the real port when port 0 was asked for."""

    protocol: ReceiverProtocol
    host: str
    port: int


def _networks(
    values: Iterable[str | ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> frozenset[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    try:
        return frozenset(ipaddress.ip_network(v, strict=False) for v in values)
    except ValueError as exc:
        raise InvalidValueError(f"not a network: {exc}") from exc


@attrs.frozen(kw_only=True)
class ReceiverSettings:
    """How the receiver behaves; the defaults suit a receiver behind a local Postfix."""

    hostname: str = attrs.field(factory=socket.getfqdn)
    """The name in the greeting and in the LHLO/EHLO reply."""
    max_message_size: int = attrs.field(
        default=DEFAULT_MAX_MESSAGE_SIZE, validator=attrs.validators.gt(0)
    )
    """The SIZE advertised and enforced for every recipient; a channel may set a lower limit."""
    workers: int = attrs.field(default=4, validator=attrs.validators.gt(0))
    """Threads running deliveries and recipient lookups (storage and DNS block)."""
    grace_period: float = attrs.field(default=30.0, validator=attrs.validators.ge(0))
    """Seconds a shutdown waits for sessions inside DATA to finish their delivery."""
    idle_timeout: float = attrs.field(default=300.0, validator=attrs.validators.gt(0))
    """Seconds a session may stay silent before it is closed (RFC 5321 suggests 5 minutes)."""
    trusted_relays: frozenset[ipaddress.IPv4Network | ipaddress.IPv6Network] = attrs.field(
        default=_LOOPBACK, converter=_networks
    )
    """Peers that relay mail for others (the local mail server): their address is not the
    client's, and they may send XFORWARD with the original client's address and HELO."""


def format_delivery_line(
    *,
    protocol: ReceiverProtocol,
    recipients: Sequence[str],
    reply: SmtpReply,
    delivery: Delivery | None = None,
    mail_from: str | None = None,
    client_ip: str | None = None,
    size: int | None = None,
    reason_codes: Sequence[str] = (),
    stored_as: str | None = None,
    at: str,
) -> str:
    """The one log line of a message (or of a recipient refused at RCPT).

    ``stored_as``: the raw id of a message split intake stored for a worker (no ``delivery``
    yet). ``key=value`` fields, values without spaces except the quoted reply, so that ``grep`` and
    ``awk`` read it: the raw id finds the message for ``reprocess``; the reason codes say why.
    """
    codes = delivery.reason_codes if delivery is not None else tuple(reason_codes)
    raw_id = delivery.raw_id if delivery is not None else stored_as
    if delivery is not None:
        size = delivery.intake.size
        disposition = delivery.disposition.value
    elif stored_as is not None and not reply.is_temporary_failure:
        disposition = "stored"  # split intake: a worker decides later
    else:
        disposition = "rejected" if reply.is_permanent_failure else "deferred"
    fields = [
        at,
        protocol.value,
        f"raw={raw_id or '-'}",
        "rcpt=" + ",".join(recipients),
        f"disposition={disposition}",
        "reasons=" + (",".join(codes) or "-"),
        f"size={size if size is not None else '-'}",
        f"from=<{mail_from if mail_from is not None else ''}>",
        f"client={client_ip or '-'}",
        f'reply="{reply}"',
    ]
    return " ".join(fields)
