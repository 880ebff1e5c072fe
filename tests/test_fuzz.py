"""Fuzzing as a habit: the bounded run of the harness in ``tests/fuzzing.py``.

Mutated real messages (../shared/corpus; skipped where it is absent), the minimal inputs of the
fuzz findings and pathological generators go through :meth:`InboxService.receive` and
``inboxcore inspect``'s report, and every input must keep the invariants (no exception, a reply
of the verdict's class, 2xx only with an intake record, a report that is JSON). The sizes are
those at which quadratic work would take minutes; nothing here times anything. The long run by
hand is ``benchmarks/fuzz_intake.py``, its figures in ``docs/fuzzing.md``.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inboxcore import ingest
from inboxcore.auth.arc import validate_arc
from inboxcore.auth.dkim_verify import verify_dkim
from inboxcore.testing import InMemoryDns
from tests.fuzzing import (
    FILLERS,
    FINDINGS,
    NOW,
    PATHOLOGICAL,
    PLACEMENTS,
    UNITS,
    FuzzHarness,
    corpus_messages,
    many_arc_sets,
    many_dkim_signatures,
    mutate,
)

HARNESS = FuzzHarness()
BOUNCES = FuzzHarness(mail_from="")


# Each generator at a size where quadratic work would take minutes.
SIZES = {
    "many_headers": 10_000,
    "deep_multipart": 1_000,
    "many_parts": 100_000,
    "long_header_line": 5_000_000,
    "many_dkim_signatures": 1_000,
    "many_arc_sets": 1_000,
    "qmail_bounce": 1_000,
    "exchange_bounce": 4_000,
    "team_forward": 5_000_000,
}


@functools.cache
def _corpus(shared: Path) -> tuple[bytes, ...]:
    return tuple(corpus_messages(shared))


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_mutated_corpus_messages_keep_the_invariants(shared_dir: Path, data: st.DataObject) -> None:
    """A real message after byte flips, truncation, a swapped charset, a huge line, a damaged
    boundary or header, a repeated slice: a verdict and a report, never an exception."""
    corpus = _corpus(shared_dir)
    index = data.draw(st.integers(0, len(corpus) - 1), label="message")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    outcome = HARNESS.run(mutate(corpus[index], seed, fillers=FILLERS))
    assert outcome.failures == ()


def test_the_harness_sees_a_crash_inside_intake(monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness is not blind: a crash the service turns into a quarantine is reported, with
    the inboxcore function it came through."""

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("classifier on fire")

    monkeypatch.setattr(ingest, "classify", crash)
    outcome = HARNESS.run(FINDINGS["qmail_bounce_250"]())
    found = {(f.invariant, f.site) for f in outcome.failures}
    assert ("internal_error", None) in found
    assert ("logged_exception", ("ingest.py", "_classify")) in found


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.slow) if name == "team_forward_27mb" else name
        for name in sorted(FINDINGS)
    ],
)
def test_each_finding_ends_in_a_verdict(name: str) -> None:
    """Each minimal input of the fuzz findings gets a verdict within the invariants."""
    outcome = HARNESS.run(FINDINGS[name]())
    assert outcome.failures == ()
    assert outcome.disposition is not None


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
def test_pathological_messages_keep_the_invariants(name: str) -> None:
    """10^4 headers, 10^3-deep multipart, 10^5 parts, a 5 MB header line, 10^3 DKIM
    signatures, 10^3 ARC sets, hostile bounces, a 5 MB forward: a verdict each."""
    outcome = HARNESS.run(PATHOLOGICAL[name](SIZES[name]))
    assert outcome.failures == ()
    assert outcome.reply is not None


@pytest.mark.parametrize("unit", UNITS)
@pytest.mark.parametrize("placement", sorted(PLACEMENTS))
def test_a_piece_repeated_anywhere_keeps_the_invariants(placement: str, unit: str) -> None:
    """A piece that once made some pattern quadratic, repeated to 100 KB in a bounce notice, a
    delivery-status field, a customer's body or a team member's forward."""
    outcome = BOUNCES.run(PLACEMENTS[placement](unit, 100_000))
    assert outcome.failures == ()


def test_dkim_checks_at_most_ten_signatures() -> None:
    """10^3 DKIM signatures of 10^3 domains: ten are checked (ten key lookups), the rest are
    neutral with the reason."""
    dns = InMemoryDns({})
    results = verify_dkim(many_dkim_signatures(1_000), dns, now=NOW)
    assert len(results) == 1_000
    assert len(dns.calls) <= 10
    assert {r.reason for r in results[10:]} == {"not checked: over the limit of 10 signatures"}


def test_arc_past_fifty_sets_fails_without_a_lookup() -> None:
    """10^3 ARC sets: a structure failure, found before any key is fetched."""
    dns = InMemoryDns({})
    result = validate_arc(many_arc_sets(1_000), dns, now=NOW)
    assert (result.result, result.code) == ("fail", "arc.structure")
    assert dns.calls == []
