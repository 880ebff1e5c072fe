"""build_inbox, the composition root: production adapters for what the host does not give, the
host's own for what it does, and a plain error for a combination that cannot work."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import inboxcore
from inboxcore import (
    Account,
    AccountId,
    Channel,
    ChannelId,
    ChannelState,
    ConfigurationError,
    Disposition,
    EmailAddress,
    Envelope,
    InboxConfig,
    InboxService,
    build_inbox,
)
from inboxcore.adapters.rawstore import DirectoryRawStore
from inboxcore.adapters.system import RandomIds, SystemClock
from inboxcore.bootstrap import SYSTEM_DNS, LoggingEventSink
from inboxcore.channels import HostedDomainConfig
from inboxcore.policies.outbound import OutboundConfig
from inboxcore.ports import Storage
from inboxcore.testing import (
    FakeClock,
    FakeDirectory,
    InMemoryDns,
    InMemoryRawStore,
    InMemoryStorage,
    RecordingEventSink,
    RecordingTransport,
    SequentialIds,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ADDRESS = EmailAddress.parse("support-7f3k@acme.inbox.example.net")
CONFIG = InboxConfig(
    conversation_keys=["a-secret-key-of-16+-bytes"], message_id_domain="acme.inbox.example.net"
)
RAW = (
    b"From: Ada Lovelace <ada@customer.example>\r\nTo: support@acme.example\r\n"
    b"Subject: Invoice 1042\r\nMessage-ID: <m1@customer.example>\r\n\r\nThe total is wrong.\r\n"
)


def _connect(storage: Storage) -> None:
    with storage.unit_of_work() as uow:
        uow.accounts.add(Account(id=AccountId("acme"), name="Acme", subdomain="acme"))
        uow.channels.add(
            Channel(
                id=ChannelId("support"),
                account_id=AccountId("acme"),
                name="Support",
                forwarding_address=ADDRESS,
                created_at=NOW,
                state=ChannelState.CONNECTED,
            )
        )
        uow.commit()


def _receive(service: InboxService) -> Disposition:
    envelope = Envelope(received_at=NOW, rcpt_to=[ADDRESS.address])
    return service.receive(RAW, envelope).disposition


def test_the_root_package_exports_what_a_host_needs_first() -> None:
    """One import line gets the composition root, the service, its config and its result."""
    for name in ("build_inbox", "InboxService", "InboxConfig", "Delivery"):
        assert name in inboxcore.__all__


def test_a_database_url_is_one_file_holding_records_and_raw_messages(tmp_path: Path) -> None:
    """``storage="sqlite:///..."`` opens (and migrates) the SQL adapter; with no raw store given,
    the raw messages go to the same database."""
    url = f"sqlite:///{tmp_path / 'inbox.db'}"
    service = build_inbox(config=CONFIG, storage=url, directory=FakeDirectory(), dns=None)
    try:
        _connect(service.storage)
        assert _receive(service) is Disposition.ACCEPTED
        assert type(service.raw_store).__name__ == "SqlRawStore"
        assert len(service.raw_store.received(before=datetime.now(UTC) + timedelta(days=1))) == 1
    finally:
        service.storage.close()  # type: ignore[attr-defined]
    reopened = build_inbox(config=CONFIG, storage=url, directory=FakeDirectory(), dns=None)
    try:
        assert _receive(reopened) is Disposition.DUPLICATE
    finally:
        reopened.storage.close()  # type: ignore[attr-defined]


def test_production_adapters_fill_in_what_is_not_given(tmp_path: Path) -> None:
    """The system clock, random ids, a logging event sink and, for a folder, the directory raw
    store."""
    service = build_inbox(
        config=CONFIG,
        storage=InMemoryStorage(),
        raw_store=tmp_path / "raw",
        directory=FakeDirectory(),
        dns=None,
    )
    assert isinstance(service.clock, SystemClock)
    assert isinstance(service.ids, RandomIds)
    assert isinstance(service.events, LoggingEventSink)
    assert isinstance(service.raw_store, DirectoryRawStore)
    assert service.outbox is None


def test_the_hosts_own_adapters_are_used_as_given() -> None:
    storage, raw_store, clock = InMemoryStorage(), InMemoryRawStore(), FakeClock(NOW)
    events, ids, dns = RecordingEventSink(), SequentialIds(), InMemoryDns({})
    service = build_inbox(
        config=CONFIG,
        storage=storage,
        raw_store=raw_store,
        directory=FakeDirectory(),
        events=events,
        clock=clock,
        ids=ids,
        dns=dns,
    )
    _connect(storage)
    assert _receive(service) is Disposition.ACCEPTED
    assert (service.storage, service.raw_store, service.clock, service.ids) == (
        storage,
        raw_store,
        clock,
        ids,
    )
    assert service.context.intake.dns is dns
    assert events.events  # the host's sink heard the new conversation


def test_the_default_sink_logs_events(caplog: pytest.LogCaptureFixture) -> None:
    storage = InMemoryStorage()
    service = build_inbox(
        config=CONFIG,
        storage=storage,
        raw_store=InMemoryRawStore(),
        directory=FakeDirectory(),
        dns=None,
    )
    _connect(storage)
    with caplog.at_level(logging.DEBUG, logger="inboxcore.events"):
        _receive(service)
    assert "event ConversationCreated(" in caplog.text


def test_system_dns_is_dnspython() -> None:
    """The default resolver is the dnspython adapter (nothing is queried here)."""
    if not Path("/etc/resolv.conf").is_file():
        pytest.skip("no resolver configuration on this machine")
    from inboxcore.adapters.dns_dnspython import DnspythonResolver

    service = build_inbox(
        config=CONFIG,
        storage=InMemoryStorage(),
        raw_store=InMemoryRawStore(),
        directory=FakeDirectory(),
        dns=SYSTEM_DNS,
    )
    assert isinstance(service.context.intake.dns, DnspythonResolver)


def test_a_transport_and_an_outbound_config_give_an_outbox() -> None:
    transport = RecordingTransport()
    outbound = OutboundConfig(
        hosting=HostedDomainConfig(hosted_domain="inbox.example.net"),
        threading=CONFIG.threading,
    )
    service = build_inbox(
        config=CONFIG,
        storage=InMemoryStorage(),
        raw_store=InMemoryRawStore(),
        directory=FakeDirectory(),
        dns=None,
        transport=transport,
        outbound=outbound,
    )
    assert service.outbox is not None
    assert service.outbox.transport is transport
    assert service.outbox.config is outbound


def test_combinations_that_cannot_work_are_refused_at_once() -> None:
    """Storage that keeps no raw messages without a raw store, and a transport without an
    outbound config: both problems in one error."""
    with pytest.raises(ConfigurationError) as caught:
        build_inbox(
            config=CONFIG,
            storage=InMemoryStorage(),
            directory=FakeDirectory(),
            dns=None,
            transport=RecordingTransport(),
        )
    codes = {problem.code for problem in caught.value.problems}
    assert codes == {"bootstrap.raw_store", "bootstrap.outbox"}


def test_an_outbox_on_other_threading_keys_is_refused() -> None:
    """Replies would carry tokens the service cannot read back."""
    other = InboxConfig(
        conversation_keys=["another-key-of-16+-bytes"], message_id_domain="x.example"
    )
    outbound = OutboundConfig(
        hosting=HostedDomainConfig(hosted_domain="inbox.example.net"), threading=other.threading
    )
    with pytest.raises(ConfigurationError) as caught:
        build_inbox(
            config=CONFIG,
            storage=InMemoryStorage(),
            raw_store=InMemoryRawStore(),
            directory=FakeDirectory(),
            dns=None,
            transport=RecordingTransport(),
            outbound=outbound,
        )
    assert caught.value.problems[0].code == "outbound.threading_mismatch"
