"""The SQL storage passes the storage contract on SQLite and PostgreSQL, and migrates."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy", reason="the SQL storage needs the sql extra")

from inboxcore.adapters.sql import SqlStorage
from inboxcore.testing.contracts import StorageContract
from tests.sql_support import postgres_url, throwaway_schema


class TestSqliteStorage(StorageContract):
    @pytest.fixture(autouse=True)
    def _workspace(self, tmp_path: Path) -> Iterator[None]:
        self._dir = tmp_path
        self._made: list[SqlStorage] = []
        yield
        for storage in self._made:
            storage.close()

    def make_storage(self) -> SqlStorage:
        path = self._dir / f"inbox-{len(self._made)}.db"
        storage = SqlStorage.from_url(f"sqlite:///{path}")
        self._made.append(storage)
        return storage


class TestPostgresStorage(StorageContract):
    @pytest.fixture(autouse=True)
    def _workspace(self) -> Iterator[None]:
        self._url = postgres_url()
        with ExitStack() as stack:
            self._stack = stack
            yield

    def make_storage(self) -> SqlStorage:
        schema = self._stack.enter_context(throwaway_schema(self._url))
        storage = SqlStorage.from_url(self._url, schema=schema)
        self._stack.callback(storage.close)
        return storage
