"""Helpers shared by the SQL storage tests: where PostgreSQL is, and throwaway schemas on it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from inboxcore.domain.model import Account, Channel

POSTGRES_ENV = "INBOXCORE_TEST_POSTGRES"
"""Names a PostgreSQL database the tests may create and drop schemas in."""


def postgres_url() -> str:
    """The URL from ``INBOXCORE_TEST_POSTGRES``; the test is skipped when it is not set."""
    url = os.environ.get(POSTGRES_ENV, "")
    if not url:
        pytest.skip(
            f"PostgreSQL tests need {POSTGRES_ENV}=postgresql+psycopg://user:pw@host/db "
            "(.ci/run starts a server and sets it)"
        )
    return url


def new_schema_name() -> str:
    return f"t_{uuid.uuid4().hex[:16]}"


@contextmanager
def throwaway_schema(url: str) -> Iterator[str]:
    """A fresh schema name; the schema and everything in it is dropped afterwards."""
    import sqlalchemy as sa

    from inboxcore.adapters.sql import make_engine

    name = new_schema_name()
    try:
        yield name
    finally:
        engine = make_engine(url, pool_size=1)
        try:
            with engine.begin() as connection:
                connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        except sa.exc.SQLAlchemyError:  # pragma: no cover - a dead server fails the test anyway
            pass
        finally:
            engine.dispose()


def database_url(backend: str, tmp_path: Path, stack: ExitStack) -> tuple[str, str | None]:
    """``(url, schema)`` of a fresh database: a SQLite file in ``tmp_path``
    (``backend="sqlite"``), or a PostgreSQL schema dropped when ``stack`` closes."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'inbox.db'}", None
    url = postgres_url()
    return url, stack.enter_context(throwaway_schema(url))


@contextmanager
def seeded_database(
    backend: str, tmp_path: Path, account: Account, channel: Channel
) -> Iterator[tuple[str, str | None]]:
    """A migrated SQLite file (``backend="sqlite"``) or throwaway PostgreSQL schema holding
    ``account`` and ``channel``: yields ``(url, schema)`` for worker processes to open."""
    from inboxcore.adapters.sql import SqlStorage

    with ExitStack() as stack:
        url, schema = database_url(backend, tmp_path, stack)
        storage = SqlStorage.from_url(url, schema=schema)
        stack.callback(storage.close)
        with storage.unit_of_work() as uow:
            uow.accounts.add(account)
            uow.channels.add(channel)
            uow.commit()
        yield url, schema
