"""The raw-message store in a directory: one file per message, named by its SHA-256.

Raw messages are written before anything else happens to them, so that no message is ever lost:
whatever later fails, the bytes can be processed again. The store therefore makes every put
durable before it returns, with one ``fsync`` per file written and one folder ``fsync``:

1. the bytes go to a temporary file in the final folder (same file system, so the rename below
   is atomic), which is flushed and ``fsync``-ed;
2. the file is renamed to its final name: readers see the whole message or none of it;
3. the folder is ``fsync``-ed, so the new names (the message's and the envelope file's, below)
   survive a power cut.

Files live under two levels of fan-out folders (``ab/cd/abcd...``): 65,536 folders keep each
one small even with hundreds of millions of messages. A folder is made (and its name flushed)
the first time a message needs it, and then remembered; :meth:`DirectoryRawStore.create_folders`
makes all of them at once, so that no put pays for one. A message already present is not written
again (content addressing makes puts idempotent, also between workers on a shared file system).
Reads check the SHA-256 again, so a corrupted file is reported, never served.

Beside each message, ``<id>.json`` holds the envelope it was received with (``{"envelope":
{...}}``), or ``{"envelope": null}`` for our own outbound copies. It is written the same way and
*before* the message, so a message on disk always has its envelope beside it, and flushed like
the message: when a receiver acknowledges on the raw store alone (split intake: store, enqueue,
answer 250, process later), this file is the only durable copy of the envelope until a worker
commits the intake record, and the recovery sweep needs it. Its name is made durable by the
message's folder ``fsync``. Listing walks the fan-out folders
in id order from where the last page ended: memory stays
flat, and a sweep reads one small file per message, or only its time (a ``stat``) when it was
written more than a day before the window's start.

Back up the directory with any file-level tool (``rsync``, snapshots): files are never changed
after the rename (an own copy's envelope file is replaced once if the same bytes are then
received), and temporary files (``.tmp-*``) can be skipped.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cattrs

from inboxcore.domain.errors import InvalidValueError, NotFoundError, StorageError
from inboxcore.domain.ids import RawMessageId, raw_message_id
from inboxcore.domain.model import Envelope, StoredRawMessage
from inboxcore.domain.serialization import converter

__all__ = ["DirectoryRawStore"]

_RAW_ID = re.compile(r"[0-9a-f]{64}")
_TEMP_PREFIX = ".tmp-"
# A listing with ``since`` skips, unread, files written more than this before it: an envelope's
# time is the host's clock at receipt, which may differ a little from the file system's.
_CLOCK_SLACK = timedelta(days=1)


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
        # Leaf folders known to exist (and durable): a put in one of them makes no folder.
        self._known: set[Path] = set()

    def path_for(self, raw_id: RawMessageId) -> Path:
        """Where the message with ``raw_id`` is (or would be) stored."""
        if not _RAW_ID.fullmatch(raw_id):
            raise NotFoundError(f"no raw message {raw_id!r} (not a SHA-256 id)")
        return self.root / raw_id[:2] / raw_id[2:4] / raw_id

    def put(self, data: bytes, envelope: Envelope | None = None) -> RawMessageId:
        raw_id = raw_message_id(data)
        target = self.path_for(raw_id)
        try:
            if target.parent not in self._known:
                self._make_folders(target.parent)
                self._known.add(target.parent)
            # The envelope first: a message on disk always has its envelope beside it.
            wrote = self._keep_envelope(_envelope_path(target), envelope)
            if not target.is_file():
                self._write(target, data, flush=True)
                wrote = True
            if wrote and self._fsync:
                _fsync_folder(target.parent)
        except OSError as exc:
            raise StorageError(f"could not store raw message {raw_id}: {exc}") from exc
        return raw_id

    def _keep_envelope(self, path: Path, envelope: Envelope | None) -> bool:
        """Write the envelope file unless it holds an envelope already (the first one stays);
        an own copy's file is replaced when the same bytes are received. Whether it wrote."""
        if path.is_file() and (envelope is None or _read_envelope(path)[1] is not None):
            return False
        document = {"envelope": None if envelope is None else converter.unstructure(envelope)}
        self._write(path, json.dumps(document, sort_keys=True).encode(), flush=True)
        return True

    def _write(self, target: Path, data: bytes, *, flush: bool) -> None:
        """Write ``target`` whole or not at all: a temporary file renamed over it, its content
        flushed first when ``flush`` (and the store flushes at all)."""
        fd, temp_name = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=target.parent)
        temp = Path(temp_name)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                if flush and self._fsync:
                    os.fsync(handle.fileno())
            # Another worker may have stored the same bytes meanwhile: replacing its file with
            # identical content is harmless.
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise

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

    def create_folders(self) -> None:
        """Make every fan-out folder now (65,536; a few seconds, once per store), so that no
        put pays for making one. Safe to run again and beside working puts."""
        try:
            for first in range(256):
                prefix = f"{first:02x}"
                self._make_folders(self.root / prefix)
                for second in range(256):
                    folder = self.root / prefix / f"{second:02x}"
                    with contextlib.suppress(FileExistsError):
                        folder.mkdir()
                    self._known.add(folder)
                if self._fsync:
                    _fsync_folder(self.root / prefix)  # the 256 new names, flushed at once
        except OSError as exc:
            raise StorageError(f"could not create the raw store's folders: {exc}") from exc

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

    def received(
        self,
        *,
        before: datetime,
        since: datetime | None = None,
        after: RawMessageId | None = None,
        limit: int = 100,
    ) -> tuple[StoredRawMessage, ...]:
        if limit < 1:
            raise InvalidValueError(f"a page holds at least one message, not {limit}")
        page: list[StoredRawMessage] = []
        try:
            for path in self._walk(after):
                if since is not None and _written(path) < since - _CLOCK_SLACK:
                    continue  # written long before the window: not worth reading
                stored = _stored(path)
                if stored is None or stored.received_at >= before:
                    continue
                if since is not None and stored.received_at < since:
                    continue
                page.append(stored)
                if len(page) == limit:
                    break
        except OSError as exc:
            raise StorageError(f"could not list raw messages: {exc}") from exc
        return tuple(page)

    def ids(self) -> Iterator[RawMessageId]:
        """Every stored id, in id order (for backup checks and audits)."""
        try:
            for path in self._walk(None):
                yield RawMessageId(path.name)
        except OSError as exc:
            raise StorageError(f"could not list raw messages: {exc}") from exc

    def _walk(self, after: RawMessageId | None) -> Iterator[Path]:
        """The message files in id order, starting after ``after``, one folder at a time."""
        start = after or ""
        for first in _folders(self.root, start[:2]):
            for second in _folders(first, start[:4], prefix=first.name):
                with os.scandir(second) as entries:
                    names = sorted(e.name for e in entries if _RAW_ID.fullmatch(e.name))
                for name in names:
                    if name > start:
                        yield second / name


