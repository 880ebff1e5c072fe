"""The RFC 7208 SPF test suite (../shared/conformance/spf), run through our DNS port.

Every scenario's ``zonedata`` becomes a :class:`~inboxcore.adapters.dns_static.StaticResolver`
zone, the way the suite's own drivers build theirs:

- a name's ``SPF`` (type 99) records answer TXT queries too when it lists no ``TXT`` (the suite
  writes most records as SPF and relies on drivers duplicating them); ``TXT: NONE`` suppresses that;
- ``TIMEOUT`` makes the name's lookups time out, except those of a type the name lists a record of
  before it (``spftimeout``: the TXT answers, only the dead SPF type would time out, and RFC 7208
  implementations do not ask for it);
- a ``CNAME`` alias answers with its target's records, as a recursive resolver delivers them.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from inboxcore.adapters.dns_static import StaticResolver
from inboxcore.auth.spf import DEFAULT_EXPLANATION, SPF_RESULTS, check_spf

SUITE = Path("conformance") / "spf" / "rfc7208-tests.yml"
_CNAME_DEPTH = 10


def _zone(zonedata: Mapping[str, list[Any]]) -> dict[str, Any]:
    records: dict[str, dict[str, list[Any]]] = {}
    timeouts: set[str] = set()
    for raw_name, items in zonedata.items():
        name = raw_name.lower().rstrip(".")
        by_type = records.setdefault(name, {})
        spf: list[Any] = []
        txt_declared = False
        for item in items:
            if item == "TIMEOUT":
                timeouts.add(name)
                continue
            ((rdtype, value),) = item.items()
            if rdtype == "SPF":
                if value != "NONE":
                    spf.append(value)
                continue
            if rdtype == "TXT":
                txt_declared = True
            if value == "NONE":
                continue
            by_type.setdefault(rdtype, []).append(value)
        if not txt_declared and spf:
            by_type.setdefault("TXT", []).extend(spf)
    _flatten_cnames(records)
    zone: dict[str, Any] = {}
    for name, by_type in records.items():
        usable = {t: v for t, v in by_type.items() if v}
        if name in timeouts and not usable:
            zone[name] = "TIMEOUT"
        else:
            zone[name] = usable
    return zone


def _flatten_cnames(records: dict[str, dict[str, list[Any]]]) -> None:
    """Give each alias its target's records, as a recursive resolver answers for it."""

    def chase(name: str, seen: set[str]) -> dict[str, list[Any]]:
        own = records.get(name, {})
        targets = own.get("CNAME", [])
        if not targets or len(seen) > _CNAME_DEPTH:
            return own
        target = str(targets[0]).lower().rstrip(".")
        if target in seen:
            return {}  # a loop answers nothing
        return chase(target, {*seen, target})

    for name, by_type in list(records.items()):
        if "CNAME" in by_type:
            for rdtype, values in chase(name, {name}).items():
                if rdtype != "CNAME":
                    by_type.setdefault(rdtype, []).extend(values)


@functools.cache
def _load(path: Path) -> tuple[tuple[str, dict[str, Any], dict[str, Any]], ...]:
    found = []
    with path.open("rb") as stream:
        for scenario in yaml.safe_load_all(stream):
            zone = _zone(scenario.get("zonedata") or {})
            for name, test in scenario["tests"].items():
                found.append((name, zone, test))
    return tuple(found)


def _cases(shared: Path) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    yield from _load(shared / SUITE)


def _case_ids() -> list[str]:
    """Case names for parametrization, read where the suite exists (empty elsewhere)."""
    from tests.conftest import SHARED

    if not (SHARED / SUITE).is_file():
        return []
    return [name for name, _, _ in _cases(SHARED)]


def _run(zone: dict[str, Any], test: dict[str, Any]) -> tuple[bool, str]:
    result = check_spf(
        str(test["host"]), test.get("mailfrom"), test.get("helo"), StaticResolver(zone)
    )
    expected = test["result"]
    acceptable = set(expected) if isinstance(expected, list) else {expected}
    if result.result not in acceptable:
        return False, f"got {result.result} ({result.reason}), expected {sorted(acceptable)}"
    wanted = test.get("explanation")
    if wanted is not None:
        wanted = DEFAULT_EXPLANATION if wanted == "DEFAULT" else wanted
        if result.explanation != wanted:
            return False, f"explanation {result.explanation!r}, expected {wanted!r}"
    return True, ""


def test_every_rfc7208_case_passes(shared_dir: Path) -> None:
    """All cases of the RFC 7208 suite give an acceptable result and explanation (score: all)."""
    failures = []
    total = 0
    for name, zone, test in _cases(shared_dir):
        total += 1
        ok, why = _run(zone, test)
        if not ok:
            failures.append(f"{name}: {why}")
    print(f"RFC 7208 SPF suite: {total - len(failures)}/{total} cases pass")
    assert total >= 200
    assert failures == []


@pytest.mark.parametrize("case", _case_ids())
def test_rfc7208_case(case: str, shared_dir: Path) -> None:
    """One named case of the suite (so a regression names the case that broke)."""
    for name, zone, test in _cases(shared_dir):
        if name == case:
            ok, why = _run(zone, test)
            assert ok, why
            return
    pytest.fail(f"case {case} vanished from the suite")


def test_suite_results_are_rfc_words(shared_dir: Path) -> None:
    """The suite expects only RFC 7208 result words, so a pass means the same words we emit."""
    for _name, _, test in _cases(shared_dir):
        expected = test["result"]
        for word in expected if isinstance(expected, list) else [expected]:
            assert word in SPF_RESULTS
