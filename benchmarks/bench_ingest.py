"""``inboxcore ingest`` of a generated mbox on SQLite: messages per second (issue 14's 300/s).

The mbox is made here, seeded: ``--messages`` small messages (about 2 KB of text each) from
customers whose message counts follow a Zipf law (``--contacts`` customers, exponent 1.1, so a
few write very often), over 90 days in order. 30% are replies carrying the In-Reply-To and
References of the same customer's previous message, 10% replies by subject alone ("Re: " and
the subject), the rest new questions. Then, as a user would: ``inboxcore init`` makes a new
inbox (one channel, two agents in turn, tickets on) and ``inboxcore ingest --offline`` reads the
mbox into it (raw messages in the inbox's table, everything in one SQLite file with
``synchronous=FULL``), timed from the command's start to its end. ``--profile`` runs the ingest
under cProfile and prints the 30 costliest functions.

Run: ``python benchmarks/bench_ingest.py`` (10,000 messages). The figures are recorded in
``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import platform
import pstats
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from inboxcore.cli import main

CHANNEL = "support-7f3k@acme.inbox.example.net"
START = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
WORDS = [
    "invoice",
    "order",
    "delivery",
    "parcel",
    "refund",
    "account",
    "password",
    "login",
    "error",
    "screen",
    "payment",
    "card",
    "address",
    "shipping",
    "return",
    "label",
    "warranty",
    "repair",
    "update",
    "version",
    "please",
    "thanks",
    "help",
    "urgent",
]


def _zipf_weights(count: int, exponent: float = 1.1) -> list[float]:
    return [1.0 / (rank**exponent) for rank in range(1, count + 1)]


def _body(rng: random.Random, size: int = 2000) -> str:
    lines, length = [], 0
    while length < size:
        line = " ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + "."
        lines.append(line)
        length += len(line) + 1
    return "\n".join(lines)


def write_mbox(path: Path, messages: int, contacts: int, seed: int = 14) -> dict[str, int]:
    """The mbox of ``messages`` messages, in time order; how many of each kind it holds."""
    rng = random.Random(seed)
    weights = _zipf_weights(contacts)
    last: dict[int, tuple[str, str, str]] = {}  # customer -> (Message-ID, References, subject)
    kinds = {"new": 0, "by_references": 0, "by_subject": 0}
    step = timedelta(days=90) / messages
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for n in range(messages):
            who = rng.choices(range(contacts), weights)[0]
            at = START + step * n
            mid = f"<m{n}.{who}@customer{who % 97}.example>"
            roll, previous = rng.random(), last.get(who)
            headers = {}
            if previous is not None and roll < 0.3:
                kind, subject = "by_references", f"Re: {previous[2]}"
                headers["In-Reply-To"] = previous[0]
                headers["References"] = f"{previous[1]} {previous[0]}".strip()
            elif previous is not None and roll < 0.4:
                kind, subject = "by_subject", f"Re: {previous[2]}"
            else:
                kind, subject = "new", f"Question {n}: {rng.choice(WORDS)} {rng.choice(WORDS)}"
            kinds[kind] += 1
            references = headers.get("References", "")
            last[who] = (mid, references, subject.removeprefix("Re: "))
            sender = f"customer{who}@customer{who % 97}.example"
            out.write(f"From {sender} {at.strftime('%a %b %d %H:%M:%S %Y')}\n")
            out.write(f"Return-Path: <{sender}>\nFrom: Customer {who} <{sender}>\n")
            out.write(f"To: {CHANNEL}\nSubject: {subject}\nMessage-ID: {mid}\n")
            out.write(f"Date: {format_datetime(at)}\n")
            out.writelines(f"{name}: {value}\n" for name, value in headers.items())
            out.write("MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n")
            out.write(_body(rng).replace("\nFrom ", "\n>From ") + "\n\n")
    return kinds


def _init(db: Path) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        code = _init_command(db)
    if code != 0:
        raise RuntimeError(f"inboxcore init failed ({code})")


def _init_command(db: Path) -> int:
    return main(
        [
            "--db", str(db), "init", "--account", "Acme",
            "--agent", "Anna Berg <anna.berg@acme.example>",
            "--agent", "Jonas Weber <jonas.weber@acme.example>",
            "--channel-address", CHANNEL, "--routing", "users_and_teams",
        ]
    )  # fmt: skip


def ingest(db: Path, mbox: Path, *, profile: bool) -> tuple[float, dict[str, object]]:
    """Seconds of ``inboxcore ingest --offline --json`` and its summary object."""
    out = io.StringIO()
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    with contextlib.redirect_stdout(out):
        if profiler is not None:
            profiler.enable()
        code = main(["--db", str(db), "ingest", "--offline", "--json", str(mbox)])
        if profiler is not None:
            profiler.disable()
    seconds = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"inboxcore ingest failed ({code})")
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    lines = out.getvalue().splitlines()
    return seconds, json.loads(lines[-1])


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000, help="mbox size (default 10,000)")
    parser.add_argument("--contacts", type=int, default=1_000, help="customers (default 1,000)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the ingest")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as folder:
        mbox, db = Path(folder) / "mail.mbox", Path(folder) / "inbox.db"
        kinds = write_mbox(mbox, args.messages, args.contacts)
        size = mbox.stat().st_size
        print(
            f"{args.messages:,} messages ({size / 1e6:.1f} MB), {args.contacts:,} customers "
            f"(Zipf 1.1), kinds {kinds}; {platform.python_version()}, {os.cpu_count()} CPUs, "
            f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
        )
        _init(db)
        seconds, summary = ingest(db, mbox, profile=args.profile)
        rate = args.messages / seconds
        print(f"ingest: {seconds:.1f} s, {rate:.0f} messages/s (target 300)")
        counts = ("accepted", "duplicate", "quarantined", "deferred", "conversations_created")
        print("summary: " + ", ".join(f"{key} {summary.get(key)}" for key in counts))
        print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main_()
