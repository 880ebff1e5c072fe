"""The raw-message stores (directory, SQL table, in-memory) pass one contract; the directory
store writes atomically and durably; messages stored before envelopes were kept are listed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inboxcore.adapters.rawstore import DirectoryRawStore
from inboxcore.domain.errors import StorageError
from inboxcore.domain.ids import RawMessageId, raw_message_id
from inboxcore.domain.model import Envelope
from inboxcore.ports import RawMessageStore
from inboxcore.testing import InMemoryRawStore
from inboxcore.testing.contracts import RawStoreContract
from tests.sql_support import postgres_url, throwaway_schema

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MESSAGE = (
    b"Return-Path: <ada@example.com>\r\n"
    b"From: Ada Lovelace <ada@example.com>\r\n"
    b"To: support@acme.inbox.example\r\n"
    b"Subject: =?utf-8?q?Rechnung_f=C3=BCr_M=C3=A4rz?=\r\n"
    b"Message-ID: <20260301120000.4711@example.com>\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Hallo, die Rechnung fehlt noch. \xe2\x80\x94 Ada\r\n"
)


class RawStoreSuite(RawStoreContract):
    """The public contract, and a property on top of it."""

    def test_any_bytes_round_trip(self) -> None:
        """Whatever the bytes, get(put(b)) == b."""
        store = self.make_store()

        @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(data=st.binary(max_size=4096))
        def round_trip(data: bytes) -> None:
            assert store.get(store.put(data)) == data

        round_trip()


class TestInMemoryRawStore(RawStoreSuite):
    def make_store(self) -> InMemoryRawStore:
        return InMemoryRawStore()


class TestDirectoryRawStore(RawStoreSuite):
    @pytest.fixture(autouse=True)
    def _workspace(self, tmp_path: Path) -> None:
        self._dir = tmp_path
        self._count = 0

    def make_store(self) -> DirectoryRawStore:
        self._count += 1
        return DirectoryRawStore(self._dir / f"raw-{self._count}")


class TestSqliteTableRawStore(RawStoreSuite):
    @pytest.fixture(autouse=True)
    def _workspace(self, tmp_path: Path) -> Iterator[None]:
        pytest.importorskip("sqlalchemy", reason="the table store needs the sql extra")
        self._dir = tmp_path
        self._made: list[Any] = []
        yield
        for storage in self._made:
            storage.close()

    def make_store(self) -> RawMessageStore:
        from inboxcore.adapters.sql import SqlStorage

        storage = SqlStorage.from_url(f"sqlite:///{self._dir / f'raw-{len(self._made)}.db'}")
        self._made.append(storage)
        return storage.raw_store()


class TestPostgresTableRawStore(RawStoreSuite):
    @pytest.fixture(autouse=True)
    def _workspace(self) -> Iterator[None]:
        pytest.importorskip("sqlalchemy", reason="the table store needs the sql extra")
        self._url = postgres_url()
        with ExitStack() as stack:
            self._stack = stack
            yield

    def make_store(self) -> RawMessageStore:
        from inboxcore.adapters.sql import SqlStorage

        schema = self._stack.enter_context(throwaway_schema(self._url))
        storage = SqlStorage.from_url(self._url, schema=schema)
        self._stack.callback(storage.close)
        return storage.raw_store()


# --- the directory store's file handling ---------------------------------------------------------


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def _arrival(minutes: int = 0) -> Envelope:
    return Envelope(
        received_at=T0 + timedelta(minutes=minutes),
        mail_from="ada@example.com",
        rcpt_to=("support@acme.inbox.example",),
    )


def test_directory_layout_fans_out_by_id(tmp_path: Path) -> None:
    """A message lives at ab/cd/<id> beside its envelope file, and nothing else is left behind."""
    store = DirectoryRawStore(tmp_path / "raw")
    raw_id = store.put(MESSAGE, _arrival())
    folder = tmp_path / "raw" / raw_id[:2] / raw_id[2:4]
    assert _files(tmp_path / "raw") == [folder / raw_id, folder / f"{raw_id}.json"]
    assert store.path_for(raw_id).read_bytes() == MESSAGE
    store.put(MESSAGE, _arrival(5))
    assert len(_files(tmp_path / "raw")) == 2


def _recording_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Each later ``os.fsync``: True for a folder, False for a file."""
    synced: list[bool] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(os.path.isdir(f"/proc/self/fd/{fd}") if os.path.isdir("/proc") else True)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    return synced


def test_directory_put_fsyncs_file_and_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """put flushes the envelope file and the message file, then their folder, before it
    returns; the new fan-out folders' parents before that."""
    synced = _recording_fsyncs(monkeypatch)
    store = DirectoryRawStore(tmp_path / "raw")
    store.put(MESSAGE, _arrival())
    assert len(synced) >= 2
    if os.path.isdir("/proc"):
        assert synced[-3:] == [False, False, True]
    synced.clear()
    store.put(MESSAGE, _arrival())
    assert synced == []  # already stored: nothing written, nothing to flush


