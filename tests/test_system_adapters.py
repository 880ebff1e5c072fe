"""The production clock and id source."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from inboxcore.adapters.system import RandomIds, SystemClock


def test_system_clock_is_aware_utc_and_current() -> None:
    """now() is timezone-aware UTC and close to the real time."""
    now = SystemClock().now()
    assert now.tzinfo is not None
    assert now.utcoffset() == timedelta(0)
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)


def test_random_ids_are_short_prefixed_and_unique() -> None:
    """Ids carry their kind's prefix and ten base32 characters; a thousand never repeat."""
    ids = RandomIds()
    made = {ids.new_id("conversation") for _ in range(1000)}
    assert len(made) == 1000
    assert all(re.fullmatch(r"cv-[a-z2-7]{10}", i) for i in made)
    assert ids.new_id("ticket").startswith("tk-")
    assert ids.new_id("widget").startswith("widget-")
    assert len(ids.token_bytes(16)) == 16
    assert ids.token_bytes(16) != ids.token_bytes(16)


def test_prefixes_are_configurable() -> None:
    """A host can name its own prefixes."""
    assert RandomIds({"contact": "person"}).new_id("contact").startswith("person-")
