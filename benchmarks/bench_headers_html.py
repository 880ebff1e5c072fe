"""Authentication-Results parsing and the signature sanitizer, each beside the alternative.

- **A-R parsing**: every Authentication-Results and ARC-Authentication-Results field of the
  shared corpus (``../shared/corpus``; a built-in sample when it is absent), unfolded, through
  our parser (:func:`inboxcore.auth.arc.parse_authentication_results`) and through ``authres``
  (its ``AuthenticationResultsHeader.parse_value``; authres has no ARC-Authentication-Results
  reader, so the ``i=<n>;`` instance tag is cut off for it first): fields read, fields
  refused, microseconds a field. This is the measured reason reading stays ours.
- **A-R writing**: our field composed with ``authres`` (what intake does per message).
- **signature rendering**: a pasted Gmail-style signature read with the nh3 pass (what
  :func:`~inboxcore.policies.signature.render_signature` does) and without it (the parser-only
  sanitizer it replaced), per render.

Each figure is the best of five runs (the machine is shared). Run:
``python benchmarks/bench_headers_html.py``. Figures in ``docs/performance.md``.
"""

from __future__ import annotations

import email
import email.policy
import re
import time
from collections import Counter
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
    "mx.google.com; dkim=pass header.i=@example.com header.s=s1 header.b=abc; "
    "spf=pass (google.com: domain of a@example.com designates 192.0.2.1 as permitted "
    "sender) smtp.mailfrom=a@example.com; dmarc=pass (p=NONE sp=NONE dis=NONE) "
    "header.from=example.com",
    "i=1; mx.example.net; dkim=pass header.d=example.org; spf=none smtp.mailfrom=example.org",
]
SIGNATURE = (
    '<div dir="ltr"><div><b>{agent.full_name}</b> | {company}</div>'
    '<div><a href="mailto:{agent.email}" style="color:#1155cc">{agent.email}</a></div>'
    '<div><img src="https://cdn.acme.example/logo.png" width="96" height="32" alt="Acme"></div>'
    "<div><font size=1>Sent from the support inbox</font></div></div>" * 3
)
_INSTANCE = re.compile(r"\s*i\s*=\s*[0-9]+\s*;")


def _fields() -> list[str]:
    """Every A-R and ARC-A-R value of the corpus, unfolded (authres expects that)."""
    found = []
    if CORPUS.is_dir():
        for path in sorted(CORPUS.rglob("*")):
            if not path.is_file() or path.suffix in (".jsonl", ".md"):
                continue
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.compat32)
            for name in ("Authentication-Results", "ARC-Authentication-Results"):
                found += [" ".join(str(v).split()) for v in message.get_all(name) or ()]
    return found or SAMPLE * 50


def _best(run: Callable[[], object], repeat: int) -> float:
    """Microseconds a call, the best of five runs of ``repeat`` calls."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(repeat):
            run()
        best = min(best, (time.perf_counter() - started) / repeat)
    return best * 1e6


def _authres_reads(value: str) -> str | None:
    """None when authres reads ``value``, else why not."""
    instance = _INSTANCE.match(value)
    try:
        authres.AuthenticationResultsHeader.parse_value(
            value[instance.end() :] if instance else value
        )
    except authres.AuthResError as exc:
        return f"{type(exc).__name__}: {str(exc)[:60]}"
    return None


def _parsing() -> None:
    fields = _fields()
    aar = sum(bool(_INSTANCE.match(v)) for v in fields)
    ours_read = sum(parse_authentication_results(v) is not None for v in fields)
    refusals = Counter(r for v in fields if (r := _authres_reads(v)) is not None)
    ours = _best(lambda: [parse_authentication_results(v) for v in fields], 3) / len(fields)
    theirs = _best(lambda: [_authres_reads(v) for v in fields], 1) / len(fields)
    print(f"A-R fields: {len(fields)} ({len(fields) - aar} A-R, {aar} ARC-A-R)")
    print(f"  ours     read {ours_read:4d}  {ours:7.1f} µs/field")
    read = len(fields) - sum(refusals.values())
    print(f"  authres  read {read:4d}  {theirs:7.1f} µs/field  ({theirs / ours:.1f}x)")
    for reason, count in refusals.most_common():
        print(f"    refused {count:3d}: {reason}")


def _writing() -> None:
    spf = SpfResult(result="pass", domain="acme.example", identity="mailfrom", ip="192.0.2.1")
    write = _best(lambda: results_header("inboxcore", spf, (), None, None), 2000)
    print(f"A-R writing with authres: {write:.1f} µs/message")


def _sanitizing() -> None:
    settings = SignatureSettings(html=SIGNATURE)
    values = signature.SignatureValues(
        agent_full_name="Anna Berg", agent_first_name="Anna", agent_last_name="Berg",
        agent_email="anna@acme.example", company="Acme",
    )  # fmt: skip
    render = _best(lambda: signature.render_signature(settings, values), 200)
    parser_only = _best(lambda: signature._collect(SIGNATURE, sanitized=False), 200)
    with_nh3 = _best(lambda: signature._collect(SIGNATURE), 200)
    print(f"signature ({len(SIGNATURE)} chars): render {render:.0f} µs")
    print(
        f"  reading it: with nh3 {with_nh3:.0f} µs, parser only {parser_only:.0f} µs "
        f"({with_nh3 / parser_only:.2f}x)"
    )


def main() -> None:
    _parsing()
    _writing()
    _sanitizing()


if __name__ == "__main__":
    main()
