"""Parsing benchmark: inboxcore's lazy parser beside the standard library, same input, same run.

(a) a realistic mix of ~50 KB messages (multipart/alternative with a PDF, a forwarded message
    with an image, a delivery status notification carrying the original): the time for what
    intake needs (headers, the text body, attachment metadata, the attached messages' senders);
(b) a 30 MB message with a base64 attachment: time and tracemalloc peak for the same.

The baselines are ``email.message_from_bytes`` with ``policy.default`` plus ``get_content()`` on
every leaf (the issue's reference, 6.5 ms for 50 KB there), and the bare compat32 parse. The
ratio is what counts on a shared machine; the figures are recorded in docs/performance.md.

Run: ``python benchmarks/bench_parsing.py`` (``--quick`` for fewer repetitions).
"""

from __future__ import annotations

import email
import email.policy
import gc
import platform
import random
import sys
import time
import tracemalloc
from collections.abc import Callable
from email.message import EmailMessage, Message

from inboxcore.mail.parsing import parse_message

KB = 1024
MB = 1024 * KB


def _words(rng: random.Random, count: int) -> str:
    vocabulary = [
        "the",
        "order",
        "invoice",
        "shipment",
        "delayed",
        "customer",
        "support",
        "please",
        "reply",
        "thanks",
        "regards",
        "account",
        "password",
        "reset",
        "refund",
        "tracking",
        "number",
        "weekend",
        "warehouse",
        "ticket",
        "update",
        "Grüße",
        "Kundendienst",
        "bestellung",
        "fakturan",
        "leverans",
        "kiitos",
    ]
    lines: list[str] = []
    line: list[str] = []
    for _ in range(count):
        line.append(rng.choice(vocabulary))
        if len(line) == 12:
            lines.append(" ".join(line))
            line = []
    lines.append(" ".join(line))
    return "\n".join(lines) + "\n"


