"""DKIM and ARC authentication time and memory, beside dkimpy's own ``verify`` on the same input.

Two messages, both signed (relaxed/relaxed, rsa-sha256, a 2048-bit key generated here) and sealed
by a list (ARC i=1), keys served by a static resolver:

- a 30 MB message: a short text part and a 22 MB attachment in base64, the size limit of the
  hosted inbox;
- a typical 50 KB message: a text and an HTML part;
- a stress case: 30 MB of text and HTML with whitespace to canonicalize on most lines (rare in
  real mail, where big messages are attachments).

For each we time ``verify_dkim`` + ``validate_arc`` sharing one ``BodyHashes`` (best of N runs)
and measure their tracemalloc peak in a separate run, then do the same for ``dkim.verify`` (which
checks only the first signature) and ``dkim.arc_verify``. Run: ``python benchmarks/bench_auth.py``.
"""

from __future__ import annotations

import base64
import random
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from inboxcore.adapters.dns_static import StaticResolver
from inboxcore.auth.arc import validate_arc
from inboxcore.auth.bodyhash import BodyHashes
from inboxcore.auth.dkim_verify import verify_dkim

NOW = datetime.now(UTC)


def _key() -> tuple[bytes, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem, f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"


def _message(attachment_bytes: int, text_lines: int) -> bytes:
    rng = random.Random(attachment_bytes)
    words = [
        "invoice",
        "seats",
        "renewal",
        "please",
        "contract",
        "the",
        "of",
        "and",
        "to",
        "we",
        "you",
        "support",
        "team",
    ]
    text = "".join(
        " ".join(rng.choice(words) for _ in range(rng.randint(6, 14)))
        + ("  \r\n" if n % 7 else "\r\n")
        for n in range(text_lines)
    )
    parts = [
        b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text.encode(),
        b"--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>"
        + text.replace("\r\n", "<br>\r\n").encode()
        + b"</p>\r\n",
    ]
    if attachment_bytes:
        data = base64.encodebytes(rng.randbytes(attachment_bytes)).replace(b"\n", b"\r\n")
        parts.append(
            b"--b1\r\nContent-Type: application/pdf; name=contract.pdf\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + data
        )
    return (
        b"From: Ann Example <ann@example.com>\r\n"
        b"To: billing@lists.example.net\r\n"
        b"Subject: Signed contract and the seat count\r\n"
        b"Date: Mon, 2 Mar 2026 10:29:51 +0100\r\n"
        b"Message-ID: <bench@mail.example.com>\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b1"\r\n'
        b"\r\n" + b"".join(parts) + b"--b1--\r\n"
    )


def _signed_and_sealed(message: bytes, pem: bytes) -> bytes:
    field: bytes = dkim.sign(
        message, b"s2026", b"example.com", pem, canonicalize=(b"relaxed", b"relaxed")
    )
    signed = field + message
    stamped = (
        b"Authentication-Results: lists.example.net; dkim=pass header.d=example.com;"
        b" dmarc=pass header.from=example.com\r\n" + signed
    )
    fields: list[bytes] = dkim.arc_sign(
        stamped, b"arc", b"lists.example.net", pem, b"lists.example.net", timestamp=1772443800
    )
    return b"".join(fields) + stamped


def _best(fn: Callable[[], object], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def _peak(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    pem, record = _key()
    zone = {
        "s2026._domainkey.example.com": {"TXT": record},
        "arc._domainkey.lists.example.net": {"TXT": record},
    }
    dns = StaticResolver(zone)
    txt = {f"{name}.".encode(): value["TXT"].encode() for name, value in zone.items()}

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        return txt.get(name, b"")

    cases = [
        ("30 MB, attachment", _message(22 * 1024 * 1024, 400), 3),
        ("50 KB, text + html", _message(0, 330), 30),
        # A stress case: 30 MB of text with dense whitespace to canonicalize on most lines.
        ("23 MB text (stress)", _message(0, 190_000), 2),
    ]
    print(f"{'message':<20} {'size':>9} {'':<26} {'time':>9} {'peak heap':>11}")
    for label, message, runs in cases:
        raw = _signed_and_sealed(message, pem)

        def ours(raw: bytes = raw) -> object:
            hashes = BodyHashes(raw)
            dkim_results = verify_dkim(raw, dns, now=NOW, body_hashes=hashes)
            arc_result = validate_arc(raw, dns, now=NOW, body_hashes=hashes)
            assert dkim_results[0].passed, dkim_results
            assert arc_result.passed, arc_result
            return arc_result

        def theirs_dkim(raw: bytes = raw) -> object:
            assert dkim.verify(raw, dnsfunc=dnsfunc)
            return None

        def theirs_both(raw: bytes = raw) -> object:
            assert dkim.verify(raw, dnsfunc=dnsfunc)
            assert dkim.arc_verify(raw, dnsfunc=dnsfunc)[0] == dkim.CV_Pass
            return None

        rows = [
            ("inboxcore dkim+arc", ours),
            ("dkimpy verify", theirs_dkim),
            ("dkimpy verify+arc_verify", theirs_both),
        ]
        measured = [(name, _best(fn, runs), _peak(fn)) for name, fn in rows]
        size = f"{len(raw) / 1e6:.2f} MB" if len(raw) > 1e6 else f"{len(raw) / 1e3:.0f} KB"
        for name, seconds, peak in measured:
            print(
                f"{label:<20} {size:>9} {name:<26} {seconds * 1000:>7.1f}ms {peak / 1e6:>8.2f} MB"
            )
        base_t, base_m = measured[0][1], measured[0][2]
        for name, seconds, peak in measured[1:]:
            print(
                f"{'':<20} {'':>9} ratio {name:<20} {seconds / base_t:>8.1f}x"
                f" {peak / max(base_m, 1):>9.1f}x"
            )
        print(f"{'':<20} {'':>9} our peak / message size {base_m / len(raw):>12.2f}")


if __name__ == "__main__":
    main()
