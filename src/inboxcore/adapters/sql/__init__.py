"""SQL storage on SQLAlchemy 2: SQLite as the embedded default, PostgreSQL at scale.

Install the extra: ``pip install 'inboxcore[sql]'`` (SQLite) or ``'inboxcore[postgres]'``::

    from inboxcore.adapters.sql import SqlStorage

    storage = SqlStorage.from_url("sqlite:///var/lib/helpdesk/inbox.db")   # migrates the schema
    raw_store = storage.raw_store()          # or DirectoryRawStore("/var/lib/helpdesk/raw")
    with storage.unit_of_work() as uow:
        channel = uow.channels.by_forwarding_address("support@acme.inbox.example")

    storage = SqlStorage.from_url("postgresql://inbox:secret@db/helpdesk", schema="inboxcore")

Everything SQLAlchemy stays inside this package: the rest of inboxcore sees only the ports. See
``docs/storage-and-scale.md`` for transactions, many workers, backups and migrations.
"""

from inboxcore.adapters.sql.engine import make_engine
from inboxcore.adapters.sql.migrations import (
    LATEST_VERSION,
    MIGRATIONS,
    Migration,
    migrate,
    schema_version,
)
from inboxcore.adapters.sql.rawstore import SqlRawStore
from inboxcore.adapters.sql.storage import SqlStorage, SqlUnitOfWork

__all__ = [
    "LATEST_VERSION",
    "MIGRATIONS",
    "Migration",
    "SqlRawStore",
    "SqlStorage",
    "SqlUnitOfWork",
    "make_engine",
    "migrate",
    "schema_version",
]