def test_directory_put_in_made_folders_costs_two_file_and_one_folder_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the fan-out folders made, each new message costs exactly two file fsyncs (envelope
    and message: a receiver that acknowledges on the raw store alone needs both durable) and one
    folder fsync; a reopened store makes no folder either."""
    DirectoryRawStore(tmp_path / "raw").create_folders()
    assert len(list((tmp_path / "raw").iterdir())) == 256
    synced = _recording_fsyncs(monkeypatch)
    store = DirectoryRawStore(tmp_path / "raw")
    ids = {store.put(MESSAGE + str(n).encode(), _arrival(n)) for n in range(3)}
    listed = store.received(before=_arrival(9).received_at)
    assert {m.raw_id for m in listed} == ids
    assert all(m.envelope is not None for m in listed)
    if os.path.isdir("/proc"):
        assert synced == [False, False, True] * 3
    else:  # pragma: no cover - no /proc to tell files from folders
        assert len(synced) == 9


def test_directory_envelope_written_alone_is_flushed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An own copy received later: only its envelope file is written, so that file is flushed
    itself (no message file's fsync follows), then the folder."""
    store = DirectoryRawStore(tmp_path / "raw")
    raw_id = store.put(MESSAGE)  # our own outbound copy: no envelope
    synced = _recording_fsyncs(monkeypatch)
    store.put(MESSAGE, _arrival())
    if os.path.isdir("/proc"):
        assert synced == [False, True]
    assert [m.raw_id for m in store.received(before=_arrival(9).received_at)] == [raw_id]


def test_directory_message_without_envelope_file_is_listed_by_its_file_time(
    tmp_path: Path,
) -> None:
    """A message file from before envelopes were kept is listed, with no envelope, at its mtime."""
    store = DirectoryRawStore(tmp_path / "raw")
    raw_id = raw_message_id(MESSAGE)
    path = store.path_for(raw_id)
    path.parent.mkdir(parents=True)
    path.write_bytes(MESSAGE)  # as an older version wrote it
    stamp = (T0 - timedelta(days=30)).timestamp()
    os.utime(path, (stamp, stamp))
    (listed,) = store.received(before=T0)
    assert (listed.raw_id, listed.envelope) == (raw_id, None)
    assert listed.received_at == T0 - timedelta(days=30)
    assert store.received(before=T0, since=T0 - timedelta(days=7)) == ()
    # Received again after the upgrade (a retry): the envelope is kept from then on.
    store.put(MESSAGE, _arrival())
    (again,) = store.received(before=T0 + timedelta(hours=1))
    assert again.envelope == _arrival()


def test_directory_unreadable_envelope_file_lists_the_message_without_one(tmp_path: Path) -> None:
    """A damaged envelope file never hides a message: it is listed with the envelope unknown."""
    store = DirectoryRawStore(tmp_path / "raw")
    raw_id = store.put(MESSAGE, _arrival())
    envelope_file = store.path_for(raw_id).with_name(f"{raw_id}.json")
    for damage in (b"{not json", b'{"envelope": {"rcpt_to": 7}}', b"[]"):
        envelope_file.write_bytes(damage)
        (listed,) = store.received(before=datetime.now(UTC) + timedelta(days=1))
        assert (listed.raw_id, listed.envelope) == (raw_id, None)


def test_directory_envelope_without_message_is_not_listed(tmp_path: Path) -> None:
    """A crash between the envelope and the message leaves nothing listed; the retry completes it."""
    store = DirectoryRawStore(tmp_path / "raw")
    raw_id = store.put(MESSAGE, _arrival())
    store.path_for(raw_id).unlink()
    assert store.received(before=T0 + timedelta(days=1)) == ()
    assert list(store.ids()) == []
    store.put(MESSAGE, _arrival(3))
    (listed,) = store.received(before=T0 + timedelta(days=1))
    assert listed.envelope == _arrival()  # the first envelope stayed


def test_directory_listing_resumes_inside_the_fan_out(tmp_path: Path) -> None:
    """Pages start after the given id, across first- and second-level folders."""
    store = DirectoryRawStore(tmp_path / "raw", fsync=False)
    ids = sorted(store.put(MESSAGE + str(n).encode(), _arrival(n)) for n in range(40))
    before = T0 + timedelta(days=1)
    for cut in (0, 1, 17, 39):
        page = store.received(before=before, after=ids[cut], limit=100)
        assert [s.raw_id for s in page] == ids[cut + 1 :]
    assert [s.raw_id for s in store.received(before=before, after=RawMessageId("0"))] == ids


