"""The raw-message stores (directory, SQL table, in-memory) pass one contract; the directory
store writes atomically and durably."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inboxcore.adapters.rawstore import DirectoryRawStore
from inboxcore.domain.errors import NotFoundError, StorageError
from inboxcore.domain.ids import RawMessageId, raw_message_id
from inboxcore.ports import RawMessageStore
from inboxcore.testing import InMemoryRawStore
from tests.sql_support import postgres_url, throwaway_schema

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


class RawStoreContract:
    """What every raw-message store does: content addressing, idempotence, NotFoundError."""

    def make_store(self) -> RawMessageStore:
        raise NotImplementedError

    def test_put_returns_the_sha256_and_get_returns_the_bytes(self) -> None:
        """put answers the SHA-256 of the bytes; get and contains find them under it."""
        store = self.make_store()
        raw_id = store.put(MESSAGE)
        assert raw_id == hashlib.sha256(MESSAGE).hexdigest()
        assert store.contains(raw_id)
        assert store.get(raw_id) == MESSAGE

    def test_storing_twice_is_a_no_op(self) -> None:
        """The same bytes stored twice give the same id and read back unchanged."""
        store = self.make_store()
        first = store.put(MESSAGE)
        second = store.put(bytes(MESSAGE))
        assert first == second
        assert store.get(first) == MESSAGE

    def test_different_messages_are_kept_apart(self) -> None:
        """Two messages differing in one byte are two entries."""
        store = self.make_store()
        a = store.put(MESSAGE)
        b = store.put(MESSAGE.replace(b"Ada\r\n", b"Adb\r\n"))
        assert a != b
        assert store.get(a) != store.get(b)

    def test_unknown_id_is_not_found(self) -> None:
        """get of an id never stored raises NotFoundError; contains says False."""
        store = self.make_store()
        missing = raw_message_id(b"never stored")
        assert not store.contains(missing)
        with pytest.raises(NotFoundError):
            store.get(missing)

    @pytest.mark.parametrize("bad", ["", "../../etc/passwd", "ABC", "g" * 64, "A" * 64])
    def test_malformed_id_is_not_found(self, bad: str) -> None:
        """An id that is no SHA-256 (a path, upper case, garbage) is simply not there."""
        store = self.make_store()
        store.put(MESSAGE)
        assert not store.contains(RawMessageId(bad))
        with pytest.raises(NotFoundError):
            store.get(RawMessageId(bad))

    def test_empty_binary_and_large_messages(self) -> None:
        """Empty bytes, every byte value and a 2 MB message all round-trip exactly."""
        store = self.make_store()
        samples = [b"", bytes(range(256)) * 3, MESSAGE + b"x" * 2_000_000 + b"\r\n"]
        for data in samples:
            assert store.get(store.put(data)) == data

    def test_concurrent_puts_of_the_same_message(self) -> None:
        """Threads storing the same bytes at once all succeed with one intact copy."""
        store = self.make_store()
        barrier = threading.Barrier(6)
        ids: list[str] = []
        errors: list[BaseException] = []

        def put() -> None:
            barrier.wait(10)
            try:
                ids.append(store.put(MESSAGE))
            except BaseException as exc:  # the test reports it below
                errors.append(exc)

        threads = [threading.Thread(target=put) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert errors == []
        assert set(ids) == {raw_message_id(MESSAGE)}
        assert store.get(raw_message_id(MESSAGE)) == MESSAGE

    def test_any_bytes_round_trip(self) -> None:
        """Whatever the bytes, get(put(b)) == b."""
        store = self.make_store()

        @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(data=st.binary(max_size=4096))
        def round_trip(data: bytes) -> None:
            assert store.get(store.put(data)) == data

        round_trip()


class TestInMemoryRawStore(RawStoreContract):
    def make_store(self) -> InMemoryRawStore:
        return InMemoryRawStore()


class TestDirectoryRawStore(RawStoreContract):
    @pytest.fixture(autouse=True)
    def _workspace(self, tmp_path: Path) -> None:
        self._dir = tmp_path
        self._count = 0

    def make_store(self) -> DirectoryRawStore:
        self._count += 1
        return DirectoryRawStore(self._dir / f"raw-{self._count}")


class TestSqliteTableRawStore(RawStoreContract):
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


class TestPostgresTableRawStore(RawStoreContract):
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


def test_directory_layout_fans_out_by_id(tmp_path: Path) -> None:
    """A message lives at ab/cd/<id> under the root, and nothing else is left behind."""
    store = DirectoryRawStore(tmp_path / "raw")
    raw_id = store.put(MESSAGE)
    assert _files(tmp_path / "raw") == [tmp_path / "raw" / raw_id[:2] / raw_id[2:4] / raw_id]
    assert store.path_for(raw_id).read_bytes() == MESSAGE
    store.put(MESSAGE)
    assert len(_files(tmp_path / "raw")) == 1


def test_directory_put_fsyncs_file_and_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """put flushes the file and then its folder to disk before it returns."""
    synced: list[bool] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(os.path.isdir(f"/proc/self/fd/{fd}") if os.path.isdir("/proc") else True)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    store = DirectoryRawStore(tmp_path / "raw")
    store.put(MESSAGE)
    # the new fan-out folders' parents, the file, then the file's folder
    assert len(synced) >= 2
    if os.path.isdir("/proc"):
        assert synced[-2:] == [False, True]
    synced.clear()
    store.put(MESSAGE)
    assert synced == []  # already stored: nothing written, nothing to flush


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
    stored = {store.put(MESSAGE + bytes([n])) for n in range(5)}
    (store.path_for(next(iter(stored))).parent / ".tmp-abandoned").write_bytes(b"x")
    assert list(store.ids()) == sorted(stored)


def test_stores_from_different_processes_share_a_directory(tmp_path: Path) -> None:
    """Two store objects on one folder see each other's messages (workers on shared storage)."""
    writer = DirectoryRawStore(tmp_path / "raw")
    reader = DirectoryRawStore(tmp_path / "raw", fsync=False)
    raw_id = writer.put(MESSAGE)
    assert reader.contains(raw_id)
    assert reader.get(raw_id) == MESSAGE
