"""Shared test fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

# No deadline on any Hypothesis example: a deadline is a timed assertion, and this suite runs on
# shared, noisy machines (speed is measured by the benchmarks instead).
settings.register_profile("inboxcore", deadline=None)
settings.load_profile("inboxcore")

# The material in ../shared (real-world corpus, conformance suites) sits beside the checkout; it
# is not part of the project, and tests that read it skip cleanly where it is absent.
SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ../shared folder; the test is skipped where it is absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared is absent")
    return SHARED
