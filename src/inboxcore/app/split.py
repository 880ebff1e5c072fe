"""Split intake: a receiver stores the raw message and acknowledges, a worker processes it later.

When one machine is not enough, receivers only :func:`store` (the raw store's put, with the
envelope) and hand the raw id to a task queue; workers run :func:`process_raw` on it against the
shared database. A 250 then means *stored durably and queued*: the raw store is the record the
acknowledgement rests on, and the recovery sweep finds whatever was stored but never recorded
(a lost enqueue, a crashed worker).

:func:`process_raw` runs a stored message exactly as the recovery sweep runs one
(:func:`~inboxcore.app.recover.run_stored`), so the same guarantees hold: one message per raw
id however often it runs, since intake's duplicate check inside the unit of work finds a message
a concurrent run stored, and a message an intake record lists already is not run again.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import attrs

from inboxcore.app.context import ServiceContext
from inboxcore.app.delivery import Delivery
from inboxcore.app.recording import commit_logged, listing_record
from inboxcore.app.recover import run_stored
from inboxcore.domain.errors import NotFoundError, StorageError
from inboxcore.domain.events import MessageQuarantined
from inboxcore.domain.ids import RawMessageId
from inboxcore.domain.model import Envelope, IntakeRecord, StoredRawMessage
from inboxcore.domain.outcomes import Disposition, Reason, Reply, SmtpReply

__all__ = [
    "AlreadyRecorded",
    "Stored",
    "find_received",
    "hold_unprocessed",
    "process_raw",
    "store",
]

log = logging.getLogger(__name__)

# Far enough ahead that a receiver's clock running ahead of the worker's still lists it.
_CLOCK_AHEAD = timedelta(days=366)


@attrs.frozen(kw_only=True)
class Stored:
    """What became of storing one received message: ``raw_id`` once the bytes and the envelope
    are durable, else None with the temporary reply to give (the sender keeps it)."""

    raw_id: RawMessageId | None
    smtp: SmtpReply
    reasons: tuple[Reason, ...] = ()

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)


@attrs.frozen(kw_only=True)
class AlreadyRecorded:
    """:func:`process_raw` ran nothing: an intake record lists the message already (a task run
    twice, or one the recovery sweep ran first). ``record`` is the newest listing one."""

    raw_id: RawMessageId
    record: IntakeRecord

    @property
    def disposition(self) -> Disposition:
        return self.record.disposition

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return ("already_recorded", *self.record.reason_codes)


def store(ctx: ServiceContext, data: bytes, envelope: Envelope) -> Stored:
    """Store a received message with its envelope, for a worker to process. Never raises for a
    failing raw store: that is a :class:`Stored` without a raw id and a 451."""
    try:
        raw_id = ctx.raw_store.put(data, envelope)
    except StorageError as exc:
        log.warning("could not store a received message (%s); answering 451", exc)
        reason = Reason(
            code="storage_unavailable",
            message=f"The raw store failed ({exc}); nothing was acknowledged.",
        )
        return Stored(raw_id=None, smtp=Reply.STORAGE_DOWN.value, reasons=(reason,))
    return Stored(raw_id=raw_id, smtp=Reply.ACCEPTED.value)


def process_raw(
    ctx: ServiceContext, raw_id: RawMessageId, *, retry_later: bool = False
) -> Delivery | AlreadyRecorded:
    """Process one stored message with the envelope it was stored with; idempotent.

    A deferral (:attr:`~inboxcore.domain.outcomes.Disposition.DEFERRED`: storage failing, or DNS
    down when ``retry_later`` says the caller will run it again) lists nothing: run it again
    later. Without ``retry_later`` a DNS failure quarantines it for a recheck instead. Raises
    :class:`~inboxcore.domain.errors.NotFoundError` when no received message has that id, and
    :class:`~inboxcore.domain.errors.StorageError` when the log or the raw store cannot be read.
    """
    listing = _listing(ctx, raw_id)
    if listing is not None:
        return AlreadyRecorded(raw_id=raw_id, record=listing)
    stored = find_received(ctx, raw_id)
    if stored is None:
        raise NotFoundError(f"no received message {raw_id} is stored")
    # Stored before envelopes were kept: only the recovery sweep knows how to run those.
    envelope = stored.envelope or Envelope(received_at=stored.received_at)
    return run_stored(ctx, raw_id, envelope, retry_later=retry_later)


def find_received(ctx: ServiceContext, raw_id: RawMessageId) -> StoredRawMessage | None:
    """The received message ``raw_id`` as the raw store lists it, or None.

    The raw store lists received messages a page at a time in raw-id order, starting after a
    given id; raw ids are SHA-256 hex digests of one length, so a page of one starting after
    the id just before ``raw_id`` is that message, if it is stored.
    """
    try:
        before = RawMessageId(f"{int(raw_id, 16) - 1:0{len(raw_id)}x}")
    except ValueError:
        return None
    after = before if int(raw_id, 16) > 0 else None
    page = ctx.raw_store.received(before=ctx.clock.now() + _CLOCK_AHEAD, after=after, limit=1)
    return page[0] if page and page[0].raw_id == raw_id else None


def hold_unprocessed(
    ctx: ServiceContext, raw_id: RawMessageId, reason: Reason
) -> IntakeRecord | AlreadyRecorded:
    """Quarantine a stored message that could not be processed (retries spent), with
    ``reason``: held mail a person can reprocess, release or discard, never dropped. Nothing is
    written when a record lists it by now. Raises :class:`~inboxcore.domain.errors.NotFoundError`
    for an id never received, and :class:`~inboxcore.domain.errors.StorageError` when the
    record cannot be written (the message stays stored, and the recovery sweep finds it)."""
    stored = find_received(ctx, raw_id)
    if stored is None:
        raise NotFoundError(f"no received message {raw_id} is stored")
    entry = IntakeRecord(
        raw_id=raw_id,
        envelope=stored.envelope or Envelope(received_at=stored.received_at),
        disposition=Disposition.QUARANTINED,
        reason_codes=(reason.code,),
        at=ctx.clock.now(),
    )
    with ctx.storage.unit_of_work() as uow:
        history = uow.intake_log.for_raw_message(raw_id)
        listing = listing_record(history)
        if listing is not None:
            return AlreadyRecorded(raw_id=raw_id, record=listing)
        uow.intake_log.record(entry)
        commit_logged(ctx.storage, uow, entry)
    log.warning("quarantined raw message %s: %s", raw_id, reason.message)
    ctx.publish([MessageQuarantined(at=entry.at, raw_id=raw_id, reasons=entry.reason_codes)])
    return entry


def _listing(ctx: ServiceContext, raw_id: RawMessageId) -> IntakeRecord | None:
    with ctx.storage.unit_of_work() as uow:
        return listing_record(uow.intake_log.for_raw_message(raw_id))
