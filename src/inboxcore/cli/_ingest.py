"""``inboxcore ingest``: feed stored mail (files, folders, mbox, Maildir) into the inbox.

Each message goes through :meth:`~inboxcore.app.service.InboxService.receive`, exactly as if the
mail
server had handed it over: raw bytes stored first, then the verdict, then (if accepted) contact,
conversation, routing and ticket in one unit of work. Running the same files again changes
nothing: every message comes back as a duplicate.

**What is read.** A file named on the command line is an mbox when it starts with ``From `` (or
ends in ``.mbox``), else one message. A folder is a Maildir when it has ``cur`` and ``new``
(messages in delivery order, ``new`` and ``cur`` alike); any other folder is walked in name order
for ``*.eml`` and ``*.mbox`` files and Maildirs, so that notes or scripts lying beside the mail
are not taken for messages.

**The envelope.** Stored mail has lost its SMTP envelope, so it is rebuilt: the recipient is
``--recipient`` or, when the inbox has one channel, that channel's forwarding address (with
several, the ``Delivered-To``/``X-Original-To`` headers choose); the sender is the topmost
``Return-Path`` (what the last server recorded; ``<>`` for bounces), else the address on the
mbox ``From `` line (``From MAILER-DAEMON``, what Python's ``mailbox`` writes by default, is no
sender, never a bounce). The client IP is unknown, so SPF has nothing to check (DKIM, ARC and
DMARC still run).

**The team's mail.** A team member's forward is unwrapped, and an agent's reply by mail is the
agent's, only when the team address is proven (DKIM, or a trusted ARC seal; offline nothing is).
``--mailbox-export`` is the operator's word that the files are an export of the team's own
mailbox, the channel's configured forwarding path: it stands in for that proof, for the team's
addresses only (never for a list's or a provider's word).

The progress bar goes to stderr, on a terminal only (or with ``--progress``), and only once a run
has lasted half a second; the summary table (or with ``--json`` one object per message and a
final summary object) goes to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import mailbox
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO

import attrs

from inboxcore.app.service import Delivery, InboxService
from inboxcore.cli._inbox import DEFAULT_DB, open_inbox
from inboxcore.cli._options import add_dns_arguments, dns_from_args, email_address
from inboxcore.cli._sources import MessageSource, collect_sources, envelope_sender
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import InboxcoreError, InvalidEmailAddress, InvalidValueError
from inboxcore.domain.events import TicketCreated
from inboxcore.domain.model import Channel, Envelope
from inboxcore.domain.outcomes import Disposition
from inboxcore.ports import Clock, DnsResolver

__all__ = [
    "IngestSummary",
    "MAILBOX_EXPORT",
    "Progress",
    "IngestTarget",
    "add_ingest_arguments",
    "ingest_sources",
    "run_ingest",
]

MAILBOX_EXPORT = (
    "the operator's word (--mailbox-export) that the messages are an export of the team's own "
    "mailbox, the channel's forwarding path"
)
"""What vouches for the team's addresses under ``--mailbox-export``, as reasons name it."""

_ORDER = ("accepted", "duplicate", "quarantined", "rejected", "deferred")


class Progress:
    """A one-line progress bar on a terminal stream, redrawn at most ten times a second.

    Nothing is drawn until ``delay`` seconds have passed, so short runs stay quiet.
    """

    def __init__(self, stream: TextIO, total: int, *, enabled: bool, delay: float = 0.5) -> None:
        self.stream = stream
        self.total = total
        self.enabled = enabled and total > 0
        self.delay = delay
        self.started = time.monotonic()
        self._last = 0.0
        self._drawn = False

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.started < self.delay or (now - self._last < 0.1 and done < self.total):
            return
        self._last = now
        width = 30
        filled = width * done // self.total
        rate = done / max(now - self.started, 1e-9)
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} messages {rate:.0f}/s"
        )
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


