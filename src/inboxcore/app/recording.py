"""The intake log as the proof of a reply: what lists a message, and committing a unit that
logs one even when the database's answer to COMMIT is lost."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from inboxcore.app.staged import StagedRawStore
from inboxcore.domain.errors import CommitFailed, ConflictError, PortError
from inboxcore.domain.model import IntakeRecord
from inboxcore.domain.outcomes import Disposition
from inboxcore.ports import Storage, UnitOfWork

__all__ = ["commit_logged", "latest_listing", "listing_record"]

log = logging.getLogger(__name__)

# Verdicts that list a message in the intake log (a deferral does not: the sender still has it).
_LISTING = frozenset(
    (Disposition.ACCEPTED, Disposition.DUPLICATE, Disposition.QUARANTINED, Disposition.REJECTED)
)


def latest_listing(history: Sequence[IntakeRecord]) -> Disposition | None:
    """The disposition of the newest record that lists the message; None if none does."""
    record = listing_record(history)
    return record.disposition if record is not None else None


def listing_record(history: Sequence[IntakeRecord]) -> IntakeRecord | None:
    """The newest record that lists the message; None if none does."""
    for record in reversed(history):
        if record.disposition in _LISTING:
            return record
    return None


def commit_logged(
    storage: Storage, uow: UnitOfWork, entry: IntakeRecord, staged: StagedRawStore | None = None
) -> None:
    """Commit a unit that logs ``entry`` (with the ``staged`` raw message, written in the same
    unit: :mod:`inboxcore.app.staged`). A commit whose answer was lost (an error other than
    CommitFailed or a lost race) is checked: ``entry`` in the log means it applied; otherwise,
    or if the log cannot be read, the error stands and nothing is acknowledged (a retry then
    finds the message, if it was stored after all)."""
    if staged is not None:
        staged.write_into(uow)
    try:
        uow.commit()
    except (CommitFailed, ConflictError):
        raise
    except PortError:
        with storage.unit_of_work() as check:
            if entry not in check.intake_log.for_raw_message(entry.raw_id):
                raise
        log.warning("commit of %s answered with an error, but it applied", entry.raw_id)
