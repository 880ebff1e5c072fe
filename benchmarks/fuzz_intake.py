"""The long fuzz run, by hand: many mutated real messages and every pathological generator.

Each input goes through :meth:`inboxcore.app.service.InboxService.receive` (in-memory fakes, DNS
that answers NXDOMAIN) and through ``inboxcore inspect``'s report, checked by the harness of
``tests/fuzzing.py`` (the suite runs the same harness, bounded, in ``tests/test_fuzz.py``).

1. **Mutated corpus**: ``--inputs`` messages of ../shared/corpus, each after two mutations chosen
   by its seed (byte flips, truncation, a charset swapped, a huge line, boundary or header
   damage, a slice repeated). Reported: broken invariants by site (where the exception started in
   inboxcore), the slowest inputs with their seconds per MB, and the process's peak RSS.
2. **Scaling**: every pathological generator, every repeated piece in every placement, and the
   minimal inputs of the fuzz findings, at a size and at four times it. Reported: the time ratio
   (about 4 when linear, 16 when quadratic) and the peak of traced memory over the input size.

Nothing here asserts; the figures go in ``docs/fuzzing.md``. Run from the checkout:

    python benchmarks/fuzz_intake.py --inputs 100000 --seed 0

"""

from __future__ import annotations

import argparse
import collections
import functools
import platform
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzzing import (
    FILLERS,
    FINDINGS,
    PATHOLOGICAL,
    PLACEMENTS,
    UNITS,
    FuzzHarness,
    Outcome,
    corpus_messages,
    mutate,
)

SHARED = Path(__file__).resolve().parents[2] / "shared"

# The base size of each generator for the scaling run (it also runs at four times it).
SIZES = {
    "many_headers": 10_000,
    "deep_multipart": 1_000,
    "many_parts": 25_000,
    "long_header_line": 1_250_000,
    "many_dkim_signatures": 1_000,
    "many_arc_sets": 1_000,
    "qmail_bounce": 1_000,
    "exchange_bounce": 4_000,
    "team_forward": 5_000_000,
}
PIECE_SIZE = 100_000


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_corpus(inputs: int, seed: int, fillers: Sequence[bytes]) -> None:
    """Phase 1: mutated corpus messages; prints the failures by site and the slowest inputs."""
    corpus = corpus_messages(SHARED)
    harness = FuzzHarness()
    sites: collections.Counter[tuple[str, object]] = collections.Counter()
    examples: dict[tuple[str, object], int] = {}
    slowest: list[tuple[float, int, int]] = []
    failed = 0
    started = time.perf_counter()
    for n in range(seed, seed + inputs):
        outcome = harness.run(mutate(corpus[n % len(corpus)], n, fillers=fillers))
        failed += bool(outcome.failures)
        for key in {(f.invariant, f.site) for f in outcome.failures}:
            sites[key] += 1
            examples.setdefault(key, n)
        slowest.append((outcome.receive_seconds + outcome.inspect_seconds, n, outcome.size))
        slowest = sorted(slowest, reverse=True)[:5]
    elapsed = time.perf_counter() - started
    print(f"\n## Mutated corpus: {inputs} inputs (seeds {seed}..{seed + inputs - 1})\n")
    print(f"{len(corpus)} corpus messages; {elapsed:.0f} s in all; peak RSS {_rss_mb():.0f} MB.\n")
    print("| invariant | site (file, function) | inputs | first seed |\n|---|---|---|---|")
    for (invariant, site), count in sites.most_common():
        print(f"| {invariant} | {site} | {count} | {examples[(invariant, site)]} |")
    if not sites:
        print("| (none) | | 0 | |")
    print(f"\nInputs with at least one broken invariant: {failed} of {inputs}.\n")
    print(
        "| slowest seed | size | seconds (receive + inspect) | seconds per MB |\n|---|---|---|---|"
    )
    for seconds, n, size in slowest:
        print(f"| {n} | {size:,} | {seconds:.2f} | {seconds / max(size, 1) * 1e6:.2f} |")


def _measure(raw: bytes, harness: FuzzHarness) -> tuple[Outcome, float, float]:
    """One input: its outcome, its seconds untraced, and its traced peak over its size."""
    outcome = harness.run(raw)
    seconds = outcome.receive_seconds + outcome.inspect_seconds
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        harness.run(raw)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    return outcome, seconds, peak / max(len(raw), 1)


def _scale(name: str, build: Callable[[int], bytes], size: int, harness: FuzzHarness) -> None:
    small, small_seconds, small_memory = _measure(build(size), harness)
    large, large_seconds, large_memory = _measure(build(size * 4), harness)
    ratio = large_seconds / max(small_seconds, 1e-3)
    broken = sorted({f.invariant for f in (*small.failures, *large.failures)})
    print(
        f"| {name} | {size:,} | {large.size:,} | {small_seconds:.2f} | {large_seconds:.2f} "
        f"| {ratio:.1f} | {max(small_memory, large_memory):.1f} | {', '.join(broken) or '-'} |"
    )
    sys.stdout.flush()


def run_scaling() -> None:
    """Phase 2: every generator at a size and at four times it."""
    print("\n## Scaling: each input at n and 4n\n")
    print(
        "| input | n | bytes at 4n | s at n | s at 4n | time ratio | peak memory / size "
        "| broken invariants |\n|---|---|---|---|---|---|---|---|"
    )
    harness = FuzzHarness()
    for name, generator in PATHOLOGICAL.items():
        _scale(name, generator, SIZES[name], harness)
    bounces = FuzzHarness(mail_from="")
    for placement, piece in PLACEMENTS.items():
        for unit in UNITS:
            build = functools.partial(piece, unit)
            _scale(f"{placement} {unit!r}", build, PIECE_SIZE, bounces)
    print("\n## The fuzz findings' minimal inputs\n")
    print("| input | bytes | seconds | peak memory / size | broken invariants |")
    print("|---|---|---|---|---|")
    for name, finding in FINDINGS.items():
        outcome, seconds, memory = _measure(finding(), harness)
        broken = sorted({f"{f.invariant} {f.site or ''}".strip() for f in outcome.failures})
        print(
            f"| {name} | {outcome.size:,} | {seconds:.2f} | {memory:.1f} "
            f"| {'; '.join(broken) or '-'} |"
        )
        sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--inputs", type=int, default=100_000, help="mutated corpus inputs")
    parser.add_argument("--seed", type=int, default=0, help="the first seed")
    parser.add_argument("--skip-corpus", action="store_true", help="only the scaling run")
    parser.add_argument("--skip-scaling", action="store_true", help="only the corpus run")
    args = parser.parse_args()
    print(f"# inboxcore fuzz run: Python {platform.python_version()}, {platform.machine()}")
    print(f"\nCommand: `python benchmarks/fuzz_intake.py {' '.join(sys.argv[1:])}`")
    if not args.skip_corpus:
        if not SHARED.is_dir():
            sys.exit(f"no corpus at {SHARED}")
        run_corpus(args.inputs, args.seed, sorted(FILLERS))
    if not args.skip_scaling:
        run_scaling()


if __name__ == "__main__":
    main()
