"""The raw-message store in database tables, beside the records.

``inboxcore_raw_messages`` holds the bytes, keyed by their SHA-256; ``inboxcore_raw_receipts``
holds, per message, whether it was received (with its envelope and time) or is our own outbound
copy, or ``legacy`` for a message stored before envelopes were kept. A put writes both in one
transaction: the bytes with ``INSERT ... ON CONFLICT DO NOTHING`` (idempotent, and safe when many
workers store the same message at once), the receipt so that the first envelope stays. Durable
when it returns. Listing received messages reads only the receipts, never the bytes. It suits
deployments that want one thing to back up; at large volume the directory store (or an object
store) keeps the database small.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from inboxcore.adapters.sql import _tables as t
from inboxcore.domain.errors import InvalidValueError, NotFoundError, StorageError
from inboxcore.domain.ids import RawMessageId, raw_message_id
from inboxcore.domain.model import Envelope, StoredRawMessage
from inboxcore.domain.serialization import converter

__all__ = ["SqlRawStore"]

_RAW_ID = re.compile(r"[0-9a-f]{64}")


def _utc(value: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; they are stored in UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class SqlRawStore:
    """The :class:`~inboxcore.ports.RawMessageStore` port on tables of the SQL storage.

    Use the engine of a migrated :class:`~inboxcore.adapters.sql.SqlStorage`
    (``storage.raw_store()``).
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name

    def put(self, data: bytes, envelope: Envelope | None = None) -> RawMessageId:
        raw_id = raw_message_id(data)
        try:
            with self._engine.connect() as connection:
                self._begin(connection)
                if not self._exists(connection, raw_id):
                    # Only when absent: do not send megabytes to the database again.
                    values = {"raw_id": raw_id, "size": len(data), "data": bytes(data)}
                    connection.execute(
                        t.insert_ignoring(self._dialect, t.RAW_MESSAGES, values, ["raw_id"])
                    )
                connection.execute(self._receipt(raw_id, envelope))
                connection.commit()
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"could not store raw message {raw_id}: {exc}") from exc
        return raw_id

    def _begin(self, connection: Connection) -> None:
        """On SQLite, whose driver runs in autocommit mode, open the put's one transaction: one
        commit and one WAL flush for the bytes and the receipt, not one each (and never the
        bytes without their receipt). PostgreSQL's connection is in a transaction already."""
        if self._dialect == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    def _receipt(self, raw_id: RawMessageId, envelope: Envelope | None) -> sa.Insert:
        if envelope is None:
            own = {"raw_id": raw_id, "kind": "own", "received_at": None, "envelope": None}
            return t.insert_ignoring(self._dialect, t.RAW_RECEIPTS, own, ["raw_id"])
        received: dict[str, Any] = {
            "raw_id": raw_id,
            "kind": "received",
            "received_at": _utc(envelope.received_at),
            "envelope": converter.unstructure(envelope),
        }
        # The first envelope stays; an own copy or a legacy row learns the envelope.
        stored_kind = t.RAW_RECEIPTS.c.kind
        return t.upsert(
            self._dialect, t.RAW_RECEIPTS, received, ["raw_id"], where=stored_kind != "received"
        )

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
        try:
            with self._engine.connect() as connection:
                return self._exists(connection, raw_id)
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"could not look up raw message {raw_id}: {exc}") from exc

    @staticmethod
    def _exists(connection: Connection, raw_id: RawMessageId) -> bool:
        c = t.RAW_MESSAGES.c
        return connection.execute(sa.select(c.raw_id).where(c.raw_id == raw_id)).first() is not None

    def received(
        self,
        *,
        before: datetime,
        since: datetime | None = None,
        after: RawMessageId | None = None,
        limit: int = 100,
    ) -> tuple[StoredRawMessage, ...]:
        if limit < 1:
            raise InvalidValueError(f"a page holds at least one message, not {limit}")
        c = t.RAW_RECEIPTS.c
        query = (
            sa.select(c.raw_id, c.received_at, c.envelope)
            .where(c.kind != "own", c.received_at < _utc(before))
            .order_by(c.raw_id)
            .limit(limit)
        )
        if since is not None:
            query = query.where(c.received_at >= _utc(since))
        if after is not None:
            query = query.where(c.raw_id > after)
        try:
            with self._engine.connect() as connection:
                rows = connection.execute(query).all()
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"could not list raw messages: {exc}") from exc
        return tuple(
            StoredRawMessage(
                raw_id=RawMessageId(raw_id),
                received_at=_utc(received_at),
                envelope=None if data is None else converter.structure(data, Envelope),
            )
            for raw_id, received_at, data in rows
        )

    def ids(self) -> Iterator[RawMessageId]:
        """Every stored id, in id order (for backups checks and audits)."""
        c = t.RAW_MESSAGES.c
        try:
            with self._engine.connect() as connection:
                rows = connection.execute(sa.select(c.raw_id).order_by(c.raw_id)).all()
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"could not list raw messages: {exc}") from exc
        return iter([RawMessageId(row[0]) for row in rows])
