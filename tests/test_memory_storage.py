"""The in-memory store passes the storage contract, and its fault injection works."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import CommitFailed, NotFoundError, StorageError
from inboxcore.domain.ids import AccountId, ContactId, raw_message_id
from inboxcore.domain.model import Account, Contact
from inboxcore.testing import InMemoryRawStore, InMemoryStorage
from inboxcore.testing.contracts import StorageContract

T = datetime(2026, 1, 1, tzinfo=UTC)


class TestInMemoryStorageContract(StorageContract):
    def make_storage(self) -> InMemoryStorage:
        return InMemoryStorage()


def test_injected_commit_failure_applies_nothing() -> None:
    """fail_next_commits makes the next commit raise CommitFailed with nothing applied."""
    storage = InMemoryStorage()
    storage.fail_next_commits()
    with storage.unit_of_work() as uow:
        uow.accounts.add(Account(id=AccountId("a"), name="A", subdomain="a"))
        with pytest.raises(CommitFailed):
            uow.commit()
    assert storage.records(Account) == ()
    with storage.unit_of_work() as uow:
        uow.accounts.add(Account(id=AccountId("a"), name="A", subdomain="a"))
        uow.commit()
    assert len(storage.records(Account)) == 1
    assert storage.commits == 1


def test_ended_unit_refuses_further_use() -> None:
    """A committed or rolled-back unit raises StorageError when used again."""
    storage = InMemoryStorage()
    uow = storage.unit_of_work()
    uow.commit()
    with pytest.raises(StorageError):
        uow.accounts.get(AccountId("a"))


def test_unit_after_constraint_error_cannot_commit() -> None:
    """After a uniqueness error the unit may only roll back, as on PostgreSQL."""
    storage = InMemoryStorage()
    contact = Contact(
        id=ContactId("c"),
        account_id=AccountId("a"),
        email=EmailAddress.parse("x@y.example"),
        created_at=T,
    )
    with storage.unit_of_work() as uow:
        uow.contacts.add(contact)
        uow.commit()
    with storage.unit_of_work() as uow:
        with pytest.raises(ValueError):
            uow.contacts.add(contact)
        with pytest.raises(StorageError):
            uow.commit()


def test_raw_store_is_content_addressed_and_idempotent() -> None:
    """put returns the SHA-256; the same bytes twice are stored once."""
    store = InMemoryRawStore()
    raw_id = store.put(b"Subject: hi\r\n\r\nbody")
    assert raw_id == raw_message_id(b"Subject: hi\r\n\r\nbody")
    assert store.put(b"Subject: hi\r\n\r\nbody") == raw_id
    assert store.ids() == (raw_id,)
    assert store.contains(raw_id)
    assert store.get(raw_id) == b"Subject: hi\r\n\r\nbody"
    with pytest.raises(NotFoundError):
        store.get(raw_message_id(b"other"))


def test_raw_store_failure_injection() -> None:
    """fail_next_puts makes put raise StorageError once, then work again."""
    store = InMemoryRawStore()
    store.fail_next_puts()
    with pytest.raises(StorageError):
        store.put(b"x")
    assert not store.contains(raw_message_id(b"x"))
    store.put(b"x")
    assert store.contains(raw_message_id(b"x"))
