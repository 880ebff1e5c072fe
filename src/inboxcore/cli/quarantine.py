"""``inboxcore quarantine`` and ``inboxcore release``: what was held back, why, and letting it in.

A team that thinks good mail is being held back needs to see why, and to let a message in when it
trusts it. ``quarantine`` lists the held messages with the sender, subject and every reason;
``release`` lets one in (:meth:`~inboxcore.app.service.InboxService.release`), keeping the checks'
reasons on record beside ``released``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from inboxcore.cli.inbox import DEFAULT_DB, Inbox, open_inbox
from inboxcore.domain.errors import InboxcoreError, NotFoundError
from inboxcore.domain.ids import RawMessageId
from inboxcore.mail.parsing import parse_message

__all__ = [
    "add_quarantine_arguments",
    "add_release_arguments",
    "quarantine_rows",
    "run_quarantine",
    "run_release",
]


def add_quarantine_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON object per line")


def add_release_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("raw_id", metavar="RAW_ID", help="a held message's raw id (or its start)")
    parser.add_argument("--json", action="store_true", help="one JSON object")


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


def _resolve(inbox: Inbox, wanted: str) -> RawMessageId:
    held = [e.raw_id for e in inbox.service.quarantined() if e.raw_id.startswith(wanted)]
    if len(held) == 1:
        return held[0]
    if len(held) > 1:
        raise NotFoundError(f"{wanted!r} matches {len(held)} held messages; give more of the id")
    if len(wanted) == 64 and inbox.raw_store.contains(RawMessageId(wanted)):
        return RawMessageId(wanted)
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
    else:
        out.write(f"{raw_id[:12]}: {delivery.disposition.value}")
        if delivery.conversation_id:
            out.write(f" -> {delivery.conversation_id}")
        out.write("\n")
        for reason in delivery.reasons:
            out.write(f"  - {reason.code}: {reason.message}\n")
    return 0 if delivery.disposition.value in ("accepted", "duplicate") else 1