@attrs.define
class IngestSummary:
    """Counts of one ingest run, by disposition and by reason."""

    dispositions: Counter[str] = attrs.field(factory=Counter)
    reasons: Counter[tuple[str, str]] = attrs.field(factory=Counter)
    conversations_created: int = 0
    tickets_created: int = 0
    unreadable: int = 0
    seconds: float = 0.0

    def add(self, delivery: Delivery) -> None:
        disposition = delivery.disposition.value
        self.dispositions[disposition] += 1
        codes = delivery.reason_codes
        if delivery.disposition is Disposition.ACCEPTED:
            codes = tuple(c for c in codes if c.startswith("kind.")) or codes
        for code in codes:
            self.reasons[(disposition, code)] += 1
        if delivery.conversation_created:
            self.conversations_created += 1
        self.tickets_created += sum(isinstance(e, TicketCreated) for e in delivery.events)

    @property
    def total(self) -> int:
        return sum(self.dispositions.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "messages": self.total,
            **{d: self.dispositions.get(d, 0) for d in _ORDER},
            "unreadable": self.unreadable,
            "conversations_created": self.conversations_created,
            "tickets_created": self.tickets_created,
            "reasons": [
                {"disposition": d, "code": c, "count": n}
                for (d, c), n in sorted(
                    self.reasons.items(), key=lambda i: (_ORDER.index(i[0][0]), -i[1], i[0][1])
                )
            ],
        }

    def write_table(self, out: TextIO) -> None:
        noun = "message" if self.total == 1 else "messages"
        out.write(f"{self.total} {noun} in {self.seconds:.1f} s\n\n")
        rows = [(d, self.dispositions.get(d, 0)) for d in _ORDER]
        rows = [r for r in rows if r[1] or r[0] != "deferred"]
        if self.unreadable:
            rows.append(("unreadable", self.unreadable))
        for name, count in rows:
            extra = ""
            if name == "accepted":
                extra = (
                    f"   ({self.conversations_created} new conversations, "
                    f"{self.tickets_created} tickets)"
                )
            out.write(f"  {name:<12} {count:>6}{extra}\n")
        if self.reasons:
            out.write("\n  by reason\n")
            for item in self.as_dict()["reasons"]:
                out.write(f"  {item['disposition']:<12} {item['count']:>6}  {item['code']}\n")
        held = self.dispositions.get("quarantined", 0)
        if held:
            out.write(
                f"\n{held} held back for review: `inboxcore quarantine` lists them and why; "
                "`inboxcore release ID` lets one in, `inboxcore discard ID` drops it\n"
            )
        deferred = self.dispositions.get("deferred", 0)
        if deferred:
            out.write(
                f"\n{deferred} not stored: nothing was recorded for them (storage failed); "
                "run the same ingest again (messages already in are found duplicates)\n"
            )


class IngestTarget(Protocol):
    """Where ``ingest`` delivers: the CLI's :class:`~inboxcore.cli._inbox.Inbox`, or a
    framework's inbox."""

    @property
    def service(self) -> InboxService: ...

    @property
    def clock(self) -> Clock: ...

    def channels(self) -> tuple[Channel, ...]:
        """The account's channels, oldest first (one: its address is the default recipient)."""
        ...


def add_ingest_arguments(parser: argparse.ArgumentParser, *, dns: bool = True) -> None:
    """``ingest``'s options; ``dns=False`` leaves out the DNS ones (a framework's inbox has its
    own)."""
    parser.add_argument(
        "paths", nargs="+", type=Path, metavar="PATH", help=".eml files, folders, mbox, Maildir"
    )
    parser.add_argument(
        "--recipient",
        type=email_address,
        metavar="ADDR",
        help="the envelope recipient (default: the forwarding address of the only channel)",
    )
    if dns:
        add_dns_arguments(parser)
    parser.add_argument(
        "--mailbox-export",
        action="store_true",
        help="the files are an export of the team's own mailbox: mail in them from a team "
        "address counts as the team's without DNS proof",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar on stderr (default: on a terminal, for runs over half a second)",
    )
    parser.add_argument(
        "--json", action="store_true", help="one JSON object per message, then a summary object"
    )


def _message_json(source: MessageSource, delivery: Delivery) -> dict[str, Any]:
    return {
        "record": "message",
        "source": source.label,
        "disposition": delivery.disposition.value,
        "reasons": [{"code": r.code, "message": r.message} for r in delivery.reasons],
        "smtp": str(delivery.smtp),
        "raw_id": delivery.raw_id,
        "conversation_id": delivery.conversation_id,
        "new_conversation": delivery.conversation_created,
        "ticket_id": delivery.ticket_id,
    }


def ingest_sources(
    inbox: IngestTarget,
    sources: Sequence[MessageSource],
    *,
    recipient: str | None = None,
    on_delivery: Callable[[MessageSource, Delivery], None] | None = None,
    on_unreadable: Callable[[MessageSource, OSError], None] | None = None,
    progress: Progress | None = None,
    forwarding_path: str | None = None,
) -> IngestSummary:
    """Receive every source into ``inbox``; a broken port (storage down) raises PortError.

    ``forwarding_path``: who vouches that the sources came through the channel's forwarding path
    (:data:`MAILBOX_EXPORT`), standing in for proof of the team's addresses."""
    summary = IngestSummary()
    started = time.monotonic()
    if recipient is None:
        channels = inbox.channels()
        if len(channels) == 1:
            recipient = channels[0].forwarding_address.address
    rcpt = (recipient,) if recipient else ()
    try:
        with _group_commit(inbox):
            for done, source in enumerate(sources, start=1):
                try:
                    raw = source.load()
                except (OSError, mailbox.Error) as exc:
                    summary.unreadable += 1
                    if on_unreadable is not None:
                        on_unreadable(
                            source, exc if isinstance(exc, OSError) else OSError(str(exc))
                        )
                    continue
                envelope = Envelope(
                    received_at=inbox.clock.now(),
                    mail_from=envelope_sender(raw, source.from_line),
                    rcpt_to=rcpt,
                )
                delivery = inbox.service.receive(raw, envelope, forwarding_path=forwarding_path)
                summary.add(delivery)
                if on_delivery is not None:
                    on_delivery(source, delivery)
                if progress is not None:
                    progress.update(done)
    finally:
        if progress is not None:
            progress.close()
        summary.seconds = time.monotonic() - started
    return summary


