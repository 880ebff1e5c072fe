"""Split intake on the fakes: receivers store, workers process each raw id once
(:mod:`inboxcore.app.split`), and the recovery sweep hands unrecorded ids to a queue."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import attrs
import pytest

from inboxcore.app.delivery import Delivery
from inboxcore.app.service import AlreadyRecorded, InboxService, Stored
from inboxcore.domain.errors import NotFoundError
from inboxcore.domain.events import ConversationCreated, MessageQuarantined
from inboxcore.domain.ids import RawMessageId
from inboxcore.domain.model import IntakeRecord, Message
from inboxcore.domain.outcomes import Disposition, Reason, Reply
from inboxcore.testing import FlakyRawStore, FlakyStorage
from tests.test_service import World, envelope, mail, make_storage, world


def _with_raw_store(w: World, raw_store: Any) -> InboxService:
    return InboxService(
        storage=w.storage,
        raw_store=raw_store,
        clock=w.clock,
        ids=w.service.ids,
        directory=w.directory,
        events=w.events,
        config=w.service.config,
    )


def test_store_keeps_the_message_and_its_envelope_and_answers_250() -> None:
    w = world()
    stored = w.service.store(mail(), envelope())
    assert stored.raw_id is not None
    assert (stored.smtp.code, stored.reason_codes) == (250, ())
    assert w.raw_store.get(stored.raw_id) == mail()
    assert w.storage.intake_records() == ()  # nothing processed yet


def test_store_answers_451_when_the_raw_store_fails() -> None:
    w = world()
    flaky = FlakyRawStore(w.raw_store)
    flaky.fail_next_puts()
    stored = _with_raw_store(w, flaky).store(mail(), envelope())
    assert (stored.raw_id, stored.smtp.code) == (None, 451)
    assert stored.reason_codes == ("storage_unavailable",)


def test_process_raw_runs_a_stored_message_once() -> None:
    w = world()
    raw_id = w.service.store(mail(), envelope()).raw_id
    assert raw_id is not None
    first = w.service.process_raw(raw_id)
    assert isinstance(first, Delivery)
    assert first.disposition is Disposition.ACCEPTED
    (record,) = w.storage.intake_records()
    assert record.envelope == envelope()
    again = w.service.process_raw(raw_id)
    assert isinstance(again, AlreadyRecorded)
    assert again.disposition is Disposition.ACCEPTED
    assert again.reason_codes[0] == "already_recorded"
    assert len(w.storage.intake_records()) == 1
    assert len(w.storage.records(Message)) == 1
    assert len(w.events.of_type(ConversationCreated)) == 1


def test_process_raw_defers_while_storage_fails_then_runs() -> None:
    flaky = FlakyStorage(make_storage())
    w = world(storage=flaky)
    raw_id = w.service.store(mail(), envelope()).raw_id
    assert raw_id is not None
    flaky.fail_next_commits()
    deferred = w.service.process_raw(raw_id)
    assert isinstance(deferred, Delivery)
    assert (deferred.disposition, deferred.smtp.code) == (Disposition.DEFERRED, 451)
    done = w.service.process_raw(raw_id)
    assert isinstance(done, Delivery)
    assert done.disposition is Disposition.ACCEPTED
    assert [r.disposition for r in flaky.intake_records()] == [Disposition.ACCEPTED]


@pytest.mark.parametrize("raw_id", ["0" * 64, "f" * 64, "not-hex", ""])
def test_process_raw_of_an_unknown_id_is_not_found(raw_id: str) -> None:
    w = world()
    w.service.store(mail(), envelope())
    with pytest.raises(NotFoundError):
        w.service.process_raw(RawMessageId(raw_id))


def test_concurrent_process_raw_of_one_id_makes_one_message() -> None:
    """Two workers given the same id at once (a redelivered task): one message, one record."""
    w = world()
    raw_ids = [
        w.service.store(mail(message_id=f"<c{i}@x.example>"), envelope()).raw_id for i in range(5)
    ]
    barrier = threading.Barrier(3)

    def work() -> None:
        barrier.wait(10)
        for raw_id in raw_ids:
            assert raw_id is not None
            w.service.process_raw(raw_id)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(w.storage.records(Message)) == 5
    records = w.storage.intake_records()
    assert sorted(r.raw_id for r in records) == sorted(raw_ids)  # type: ignore[type-var]


def test_hold_unprocessed_quarantines_with_the_reason_once() -> None:
    """Retries spent: held mail with the reason, not run again, and releasable."""
    w = world()
    raw_id = w.service.store(mail(), envelope()).raw_id
    assert raw_id is not None
    reason = Reason(code="retries_exhausted", message="gave up after 3 tries")
    held = w.service.hold_unprocessed(raw_id, reason)
    assert isinstance(held, IntakeRecord)
    assert (held.disposition, held.reason_codes) == (
        Disposition.QUARANTINED,
        ("retries_exhausted",),
    )
    assert held.envelope == envelope()
    assert [r.raw_id for r in w.service.quarantined()] == [raw_id]
    assert [e.raw_id for e in w.events.of_type(MessageQuarantined)] == [raw_id]
    assert isinstance(w.service.process_raw(raw_id), AlreadyRecorded)
    assert isinstance(w.service.hold_unprocessed(raw_id, reason), AlreadyRecorded)
    assert w.storage.records(Message) == ()
    assert w.service.release(raw_id).disposition is Disposition.ACCEPTED


def test_hold_unprocessed_of_an_unknown_id_is_not_found() -> None:
    with pytest.raises(NotFoundError):
        world().service.hold_unprocessed(RawMessageId("a" * 64), Reason(code="x", message="x"))


def test_recover_hands_unrecorded_messages_to_the_queue() -> None:
    """Stored and enqueued, but the enqueue was lost: the sweep hands each id over, runs none."""
    w = world()
    lost = [
        w.service.store(mail(message_id=f"<l{i}@x.example>"), envelope()).raw_id for i in range(2)
    ]
    done = w.service.store(mail(), envelope()).raw_id
    assert done is not None
    w.service.process_raw(done)
    w.clock.advance(timedelta(hours=1))
    handed: list[RawMessageId] = []
    recovery = w.service.recover(handoff=handed.append)
    assert sorted(handed) == sorted(lost)  # type: ignore[type-var]
    assert [m.reason_codes for m in recovery.messages] == [("unrecorded", "handed_off")] * 2
    assert all(m.delivery is None for m in recovery.messages)
    assert len(w.storage.intake_records()) == 1


def test_recover_stops_when_the_handoff_fails() -> None:
    w = world()
    w.service.store(mail(), envelope())
    w.clock.advance(timedelta(hours=1))

    def broker_down(raw_id: RawMessageId) -> None:
        raise ConnectionError("broker down")

    with pytest.raises(ConnectionError):
        w.service.recover(handoff=broker_down)
    assert w.storage.intake_records() == ()


def test_the_receiver_answers_what_its_accept_gives() -> None:
    """A receiver given ``accept`` hands it the data (no intake runs) and answers its reply:
    250 once stored, 451 when it could not be (split intake's store-and-enqueue)."""
    receiver_module = pytest.importorskip("inboxcore.entrypoints.receiver")
    import asyncio
    import smtplib

    from tests.test_service import ADDRESS

    w = world()
    stored = w.service.store(mail(), envelope())
    answers = [stored, attrs.evolve(stored, raw_id=None, smtp=Reply.STORAGE_DOWN.value)]
    given: list[bytes] = []

    def accept(data: bytes, env: Any) -> Stored:
        given.append(data)
        return answers[len(given) - 1]

    lmtp = receiver_module.ReceiverProtocol.LMTP
    listener = receiver_module.ListenAddress.parse(lmtp, "127.0.0.1:0")
    receiver = receiver_module.Receiver(w.service, [listener], accept=accept)
    loop = asyncio.new_event_loop()
    bound = loop.run_until_complete(receiver.start())
    thread = threading.Thread(target=loop.run_until_complete, args=(receiver.serve(),))
    thread.start()
    replies = []
    try:
        for _attempt in range(2):
            client = smtplib.LMTP("127.0.0.1", bound[0].port, timeout=10)
            client.ehlo("postfix.test")
            client.mail("srs0=x@acme.example")
            client.rcpt(ADDRESS)
            replies.append(client.data(mail())[0])
            client.quit()
    finally:
        loop.call_soon_threadsafe(receiver.request_stop)
        thread.join(30)
        loop.close()
    assert replies == [250, 451]
    assert len(given) == 2
    assert given[0].endswith(mail())
    assert w.storage.intake_records() == ()  # nothing ran intake
