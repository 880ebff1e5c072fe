"""SQLite writers take turns on a file lock beside the database (``_writer_turns``)."""

from __future__ import annotations

import fcntl
import gc
import os
import threading
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy", reason="the SQL storage needs the sql extra")

from inboxcore.adapters.sql import SqlStorage
from inboxcore.adapters.sql.engine import writer_turns
from inboxcore.domain.errors import StorageError
from inboxcore.domain.ids import AccountId
from inboxcore.domain.model import Account


def _account(n: int) -> Account:
    return Account(id=AccountId(f"acct-{n}"), name=f"Acme {n}", subdomain=f"acme{n}")


def _held_elsewhere(path: str) -> bool:
    """Whether some open file holds the turn (tried on a file of our own, then let go)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_a_writing_unit_holds_the_turn_until_it_ends(tmp_path: Path) -> None:
    """The turn is taken at the first write, beside the database, and given back by commit,
    rollback, and a unit dropped without ending; reading takes none."""
    storage = SqlStorage.from_url(f"sqlite:///{tmp_path / 'inbox.db'}")
    turns = writer_turns(storage.engine)
    assert turns is not None
    assert turns.path == str(tmp_path / "inbox.db-writer.lock")
    with storage.unit_of_work() as uow:
        assert uow.channels.by_forwarding_address("nobody@in.example") is None
        assert not _held_elsewhere(turns.path)
        uow.accounts.add(_account(1))
        assert _held_elsewhere(turns.path)
        uow.commit()
    assert not _held_elsewhere(turns.path)
    with storage.unit_of_work() as uow:
        uow.accounts.add(_account(2))
        assert _held_elsewhere(turns.path)
    assert not _held_elsewhere(turns.path)  # rolled back on leaving
    dropped = storage.unit_of_work()
    dropped.accounts.add(_account(3))
    assert _held_elsewhere(turns.path)
    del dropped
    gc.collect()
    assert not _held_elsewhere(turns.path)
    assert [a.id for a in storage.records(Account)] == ["acct-1"]
    storage.close()


def test_a_second_writer_waits_for_the_turn_then_writes(tmp_path: Path) -> None:
    """Two units writing at once: the second's first write waits until the first commits."""
    storage = SqlStorage.from_url(f"sqlite:///{tmp_path / 'inbox.db'}")
    order: list[str] = []
    first_wrote, second_started = threading.Event(), threading.Event()

    def second() -> None:
        first_wrote.wait(10)
        with storage.unit_of_work() as uow:
            second_started.set()
            uow.accounts.add(_account(2))
            order.append("second wrote")
            uow.commit()

    thread = threading.Thread(target=second)
    thread.start()
    with storage.unit_of_work() as uow:
        uow.accounts.add(_account(1))
        first_wrote.set()
        second_started.wait(10)
        order.append("first commits")
        uow.commit()
    thread.join(30)
    assert order == ["first commits", "second wrote"]
    assert {a.id for a in storage.records(Account)} == {"acct-1", "acct-2"}
    storage.close()


def test_no_turn_within_the_busy_timeout_is_a_storage_error(tmp_path: Path) -> None:
    """Another program holding the turn: the write fails with StorageError (intake answers a
    temporary failure), the unit only rolls back, and writing works once the turn is free."""
    storage = SqlStorage.from_url(f"sqlite:///{tmp_path / 'inbox.db'}", busy_timeout=0.05)
    turns = writer_turns(storage.engine)
    assert turns is not None
    holder = os.open(turns.path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(holder, fcntl.LOCK_EX)
    with storage.unit_of_work() as uow:
        with pytest.raises(StorageError, match="no turn to write"):
            uow.accounts.add(_account(1))
        with pytest.raises(StorageError):
            uow.commit()
    os.close(holder)
    with storage.unit_of_work() as uow:
        uow.accounts.add(_account(1))
        uow.commit()
    assert [a.id for a in storage.records(Account)] == ["acct-1"]
    storage.close()
