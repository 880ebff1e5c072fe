"""Argument types and the rules every command shares: flags checked where they are parsed, with
a plain message naming the flag; the extras a command needs; output that survives a closed pipe.
"""

from __future__ import annotations

import argparse
import importlib
import io
import ipaddress
import os
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import InvalidEmailAddress
from inboxcore.ports import DnsResolver

__all__ = [
    "COMMAND_EXTRAS",
    "ClosedPipeTolerant",
    "add_dns_arguments",
    "at_least",
    "count",
    "dns_from_args",
    "email_address",
    "ip_address",
    "mail_from",
    "missing_extra",
    "write_bytes",
]

COMMAND_EXTRAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "init": ("sql", ("sqlalchemy",)),
    "ingest": ("sql", ("sqlalchemy",)),
    "conversations": ("sql", ("sqlalchemy",)),
    "tickets": ("sql", ("sqlalchemy",)),
    "show": ("sql", ("sqlalchemy",)),
    "quarantine": ("sql", ("sqlalchemy",)),
    "release": ("sql", ("sqlalchemy",)),
    "discard": ("sql", ("sqlalchemy",)),
    "recover": ("sql", ("sqlalchemy",)),
    "demo": ("sql", ("sqlalchemy",)),
    "serve": ("serve", ("sqlalchemy", "aiosmtpd")),
}
"""Command → (the extra that brings what it needs, the modules it needs). ``inspect`` needs none."""


def missing_extra(command: str) -> str | None:
    """The one line to print when ``command`` cannot run for lack of an extra, else None."""
    extra, modules = COMMAND_EXTRAS.get(command, ("", ()))
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            return (
                f"inboxcore {command}: needs the '{extra}' extra ({module} is not installed): "
                f"pip install 'inboxcore[{extra}]'"
            )
    return None


def at_least(lowest: int) -> Callable[[str], int]:
    """The argument type of a whole number of at least ``lowest``."""

    def whole_number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < lowest:
            raise argparse.ArgumentTypeError(f"must be at least {lowest}, got {value}")
        return value

    return whole_number


count = at_least(1)
"""A whole number of at least 1 (``--limit``, ``--max-size``)."""


def ip_address(text: str) -> str:
    """An IPv4 or IPv6 address, as the client of an SMTP session has."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an IP address: {text!r}") from None


def email_address(text: str) -> str:
    """An email address (``--recipient``)."""
    try:
        return EmailAddress.parse(text).address
    except InvalidEmailAddress:
        raise argparse.ArgumentTypeError(f"not an email address: {text!r}") from None


def mail_from(text: str) -> str:
    """An SMTP reverse path: an email address, or empty (``''`` or ``<>``) for the null sender."""
    if text.strip() in ("", "<>"):
        return ""
    return email_address(text.strip().removeprefix("<").removesuffix(">"))


def write_bytes(out: TextIO, data: bytes) -> None:
    """Write ``data`` to ``out`` unchanged where it has bytes underneath (standard output),
    else (a test's StringIO) as UTF-8 text."""
    if isinstance(out, ClosedPipeTolerant):
        out.write_bytes(data)
    elif hasattr(out, "buffer"):
        out.flush()
        out.buffer.write(data)
        out.buffer.flush()
    else:
        out.write(data.decode("utf-8", "replace"))


class ClosedPipeTolerant(io.TextIOBase):
    """Standard output that a reader may close early (``inboxcore conversations | head -1``).

    The first write to a closed pipe stops the output, never the work: later writes are dropped,
    and standard output is pointed at the null device so that the interpreter's last flush
    cannot fail either. No traceback, and an ``ingest`` piped into ``head`` still ingests all.
    """

    def __init__(self, inner: TextIO) -> None:
        super().__init__()
        self.inner = inner
        self.closed_by_reader = False

    def write(self, text: str) -> int:
        if not self.closed_by_reader:
            try:
                self.inner.write(text)
            except BrokenPipeError:
                self._reader_left()
        return len(text)

    def flush(self) -> None:
        if not self.closed_by_reader:
            try:
                self.inner.flush()
            except BrokenPipeError:
                self._reader_left()

    def write_bytes(self, data: bytes) -> None:
        """Bytes as they are (a raw message), through the same closed-pipe rule."""
        if self.closed_by_reader:
            return
        try:
            self.inner.flush()
            self.inner.buffer.write(data)
            self.inner.buffer.flush()
        except BrokenPipeError:
            self._reader_left()

    def isatty(self) -> bool:
        return self.inner.isatty()

    def writable(self) -> bool:
        return True

    def _reader_left(self) -> None:
        self.closed_by_reader = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self.inner.fileno())
            os.close(devnull)
        except (OSError, ValueError, io.UnsupportedOperation):
            pass  # not a real file descriptor (a test's StringIO): nothing left to flush


def add_dns_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the commands that authenticate mail (``ingest``, ``inspect``, ``serve``) get DNS:
    the system resolver by default (``--dns system`` says so), a JSON zone, or none."""
    dns = parser.add_mutually_exclusive_group()
    dns.add_argument("--dns-zone", type=Path, metavar="FILE", help="answer DNS from a JSON zone")
    dns.add_argument("--dns", choices=["system"], help="use the system resolver (the default)")
    dns.add_argument(
        "--offline",
        action="store_true",
        help="no DNS lookups: SPF, DKIM, ARC and DMARC results are 'none'",
    )


def dns_from_args(args: argparse.Namespace) -> DnsResolver | None:
    """The resolver the flags of :func:`add_dns_arguments` ask for. Raises OSError or
    :class:`~inboxcore.domain.errors.InvalidValueError` for an unreadable or bad zone file."""
    if args.offline:
        return None
    if args.dns_zone is not None:
        from inboxcore.adapters.dns_static import StaticResolver

        return StaticResolver.from_file(args.dns_zone)
    from inboxcore.adapters.dns_dnspython import DnspythonResolver

    return DnspythonResolver()
