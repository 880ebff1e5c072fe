"""Authentication-Results parsing and the signature sanitizer, each beside the alternative.

- **A-R parsing**: every Authentication-Results and ARC-Authentication-Results field of the
  shared corpus (``../shared/corpus``; a built-in sample when it is absent) through our parser
  (:func:`inboxcore.auth.arc.parse_authentication_results`) and through ``authres`` 1.2: fields
  read, fields refused, microseconds a field. This is the measured reason reading stays ours.
- **A-R writing**: our field composed with ``authres`` (what intake does per message).
- **signature rendering**: a pasted Gmail-style signature rendered with the nh3 pass (what
  :func:`~inboxcore.policies.signature.render_signature` does) and without it (the parser-only
  pipeline it replaced), per render.

Run: ``python benchmarks/bench_headers_html.py``. Figures in ``docs/performance.md``.
"""

from __future__ import annotations

import email
import email.policy
import time
from collections.abc import Callable
from pathlib import Path

import authres

from inboxcore.auth.arc import parse_authentication_results
from inboxcore.auth.results import results_header
from inboxcore.auth.spf import SpfResult
from inboxcore.domain.model import SignatureSettings
from inboxcore.policies import signature

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
SAMPLE = [
    "mx.google.com;\r\n       dkim=pass header.i=@example.com header.s=s1 header.b=abc;\r\n"
    "       spf=pass (google.com: domain of a@example.com designates 192.0.2.1 as permitted "
    "sender) smtp.mailfrom=a@example.com;\r\n       dmarc=pass (p=NONE sp=NONE dis=NONE) "
    "header.from=example.com",
    "i=1; mx.example.net; dkim=pass header.d=example.org; spf=none smtp.mailfrom=example.org",
]
SIGNATURE = (
    '<div dir="ltr"><div><b>{agent.full_name}</b> | {company}</div>'
    '<div><a href="mailto:{agent.email}" style="color:#1155cc">{agent.email}</a></div>'
    '<div><img src="https://cdn.acme.example/logo.png" width="96" height="32" alt="Acme"></div>'
    "<div><font size=1>Sent from the support inbox</font></div></div>" * 3
)


def _fields() -> list[str]:
    if not CORPUS.is_dir():
        return SAMPLE * 50
    found = []
    for path in sorted(CORPUS.rglob("*")):
        if not path.is_file() or path.suffix == ".jsonl":
            continue
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.compat32)
        for name in ("Authentication-Results", "ARC-Authentication-Results"):
            found += [str(v) for v in message.get_all(name) or ()]
    return found or SAMPLE * 50


def _per_call(run: Callable[[], object], repeat: int) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        run()
    return (time.perf_counter() - started) / repeat * 1e6


def _authres_reads(value: str) -> bool:
    try:
        authres.AuthenticationResultsHeader.parse_value(value)
    except Exception:  # authres raises its own SyntaxError on real fields
        return False
    return True


def main() -> None:
    fields = _fields()
    ours_read = sum(parse_authentication_results(v) is not None for v in fields)
    theirs_read = sum(_authres_reads(v) for v in fields)
    ours = _per_call(lambda: [parse_authentication_results(v) for v in fields], 20) / len(fields)
    theirs = _per_call(lambda: [_authres_reads(v) for v in fields], 5) / len(fields)
    print(f"A-R fields: {len(fields)}")
    print(f"  ours     read {ours_read:4d}  {ours:7.1f} µs/field")
    print(f"  authres  read {theirs_read:4d}  {theirs:7.1f} µs/field  ({theirs / ours:.1f}x)")
    spf = SpfResult(result="pass", domain="acme.example", identity="mailfrom", ip="192.0.2.1")
    write = _per_call(lambda: results_header("inboxcore", spf, (), None, None), 2000)
    print(f"A-R writing with authres: {write:.1f} µs/message")
    settings = SignatureSettings(html=SIGNATURE)
    values = signature.SignatureValues(
        agent_full_name="Anna Berg", agent_first_name="Anna", agent_last_name="Berg",
        agent_email="anna@acme.example", company="Acme",
    )  # fmt: skip
    with_nh3 = _per_call(lambda: signature.render_signature(settings, values), 500)
    parser_only = _per_call(lambda: signature._collect(SIGNATURE, sanitized=False), 500)
    with_nh3_collect = _per_call(lambda: signature._collect(SIGNATURE), 500)
    print(f"signature ({len(SIGNATURE)} chars): render {with_nh3:.0f} µs")
    print(
        f"  reading it: with nh3 {with_nh3_collect:.0f} µs, parser only {parser_only:.0f} µs "
        f"({with_nh3_collect / parser_only:.2f}x)"
    )


if __name__ == "__main__":
    main()
