"""The raw store of one receive when the raw message can ride in the unit that records it.

With a :class:`~inboxcore.ports.JoinableRawStore` (the SQL table store on the storage's own
database), :meth:`~inboxcore.app.service.InboxService.receive` hands intake a
:class:`StagedRawStore`: ``put`` keeps the bytes in memory and returns their id, and the unit of
work that logs the message writes them just before it commits
(:func:`~inboxcore.app.recording.commit_logged`). One commit a message instead of two; the
bytes are never stored without the record that lists them, nor the record without its bytes.

Nothing is acknowledged before that commit, so a crash or a failed commit loses nothing the
sender does not still hold: the answer is a 451 and the sender retries.
"""

from __future__ import annotations

from datetime import datetime

from inboxcore.domain.ids import RawMessageId, raw_message_id
from inboxcore.domain.model import Envelope, StoredRawMessage
from inboxcore.ports import JoinableRawStore, UnitOfWork

__all__ = ["StagedRawStore"]


class StagedRawStore:
    """A :class:`~inboxcore.ports.RawMessageStore` for one receive: puts wait for the unit of
    work that records them (:meth:`write_into`); reads see them at once."""

    def __init__(self, store: JoinableRawStore) -> None:
        self._store = store
        self._pending: dict[RawMessageId, tuple[bytes, Envelope | None]] = {}

    def put(self, data: bytes, envelope: Envelope | None = None) -> RawMessageId:
        raw_id = raw_message_id(data)
        self._pending.setdefault(raw_id, (bytes(data), envelope))  # the first envelope stays
        return raw_id

    def write_into(self, uow: UnitOfWork) -> None:
        """Write the waiting messages in ``uow`` (before its commit). They stay waiting: a unit
        that lost a race starts over and writes them again (the writes are idempotent)."""
        for data, envelope in self._pending.values():
            self._store.put_in(uow, data, envelope)

    def get(self, raw_id: RawMessageId) -> bytes:
        waiting = self._pending.get(raw_id)
        return waiting[0] if waiting is not None else self._store.get(raw_id)

    def contains(self, raw_id: RawMessageId) -> bool:
        return raw_id in self._pending or self._store.contains(raw_id)

    def received(
        self,
        *,
        before: datetime,
        since: datetime | None = None,
        after: RawMessageId | None = None,
        limit: int = 100,
    ) -> tuple[StoredRawMessage, ...]:
        # Waiting messages are not received yet: only what a commit made durable is listed.
        return self._store.received(before=before, since=since, after=after, limit=limit)