def _folders(parent: Path, start: str, *, prefix: str = "") -> list[Path]:
    """The fan-out folders of ``parent`` whose id prefix is not before ``start``, sorted."""
    try:
        with os.scandir(parent) as entries:
            names = [e.name for e in entries if e.is_dir() and prefix + e.name >= start]
    except FileNotFoundError:
        return []
    return [parent / name for name in sorted(names)]


def _written(message: Path) -> datetime:
    """When a message's envelope file (else the message file) was last written."""
    try:
        stamp = _envelope_path(message).stat().st_mtime
    except FileNotFoundError:
        stamp = message.stat().st_mtime
    return datetime.fromtimestamp(stamp, UTC)


def _envelope_path(message: Path) -> Path:
    return message.with_name(message.name + ".json")


def _read_envelope(path: Path) -> tuple[bool, Envelope | None]:
    """Whether an envelope file is an own copy's, and the envelope in it. A file that cannot be
    read as one counts as a received message's whose envelope is unknown (it is then run with
    what its headers say). Raises FileNotFoundError when there is none."""
    try:
        data = json.loads(path.read_bytes())["envelope"]
        if data is None:
            return True, None
        return False, converter.structure(data, Envelope)
    except (ValueError, KeyError, TypeError, cattrs.BaseValidationError):
        return False, None


def _stored(path: Path) -> StoredRawMessage | None:
    """How :meth:`DirectoryRawStore.received` lists a message file; None for an own copy."""
    try:
        own, envelope = _read_envelope(_envelope_path(path))
    except FileNotFoundError:
        own, envelope = False, None  # stored before envelopes were kept
    if own:
        return None
    raw_id = RawMessageId(path.name)
    if envelope is not None:
        return StoredRawMessage(raw_id=raw_id, received_at=envelope.received_at, envelope=envelope)
    stored_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    return StoredRawMessage(raw_id=raw_id, received_at=stored_at)