def _base(subject: str, sender: str, n: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "Support <support@helpdesk.example>"
    msg["Cc"] = "Ops <ops@shop.example>, Lena Öberg <lena@shop.example>"
    msg["Subject"] = subject
    msg["Date"] = f"Tue, 04 Jun 2024 09:{n % 60:02d}:12 +0200"
    msg["Message-ID"] = f"<bench-{n}@mail.shop.example>"
    msg["References"] = " ".join(f"<thread-{n}-{i}@mail.shop.example>" for i in range(6))
    for i in range(8):
        msg["Received"] = (
            f"from relay{i}.mail.example (relay{i}.mail.example [192.0.2.{i}]) by mx{i}.example "
            f"with ESMTPS id abc{i}{n}; Tue, 04 Jun 2024 09:00:0{i} +0000"
        )
    msg["DKIM-Signature"] = "v=1; a=rsa-sha256; d=shop.example; s=sel; " + "b=" + "A" * 340
    return msg


def alternative_with_pdf(rng: random.Random, n: int) -> bytes:
    msg = _base(f"Order #{n} arrived damaged", "Kunde Müller <kunde@shop.example>", n)
    text = _words(rng, 900)
    msg.set_content(text)
    msg.add_alternative(
        "<html><body>" + "".join(f"<p>{p}</p>" for p in text.split("\n")) + "</body></html>",
        subtype="html",
    )
    msg.add_attachment(
        rng.randbytes(28 * KB), maintype="application", subtype="pdf", filename="Rechnung März.pdf"
    )
    return msg.as_bytes()


def forwarded_message(rng: random.Random, n: int) -> bytes:
    inner = _base("Can you help?", "Alex Customer <alex@customer.example>", n + 1000)
    inner.set_content(_words(rng, 700))
    inner.add_attachment(
        rng.randbytes(18 * KB), maintype="image", subtype="png", filename="screenshot.png"
    )
    outer = _base(f"Fwd: Can you help? ({n})", "Agent <agent@helpdesk.example>", n)
    outer.set_content("See below, forwarded from the shared mailbox.\n\n" + _words(rng, 200))
    outer.add_attachment(inner)
    outer.add_attachment(rng.randbytes(8 * KB), maintype="image", subtype="jpeg", filename="a.jpg")
    return outer.as_bytes()


def delivery_status(rng: random.Random, n: int) -> bytes:
    original = _base("Your quote", "Support <support@helpdesk.example>", n + 2000)
    original.set_content(_words(rng, 600))
    original.add_attachment(
        rng.randbytes(27 * KB), maintype="application", subtype="pdf", filename="quote.pdf"
    )
    dsn = Message()
    dsn["From"] = "Mail Delivery Subsystem <MAILER-DAEMON@mx.example>"
    dsn["To"] = "support@helpdesk.example"
    dsn["Subject"] = "Undelivered Mail Returned to Sender"
    dsn["Date"] = "Tue, 04 Jun 2024 09:30:00 +0000"
    dsn["Message-ID"] = f"<dsn-{n}@mx.example>"
    dsn["MIME-Version"] = "1.0"
    boundary = f"dsn-boundary-{n}"
    dsn["Content-Type"] = f'multipart/report; report-type=delivery-status; boundary="{boundary}"'
    body = (
        f"--{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n\r\n"
        "<nobody@customer.example>: host mx.customer.example said: 550 5.1.1 unknown user\r\n"
        f"\r\n--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example\r\n\r\nFinal-Recipient: rfc822; nobody@customer.example\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\n"
        f"\r\n--{boundary}\r\nContent-Type: message/rfc822\r\n\r\n"
    ).encode()
    head = dsn.as_bytes().replace(b"\n", b"\r\n")
    tail = f"\r\n--{boundary}--\r\n".encode()
    return head + body + original.as_bytes().replace(b"\n", b"\r\n") + tail


def big_message(rng: random.Random, size: int) -> bytes:
    msg = _base("Scans of the signed contract", "Kunde <kunde@shop.example>", 7)
    msg.set_content("Here are the scans, all pages.\n" + _words(rng, 300))
    msg.add_attachment(
        rng.randbytes(size * 3 // 4 - 40 * KB),
        maintype="application",
        subtype="zip",
        filename="contract-scans.zip",
    )
    return msg.as_bytes()


# --- the three ways of parsing -----------------------------------------------------------------


def ours(raw: bytes) -> object:
    m = parse_message(raw)
    fields = (m.message_id, m.subject, m.date, m.from_, m.to, m.cc, m.references, m.list_id)
    senders = [inner.from_ for inner in m.attached_messages]
    return fields, m.text, [(a.filename, a.content_type, a.size) for a in m.attachments], senders


def stdlib_default(raw: bytes) -> object:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    fields = [msg[name] for name in ("Message-ID", "Subject", "Date", "From", "To", "Cc")]
    contents = []
    for part in msg.walk():
        if part.is_multipart() or part.get_content_maintype() == "message":
            continue
        try:
            content = part.get_content()
        except (KeyError, LookupError, ValueError):
            content = part.get_payload(decode=True)
        contents.append(len(content))
    return fields, contents


def stdlib_bare(raw: bytes) -> object:
    return email.message_from_bytes(raw)


# --- measuring -----------------------------------------------------------------------------------


def per_call(func: Callable[[bytes], object], inputs: list[bytes], rounds: int) -> float:
    """Best-of-rounds mean seconds per message (the minimum filters the noise of a shared box)."""
    best = float("inf")
    for _ in range(rounds):
        gc.collect()
        started = time.perf_counter()
        for raw in inputs:
            func(raw)
        best = min(best, (time.perf_counter() - started) / len(inputs))
    return best


def peak(func: Callable[[bytes], object], raw: bytes) -> int:
    """Peak bytes allocated while parsing (the input itself is allocated before and not counted)."""
    gc.collect()
    tracemalloc.start()
    try:
        result = func(raw)
        _, top = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del result
    return top


def main() -> None:
    quick = "--quick" in sys.argv
    rng = random.Random(20240604)
    makers = (alternative_with_pdf, forwarded_message, delivery_status)
    mix = [makers[i % 3](rng, i) for i in range(30)]
    assert all(ours(raw) for raw in mix)
    mean_size = sum(map(len, mix)) / len(mix)
    rounds = 3 if quick else 7
    print(f"python {platform.python_version()} on {platform.machine()}, {platform.system()}")
    print(f"(a) mix of {len(mix)} messages, mean {mean_size / KB:.1f} KB")
    t_ours = per_call(ours, mix, rounds)
    t_default = per_call(stdlib_default, mix, rounds)
    t_bare = per_call(stdlib_bare, mix, rounds)
    print(f"    inboxcore (headers + text + attachment metadata): {t_ours * 1e3:8.3f} ms/msg")
    print(
        f"    stdlib policy.default + get_content():           {t_default * 1e3:8.3f} ms/msg"
        f"   ratio {t_default / t_ours:6.1f}x"
    )
    print(
        f"    stdlib bare message_from_bytes (compat32):       {t_bare * 1e3:8.3f} ms/msg"
        f"   ratio {t_bare / t_ours:6.1f}x"
    )
    print(f"    messages per second (inboxcore): {1 / t_ours:,.0f}")

    big = big_message(rng, 30 * MB)
    print(f"(b) one message of {len(big) / MB:.1f} MB with a base64 attachment")
    big_rounds = 1 if quick else 3
    t_ours = per_call(ours, [big], big_rounds)
    t_default = per_call(stdlib_default, [big], big_rounds)
    t_bare = per_call(stdlib_bare, [big], big_rounds)
    p_ours = peak(ours, big)
    p_default = peak(stdlib_default, big)
    p_bare = peak(stdlib_bare, big)
    for label, t, p in (
        ("inboxcore (headers + text + attachment metadata)", t_ours, p_ours),
        ("stdlib policy.default + get_content()", t_default, p_default),
        ("stdlib bare message_from_bytes (compat32)", t_bare, p_bare),
    ):
        print(
            f"    {label:<50} {t * 1e3:9.1f} ms  peak {p / MB:7.1f} MB"
            f" = {p / len(big):5.2f}x the message"
        )
    print(
        f"    ratios: time {t_default / t_ours:.1f}x and peak {p_default / max(p_ours, 1):.0f}x "
        "in inboxcore's favour against policy.default"
    )


if __name__ == "__main__":
    main()
