"""The recovery sweep: received messages that no intake record lists, run as received.

Such a message was stored and then never recorded: storage failed and the sender gave up
retrying, or an older version answered 250 regardless. Each is run with the envelope stored
beside it (without one, from before envelopes were kept: with its delivery headers, and the
reason ``envelope_missing``), and its record carries ``unrecorded``.

Safe to run from cron beside live intake: messages received less than ``older_than`` ago are
left to the intake still handling them; a message is run only while no record lists it, and one
that a worker records meanwhile is found by the duplicate check and the race-safe commit, and
gets no second record. Running it twice does nothing more.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import attrs

from inboxcore.app.context import ServiceContext
from inboxcore.app.delivery import Delivery, RecoveredMessage, Recovery
from inboxcore.app.recording import latest_listing
from inboxcore.app.settle import settle
from inboxcore.domain.errors import InvalidValueError
from inboxcore.domain.ids import RawMessageId
from inboxcore.domain.model import Envelope, StoredRawMessage
from inboxcore.domain.outcomes import Reason
from inboxcore.ingest import IntakeResult, reprocess
from inboxcore.mail.parsing import parse_message

__all__ = ["DEFAULT_RECOVERY_GRACE", "Handoff", "recover", "run_stored"]

Handoff = Callable[[RawMessageId], object]
"""Takes a raw id to run elsewhere (a task queue's enqueue); raises if it could not."""

DEFAULT_RECOVERY_GRACE = timedelta(minutes=15)
"""How old a stored message must be before :func:`recover` takes it: far longer than intake
takes (the DNS budget is 15 seconds), so no message still being received is raced."""
_PAGE = 200


def recover(
    ctx: ServiceContext,
    *,
    older_than: timedelta = DEFAULT_RECOVERY_GRACE,
    since: datetime | None = None,
    limit: int = 100,
    dry_run: bool = False,
    handoff: Handoff | None = None,
) -> Recovery:
    """Run the received messages that no intake record lists through intake, as received.

    At most ``limit`` messages are run per call (:attr:`Recovery.complete` says whether more
    wait); ``since`` skips messages received before it; ``dry_run`` lists without running.
    ``handoff``: instead of running each message here, hand its raw id to this callable (a
    task queue's enqueue, whose workers run it with
    :func:`~inboxcore.app.split.process_raw`); its record says ``handed_off``. An error the
    callable raises stops the sweep and propagates: what was not handed off is found next time.
    Raises :class:`~inboxcore.domain.errors.InvalidValueError` for a ``limit`` below 1 or a
    negative ``older_than``, and :class:`~inboxcore.domain.errors.StorageError` when the raw
    store or the intake log cannot be read.
    """
    if limit < 1 or older_than < timedelta(0):
        raise InvalidValueError(f"recover needs limit >= 1 and older_than >= 0 (got {limit})")
    before = ctx.clock.now() - older_than
    found: list[RecoveredMessage] = []
    examined = 0
    after: RawMessageId | None = None
    while page := ctx.raw_store.received(before=before, since=since, after=after, limit=_PAGE):
        unrecorded = _unrecorded(ctx, [stored.raw_id for stored in page])
        for stored in page:
            if stored.raw_id in unrecorded:
                if len(found) == limit:
                    return Recovery(
                        examined=examined, messages=tuple(found), complete=False, dry_run=dry_run
                    )
                found.append(_recover_one(ctx, stored, dry_run=dry_run, handoff=handoff))
            examined += 1
        after = page[-1].raw_id
    return Recovery(examined=examined, messages=tuple(found), complete=True, dry_run=dry_run)


def _unrecorded(ctx: ServiceContext, raw_ids: Sequence[RawMessageId]) -> set[RawMessageId]:
    with ctx.storage.unit_of_work() as uow:
        return {
            raw_id
            for raw_id in raw_ids
            if latest_listing(uow.intake_log.for_raw_message(raw_id)) is None
        }


_UNRECORDED = (
    "Stored {when} but never recorded (storage failed before its record was committed); run "
    "again as received by the recovery sweep."
)
_OWN = (
    "Stored before envelopes were kept, and its Message-ID is ours: a copy of our own outbound "
    "mail, not run."
)
_NO_ENVELOPE = (
    "Stored before envelopes were kept: the recipient comes from its delivery headers "
    "(Delivered-To, X-Original-To), the sending server is unknown."
)


_HANDED_OFF = "Handed to the task queue, whose workers run it as received."


def _recover_one(
    ctx: ServiceContext, stored: StoredRawMessage, *, dry_run: bool, handoff: Handoff | None
) -> RecoveredMessage:
    when = f"{stored.received_at:%Y-%m-%d %H:%M} UTC"
    reasons = [Reason(code="unrecorded", message=_UNRECORDED.format(when=when))]
    envelope = stored.envelope
    if envelope is None:
        if _own_copy(ctx, stored.raw_id):
            own = Reason(code="own_message", message=_OWN)
            return RecoveredMessage(
                raw_id=stored.raw_id, received_at=stored.received_at, reasons=(own,)
            )
        envelope = Envelope(received_at=stored.received_at)
        reasons.append(Reason(code="envelope_missing", message=_NO_ENVELOPE))
    if dry_run:
        return RecoveredMessage(
            raw_id=stored.raw_id, received_at=stored.received_at, reasons=tuple(reasons)
        )
    if handoff is not None:
        handoff(stored.raw_id)
        reasons.append(Reason(code="handed_off", message=_HANDED_OFF))
        return RecoveredMessage(
            raw_id=stored.raw_id, received_at=stored.received_at, reasons=tuple(reasons)
        )
    return RecoveredMessage(
        raw_id=stored.raw_id,
        received_at=stored.received_at,
        reasons=tuple(reasons),
        delivery=run_stored(ctx, stored.raw_id, envelope, reasons),
    )


def run_stored(
    ctx: ServiceContext,
    raw_id: RawMessageId,
    envelope: Envelope,
    reasons: Sequence[Reason] = (),
    *,
    retry_later: bool = False,
) -> Delivery:
    """Run a stored message that no record listed as received, ``reasons`` first on its record.
    Settled as recovering: a worker that records it meanwhile keeps the only record.
    ``retry_later``: see :func:`inboxcore.ingest.reprocess`."""
    result = reprocess(
        raw_id, envelope, ports=ctx.intake, config=ctx.intake_config, retry_later=retry_later
    )
    return settle(ctx, _with_reasons(result, reasons), recovering=True)


def _own_copy(ctx: ServiceContext, raw_id: RawMessageId) -> bool:
    """Whether a message stored without an envelope carries one of our Message-IDs."""
    message_id = parse_message(ctx.raw_store.get(raw_id)).message_id or ""
    domain = message_id.rpartition("@")[2].strip("<> ").lower()
    return domain in ctx.intake_config.own_message_id_domains


def _with_reasons(result: IntakeResult, reasons: Sequence[Reason]) -> IntakeResult:
    """``result`` with the sweep's reasons first, so its record says why it was run."""
    return attrs.evolve(result, reasons=(*reasons, *result.reasons))
