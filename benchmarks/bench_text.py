"""The text path: a long quoted-printable body and a format=flowed body, decoded to text.

Ours (``parse_message(raw).text``: transfer decoding, charset, ``format=flowed`` undone, line
endings made ``\\n``) beside the standard library on the same input, in the same process:
``email.message_from_bytes(raw, policy=policy.default).get_body(("plain",)).get_content()``
(transfer decoding and charset; the standard library does not undo ``format=flowed``, so for
the flowed body ours does more work than the baseline).

Run: ``python benchmarks/bench_text.py``; the figures are recorded in ``docs/performance.md``.
"""

from __future__ import annotations

import email
import quopri
import random
import sys
import time
from collections.abc import Callable
from email import policy
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_parsing import _words

from inboxcore.mail.parsing import parse_message


def _headers(extra: str) -> bytes:
    return (
        "From: Ada <ada@customer.example>\r\nTo: support@acme.example\r\nSubject: long\r\n"
        "Message-ID: <text@customer.example>\r\nMIME-Version: 1.0\r\n" + extra + "\r\n"
    ).encode()


def qp_message(rng: random.Random, size: int) -> bytes:
    """About ``size`` bytes of accented prose, quoted-printable (soft breaks, =XX escapes)."""
    text = ""
    while len(text) < size:
        text += _words(rng, 60).replace("e ", "é ").replace("a ", "à ") + " 12 € ✓\n"
    body = quopri.encodestring(text.encode()).replace(b"\n", b"\r\n")
    headers = (
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n"
    )
    return _headers(headers) + body


def flowed_message(rng: random.Random, size: int) -> bytes:
    """About ``size`` bytes of format=flowed paragraphs (lines of ~70 ending in a space)."""
    lines: list[str] = []
    total = 0
    while total < size:
        words = _words(rng, 80).split()
        paragraph = [" ".join(words[i : i + 11]) for i in range(0, len(words), 11)]
        lines += [line + " " for line in paragraph[:-1]] + [paragraph[-1], ""]
        total += sum(len(line) + 2 for line in paragraph)
    headers = "Content-Type: text/plain; charset=utf-8; format=flowed\r\n"
    return _headers(headers) + "\r\n".join(lines).encode()


def ours(raw: bytes) -> str:
    return parse_message(raw).text or ""


def stdlib(raw: bytes) -> str:
    message = email.message_from_bytes(raw, policy=policy.default)
    body = message.get_body(("plain",))
    return "" if body is None else str(body.get_content())


def best(func: Callable[[bytes], str], raw: bytes, rounds: int) -> float:
    fastest = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        func(raw)
        fastest = min(fastest, time.perf_counter() - started)
    return fastest


def main() -> None:
    rng = random.Random(3)
    for label, raw in (
        ("200 KB quoted-printable", qp_message(rng, 200_000)),
        ("200 KB format=flowed", flowed_message(rng, 200_000)),
    ):
        assert len(ours(raw)) > 100_000
        ours_s, std_s = best(ours, raw, 15), best(stdlib, raw, 15)
        print(f"{label} ({len(raw) / 1024:.0f} KB raw)")
        print(f"   inboxcore parse_message().text: {ours_s * 1e3:7.2f} ms")
        ratio = std_s / ours_s
        print(f"   stdlib get_content():           {std_s * 1e3:7.2f} ms  (ratio {ratio:.1f}x)")


if __name__ == "__main__":
    main()