def _group_commit(inbox: IngestTarget) -> contextlib.AbstractContextManager[None]:
    """One disk flush for the whole run on SQLite (``SqlStorage.batch_durability``): ingest
    acknowledges nothing to a sender, and running it again restores what a power cut lost."""
    try:
        from inboxcore.adapters.sql import SqlStorage
    except ImportError:  # no sql extra: then the storage is not SQL either
        return contextlib.nullcontext()
    storage = inbox.service.storage
    if isinstance(storage, SqlStorage):
        return storage.batch_durability()
    return contextlib.nullcontext()


@attrs.define
class _Reporter:
    """What a run says per message: JSON lines on stdout, problems on stderr; the exit status."""

    out: TextIO
    err: TextIO
    json: bool
    status: int = 0

    def unreadable(self, source: MessageSource, exc: OSError) -> None:
        self.status = 1
        self.err.write(f"inboxcore ingest: cannot read {source.label}: {exc.strerror or exc}\n")

    def delivered(self, source: MessageSource, delivery: Delivery) -> None:
        if self.json:
            self.out.write(json.dumps(_message_json(source, delivery), ensure_ascii=False) + "\n")
        if "not_mail" in delivery.reason_codes and delivery.raw_id:
            short = delivery.raw_id[:12]
            self.err.write(
                f"inboxcore ingest: {source.label} is not an email; held as {short} "
                f"(`inboxcore discard {short}` drops it)\n"
            )
        if delivery.disposition is Disposition.DEFERRED:  # nothing recorded: say so
            self.status = 1
            reasons = "; ".join(r.message for r in delivery.reasons)
            self.err.write(
                f"inboxcore ingest: {source.label} not stored ({delivery.smtp}): {reasons}\n"
            )


def _opened(
    args: argparse.Namespace, dns: DnsResolver | None, target: IngestTarget | None
) -> contextlib.AbstractContextManager[IngestTarget]:
    if target is not None:
        return contextlib.nullcontext(target)
    return open_inbox(getattr(args, "db", DEFAULT_DB), dns=dns)


def run_ingest(
    args: argparse.Namespace,
    out: TextIO | None = None,
    err: TextIO | None = None,
    *,
    target: IngestTarget | None = None,
) -> int:
    """Carry out ``inboxcore ingest``: 0 when every message was read and recorded, 1 otherwise
    (a path or message unreadable, a message not stored, the inbox failing). ``target``: the
    inbox to deliver to (a framework's), instead of the ``--db`` one."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    try:
        if args.recipient is not None:
            EmailAddress.parse(args.recipient)
        dns = dns_from_args(args) if target is None else None
    except (InvalidEmailAddress, InvalidValueError) as exc:
        err.write(f"inboxcore ingest: {exc}\n")
        return 2
    except OSError as exc:
        err.write(f"inboxcore ingest: cannot read {args.dns_zone}: {exc.strerror}\n")
        return 2
    reporter = _Reporter(out, err, args.json)
    with collect_sources(args.paths) as found:
        for problem in found.problems:
            err.write(f"inboxcore ingest: {problem}\n")
            reporter.status = 1
        enabled = args.progress if args.progress is not None else err.isatty()
        delay = 0.0 if args.progress else 0.5
        progress = Progress(err, len(found.messages), enabled=enabled, delay=delay)
        try:
            with _opened(args, dns, target) as inbox:
                summary = ingest_sources(
                    inbox,
                    found.messages,
                    recipient=args.recipient,
                    on_delivery=reporter.delivered,
                    on_unreadable=reporter.unreadable,
                    progress=progress,
                    forwarding_path=MAILBOX_EXPORT if args.mailbox_export else None,
                )
        except InboxcoreError as exc:
            err.write(f"inboxcore ingest: {exc}\n")
            return 1
        summary.unreadable += len(found.problems)
    if args.json:
        out.write(json.dumps({"record": "summary", **summary.as_dict()}) + "\n")
    else:
        summary.write_table(out)
    return reporter.status
