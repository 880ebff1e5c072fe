"""``inboxcore quarantine``, ``release`` and ``discard``: what was held back, why, and deciding.

A team that thinks good mail is being held back needs to see why, and to let a message in when it
trusts it. ``quarantine`` lists the held messages with the sender, subject and every reason;
``release`` lets one in (:meth:`~inboxcore.app.service.InboxService.release`), keeping the checks'
reasons on record beside ``released``; ``discard`` drops one a person does not want
(:meth:`~inboxcore.app.service.InboxService.discard`), on record. Releasing a message that is
already in the inbox says so and succeeds: the command is safe to repeat.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta
from typing import Any, TextIO

from inboxcore.cli._inbox import DEFAULT_DB, Inbox, open_inbox
from inboxcore.domain.errors import InboxcoreError, NotFoundError
from inboxcore.domain.ids import RawMessageId
from inboxcore.domain.outcomes import Disposition
from inboxcore.mail.parsing import parse_message

__all__ = [
    "add_discard_arguments",
    "add_quarantine_arguments",
    "add_release_arguments",
    "quarantine_rows",
    "run_discard",
    "run_quarantine",
    "run_release",
]


def add_quarantine_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON object per line")


def add_release_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("raw_id", metavar="RAW_ID", help="a held message's raw id (or its start)")
    parser.add_argument("--json", action="store_true", help="one JSON object")


def add_discard_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("raw_id", metavar="RAW_ID", help="a held message's raw id (or its start)")
    parser.add_argument("--note", default="", help="why, for the log and the host's event")


def quarantine_rows(inbox: Inbox) -> list[dict[str, Any]]:
    """The held messages, oldest first, with what a person needs to judge them."""
    rows: list[dict[str, Any]] = []
    for entry in inbox.service.quarantined():
        try:
            parsed = parse_message(inbox.raw_store.get(entry.raw_id))
            sender = parsed.from_[0].address if parsed.from_ else None
            subject: str | None = parsed.subject
        except NotFoundError:
            sender = subject = None
        rows.append(
            {
                "raw_id": entry.raw_id,
                "at": entry.at.isoformat(),
                "channel_id": entry.channel_id,
                "from": sender,
                "subject": subject,
                "reasons": list(entry.reason_codes),
            }
        )
    return rows


def run_quarantine(
    args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    try:
        with open_inbox(getattr(args, "db", DEFAULT_DB)) as inbox:
            rows = quarantine_rows(inbox)
    except InboxcoreError as exc:
        err.write(f"inboxcore quarantine: {exc}\n")
        return 1
    if args.json:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
        return 0
    if not rows:
        out.write("Nothing is held back.\n")
        return 0
    for row in rows:
        who, subject = row["from"] or "-", row["subject"] or ""
        out.write(f"{row['raw_id'][:12]}  {row['at'][:16]}  {who}  {subject}\n")
        out.write(f"              held: {', '.join(row['reasons'])}\n")
    return 0


def _resolve(inbox: Inbox, wanted: str, *, held_only: bool = False) -> RawMessageId:
    """The raw id ``wanted`` starts: a held message's first, else (unless ``held_only``) any
    stored one's, so that a second ``release`` finds the message it already let in."""
    held = [e.raw_id for e in inbox.service.quarantined() if e.raw_id.startswith(wanted)]
    if len(held) == 1:
        return held[0]
    if len(held) > 1:
        raise NotFoundError(f"{wanted!r} matches {len(held)} held messages; give more of the id")
    if not held_only and wanted:
        if len(wanted) == 64 and inbox.raw_store.contains(RawMessageId(wanted)):
            return RawMessageId(wanted)
        page = inbox.raw_store.received(
            before=inbox.clock.now() + timedelta(days=1), after=RawMessageId(wanted), limit=2
        )
        stored = [m.raw_id for m in page if m.raw_id.startswith(wanted)]
        if len(stored) == 1:
            return stored[0]
        if len(stored) > 1:
            raise NotFoundError(f"{wanted!r} matches several messages; give more of the id")
    raise NotFoundError(f"no held message has the id {wanted!r}")


def run_release(
    args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    try:
        with open_inbox(getattr(args, "db", DEFAULT_DB)) as inbox:
            raw_id = _resolve(inbox, args.raw_id.strip().lower())
            delivery = inbox.service.release(raw_id)
    except InboxcoreError as exc:
        err.write(f"inboxcore release: {exc}\n")
        return 1
    result = {
        "raw_id": raw_id,
        "verdict": delivery.disposition.value,
        "reasons": [{"code": r.code, "message": r.message} for r in delivery.reasons],
        "conversation_id": delivery.conversation_id,
        "ticket_id": delivery.ticket_id,
    }
    if args.json:
        out.write(json.dumps(result, ensure_ascii=False, sort_keys=True) + "\n")
    elif delivery.disposition is Disposition.DUPLICATE:
        out.write(f"{raw_id[:12]}: already in the inbox; nothing to release\n")
    else:
        out.write(f"{raw_id[:12]}: {delivery.disposition.value}")
        if delivery.conversation_id:
            out.write(f" -> {delivery.conversation_id}")
        out.write("\n")
        for reason in delivery.reasons:
            out.write(f"  - {reason.code}: {reason.message}\n")
    return 0 if delivery.disposition in (Disposition.ACCEPTED, Disposition.DUPLICATE) else 1


def run_discard(
    args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Carry out ``inboxcore discard``: 0 discarded, 1 not a held message or the inbox failing."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    try:
        with open_inbox(getattr(args, "db", DEFAULT_DB)) as inbox:
            raw_id = _resolve(inbox, args.raw_id.strip().lower(), held_only=True)
            inbox.service.discard(raw_id, note=args.note)
    except InboxcoreError as exc:
        err.write(f"inboxcore discard: {exc}\n")
        return 1
    out.write(f"{raw_id[:12]}: discarded (the raw message stays stored)\n")
    return 0
