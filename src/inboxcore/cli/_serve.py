"""``inboxcore serve``: receive mail over LMTP or SMTP into the ``--db`` inbox.

A mail server (Postfix, see ``docs/how-to/postfix-lmtp.md``) hands each message to the receiver
(:mod:`inboxcore.entrypoints.receiver`), which runs it through the inbox and answers every
recipient with the verdict's SMTP reply. The process runs until SIGTERM or SIGINT, then stops
listening, lets deliveries in progress finish, and exits 0.

stderr carries one ``listening PROTOCOL HOST PORT`` line per bound socket once the receiver is
ready (with the real port when 0 was asked for), then one line per message, and warnings. Exit
status: 0 after a graceful stop, 1 when the inbox cannot be opened or an address cannot be bound,
2 for usage errors.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from inboxcore.cli._options import add_dns_arguments, dns_from_args
from inboxcore.domain.errors import InboxcoreError, InvalidValueError

if TYPE_CHECKING:
    from inboxcore.app.service import InboxService
    from inboxcore.entrypoints.receiver import ListenAddress, ReceiverSettings

__all__ = ["add_serve_arguments", "add_serve_command", "listeners_from_args", "run_serve"]

_DEFAULT_DB = "inbox.db"


def add_serve_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``serve`` on the ``inboxcore`` command's subparsers."""
    parser = commands.add_parser(
        "serve",
        help="receive mail over LMTP/SMTP into the inbox",
        description="Receive mail over LMTP (RFC 2033) or SMTP into the --db inbox, answering "
        "each recipient with its verdict. Stops gracefully on SIGTERM or SIGINT.",
    )
    add_serve_arguments(parser)
    add_dns_arguments(parser)


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``serve`` but the DNS ones (a framework's inbox has its own DNS)."""
    parser.add_argument(
        "--lmtp",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="listen for LMTP (repeatable; [::1]:24 for IPv6, port 0 picks a free one)",
    )
    parser.add_argument(
        "--smtp",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="listen for SMTP (repeatable): recipients of one channel per transaction",
    )
    parser.add_argument("--hostname", help="the name in the greeting (default: this host's FQDN)")
    parser.add_argument(
        "--max-size",
        type=int,
        metavar="BYTES",
        help="the SIZE to advertise and enforce (default: 30 MB); channels may set less",
    )
    parser.add_argument(
        "--workers", type=int, default=4, metavar="N", help="delivery threads (default: 4)"
    )
    parser.add_argument(
        "--grace-period",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long a shutdown waits for deliveries in progress (default: 30)",
    )
    parser.add_argument(
        "--trusted-relay",
        action="append",
        default=[],
        metavar="NETWORK",
        help="a peer that relays for others and may send XFORWARD (repeatable; default: loopback)",
    )


def listeners_from_args(args: argparse.Namespace) -> list[ListenAddress]:
    """The listen addresses the flags name; InvalidValueError for a malformed one."""
    from inboxcore.entrypoints.receiver import ListenAddress, ReceiverProtocol

    found: list[ListenAddress] = []
    for protocol, values in (
        (ReceiverProtocol.LMTP, args.lmtp),
        (ReceiverProtocol.SMTP, args.smtp),
    ):
        found.extend(ListenAddress.parse(protocol, value) for value in values)
    return found


class _LineFormatter(logging.Formatter):
    """Delivery lines as they are (they carry their own time); other records with a time, level
    and logger name."""

    def format(self, record: logging.LogRecord) -> str:
        if record.name == "inboxcore.receiver" and record.levelno == logging.INFO:
            return record.getMessage()
        self.datefmt = "%Y-%m-%dT%H:%M:%S"
        return super().format(record)


def _configure_logging(err: TextIO) -> logging.Handler:
    handler = logging.StreamHandler(err)
    handler.setFormatter(_LineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("inboxcore.receiver").setLevel(logging.INFO)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command chatter
    return handler


def run_serve(
    args: argparse.Namespace, err: TextIO = sys.stderr, *, service: InboxService | None = None
) -> int:
    """Carry out ``inboxcore serve``; returns the exit status. ``service``: the inbox to receive
    into (a framework's), instead of the ``--db`` one."""
    try:
        from inboxcore.entrypoints.receiver import ReceiverSettings
    except ImportError as exc:  # pragma: no cover - aiosmtpd is in the test extra
        err.write(f"inboxcore serve: needs aiosmtpd: pip install 'inboxcore[serve]' ({exc})\n")
        return 1
    try:
        listeners = listeners_from_args(args)
        if not listeners:
            raise InvalidValueError("give at least one --lmtp HOST:PORT or --smtp HOST:PORT")
        options: dict[str, Any] = {
            "workers": args.workers,
            "grace_period": args.grace_period,
        }
        if args.hostname:
            options["hostname"] = args.hostname
        if args.max_size is not None:
            options["max_message_size"] = args.max_size
        if args.trusted_relay:
            options["trusted_relays"] = args.trusted_relay
        settings = ReceiverSettings(**options)
    except (InvalidValueError, ValueError, TypeError) as exc:
        err.write(f"inboxcore serve: {exc}\n")
        return 2
    handler = _configure_logging(err)
    try:
        if service is not None:
            status = _receive(service, listeners, settings, err)
        else:
            status = _serve(args, listeners, settings, err)
    finally:
        logging.getLogger().removeHandler(handler)
    if status == 0:
        err.write("stopped\n")
        err.flush()
    return status


def _serve(
    args: argparse.Namespace,
    listeners: Sequence[ListenAddress],
    settings: ReceiverSettings,
    err: TextIO,
) -> int:
    from inboxcore.cli._inbox import open_inbox

    db = Path(getattr(args, "db", None) or _DEFAULT_DB)
    try:
        inbox = open_inbox(db, dns=dns_from_args(args))
    except (InboxcoreError, OSError) as exc:
        err.write(f"inboxcore serve: {exc}\n")
        return 1
    with inbox:
        return _receive(inbox.service, listeners, settings, err)


def _receive(
    service: InboxService,
    listeners: Sequence[ListenAddress],
    settings: ReceiverSettings,
    err: TextIO,
) -> int:
    """Receive into ``service`` until stopped: 0, or 1 when an address cannot be bound."""
    from inboxcore.entrypoints.receiver import BoundListener, Receiver

    def started(bound: tuple[BoundListener, ...]) -> None:
        for b in bound:
            err.write(f"listening {b.protocol.value} {b.host} {b.port}\n")
        err.flush()

    receiver = Receiver(service, listeners, settings)
    try:
        receiver.run(on_started=started)
    except OSError as exc:
        err.write(f"inboxcore serve: cannot listen: {exc.strerror or exc}\n")
        return 1
    return 0
