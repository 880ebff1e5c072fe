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
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from inboxcore.adapters.sql import _tables as t
from inboxcore.domain.errors import InvalidValueError, NotFoundError, StorageError
from inboxcore.domain.ids import RawMessageId, raw_message_id
from inboxcore.domain.model import Envelope, StoredRawMessage
from inboxcore.domain.serialization import converter

if TYPE_CHECKING:
    from inboxcore.ports import Storage, UnitOfWork

__all__ = ["SqlRawStore"]

_RAW_ID = re.compile(r"[0-9a-f]{64}")


def _utc(value: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; they are stored in UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _receipt(dialect: str, envelope: Envelope | None) -> sa.Insert:
    """The receipt of a put: ``own`` for our own copy, else ``received`` with its envelope."""
    if envelope is None:
        own = {"raw_id": "", "kind": "own", "received_at": None, "envelope": None}
        return t.insert_ignoring(dialect, t.RAW_RECEIPTS, own, ["raw_id"])
    received: dict[str, Any] = {
        "raw_id": "",
        "kind": "received",
        "received_at": _utc(envelope.received_at),
        "envelope": converter.unstructure(envelope),
    }
    # The first envelope stays; an own copy or a legacy row learns the envelope.
    stored_kind = t.RAW_RECEIPTS.c.kind
    return t.upsert(dialect, t.RAW_RECEIPTS, received, ["raw_id"], where=stored_kind != "received")


# The statements of a put, built once (put_in runs them as prepared statements).
_DIALECTS = ("sqlite", "postgresql")
_EXISTS = sa.select(t.RAW_MESSAGES.c.raw_id).where(
    t.RAW_MESSAGES.c.raw_id == sa.bindparam("raw_id")
)
_INSERT_BYTES = {
    d: t.insert_ignoring(d, t.RAW_MESSAGES, {"raw_id": "", "size": 0, "data": b""}, ["raw_id"])
    for d in _DIALECTS
}
_OWN_RECEIPT = {d: _receipt(d, None) for d in _DIALECTS}
_RECEIVED_RECEIPT = {
    d: _receipt(d, Envelope(received_at=datetime(2000, 1, 1, tzinfo=UTC))) for d in _DIALECTS
}


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
                absent = not self._exists(connection, raw_id)
                for statement, values in self._writes(absent, raw_id, data, envelope):
                    connection.execute(statement, values)
                connection.commit()
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"could not store raw message {raw_id}: {exc}") from exc
        return raw_id

    def joins(self, storage: Storage) -> bool:
        """Whether ``storage`` is a :class:`~inboxcore.adapters.sql.SqlStorage` on this store's
        engine: then :meth:`put_in` writes in its units of work, and the service records each
        received message with its bytes in one transaction (one commit instead of two)."""
        return getattr(storage, "engine", None) is self._engine

    def put_in(
        self, uow: UnitOfWork, data: bytes, envelope: Envelope | None = None
    ) -> RawMessageId:
        """:meth:`put` inside ``uow``, a unit of work of the storage this store
        :meth:`joins`: durable when it commits, gone if it rolls back."""
        from inboxcore.adapters.sql.storage import SqlUnitOfWork

        if not isinstance(uow, SqlUnitOfWork) or uow.engine is not self._engine:
            raise InvalidValueError("put_in needs a unit of work of the storage on this engine")
        raw_id = raw_message_id(data)
        # No existence check first (put's): the insert ignores a copy already stored, and a
        # round trip a message costs more than sending a duplicate's bytes again.
        for statement, values in self._writes(True, raw_id, data, envelope):
            uow.run_prepared(statement, values, write=True)
        return raw_id

    def _writes(
        self, absent: bool, raw_id: RawMessageId, data: bytes, envelope: Envelope | None
    ) -> list[tuple[sa.Insert, dict[str, Any]]]:
        """The statements of a put: the bytes only when ``absent`` (do not send megabytes to
        the database again), then the receipt."""
        writes: list[tuple[sa.Insert, dict[str, Any]]] = []
        if absent:
            values = {"raw_id": raw_id, "size": len(data), "data": bytes(data)}
            writes.append((_INSERT_BYTES[self._dialect], values))
        if envelope is None:
            writes.append((_OWN_RECEIPT[self._dialect], {"raw_id": raw_id}))
        else:
            received = {
                "raw_id": raw_id,
                "received_at": _utc(envelope.received_at),
                "envelope": converter.unstructure(envelope),
            }
            writes.append((_RECEIVED_RECEIPT[self._dialect], received))
        return writes

    def _begin(self, connection: Connection) -> None:
        """On SQLite, whose driver runs in autocommit mode, open the put's one transaction: one
        commit and one WAL flush for the bytes and the receipt, not one each (and never the
        bytes without their receipt). PostgreSQL's connection is in a transaction already."""
        if self._dialect == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")

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
        return connection.execute(_EXISTS, {"raw_id": raw_id}).first() is not None

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
