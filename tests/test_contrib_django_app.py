"""The Django app: DjangoRawStore passes the raw-store contract, the migrations match the
models, and the whole service receives a message on DjangoStorage and DjangoRawStore."""

from __future__ import annotations

import io
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from inboxcore.testing.contracts import RawStoreContract
from tests.django_support import empty_tables, scratch_folder, setup_django


def _raw_store(folder: str) -> Any:
    from django.core.files.storage import FileSystemStorage

    from inboxcore.contrib.django.rawstore import DjangoRawStore

    shutil.rmtree(folder, ignore_errors=True)
    return DjangoRawStore(FileSystemStorage(location=folder))


class TestDjangoRawStore(RawStoreContract):
    def make_store(self) -> Any:
        setup_django()
        empty_tables("default")
        return _raw_store(os.path.join(scratch_folder(), "raw"))


def test_the_migrations_match_the_models() -> None:
    """``makemigrations --check`` finds nothing to do: no model change lacks its migration."""
    setup_django()
    from django.core.management import call_command

    out = io.StringIO()
    call_command("makemigrations", "inboxcore", check=True, dry_run=True, stdout=out)
    assert "No changes detected" in out.getvalue()


def test_a_storage_alias_must_exist() -> None:
    setup_django()
    from inboxcore.contrib.django.storage import DjangoStorage
    from inboxcore.domain.errors import InvalidValueError

    with pytest.raises(InvalidValueError, match="nowhere"):
        DjangoStorage(using="nowhere")


def test_a_message_is_received_end_to_end() -> None:
    """build_inbox on DjangoStorage and DjangoRawStore: a customer's mail becomes a contact, a
    conversation and a ticket, committed, its raw bytes kept and listed with the envelope."""
    setup_django()
    from inboxcore import (
        Account,
        AccountId,
        Channel,
        ChannelId,
        ChannelState,
        Contact,
        EmailAddress,
        Envelope,
        InboxConfig,
        Ticket,
        build_inbox,
    )
    from inboxcore.contrib.django.storage import DjangoStorage
    from inboxcore.testing import (
        FakeClock,
        FakeDirectory,
        InMemoryDns,
        RecordingEventSink,
        SequentialIds,
    )

    empty_tables("default")
    clock, storage = FakeClock(datetime(2026, 5, 4, 8, tzinfo=UTC)), DjangoStorage()
    raw_store = _raw_store(os.path.join(scratch_folder(), "raw-e2e"))
    address = EmailAddress.parse("support-7f3k@acme.inbox.example.net")
    with storage.unit_of_work() as uow:
        uow.accounts.add(Account(id=AccountId("acme"), name="Acme", subdomain="acme"))
        uow.channels.add(
            Channel(id=ChannelId("support"), account_id=AccountId("acme"), name="Support",
                    forwarding_address=address, created_at=clock.now(),
                    state=ChannelState.CONNECTED, company_name="Acme Support")
        )  # fmt: skip
        uow.commit()
    service = build_inbox(
        storage=storage, raw_store=raw_store, clock=clock, ids=SequentialIds(),
        directory=FakeDirectory(), events=RecordingEventSink(), dns=InMemoryDns({}),
        config=InboxConfig(conversation_keys=["a test key of 16+ bytes"],
                           message_id_domain="inbox.example.net"),
    )  # fmt: skip
    raw = (b"From: Ada Lovelace <ada@customer.example>\r\nTo: support@acme.example\r\n"
           b"Subject: Invoice 1042\r\nMessage-ID: <m1@customer.example>\r\n\r\nWrong total.\r\n")  # fmt: skip
    envelope = Envelope(received_at=clock.now(), rcpt_to=(address.address,))
    delivery = service.receive(raw, envelope)
    assert delivery.disposition.value == "accepted"
    assert [c.email.address for c in storage.records(Contact)] == ["ada@customer.example"]
    assert [t.conversation_id for t in storage.records(Ticket)] == [delivery.conversation_id]
    assert [r.disposition.value for r in storage.intake_records()] == ["accepted"]
    listed = raw_store.received(before=datetime(2027, 1, 1, tzinfo=UTC))
    assert [(s.raw_id, s.envelope) for s in listed] == [(delivery.raw_id, envelope)]
    assert service.receive(raw, envelope).disposition.value == "duplicate"


def test_a_unit_inside_the_host_s_atomic_block_commits_for_good() -> None:
    """A unit opened inside an atomic block (a view under ATOMIC_REQUESTS) commits on its own
    connection: the host's block rolling back afterwards does not undo what was committed."""
    setup_django()
    from django.db import transaction

    from inboxcore import Account, AccountId
    from inboxcore.contrib.django.storage import DjangoStorage

    empty_tables("default")
    storage = DjangoStorage()

    class HostRollsBack(Exception):
        pass

    def view() -> None:
        with transaction.atomic(using="default"):
            with storage.unit_of_work() as uow:
                uow.accounts.add(Account(id=AccountId("acme"), name="Acme", subdomain="acme"))
                uow.commit()
            raise HostRollsBack

    with pytest.raises(HostRollsBack):
        view()
    assert [a.id for a in storage.records(Account)] == ["acme"]


def test_storage_needs_timezone_aware_settings() -> None:
    setup_django()
    from django.test.utils import override_settings

    from inboxcore.contrib.django.storage import DjangoStorage
    from inboxcore.domain.errors import InvalidValueError

    with override_settings(USE_TZ=False), pytest.raises(InvalidValueError, match="USE_TZ"):
        DjangoStorage()


def test_django_raw_store_flushes_a_local_file_and_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FileSystemStorage writes without fsync: the store flushes the new file, then its folder,
    before put returns (a 2xx after it must survive a power cut)."""
    import os

    setup_django()
    from django.core.files.storage import FileSystemStorage

    from inboxcore.contrib.django.rawstore import DjangoRawStore

    synced: list[bool] = []
    real_fsync = os.fsync

    def recording(fd: int) -> None:
        synced.append(os.path.isdir(f"/proc/self/fd/{fd}") if os.path.isdir("/proc") else False)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording)
    store = DjangoRawStore(FileSystemStorage(location=str(tmp_path)))
    store.put(b"Subject: flushed\r\n\r\nbody\r\n")
    assert len(synced) == 2
    if os.path.isdir("/proc"):
        assert synced == [False, True]
    synced.clear()
    store.put(b"Subject: flushed\r\n\r\nbody\r\n")
    assert synced == []  # already stored: nothing written, nothing flushed