def test_sql_rows_from_before_receipts_are_listed_as_legacy(tmp_path: Path) -> None:
    """Migrating a database with stored messages lists each once, without an envelope."""
    pytest.importorskip("sqlalchemy", reason="the table store needs the sql extra")
    import sqlalchemy as sa

    from inboxcore.adapters.sql import SqlStorage, make_engine, migrate

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    assert migrate(engine, target=2) == (1, 2)
    raw_id = raw_message_id(MESSAGE)
    with engine.begin() as connection:
        connection.execute(
            sa.text("INSERT INTO inboxcore_raw_messages (raw_id, size, data) VALUES (:i, :s, :d)"),
            {"i": raw_id, "s": len(MESSAGE), "d": MESSAGE},
        )
    engine.dispose()
    storage = SqlStorage.from_url(url)
    try:
        store = storage.raw_store()
        (listed,) = store.received(before=datetime.now(UTC) + timedelta(minutes=1))
        assert (listed.raw_id, listed.envelope) == (raw_id, None)
        assert listed.received_at > datetime.now(UTC) - timedelta(hours=1)  # the migration's time
        store.put(MESSAGE, _arrival())  # received again: the envelope is known from now on
        (again,) = store.received(before=datetime.now(UTC) + timedelta(minutes=1))
        assert again.envelope == _arrival()
    finally:
        storage.close()


def test_directory_failed_rename_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the final rename fails, put raises StorageError and removes its temporary file."""
    store = DirectoryRawStore(tmp_path / "raw")

    def failing_replace(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(StorageError):
        store.put(MESSAGE)
    assert _files(tmp_path / "raw") == []
    assert not store.contains(raw_message_id(MESSAGE))


def test_directory_unusable_root_is_a_storage_error(tmp_path: Path) -> None:
    """A root that is a file, not a folder, makes put raise StorageError."""
    root = tmp_path / "raw"
    root.write_bytes(b"not a folder")
    with pytest.raises(StorageError):
        DirectoryRawStore(root).put(MESSAGE)


def test_directory_detects_corruption(tmp_path: Path) -> None:
    """A file whose bytes changed on disk is reported as corrupted, never served."""
    store = DirectoryRawStore(tmp_path / "raw")
    raw_id = store.put(MESSAGE)
    store.path_for(raw_id).write_bytes(MESSAGE.replace(b"Rechnung", b"Rechnunk"))
    with pytest.raises(StorageError, match="corrupted"):
        store.get(raw_id)


def test_directory_lists_its_ids(tmp_path: Path) -> None:
    """ids() lists every stored message in id order and skips temporary files."""
    store = DirectoryRawStore(tmp_path / "raw")
    assert list(store.ids()) == []
    stored = {store.put(MESSAGE + bytes([n]), _arrival(n)) for n in range(5)}
    (store.path_for(next(iter(stored))).parent / ".tmp-abandoned").write_bytes(b"x")
    assert list(store.ids()) == sorted(stored)


def test_stores_from_different_processes_share_a_directory(tmp_path: Path) -> None:
    """Two store objects on one folder see each other's messages (workers on shared storage)."""
    writer = DirectoryRawStore(tmp_path / "raw")
    reader = DirectoryRawStore(tmp_path / "raw", fsync=False)
    raw_id = writer.put(MESSAGE)
    assert reader.contains(raw_id)
    assert reader.get(raw_id) == MESSAGE


def test_directory_window_skips_files_written_long_before_it_unread(tmp_path: Path) -> None:
    """With ``since``, a message whose files are days older than the window is not read."""
    store = DirectoryRawStore(tmp_path / "raw", fsync=False)
    old = store.put(MESSAGE, _arrival())
    new = store.put(MESSAGE + b"new", _arrival(60))
    old_envelope = store.path_for(old).with_name(f"{old}.json")
    stamp = (T0 - timedelta(days=10)).timestamp()
    for path in (store.path_for(old), old_envelope):
        os.utime(path, (stamp, stamp))
    old_envelope.write_bytes(b"not read")  # would be listed without an envelope if it were read
    os.utime(old_envelope, (stamp, stamp))
    listed = store.received(before=T0 + timedelta(days=1), since=T0 - timedelta(days=7))
    assert [s.raw_id for s in listed] == [new]
    everything = store.received(before=T0 + timedelta(days=1))
    assert sorted(s.raw_id for s in everything) == sorted([old, new])


def test_sql_put_on_sqlite_writes_bytes_and_receipt_in_one_transaction(tmp_path: Path) -> None:
    """SQLite's driver runs in autocommit mode: the put opens one write transaction itself, so
    the bytes and the receipt commit together (one WAL flush)."""
    pytest.importorskip("sqlalchemy", reason="the table store needs the sql extra")
    import sqlalchemy as sa

    from inboxcore.adapters.sql import SqlStorage

    storage = SqlStorage.from_url(f"sqlite:///{tmp_path / 'inbox.db'}")
    store = storage.raw_store()
    executed: list[str] = []
    sa.event.listen(storage.engine, "before_cursor_execute", lambda *args: executed.append(args[2]))
    raw_id = store.put(MESSAGE, _arrival())
    assert executed[0] == "BEGIN IMMEDIATE"
    assert len(executed) == 4  # BEGIN, the exists check, the bytes, the receipt
    assert store.get(raw_id) == MESSAGE
    assert [m.raw_id for m in store.received(before=_arrival(9).received_at)] == [raw_id]
    storage.close()
