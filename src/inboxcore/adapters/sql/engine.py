"""Engines configured the way the SQL storage needs them.

SQLite: a file (WAL journal so readers never wait for the writer, ``synchronous=FULL`` so a
committed message survives a power cut, foreign keys on, a busy timeout so writers queue for the
lock), with the driver in autocommit mode so that the unit of work decides when the write
transaction begins (``BEGIN IMMEDIATE`` at its first write).

PostgreSQL: psycopg 3, READ COMMITTED, connections checked before use (a restarted server does
not fail the next unit of work), and an optional schema first in the ``search_path``.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

from inboxcore.adapters.sql.migrations import check_schema_name
from inboxcore.domain.errors import InvalidValueError

__all__ = ["make_engine", "prepared_for_inboxcore"]


def _switch_to_wal(cursor: Any) -> None:
    """Put the database file in WAL mode (it stays so), retrying while others hold it.

    The switch needs the file to itself, and SQLite may answer "locked" at once rather than
    wait, when several workers open a new database together. Once any of them succeeded, the
    others find the file in WAL mode already.
    """
    cursor.execute("PRAGMA busy_timeout")
    deadline = time.monotonic() + max(int(cursor.fetchone()[0]), 1000) / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            if str(cursor.fetchone()[0]).lower() == "wal":
                return
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise sqlite3.OperationalError("could not switch the database to WAL mode")
        time.sleep(0.02)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # The driver would BEGIN before the first DML statement on its own; the unit of work
    # begins with BEGIN IMMEDIATE instead, and reads before it run on committed data.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode")
        if str(cursor.fetchone()[0]).lower() != "wal":
            _switch_to_wal(cursor)
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def prepared_for_inboxcore(engine: Engine) -> bool:
    """Whether ``engine`` came from :func:`make_engine` (SQLite needs its connection setup)."""
    return engine.dialect.name != "sqlite" or sa.event.contains(
        engine, "connect", _on_sqlite_connect
    )


def _sqlite_file(url: URL) -> None:
    database = url.database or ""
    in_memory = database in ("", ":memory:") or url.query.get("mode") == "memory"
    if in_memory:
        raise InvalidValueError(
            "SQLite storage needs a file (sqlite:///path/inbox.db): an in-memory database "
            "is private to one connection and cannot hold concurrent units of work"
        )


def make_engine(
    url: str | URL,
    *,
    schema: str | None = None,
    busy_timeout: float = 30.0,
    pool_size: int = 5,
    max_overflow: int = 10,
    echo: bool = False,
) -> Engine:
    """An engine for :class:`~inboxcore.adapters.sql.SqlStorage` on ``url``.

    ``busy_timeout`` (seconds, SQLite) is how long a writer waits for the write lock before the
    unit of work fails with :class:`~inboxcore.domain.errors.StorageError`. ``schema`` (PostgreSQL)
    is put first in the ``search_path``. ``postgresql://`` URLs use psycopg 3.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if schema is not None:
            raise InvalidValueError("SQLite has no schemas: use one database file per store")
        _sqlite_file(parsed)
        engine = sa.create_engine(
            parsed,
            connect_args={"timeout": busy_timeout, "check_same_thread": False},
            poolclass=sa.pool.QueuePool,
            pool_size=pool_size,
            max_overflow=max_overflow,
            echo=echo,
        )
        sa.event.listen(engine, "connect", _on_sqlite_connect)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        connect_args: dict[str, Any] = {}
        if schema is not None:
            connect_args["options"] = f"-csearch_path={check_schema_name(schema)}"
        return sa.create_engine(
            parsed,
            isolation_level="READ COMMITTED",
            pool_pre_ping=True,
            pool_size=pool_size,
            max_overflow=max_overflow,
            connect_args=connect_args,
            echo=echo,
        )
    raise InvalidValueError(f"SQL storage supports sqlite and postgresql URLs, not {backend!r}")
