"""The ARC chain validation suite (ValiMail arc_test_suite) through the in-memory DNS.

Every case must pass. An empty expected ``cv`` is a failed chain (RFC 8617 section 5.2).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from inboxcore.auth.arc import validate_arc
from inboxcore.testing import InMemoryDns

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def _scenarios(shared_dir: Path) -> list[dict[str, Any]]:
    path = shared_dir / "conformance" / "arc" / "arc-draft-validation-tests.yml"
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def test_every_arc_validation_case_passes(shared_dir: Path) -> None:
    """All 171 cases of the suite give the expected chain validation result."""
    failures = []
    total = 0
    for scenario in _scenarios(shared_dir):
        dns = InMemoryDns(
            {name: {"TXT": value} for name, value in scenario.get("txt-records", {}).items()}
        )
        for name, case in scenario["tests"].items():
            total += 1
            expected = (case.get("cv") or "fail").strip().lower()
            result = validate_arc(case["message"].encode("utf-8"), dns, now=NOW)
            if result.result != expected:
                failures.append(
                    f"{name}: expected {expected}, got {result.result} ({result.reason})"
                )
    assert failures == []
    assert total == 171


def test_suite_cases_cover_every_expected_result(shared_dir: Path) -> None:
    """The suite exercises pass, fail, none and the empty (fail) cv, so passing it means something."""
    seen = {
        str(case.get("cv") or "").strip().lower()
        for scenario in _scenarios(shared_dir)
        for case in scenario["tests"].values()
    }
    assert seen == {"pass", "fail", "none", ""}
