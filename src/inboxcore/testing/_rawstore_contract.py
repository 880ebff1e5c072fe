"""The contract suite of the :class:`~inboxcore.ports.RawMessageStore` port (private to
:mod:`inboxcore.testing.contracts`, which re-exports :class:`RawStoreContract`)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import pytest

from inboxcore.domain.errors import InvalidValueError, NotFoundError
from inboxcore.domain.ids import RawMessageId, raw_message_id
from inboxcore.domain.model import Envelope, StoredRawMessage
from inboxcore.ports import RawMessageStore
from inboxcore.testing._storage_contract import T0

__all__ = ["RawStoreContract"]


_RAW_MESSAGE = (
    b"Return-Path: <ada@example.com>\r\n"
    b"From: Ada Lovelace <ada@example.com>\r\n"
    b"To: support@acme.inbox.example\r\n"
    b"Subject: =?utf-8?q?Rechnung_f=C3=BCr_M=C3=A4rz?=\r\n"
    b"Message-ID: <20260301120000.4711@example.com>\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Hallo, die Rechnung fehlt noch. \xe2\x80\x94 Ada\r\n"
)


def _arrival(minutes: int, rcpt: str = "support-1@acct1.inbox.test") -> Envelope:
    return Envelope(
        received_at=T0 + timedelta(minutes=minutes),
        mail_from="ada@example.com",
        rcpt_to=(rcpt,),
        client_ip="192.0.2.1",
        helo="mx.example.com",
    )


def _variant(n: int) -> bytes:
    return _RAW_MESSAGE.replace(b"Ada\r\n", f"Ada {n}\r\n".encode())


class RawStoreContract:
    """Contract tests for a :class:`~inboxcore.ports.RawMessageStore`: content addressing,
    idempotence, NotFoundError, and received messages listed with their envelopes, in pages."""

    def make_store(self) -> RawMessageStore:
        raise NotImplementedError("a contract test class must implement make_store()")

    def _all_received(
        self, store: RawMessageStore, *, before: datetime, page: int = 2, **kw: Any
    ) -> list[StoredRawMessage]:
        listed: list[StoredRawMessage] = []
        after: RawMessageId | None = None
        while chunk := store.received(before=before, after=after, limit=page, **kw):
            assert len(chunk) <= page
            listed.extend(chunk)
            after = chunk[-1].raw_id
        return listed

    # --- the bytes -------------------------------------------------------------------------

    def test_put_returns_the_sha256_and_get_returns_the_bytes(self) -> None:
        """put answers the SHA-256 of the bytes; get and contains find them under it."""
        store = self.make_store()
        raw_id = store.put(_RAW_MESSAGE, _arrival(0))
        assert raw_id == raw_message_id(_RAW_MESSAGE)
        assert store.contains(raw_id)
        assert store.get(raw_id) == _RAW_MESSAGE

    def test_storing_twice_is_a_no_op(self) -> None:
        """The same bytes stored twice give the same id and read back unchanged."""
        store = self.make_store()
        first = store.put(_RAW_MESSAGE, _arrival(0))
        second = store.put(bytes(_RAW_MESSAGE), _arrival(0))
        assert first == second
        assert store.get(first) == _RAW_MESSAGE

    def test_different_messages_are_kept_apart(self) -> None:
        """Two messages differing in one byte are two entries."""
        store = self.make_store()
        a = store.put(_RAW_MESSAGE)
        b = store.put(_RAW_MESSAGE.replace(b"Ada\r\n", b"Adb\r\n"))
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
        store.put(_RAW_MESSAGE)
        assert not store.contains(RawMessageId(bad))
        with pytest.raises(NotFoundError):
            store.get(RawMessageId(bad))

    def test_empty_binary_and_large_messages(self) -> None:
        """Empty bytes, every byte value and a 2 MB message all round-trip exactly."""
        store = self.make_store()
        samples = [b"", bytes(range(256)) * 3, _RAW_MESSAGE + b"x" * 2_000_000 + b"\r\n"]
        for data in samples:
            assert store.get(store.put(data, _arrival(0))) == data

    def test_concurrent_puts_of_the_same_message(self) -> None:
        """Threads storing the same bytes at once all succeed with one intact copy, listed once."""
        store = self.make_store()
        barrier = threading.Barrier(6)
        ids: list[str] = []
        errors: list[BaseException] = []

        def put() -> None:
            barrier.wait(10)
            try:
                ids.append(store.put(_RAW_MESSAGE, _arrival(0)))
            except BaseException as exc:  # the test reports it below
                errors.append(exc)

        threads = [threading.Thread(target=put) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert errors == []
        assert set(ids) == {raw_message_id(_RAW_MESSAGE)}
        assert store.get(raw_message_id(_RAW_MESSAGE)) == _RAW_MESSAGE
        listed = store.received(before=T0 + timedelta(days=1))
        assert [s.raw_id for s in listed] == [raw_message_id(_RAW_MESSAGE)]

    # --- envelopes and the listing of received messages ----------------------------------------

    def test_a_received_message_is_listed_with_its_envelope(self) -> None:
        """put with an envelope: received() lists the id, the envelope and its time."""
        store = self.make_store()
        envelope = _arrival(5)
        raw_id = store.put(_RAW_MESSAGE, envelope)
        (listed,) = store.received(before=T0 + timedelta(hours=1))
        assert listed == StoredRawMessage(
            raw_id=raw_id, received_at=envelope.received_at, envelope=envelope
        )

    def test_own_copies_are_never_listed(self) -> None:
        """Bytes stored without an envelope (our own outbound mail) are not received mail."""
        store = self.make_store()
        raw_id = store.put(_RAW_MESSAGE)
        assert store.contains(raw_id)
        assert store.received(before=T0 + timedelta(days=3650)) == ()

    def test_the_first_envelope_stays(self) -> None:
        """The same bytes received again with another envelope keep the first one."""
        store = self.make_store()
        first = _arrival(1, rcpt="support-1@acct1.inbox.test")
        store.put(_RAW_MESSAGE, first)
        store.put(_RAW_MESSAGE, _arrival(9, rcpt="support-2@acct1.inbox.test"))
        (listed,) = store.received(before=T0 + timedelta(hours=1))
        assert listed.envelope == first

    def test_an_own_copy_received_later_is_listed(self) -> None:
        """Bytes stored as our own and then received are listed with the envelope received."""
        store = self.make_store()
        store.put(_RAW_MESSAGE)
        envelope = _arrival(2)
        store.put(_RAW_MESSAGE, envelope)
        (listed,) = store.received(before=T0 + timedelta(hours=1))
        assert listed.envelope == envelope

    def test_received_lists_by_time_window(self) -> None:
        """Only messages received before ``before`` and not before ``since`` are listed."""
        store = self.make_store()
        ids = {n: store.put(_variant(n), _arrival(n)) for n in (0, 10, 20, 30)}
        window = store.received(before=T0 + timedelta(minutes=30), since=T0 + timedelta(minutes=10))
        assert sorted(s.raw_id for s in window) == sorted([ids[10], ids[20]])
        assert store.received(before=T0) == ()

    def test_pages_cover_every_message_once_in_id_order(self) -> None:
        """Paging with ``after`` and ``limit`` visits each received message exactly once."""
        store = self.make_store()
        ids = [store.put(_variant(n), _arrival(n)) for n in range(7)]
        store.put(_variant(99))  # an own copy among them
        listed = self._all_received(store, before=T0 + timedelta(days=1), page=3)
        assert [s.raw_id for s in listed] == sorted(ids)
        assert self._all_received(store, before=T0 + timedelta(days=1), page=100) == listed
        last = sorted(ids)[-1]
        assert store.received(before=T0 + timedelta(days=1), after=last) == ()

    def test_a_page_holds_at_least_one_message(self) -> None:
        """limit below 1 is a programming error."""
        store = self.make_store()
        with pytest.raises(InvalidValueError):
            store.received(before=T0, limit=0)
