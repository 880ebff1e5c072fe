"""The raw-message store on Django's storage API: :class:`DjangoRawStore`.

The bytes go to a Django ``Storage`` (``default_storage``, or a named one of ``STORAGES``), so
django-storages' S3, GCS or Azure backends keep them without new code; the receipt of a
received message (its envelope) is a row of :class:`~inboxcore.contrib.django.models.RawReceipt`
on a database alias.

Names are content addressed like :class:`~inboxcore.adapters.rawstore.DirectoryRawStore`'s:
``<prefix>ab/cd/abcd...`` for the SHA-256 ``abcd...``, so the same bytes are stored once, and
reads check the SHA-256 again (a changed object is reported, never served).

**Durability ("2xx means committed").** :meth:`DjangoRawStore.put` returns once the backend's
``save`` returned and the receipt row is committed, in that order: a receipt always names bytes
that were saved. How durable the bytes are is the backend's own promise.

- Object stores (S3, GCS, Azure) acknowledge a write once it is stored redundantly: as durable
  as the database row.
- ``FileSystemStorage`` writes without flushing, so ``put`` flushes for it: wherever the backend
  can name a local path (``storage.path(name)``), the new file and its folder are ``fsync``-ed
  before the receipt is committed, as :class:`~inboxcore.adapters.rawstore.DirectoryRawStore`
  does. (Folders the backend creates on the way are not flushed one by one: on a young store a
  power cut could lose a just-made fan-out folder; ``DirectoryRawStore`` flushes those too.)
"""

from __future__ import annotations

import hashlib
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages
from django.db import DatabaseError

from inboxcore.adapters.rawstore import _fsync_folder  # the one folder flush
from inboxcore.contrib.django import models as m
from inboxcore.contrib.django.storage import DjangoUnitOfWork
from inboxcore.domain.errors import InvalidValueError, NotFoundError, StorageError
from inboxcore.domain.ids import RawMessageId, raw_message_id
from inboxcore.domain.model import Envelope, StoredRawMessage
from inboxcore.domain.serialization import converter

__all__ = ["DjangoRawStore"]

_RAW_ID = re.compile(r"[0-9a-f]{64}")


class DjangoRawStore:
    """The :class:`~inboxcore.ports.RawMessageStore` port on a Django ``Storage``.

    ``storage``: a storage object, the name of one in ``settings.STORAGES``, or None for
    ``default_storage``. ``prefix``: the folder (key prefix) of the messages in it. ``using``:
    the database alias of the receipts. See the module's notes on durability.
    """

    def __init__(
        self, storage: Any = None, *, prefix: str = "inboxcore/raw/", using: str = "default"
    ) -> None:
        if storage is None:
            storage = default_storage
        elif isinstance(storage, str):
            storage = storages[storage]
        self.storage: Any = storage
        self.prefix = prefix
        self.using = using

    def name_for(self, raw_id: RawMessageId) -> str:
        """The storage name the message with ``raw_id`` is (or would be) saved under."""
        if not _RAW_ID.fullmatch(raw_id):
            raise NotFoundError(f"no raw message {raw_id!r} (not a SHA-256 id)")
        return f"{self.prefix}{raw_id[:2]}/{raw_id[2:4]}/{raw_id}"

    def put(self, data: bytes, envelope: Envelope | None = None) -> RawMessageId:
        raw_id = raw_message_id(data)
        name = self.name_for(raw_id)
        try:
            if not self.storage.exists(name):
                saved = str(self.storage.save(name, ContentFile(data)))
                if saved != name:
                    # Another worker saved the same bytes meanwhile and this backend does not
                    # overwrite: the copy under a new name is not needed.
                    self.storage.delete(saved)
                else:
                    self._flush(name)
        except Exception as exc:  # any backend's own error type (OSError, botocore's, ...)
            raise StorageError(f"could not store raw message {raw_id}: {exc}") from exc
        if envelope is not None:
            self._keep_receipt(raw_id, envelope)
        return raw_id

    def _flush(self, name: str) -> None:
        """On a backend with local files (``FileSystemStorage``), which writes without flushing:
        ``fsync`` the file and its folder, so that a 2xx given after ``put`` survives a power
        cut. Object stores (``path`` unsupported) acknowledge durable writes themselves."""
        try:
            path = Path(self.storage.path(name))
        except NotImplementedError:
            return
        with path.open("rb") as handle:
            os.fsync(handle.fileno())
        _fsync_folder(path.parent)

    def _keep_receipt(self, raw_id: RawMessageId, envelope: Envelope) -> None:
        """Commit the receipt, unless one is kept already (the first envelope stays)."""
        row = m.RawReceipt(
            raw_id=raw_id, received_at=envelope.received_at, envelope=converter.dumps(envelope)
        )
        # A unit of work of the storage: its own transaction even inside the host's atomic block.
        with DjangoUnitOfWork(self.using) as uow:
            receipts = m.RawReceipt.objects.using(uow.db)
            uow.run(lambda: receipts.bulk_create([row], ignore_conflicts=True), write=True)
            uow.commit()

    def get(self, raw_id: RawMessageId) -> bytes:
        name = self.name_for(raw_id)
        try:
            if not self.storage.exists(name):
                raise NotFoundError(f"no raw message {raw_id}")
            with self.storage.open(name, "rb") as handle:
                data = bytes(handle.read())
        except NotFoundError:
            raise
        except FileNotFoundError:
            raise NotFoundError(f"no raw message {raw_id}") from None
        except Exception as exc:  # any backend's own error type
            raise StorageError(f"could not read raw message {raw_id}: {exc}") from exc
        if hashlib.sha256(data).hexdigest() != raw_id:
            raise StorageError(f"raw message {raw_id} is corrupted: its content changed")
        return data

    def contains(self, raw_id: RawMessageId) -> bool:
        if not _RAW_ID.fullmatch(raw_id):
            return False
        try:
            return bool(self.storage.exists(self.name_for(raw_id)))
        except Exception as exc:  # any backend's own error type
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
        rows = m.RawReceipt.objects.using(self.using).filter(
            envelope__isnull=False, received_at__lt=before
        )
        if since is not None:
            rows = rows.filter(received_at__gte=since)
        if after is not None:
            rows = rows.filter(raw_id__gt=after)
        try:
            found = list(rows.order_by("raw_id").values_list("raw_id", "envelope")[:limit])
        except DatabaseError as exc:
            raise StorageError(f"could not list raw messages: {exc}") from exc
        return tuple(_stored(raw_id, text) for raw_id, text in found)


def _stored(raw_id: Any, envelope: Any) -> StoredRawMessage:
    kept = converter.loads(str(envelope), Envelope)
    return StoredRawMessage(
        raw_id=RawMessageId(str(raw_id)), received_at=kept.received_at, envelope=kept
    )
