"""Every scenario of tests/test_service.py, run again on SQLite and on PostgreSQL.

The scenarios are not copied: this module imports each ``test_*`` function of
``tests.test_service`` and swaps the backend its ``world()`` builds (``make_storage``) for a
:class:`~inboxcore.adapters.sql.SqlStorage` wrapped in :class:`~inboxcore.testing.FlakyStorage`,
which gives the SQL store the in-memory store's ``fail_next_commits``. A scenario added there runs
here too. SQLite is a file in the test's temporary directory; PostgreSQL runs when
``INBOXCORE_TEST_POSTGRES`` names a database (each test gets its own schema, dropped afterwards)
and is skipped with that reason otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("sqlalchemy", reason="the SQL storage needs the sql extra")

from inboxcore.adapters.sql import SqlStorage
from inboxcore.domain.model import Account, Channel, Contact, Conversation, Message, Ticket
from inboxcore.domain.outcomes import Disposition
from inboxcore.testing import FlakyStorage
from tests import test_service as scenarios
from tests.sql_support import database_url

SCENARIOS: dict[str, Callable[..., Any]] = {
    name: value
    for name, value in vars(scenarios).items()
    if name.startswith("test_") and callable(value)
}
globals().update(SCENARIOS)


@pytest.fixture(autouse=True, params=["sqlite", "postgres"])
def sql_backend(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[FlakyStorage[SqlStorage]]]:
    """Make every ``world()`` of the test build its storage on a fresh SQL database."""
    with ExitStack() as stack:
        url, schema = database_url(request.param, tmp_path, stack)
        made: list[FlakyStorage[SqlStorage]] = []

        def make_storage() -> FlakyStorage[SqlStorage]:
            if made:  # a scenario builds one world; a second one would share the database
                raise AssertionError("one world per scenario on the SQL backend")
            inner = SqlStorage.from_url(url, schema=schema)
            stack.callback(inner.close)
            made.append(FlakyStorage(inner))
            return made[-1]

        monkeypatch.setattr(scenarios, "make_storage", make_storage)
        yield made


def test_every_scenario_is_collected_here() -> None:
    """The import picked up every scenario of tests/test_service.py (a dozen and more)."""
    assert len(SCENARIOS) >= 15
    assert all(name in globals() for name in SCENARIOS)


def test_world_runs_on_the_sql_store(sql_backend: list[FlakyStorage[SqlStorage]]) -> None:
    """world() here builds on SqlStorage of the backend in use, migrated and seeded."""
    w = scenarios.world()
    (flaky,) = sql_backend
    assert w.storage is flaky
    assert isinstance(flaky.inner, SqlStorage)
    assert flaky.inner.dialect in ("sqlite", "postgresql")
    assert [c.id for c in flaky.inner.records(Channel)] == [w.channel.id]
    assert len(flaky.inner.records(Account)) == 1


def test_a_refused_sql_commit_leaves_no_row_behind(
    sql_backend: list[FlakyStorage[SqlStorage]],
) -> None:
    """A commit failure on the database: a 451, no half-written rows, then the retry lands."""
    w = scenarios.world()
    (flaky,) = sql_backend
    flaky.fail_next_commits()
    held = w.service.receive(scenarios.mail(), scenarios.envelope())
    assert (held.smtp.code, held.reason_codes) == (451, ("storage_unavailable",))
    assert held.raw_id is not None
    inner = flaky.inner
    for kind in (Contact, Conversation, Message, Ticket):
        assert inner.records(kind) == ()
    assert inner.intake_records() == ()
    again = w.service.receive(scenarios.mail(), scenarios.envelope())
    assert again.disposition is Disposition.ACCEPTED
    assert [len(inner.records(k)) for k in (Conversation, Message)] == [1, 1]


def test_an_unacknowledged_commit_is_found_again_not_doubled(
    sql_backend: list[FlakyStorage[SqlStorage]],
) -> None:
    """Commit applied but its answer lost: the intake log shows it applied, so it is accepted."""
    w = scenarios.world()
    (flaky,) = sql_backend
    flaky.fail_after_next_commits()
    delivery = w.service.receive(scenarios.mail(), scenarios.envelope())
    assert delivery.disposition is Disposition.ACCEPTED
    assert len(flaky.records(Message)) == 1
    again = w.service.receive(scenarios.mail(), scenarios.envelope())
    assert again.disposition is Disposition.DUPLICATE
    assert len(flaky.records(Conversation)) == 1
    assert len(flaky.records(Message)) == 1
