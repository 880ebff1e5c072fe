"""Mail a person looks at: what was held back and why, letting it in, dropping it, and a
message's source as it should be shown.
"""

from __future__ import annotations

import logging

import attrs

from inboxcore.app.context import ServiceContext
from inboxcore.app.delivery import Delivery
from inboxcore.app.settle import settle
from inboxcore.auth.results import display_source
from inboxcore.domain.errors import NotFoundError, PortError
from inboxcore.domain.events import MessageDiscarded
from inboxcore.domain.ids import AccountId, ChannelId, MessageId, RawMessageId
from inboxcore.domain.model import IntakeRecord, held
from inboxcore.domain.outcomes import Disposition
from inboxcore.ingest import reprocess as reprocess_intake

__all__ = ["discard", "message_source", "quarantined", "rerun"]

log = logging.getLogger(__name__)


def rerun(ctx: ServiceContext, raw_id: RawMessageId, *, release: bool) -> Delivery:
    """Run a stored message through again with the envelope it first came with; ``release``:
    the team trusts it, so the checks' verdict no longer holds it back (their reasons stay on
    record beside ``released``). Raises :class:`~inboxcore.domain.errors.NotFoundError` for an
    id never received."""
    with ctx.storage.unit_of_work() as uow:
        history = uow.intake_log.for_raw_message(raw_id)
    if not history:
        raise NotFoundError(f"no intake record for raw message {raw_id}")
    result = reprocess_intake(
        raw_id, history[0].envelope, ports=ctx.intake, config=ctx.intake_config, release=release
    )
    return settle(ctx, result)


def quarantined(ctx: ServiceContext) -> tuple[IntakeRecord, ...]:
    """Messages held back and not accepted (or discarded) since, oldest first."""
    with ctx.storage.unit_of_work() as uow:
        return uow.intake_log.quarantined()


def discard(ctx: ServiceContext, raw_id: RawMessageId, *, note: str = "") -> IntakeRecord:
    """Take a held message out of quarantine because a person decided it is not wanted (spam
    that got through, a file that was never mail). Never silent: the intake log gets a
    ``discarded`` line, the host a :class:`~inboxcore.domain.events.MessageDiscarded` event,
    and the raw message stays stored. Raises :class:`~inboxcore.domain.errors.NotFoundError`
    when ``raw_id`` is not held."""
    now = ctx.clock.now()
    with ctx.storage.unit_of_work() as uow:
        holding = held(uow.intake_log.for_raw_message(raw_id))
        if holding is None:
            raise NotFoundError(f"raw message {raw_id} is not held back")
        entry = attrs.evolve(
            holding,
            disposition=Disposition.DISCARDED,
            reason_codes=("discarded",),
            at=now,
            message_id=None,
        )
        uow.intake_log.record(entry)
        uow.commit()
    log.info("discarded held message %s%s", raw_id, f" ({note})" if note else "")
    channel = holding.channel_id
    dropped = MessageDiscarded(
        at=now, raw_id=raw_id, note=note, account_id=_account_of(ctx, channel), channel_id=channel
    )
    ctx.publish([dropped])
    return entry


def _account_of(ctx: ServiceContext, channel_id: ChannelId | None) -> AccountId | None:
    if channel_id is None:
        return None
    try:
        with ctx.storage.unit_of_work() as uow:
            return uow.channels.get(channel_id).account_id
    except (NotFoundError, PortError):
        return None


def message_source(ctx: ServiceContext, message_id: MessageId) -> bytes:
    """One message's source as a person should see it ("show original"): the raw message as
    stored, with our own Authentication-Results on top (as intake recorded it) and every
    incoming one claiming our authserv-id renamed, per RFC 8601 section 5
    (:func:`~inboxcore.auth.results.display_source`). The stored bytes are not changed. Raises
    :class:`~inboxcore.domain.errors.NotFoundError` for an unknown message or one with no
    stored raw message."""
    with ctx.storage.unit_of_work() as uow:
        message = uow.messages.get(message_id)
    if message.raw_id is None:
        raise NotFoundError(f"message {message_id} has no stored raw message")
    return display_source(
        ctx.raw_store.get(message.raw_id),
        authserv_id=ctx.intake_config.authentication.authserv_id,
        ours=message.authentication_results,
    )
