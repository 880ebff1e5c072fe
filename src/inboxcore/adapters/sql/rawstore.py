"""The raw-message store in a database table, beside the records.

One table, ``inboxcore_raw_messages``, keyed by the SHA-256 of the bytes. A put is one
autocommitted ``INSERT ... ON CONFLICT DO NOTHING``: durable when it returns, idempotent, and
safe when many workers store the same message at once. It suits deployments that want one thing
to back up; at large volume the directory store (or an object store) keeps the database small.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from inboxcore.adapters.sql import _tables as t
from inboxcore.domain.errors import NotFoundError, StorageError
from inboxcore.domain.ids import RawMessageId, raw_message_id

__all__ = ["SqlRawStore"]

_RAW_ID = re.compile(r"[0-9a-f]{64}")


class SqlRawStore:
    """The :class:`~inboxcore.ports.RawMessageStore` port on a table of the SQL storage.

    Use the engine of a migrated :class:`~inboxcore.adapters.sql.SqlStorage`
    (``storage.raw_store()``).
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name

    def put(self, data: bytes) -> RawMessageId:
        raw_id = raw_message_id(data)
        if self.contains(raw_id):
            return raw_id  # already stored: do not send megabytes to the database again
        values = {"raw_id": raw_id, "size": len(data), "data": bytes(data)}
        statement = t.insert_ignoring(self._dialect, t.RAW_MESSAGES, values, ["raw_id"])
        try:
            with self._engine.connect() as connection:
                connection.execute(statement)
                connection.commit()
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"could not store raw message {raw_id}: {exc}") from exc
        return raw_id

    def get(self, raw_id: RawMessageId) -> bytes:
        if not _RAW_ID.fullmatch(raw_id):
            raise NotFoundError(f"no raw message {raw_id!r} (not a SHA-256 id)")
        c = t.RAW_MESSAGES.c
        try:
            with self._engine.connect() as connection:
                row = connection.execute(sa.select(c.data).where(c.raw_id == raw_id)).first()
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"could not read raw message {raw_id}: {exc}") from exc
        if row is None:
            raise NotFoundError(f"no raw message {raw_id}")
        data = bytes(row[0])
        if hashlib.sha256(data).hexdigest() != raw_id:
            raise StorageError(f"raw message {raw_id} is corrupted: its content changed")
        return data

    def contains(self, raw_id: RawMessageId) -> bool:
        if not _RAW_ID.fullmatch(raw_id):
            return False
        c = t.RAW_MESSAGES.c
        try:
            with self._engine.connect() as connection:
                found = connection.execute(sa.select(c.raw_id).where(c.raw_id == raw_id)).first()
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"could not look up raw message {raw_id}: {exc}") from exc
        return found is not None

    def ids(self) -> Iterator[RawMessageId]:
        """Every stored id, in id order (for backups checks and audits)."""
        c = t.RAW_MESSAGES.c
        try:
            with self._engine.connect() as connection:
                rows = connection.execute(sa.select(c.raw_id).order_by(c.raw_id)).all()
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"could not list raw messages: {exc}") from exc
        return iter([RawMessageId(row[0]) for row in rows])
