"""``inboxcore recover``: run the messages that were stored but never recorded.

A message is stored (with its envelope) before anything is answered, and answered ``250`` only
once its intake record is committed. When storage fails in between, the mail server is told
``451`` and retries; should it give up (or should the message be older than this rule), the raw
store holds a message no record lists. ``recover`` finds those and runs each through intake as
it was received (:meth:`~inboxcore.app.service.InboxService.recover`). It is safe from cron
beside ``inboxcore serve``: messages younger than ``--older-than`` are left alone, and a message
already recorded is never run again.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from datetime import timedelta
from typing import Any, TextIO

from inboxcore.app.service import (
    DEFAULT_RECOVERY_GRACE,
    InboxService,
    RecoveredMessage,
    Recovery,
)
from inboxcore.cli._inbox import DEFAULT_DB, open_inbox
from inboxcore.cli._options import at_least
from inboxcore.domain.errors import InboxcoreError

__all__ = ["add_recover_arguments", "recovery_json", "run_recover"]

_DEFAULT_DAYS = 7
_DEFAULT_LIMIT = 100


def add_recover_arguments(parser: argparse.ArgumentParser) -> None:
    grace = int(DEFAULT_RECOVERY_GRACE.total_seconds() // 60)
    parser.add_argument(
        "--older-than",
        type=at_least(0),
        default=grace,
        metavar="MINUTES",
        help=f"leave messages received in the last MINUTES to the intake handling them "
        f"(default: {grace})",
    )
    window = parser.add_mutually_exclusive_group()
    window.add_argument(
        "--days",
        type=at_least(1),
        default=_DEFAULT_DAYS,
        metavar="N",
        help=f"look at messages received in the last N days (default: {_DEFAULT_DAYS})",
    )
    window.add_argument(
        "--all", action="store_true", help="look at every stored message (once, after upgrading)"
    )
    parser.add_argument(
        "--limit",
        type=at_least(1),
        default=_DEFAULT_LIMIT,
        metavar="N",
        help=f"run at most N messages (default: {_DEFAULT_LIMIT}); run again for the rest",
    )
    parser.add_argument("--dry-run", action="store_true", help="list them, run nothing")
    parser.add_argument(
        "--json", action="store_true", help="one JSON object per message, then a summary object"
    )


def _message_json(entry: RecoveredMessage) -> dict[str, Any]:
    delivery = entry.delivery
    return {
        "record": "message",
        "raw_id": entry.raw_id,
        "received_at": entry.received_at.isoformat(),
        "reasons": [{"code": r.code, "message": r.message} for r in entry.reasons],
        "disposition": entry.disposition.value if entry.disposition else None,
        "verdict_reasons": [r.code for r in delivery.reasons] if delivery else [],
        "smtp": str(delivery.smtp) if delivery else None,
        "conversation_id": delivery.conversation_id if delivery else None,
    }


def recovery_json(recovery: Recovery) -> dict[str, Any]:
    """The summary object of ``--json``."""
    outcomes = Counter(m.disposition.value for m in recovery.messages if m.disposition)
    return {
        "record": "summary",
        "examined": recovery.examined,
        "unrecorded": len(recovery.messages),
        "outcomes": dict(sorted(outcomes.items())),
        "still_unrecorded": len(recovery.still_unrecorded),
        "complete": recovery.complete,
        "dry_run": recovery.dry_run,
    }


def _line(entry: RecoveredMessage, *, dry_run: bool) -> str:
    """``<raw id>  <received>  <outcome>  <reasons> [-> conversation]``."""
    delivery = entry.delivery
    if delivery is not None:
        outcome = delivery.disposition.value
    else:
        outcome = "would run" if dry_run and "own_message" not in entry.reason_codes else "not run"
    codes = list(entry.reason_codes)
    if delivery is not None:
        codes += [r.code for r in delivery.reasons if r.code not in codes]
    where = f" -> {delivery.conversation_id}" if delivery and delivery.conversation_id else ""
    when = f"{entry.received_at:%Y-%m-%d %H:%M}"
    return f"{entry.raw_id[:12]}  {when}  {outcome:<12} {', '.join(codes)}{where}\n"


def _write_table(out: TextIO, recovery: Recovery, limit: int) -> None:
    for entry in recovery.messages:
        out.write(_line(entry, dry_run=recovery.dry_run))
    found = len(recovery.messages)
    noun = "message" if recovery.examined == 1 else "messages"
    if not found:
        out.write(f"Nothing to recover: {recovery.examined} stored {noun}, all recorded.\n")
        return
    out.write(f"\n{found} of {recovery.examined} stored {noun} had no record")
    if recovery.dry_run:
        out.write(" (dry run: nothing was run)")
    out.write(".\n")
    if recovery.still_unrecorded:
        out.write(
            f"{len(recovery.still_unrecorded)} could not be recorded (storage failing): "
            "run recover again later.\n"
        )
    if not recovery.complete:
        out.write(f"Stopped at the limit of {limit}: run recover again for the rest.\n")


def _recover(service: InboxService, args: argparse.Namespace) -> Recovery:
    since = None if args.all else service.clock.now() - timedelta(days=args.days)
    return service.recover(
        older_than=timedelta(minutes=args.older_than),
        since=since,
        limit=args.limit,
        dry_run=args.dry_run,
    )


def run_recover(
    args: argparse.Namespace,
    out: TextIO | None = None,
    err: TextIO | None = None,
    *,
    service: InboxService | None = None,
) -> int:
    """Carry out ``inboxcore recover``: 0 when every message found is recorded now (or on a dry
    run), 1 when some could not be (storage still failing) or the inbox failed. ``service``: the
    inbox to recover in (a framework's), instead of the ``--db`` one."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    try:
        if service is not None:
            recovery = _recover(service, args)
        else:
            with open_inbox(getattr(args, "db", DEFAULT_DB)) as inbox:
                recovery = _recover(inbox.service, args)
    except InboxcoreError as exc:
        err.write(f"inboxcore recover: {exc}\n")
        return 1
    if args.json:
        for entry in recovery.messages:
            out.write(json.dumps(_message_json(entry), ensure_ascii=False) + "\n")
        out.write(json.dumps(recovery_json(recovery)) + "\n")
    else:
        _write_table(out, recovery, args.limit)
    return 1 if recovery.still_unrecorded else 0
