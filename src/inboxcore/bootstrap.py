"""The composition root: :func:`build_inbox` wires an :class:`~inboxcore.app.service.InboxService`.

Every place that runs the inbox builds it here: the ``inboxcore`` command (its SQLite file), the
LMTP receiver behind ``inboxcore serve``, the demo, the documentation's examples and the framework
integrations. A host passes what it has (a database URL or its own
:class:`~inboxcore.ports.Storage`, a folder or its own raw store, its directory of agents, its
event sink, a transport to send replies) and gets the production adapters for the rest: the
system clock, random ids, DNS through dnspython, events logged.

This module sits above the adapters and below the entry points (``docs/architecture.md``); the
adapters that need an extra (SQLAlchemy for a database URL) are imported only when asked for.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path
from typing import Literal

import attrs

from inboxcore.adapters.rawstore import DirectoryRawStore
from inboxcore.adapters.system import RandomIds, SystemClock
from inboxcore.app.config import InboxConfig
from inboxcore.app.outbox import Outbox
from inboxcore.app.service import InboxService
from inboxcore.domain.errors import ConfigurationError, Problem
from inboxcore.domain.events import DomainEvent
from inboxcore.policies.outbound import OutboundConfig
from inboxcore.ports import (
    Clock,
    Directory,
    DkimKeyStore,
    DnsResolver,
    EventSink,
    IdSource,
    MailTransport,
    RawMessageStore,
    SpamScorer,
    Storage,
)

__all__ = ["LoggingEventSink", "SYSTEM_DNS", "build_inbox"]

log = logging.getLogger("inboxcore.events")

SYSTEM_DNS: Literal["system"] = "system"
"""``build_inbox(dns=SYSTEM_DNS)``, the default: DNS through dnspython and the system's resolver
configuration. ``dns=None`` runs without DNS (nothing authenticates; for offline tools)."""


class LoggingEventSink:
    """The :class:`~inboxcore.ports.EventSink` of an inbox with no host around it: each event is
    logged (``inboxcore.events``, level DEBUG)."""

    def emit(self, event: DomainEvent) -> None:
        log.debug("event %s", event)


def build_inbox(
    *,
    config: InboxConfig,
    storage: Storage | str,
    directory: Directory,
    raw_store: RawMessageStore | str | os.PathLike[str] | None = None,
    events: EventSink | None = None,
    dns: DnsResolver | Literal["system"] | None = SYSTEM_DNS,
    transport: MailTransport | None = None,
    outbound: OutboundConfig | None = None,
    dkim_keys: DkimKeyStore | None = None,
    dkim_expire_after: timedelta | None = None,
    clock: Clock | None = None,
    ids: IdSource | None = None,
    spam: SpamScorer | None = None,
) -> InboxService:
    """An :class:`~inboxcore.app.service.InboxService` on the given adapters, production ones for
    whatever is not given.

    - ``storage``: a :class:`~inboxcore.ports.Storage`, or a database URL
      (``sqlite:///inbox.db``, ``postgresql+psycopg://...``) for the SQL adapter, migrated on
      first use (needs the ``sql`` extra).
    - ``raw_store``: a :class:`~inboxcore.ports.RawMessageStore`, or a folder for the
      :class:`~inboxcore.adapters.rawstore.DirectoryRawStore`; by default the SQL storage's own
      table (one database holds everything). Any other storage needs one given.
    - ``events``: the host's sink; by default :class:`LoggingEventSink`.
    - ``dns``: :data:`SYSTEM_DNS` (the default), a resolver, or None for none.
    - ``transport`` and ``outbound`` together give the service an
      :class:`~inboxcore.app.outbox.Outbox` (replies, owner notifications); ``outbound.threading``
      must be ``config.threading``.
    - ``clock`` and ``ids``: the system clock and random ids by default.

    Raises :class:`~inboxcore.domain.errors.ConfigurationError` for a combination that cannot
    work (every problem at once), and :class:`~inboxcore.domain.errors.StorageError` when the
    database cannot be opened.
    """
    problems = _problems(storage, raw_store, transport, outbound)
    if problems:
        raise ConfigurationError(problems)
    store = _storage(storage) if isinstance(storage, str) else storage
    clock = clock or SystemClock()
    ids = ids or RandomIds()
    events = events or LoggingEventSink()
    raws = _raw_store(store, raw_store)
    outbox = None
    if transport is not None and outbound is not None:
        sending = _Sending(transport, outbound, dkim_keys, dkim_expire_after)
        outbox = sending.outbox(store, raws, clock, ids, directory, events)
    return InboxService(
        storage=store,
        raw_store=raws,
        clock=clock,
        ids=ids,
        directory=directory,
        events=events,
        config=config,
        dns=_dns(dns),
        spam=spam,
        outbox=outbox,
    )


@attrs.frozen
class _Sending:
    """What the outbox needs beyond the service's own ports."""

    transport: MailTransport
    outbound: OutboundConfig
    dkim_keys: DkimKeyStore | None
    dkim_expire_after: timedelta | None

    def outbox(
        self,
        storage: Storage,
        raw_store: RawMessageStore,
        clock: Clock,
        ids: IdSource,
        directory: Directory,
        events: EventSink,
    ) -> Outbox:
        return Outbox(
            storage=storage,
            raw_store=raw_store,
            transport=self.transport,
            clock=clock,
            ids=ids,
            directory=directory,
            events=events,
            config=self.outbound,
            dkim_keys=self.dkim_keys,
            dkim_expire_after=self.dkim_expire_after,
        )


def _problems(
    storage: Storage | str,
    raw_store: RawMessageStore | str | os.PathLike[str] | None,
    transport: MailTransport | None,
    outbound: OutboundConfig | None,
) -> list[Problem]:
    problems: list[Problem] = []
    if raw_store is None and not isinstance(storage, str) and not hasattr(storage, "raw_store"):
        problems.append(
            Problem(
                code="bootstrap.raw_store",
                message="this storage keeps no raw messages: give raw_store (a folder or a "
                "RawMessageStore)",
                field="raw_store",
            )
        )
    if (transport is None) != (outbound is None):
        problems.append(
            Problem(
                code="bootstrap.outbox",
                message="sending needs both a transport and an OutboundConfig",
                field="transport" if transport is None else "outbound",
            )
        )
    return problems


def _storage(url: str) -> Storage:
    try:
        from inboxcore.adapters.sql import SqlStorage, make_engine
    except ImportError as exc:
        problem = Problem(
            code="bootstrap.missing_extra",
            message="a database URL needs SQLAlchemy: pip install 'inboxcore[sql]'",
            field="storage",
        )
        raise ConfigurationError([problem]) from exc
    engine = make_engine(url)
    try:
        return SqlStorage(engine)
    except BaseException:
        engine.dispose()
        raise


def _raw_store(
    storage: Storage, raw_store: RawMessageStore | str | os.PathLike[str] | None
) -> RawMessageStore:
    if isinstance(raw_store, (str, os.PathLike)):
        return DirectoryRawStore(Path(raw_store))
    if raw_store is not None:
        return raw_store
    own: RawMessageStore = getattr(storage, "raw_store")()  # noqa: B009 - checked in _problems
    return own


def _dns(dns: DnsResolver | Literal["system"] | None) -> DnsResolver | None:
    if not isinstance(dns, str):
        return dns
    from inboxcore.adapters.dns_dnspython import DnspythonResolver

    return DnspythonResolver()
