"""DjangoStorage passes the storage contract suite on SQLite and PostgreSQL."""

from __future__ import annotations

from inboxcore.testing.contracts import StorageContract
from tests.django_support import empty_tables, postgres_alias, setup_django


class TestDjangoStorageSqlite(StorageContract):
    def make_storage(self) -> object:  # type: ignore[override]
        setup_django()
        from inboxcore.contrib.django.storage import DjangoStorage

        empty_tables("default")
        return DjangoStorage(using="default")


class TestDjangoStoragePostgres(StorageContract):
    def make_storage(self) -> object:  # type: ignore[override]
        alias = postgres_alias()
        from inboxcore.contrib.django.storage import DjangoStorage

        empty_tables(alias)
        return DjangoStorage(using=alias)
