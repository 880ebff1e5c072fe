"""The raw-message store in a directory: one file per message, named by its SHA-256.

Raw messages are written before anything else happens to them, so that no message is ever lost:
whatever later fails, the bytes can be processed again. The store therefore makes every put
durable before it returns:

1. the bytes go to a temporary file in the final folder (same file system, so the rename below
   is atomic), which is flushed and ``fsync``-ed;
2. the file is renamed to its final name: readers see the whole message or none of it;
3. the folder is ``fsync``-ed, so the new name itself survives a power cut.

Files live under two levels of fan-out folders (``ab/cd/abcd...``): 65,536 folders keep each
one small even with hundreds of millions of messages. A message already present is not written
again (content addressing makes puts idempotent, also between workers on a shared file system).
Reads check the SHA-256 again, so a corrupted file is reported, never served.

Back up the directory with any file-level tool (``rsync``, snapshots): files are never changed
after the rename, and temporary files (``.tmp-*``) can be skipped.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from inboxcore.domain.errors import NotFoundError, StorageError
from inboxcore.domain.ids import RawMessageId, raw_message_id

__all__ = ["DirectoryRawStore"]

_RAW_ID = re.compile(r"[0-9a-f]{64}")
_TEMP_PREFIX = ".tmp-"


def _fsync_folder(folder: Path) -> None:
    """Make a folder's entries (a new name) durable; a no-op where folders cannot be opened."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(folder, flags)
    except (PermissionError, IsADirectoryError):  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DirectoryRawStore:
    """The :class:`~inboxcore.ports.RawMessageStore` port on a local or shared folder.

    ``fsync=False`` skips the flushes: only for tests and throwaway data, since a crash may then
    lose messages the store said it had.
    """

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.root = Path(root)
        self._fsync = fsync

    def path_for(self, raw_id: RawMessageId) -> Path:
        """Where the message with ``raw_id`` is (or would be) stored."""
        if not _RAW_ID.fullmatch(raw_id):
            raise NotFoundError(f"no raw message {raw_id!r} (not a SHA-256 id)")
        return self.root / raw_id[:2] / raw_id[2:4] / raw_id

    def put(self, data: bytes) -> RawMessageId:
        raw_id = raw_message_id(data)
        target = self.path_for(raw_id)
        try:
            if target.is_file():
                return raw_id
            self._make_folders(target.parent)
            fd, temp_name = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=target.parent)
            temp = Path(temp_name)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    if self._fsync:
                        os.fsync(handle.fileno())
                # Another worker may have stored the same bytes meanwhile: replacing its file
                # with identical content is harmless.
                os.replace(temp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    temp.unlink()
                raise
            if self._fsync:
                _fsync_folder(target.parent)
        except OSError as exc:
            raise StorageError(f"could not store raw message {raw_id}: {exc}") from exc
        return raw_id

    def _make_folders(self, folder: Path) -> None:
        """Create ``folder`` and missing parents, making each new name durable."""
        missing: list[Path] = []
        current = folder
        while not current.is_dir():
            missing.append(current)
            current = current.parent
        for path in reversed(missing):
            with contextlib.suppress(FileExistsError):  # another worker made it first
                path.mkdir()
            if self._fsync:
                _fsync_folder(path.parent)

    def get(self, raw_id: RawMessageId) -> bytes:
        path = self.path_for(raw_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"no raw message {raw_id}") from None
        except OSError as exc:
            raise StorageError(f"could not read raw message {raw_id}: {exc}") from exc
        if hashlib.sha256(data).hexdigest() != raw_id:
            raise StorageError(f"raw message {raw_id} is corrupted: its content changed")
        return data

    def contains(self, raw_id: RawMessageId) -> bool:
        if not _RAW_ID.fullmatch(raw_id):
            return False
        try:
            return self.path_for(raw_id).is_file()
        except OSError as exc:  # pragma: no cover - is_file swallows most errors itself
            raise StorageError(f"could not look up raw message {raw_id}: {exc}") from exc

    def ids(self) -> Iterator[RawMessageId]:
        """Every stored id, in id order (for backup checks and audits)."""
        try:
            for first in sorted(p for p in self.root.iterdir() if p.is_dir()):
                for second in sorted(p for p in first.iterdir() if p.is_dir()):
                    for path in sorted(second.iterdir()):
                        if _RAW_ID.fullmatch(path.name):
                            yield RawMessageId(path.name)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StorageError(f"could not list raw messages: {exc}") from exc
