"""The contract suite of the :class:`~inboxcore.ports.Storage` port (private to
:mod:`inboxcore.testing.contracts`, which re-exports :class:`StorageContract`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import (
    ConflictError,
    DuplicateMessage,
    DuplicateRecord,
    ForwardingAddressRetired,
    ForwardingAddressTaken,
    FromNameTaken,
    InvalidValueError,
    NotFoundError,
)
from inboxcore.domain.ids import (
    AccountId,
    ChannelId,
    ContactId,
    ConversationId,
    MessageId,
    RawMessageId,
    TicketId,
    UserId,
)
from inboxcore.domain.model import (
    Account,
    Channel,
    ChannelState,
    Contact,
    Conversation,
    ConversationKind,
    ConversationQuery,
    ConversationStatus,
    Direction,
    Envelope,
    IntakeRecord,
    Message,
    MessageKind,
    RotationState,
    Ticket,
    TicketQuery,
    TicketStatus,
)
from inboxcore.domain.outcomes import Disposition
from inboxcore.policies.threads import subject_key
from inboxcore.ports import Storage

__all__ = ["StorageContract", "T0"]

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _account(n: int = 1) -> Account:
    return Account(id=AccountId(f"acct-{n}"), name=f"Account {n}", subdomain=f"acct{n}")


def _channel(n: int, account: int = 1, address: str | None = None, company: str = "") -> Channel:
    return Channel(
        id=ChannelId(f"chan-{n}"),
        account_id=AccountId(f"acct-{account}"),
        name=f"Channel {n}",
        forwarding_address=EmailAddress.parse(address or f"support-{n}@acct{account}.inbox.test"),
        created_at=T0 + timedelta(minutes=n),
        company_name=company,
    )


def _contact(n: int, email: str, account: int = 1) -> Contact:
    return Contact(
        id=ContactId(f"contact-{n}"),
        account_id=AccountId(f"acct-{account}"),
        email=EmailAddress.parse(email),
        created_at=T0,
    )


def _conversation(n: int, channel: int = 1, contact: int = 1, at: datetime = T0) -> Conversation:
    return Conversation(
        id=ConversationId(f"conv-{n}"),
        account_id=AccountId("acct-1"),
        channel_id=ChannelId(f"chan-{channel}"),
        contact_id=ContactId(f"contact-{contact}"),
        subject=f"Subject {n}",
        created_at=at,
        last_message_at=at,
    )


def _message(
    n: int, rfc_id: str | None, channel: int = 1, conversation: int = 1, at: datetime = T0
) -> Message:
    return Message(
        id=MessageId(f"msg-{n}"),
        account_id=AccountId("acct-1"),
        channel_id=ChannelId(f"chan-{channel}"),
        conversation_id=ConversationId(f"conv-{conversation}"),
        direction=Direction.INBOUND,
        kind=MessageKind.MESSAGE,
        fingerprint=f"fp-{n}",
        received_at=at,
        rfc_message_id=rfc_id,
    )


def _ticket(n: int, conversation: int) -> Ticket:
    return Ticket(
        id=TicketId(f"ticket-{n}"),
        account_id=AccountId("acct-1"),
        channel_id=ChannelId("chan-1"),
        conversation_id=ConversationId(f"conv-{conversation}"),
        name=f"Ticket {n}",
        created_at=T0,
        updated_at=T0,
    )


class StorageContract:
    """Contract tests for a :class:`~inboxcore.ports.Storage` adapter."""

    def make_storage(self) -> Storage:
        raise NotImplementedError("a contract test class must implement make_storage()")

    # --- helpers ---------------------------------------------------------------------------

    def _seeded(self) -> Storage:
        storage = self.make_storage()
        with storage.unit_of_work() as uow:
            uow.accounts.add(_account(1))
            uow.accounts.add(_account(2))
            uow.channels.add(_channel(1, company="Acme Support"))
            uow.contacts.add(_contact(1, "ada@example.com"))
            uow.conversations.add(_conversation(1))
            uow.commit()
        return storage

    def _commit(self, storage: Storage, action: Callable[[Any], None]) -> None:
        with storage.unit_of_work() as uow:
            action(uow)
            uow.commit()

    # --- records round-trip ------------------------------------------------------------------

    def test_records_read_back_equal(self) -> None:
        """Every kind of record reads back equal to what was stored."""
        storage = self._seeded()
        self._commit(storage, lambda u: u.messages.add(_message(1, "a@x")))
        self._commit(storage, lambda u: u.tickets.add(_ticket(1, 1)))
        with storage.unit_of_work() as uow:
            assert uow.accounts.get(AccountId("acct-1")) == _account(1)
            assert uow.channels.get(ChannelId("chan-1")) == _channel(1, company="Acme Support")
            assert uow.contacts.get(ContactId("contact-1")) == _contact(1, "ada@example.com")
            assert uow.conversations.get(ConversationId("conv-1")) == _conversation(1)
            assert uow.messages.get(MessageId("msg-1")) == _message(1, "a@x")
            assert uow.tickets.get(TicketId("ticket-1")) == _ticket(1, 1)

    def test_a_message_keeps_its_authentication_results(self) -> None:
        """Our Authentication-Results value, kept with a message, reads back unchanged, by id
        and by conversation ("why was this let in?" must be answerable later)."""
        storage = self._seeded()
        value = (
            "inboxcore; spf=pass smtp.mailfrom=acme.example; dkim=pass header.d=example.com "
            'header.s=s1 header.b="a;b"; arc=none; dmarc=pass header.from=example.com'
        )
        kept = attrs.evolve(_message(1, "a@x"), authentication_results=value)
        self._commit(storage, lambda u: u.messages.add(kept))
        with storage.unit_of_work() as uow:
            assert uow.messages.get(MessageId("msg-1")).authentication_results == value
            (found,) = uow.messages.for_conversation(ConversationId("conv-1"))
            assert found == kept

    def test_missing_records_raise_not_found(self) -> None:
        """get() of an unknown id raises NotFoundError; finders return None."""
        storage = self._seeded()
        with storage.unit_of_work() as uow:
            lookups: list[Callable[[], object]] = [
                lambda: uow.accounts.get(AccountId("nope")),
                lambda: uow.channels.get(ChannelId("nope")),
                lambda: uow.contacts.get(ContactId("nope")),
                lambda: uow.conversations.get(ConversationId("nope")),
                lambda: uow.messages.get(MessageId("nope")),
                lambda: uow.tickets.get(TicketId("nope")),
            ]
            for lookup in lookups:
                with pytest.raises(NotFoundError):
                    lookup()
            assert uow.channels.by_forwarding_address("nobody@nowhere.test") is None
            assert uow.contacts.by_email(AccountId("acct-1"), "nobody@nowhere.test") is None
            assert uow.tickets.for_conversation(ConversationId("nope")) is None
            assert uow.routing.rotation(ChannelId("chan-1")) is None

    def test_update_of_missing_record_raises_not_found(self) -> None:
        """update() of a record never added raises NotFoundError."""
        storage = self._seeded()
        with storage.unit_of_work() as uow, pytest.raises(NotFoundError):
            uow.conversations.update(_conversation(99))

    def test_adding_an_existing_id_is_a_duplicate(self) -> None:
        """add() with an id already stored raises DuplicateRecord."""
        storage = self._seeded()
        with storage.unit_of_work() as uow, pytest.raises(DuplicateRecord):
            uow.conversations.add(_conversation(1))

    # --- uniqueness ----------------------------------------------------------------------------

    def test_forwarding_address_is_unique_across_accounts(self) -> None:
        """A forwarding address, compared case-insensitively, belongs to one channel of all."""
        storage = self._seeded()
        clash = _channel(2, account=2, address="SUPPORT-1@ACCT1.inbox.test")
        with storage.unit_of_work() as uow, pytest.raises(ForwardingAddressTaken):
            uow.channels.add(clash)
        with storage.unit_of_work() as uow:
            uow.channels.add(_channel(2, account=2))
            uow.commit()
        moved = attrs.evolve(
            _channel(2, account=2),
            forwarding_address=EmailAddress.parse("support-1@acct1.inbox.test"),
        )
        with storage.unit_of_work() as uow, pytest.raises(ForwardingAddressTaken):
            uow.channels.update(moved)

    def test_channel_found_by_address_key(self) -> None:
        """by_forwarding_address finds the channel by its lowercase address."""
        storage = self._seeded()
        with storage.unit_of_work() as uow:
            found = uow.channels.by_forwarding_address("support-1@acct1.inbox.test")
            assert found is not None
            assert found.id == "chan-1"

    def test_retired_address_is_never_reused(self) -> None:
        """Once retired, an address can belong to no other channel, in any account."""
        storage = self._seeded()
        with storage.unit_of_work() as uow:
            uow.channels.retire_address("old-7@acct1.inbox.test", ChannelId("chan-1"), T0)
            uow.commit()
        with storage.unit_of_work() as uow:
            assert uow.channels.is_retired("OLD-7@acct1.inbox.test")
            assert not uow.channels.is_retired("other@acct1.inbox.test")
            with pytest.raises(ForwardingAddressRetired):
                uow.channels.add(_channel(3, account=2, address="old-7@acct1.inbox.test"))

    def test_retiring_is_idempotent(self) -> None:
        """Retiring the same address twice is no error."""
        storage = self._seeded()
        for _ in range(2):
            with storage.unit_of_work() as uow:
                uow.channels.retire_address("support-1@acct1.inbox.test", ChannelId("chan-1"), T0)
                uow.commit()
        with storage.unit_of_work() as uow:
            assert uow.channels.is_retired("support-1@acct1.inbox.test")

    def test_channel_keeps_its_own_retired_address(self) -> None:
        """The channel that retired its address can still be updated (e.g. disconnected)."""
        storage = self._seeded()
        with storage.unit_of_work() as uow:
            channel = uow.channels.get(ChannelId("chan-1"))
            uow.channels.retire_address(channel.forwarding_address.key, channel.id, T0)
            uow.channels.update(attrs.evolve(channel, state=ChannelState.DISCONNECTED))
            uow.commit()
        with storage.unit_of_work() as uow:
            assert uow.channels.get(ChannelId("chan-1")).state is ChannelState.DISCONNECTED

    def test_from_name_is_unique_per_account(self) -> None:
        """Two channels of one account cannot share a from-name (NFKC, case, spaces folded)."""
        storage = self._seeded()
        with storage.unit_of_work() as uow, pytest.raises(FromNameTaken):
            uow.channels.add(_channel(2, company=" acme  SUPPORT"))
        with storage.unit_of_work() as uow:
            uow.channels.add(_channel(3, account=2, company="Acme Support"))  # other account
            uow.channels.add(_channel(4, company="Acme Sales"))
            uow.commit()
        with storage.unit_of_work() as uow:
            assert len(uow.channels.for_account(AccountId("acct-1"))) == 2

    def test_disconnected_channel_frees_its_from_name(self) -> None:
        """A disconnected channel's from-name may be used by another channel."""
        storage = self._seeded()
        with storage.unit_of_work() as uow:
            channel = uow.channels.get(ChannelId("chan-1"))
            uow.channels.update(attrs.evolve(channel, state=ChannelState.DISCONNECTED))
            uow.channels.add(_channel(2, company="ACME support"))
            uow.commit()

    def test_message_id_is_unique_per_channel(self) -> None:
        """A channel holds one message per Message-ID; another channel may hold the same."""
        storage = self._seeded()
        self._commit(storage, lambda u: u.channels.add(_channel(2)))
        self._commit(storage, lambda u: u.messages.add(_message(1, "dup@x")))
        with storage.unit_of_work() as uow, pytest.raises(DuplicateMessage):
            uow.messages.add(_message(2, "dup@x"))
        self._commit(storage, lambda u: u.messages.add(_message(3, "dup@x", channel=2)))
        with storage.unit_of_work() as uow:
            assert uow.messages.by_dedup_key(ChannelId("chan-1"), "mid:dup@x") is not None
            assert uow.messages.by_dedup_key(ChannelId("chan-2"), "mid:dup@x") is not None

    def test_messages_without_message_id_dedup_by_fingerprint(self) -> None:
        """Without a Message-ID the fingerprint is the unique key."""
        storage = self._seeded()
        self._commit(storage, lambda u: u.messages.add(_message(1, None)))
        twin = attrs.evolve(_message(2, None), fingerprint="fp-1")
        with storage.unit_of_work() as uow, pytest.raises(DuplicateMessage):
            uow.messages.add(twin)

    def test_contact_email_is_unique_per_account(self) -> None:
        """One contact per email key in an account."""
        storage = self._seeded()
        with storage.unit_of_work() as uow, pytest.raises(DuplicateRecord):
            uow.contacts.add(_contact(2, "ADA@example.com"))
        self._commit(storage, lambda u: u.contacts.add(_contact(3, "ada@example.com", account=2)))
        with storage.unit_of_work() as uow:
            found = uow.contacts.by_email(AccountId("acct-1"), "Ada@Example.com".lower())
            assert found is not None
            assert found.id == "contact-1"

    def test_one_ticket_per_conversation(self) -> None:
        """A conversation has at most one ticket."""
        storage = self._seeded()
        self._commit(storage, lambda u: u.tickets.add(_ticket(1, 1)))
        with storage.unit_of_work() as uow, pytest.raises(DuplicateRecord):
            uow.tickets.add(_ticket(2, 1))

    # --- units of work -------------------------------------------------------------------------

    def test_rollback_leaves_nothing(self) -> None:
        """Writes of a unit that is rolled back, or left without commit, are gone."""
        storage = self._seeded()
        with storage.unit_of_work() as uow:
            uow.contacts.add(_contact(2, "bob@example.com"))
            uow.conversations.add(_conversation(2, contact=2))
            uow.rollback()
        with storage.unit_of_work() as uow:
            uow.contacts.add(_contact(3, "cy@example.com"))
            # no commit: leaving the block rolls back
        with storage.unit_of_work() as uow:
            assert uow.contacts.by_email(AccountId("acct-1"), "bob@example.com") is None
            assert uow.contacts.by_email(AccountId("acct-1"), "cy@example.com") is None
            with pytest.raises(NotFoundError):
                uow.conversations.get(ConversationId("conv-2"))

    def test_exception_in_block_rolls_back(self) -> None:
        """An exception inside the block rolls the unit back and propagates."""
        storage = self._seeded()

        def fail_midway() -> None:
            with storage.unit_of_work() as uow:
                uow.contacts.add(_contact(2, "bob@example.com"))
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            fail_midway()
        with storage.unit_of_work() as uow:
            assert uow.contacts.by_email(AccountId("acct-1"), "bob@example.com") is None

    def test_unit_reads_its_own_writes_others_do_not(self) -> None:
        """A unit sees its uncommitted writes; another unit does not until commit."""
        storage = self._seeded()
        with storage.unit_of_work() as writer:
            writer.contacts.add(_contact(2, "bob@example.com"))
            assert writer.contacts.by_email(AccountId("acct-1"), "bob@example.com") is not None
            with storage.unit_of_work() as reader:
                assert reader.contacts.by_email(AccountId("acct-1"), "bob@example.com") is None
            writer.commit()
        with storage.unit_of_work() as reader:
            assert reader.contacts.by_email(AccountId("acct-1"), "bob@example.com") is not None

    def test_conflicting_commit_applies_nothing(self) -> None:
        """A unit whose commit clashes with one committed meanwhile applies none of its writes."""
        storage = self._seeded()
        errors: list[BaseException] = []

        def late_writer(ready: threading.Event, go: threading.Event) -> None:
            try:
                with storage.unit_of_work() as uow:
                    uow.conversations.add(_conversation(5, contact=2))
                    uow.contacts.add(_contact(2, "bob@example.com"))
                    ready.set()
                    go.wait(10)
                    uow.commit()
            except ConflictError as exc:
                errors.append(exc)

        ready, go = threading.Event(), threading.Event()
        thread = threading.Thread(target=late_writer, args=(ready, go))
        thread.start()
        ready.wait(10)
        # On a database that locks on insert, this competitor waits for the late writer instead;
        # either way exactly one of the two contacts may exist.
        competitor_done = threading.Event()

        def competitor() -> None:
            try:
                with storage.unit_of_work() as uow:
                    uow.contacts.add(_contact(3, "bob@example.com"))
                    uow.commit()
            except ConflictError as exc:
                errors.append(exc)
            competitor_done.set()

        other = threading.Thread(target=competitor)
        other.start()
        competitor_done.wait(0.5)
        go.set()
        thread.join(20)
        other.join(20)
        assert len(errors) == 1
        with storage.unit_of_work() as uow:
            bob = uow.contacts.by_email(AccountId("acct-1"), "bob@example.com")
            assert bob is not None
            conv5_exists = True
            try:
                uow.conversations.get(ConversationId("conv-5"))
            except NotFoundError:
                conv5_exists = False
            # The conversation was written by the late writer: it exists only if that unit won.
            assert conv5_exists == (bob.id == "contact-2")

    def test_concurrent_duplicate_inserts_keep_one(self) -> None:
        """Threads inserting the same Message-ID at once: exactly one commit wins."""
        storage = self._seeded()
        threads_count = 8
        barrier = threading.Barrier(threads_count)
        won: list[int] = []
        lost: list[BaseException] = []
        lock = threading.Lock()

        def insert(n: int) -> None:
            barrier.wait(10)
            try:
                with storage.unit_of_work() as uow:
                    if uow.messages.by_dedup_key(ChannelId("chan-1"), "mid:race@x") is None:
                        uow.messages.add(_message(100 + n, "race@x"))
                    uow.commit()
                    with lock:
                        won.append(n)
            except ConflictError as exc:
                with lock:
                    lost.append(exc)

        threads = [threading.Thread(target=insert, args=(n,)) for n in range(threads_count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        with storage.unit_of_work() as uow:
            stored = uow.messages.by_rfc_message_ids(ChannelId("chan-1"), ["race@x"])
        assert len(stored) == 1
        assert all(isinstance(e, DuplicateMessage) for e in lost)
        assert len(won) + len(lost) == threads_count

    def test_rotation_turns_are_never_lost(self) -> None:
        """Concurrent read-increment-save of the rotation, retried on conflict, loses no turn."""
        storage = self._seeded()
        workers, turns = 4, 15

        def take_turns(n: int) -> None:
            for _ in range(turns):
                for _attempt in range(200):
                    try:
                        with storage.unit_of_work() as uow:
                            state = uow.routing.rotation(ChannelId("chan-1")) or RotationState(
                                channel_id=ChannelId("chan-1")
                            )
                            uow.routing.save_rotation(
                                attrs.evolve(
                                    state,
                                    assigned_count=state.assigned_count + 1,
                                    last_user_id=UserId(f"user-{n}"),
                                )
                            )
                            uow.commit()
                        break
                    except ConflictError:
                        continue

        threads = [threading.Thread(target=take_turns, args=(n,)) for n in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        with storage.unit_of_work() as uow:
            state = uow.routing.rotation(ChannelId("chan-1"))
        assert state is not None
        assert state.assigned_count == workers * turns

    # --- queries -------------------------------------------------------------------------------

    def test_conversation_queries(self) -> None:
        """for_contact filters by channel, contact and time, newest first; open counts per agent."""
        storage = self._seeded()

        def fill(uow: Any) -> None:
            uow.conversations.add(_conversation(2, at=T0 + timedelta(days=1)))
            uow.conversations.add(_conversation(3, at=T0 - timedelta(days=30)))
            uow.conversations.add(_conversation(4, contact=2, at=T0 + timedelta(days=2)))
            uow.conversations.add(
                attrs.evolve(_conversation(5, contact=2), assignee_id=UserId("u1"))
            )
            uow.conversations.add(
                attrs.evolve(
                    _conversation(6, contact=2),
                    assignee_id=UserId("u1"),
                    status=ConversationStatus.CLOSED,
                )
            )

        self._commit(storage, fill)
        with storage.unit_of_work() as uow:
            found = uow.conversations.for_contact(
                ChannelId("chan-1"), ContactId("contact-1"), T0 - timedelta(days=1)
            )
            assert [c.id for c in found] == ["conv-2", "conv-1"]
            assert len(uow.conversations.for_channel(ChannelId("chan-1"))) == 6
            assert uow.conversations.count_open_assigned(UserId("u1")) == 1

    def test_message_queries(self) -> None:
        """Messages are found by Message-IDs and listed per conversation, oldest first."""
        storage = self._seeded()

        def fill(uow: Any) -> None:
            uow.messages.add(_message(1, "b@x", at=T0 + timedelta(hours=2)))
            uow.messages.add(_message(2, "a@x", at=T0 + timedelta(hours=1)))
            uow.messages.add(_message(3, "c@x", conversation=2))

        self._commit(storage, fill)
        with storage.unit_of_work() as uow:
            found = uow.messages.by_rfc_message_ids(ChannelId("chan-1"), ["a@x", "zzz@x", "c@x"])
            assert sorted(m.id for m in found) == ["msg-2", "msg-3"]
            listed = uow.messages.for_conversation(ConversationId("conv-1"))
            assert [m.id for m in listed] == ["msg-2", "msg-1"]
            failed = attrs.evolve(listed[0], delivery_detail="5.1.1 unknown user")
            uow.messages.update(failed)
            assert uow.messages.get(MessageId("msg-2")).delivery_detail == "5.1.1 unknown user"

    def test_intake_log(self) -> None:
        """The intake log keeps decisions; a raw message accepted later leaves the quarantine."""
        storage = self._seeded()
        env = Envelope(received_at=T0, rcpt_to=("support-1@acct1.inbox.test",))

        def entry(raw: str, disposition: str, at: datetime) -> IntakeRecord:
            return IntakeRecord(
                raw_id=RawMessageId(raw),
                envelope=env,
                disposition=disposition,
                reason_codes=("x",),
                at=at,
                channel_id=ChannelId("chan-1"),
            )

        self._commit(storage, lambda u: u.intake_log.record(entry("r1", "quarantined", T0)))
        self._commit(storage, lambda u: u.intake_log.record(entry("r2", "quarantined", T0)))
        with storage.unit_of_work() as uow:
            assert [e.raw_id for e in uow.intake_log.quarantined()] == ["r1", "r2"]
            uow.intake_log.record(entry("r1", "accepted", T0 + timedelta(hours=1)))
            uow.commit()
        with storage.unit_of_work() as uow:
            assert [e.raw_id for e in uow.intake_log.quarantined(ChannelId("chan-1"))] == ["r2"]
            assert [e.disposition for e in uow.intake_log.for_raw_message(RawMessageId("r1"))] == [
                Disposition.QUARANTINED,
                Disposition.ACCEPTED,
            ]
            assert uow.intake_log.for_raw_message(RawMessageId("r1"))[0].envelope == env

    def test_quarantine_after_acceptance_is_still_held(self) -> None:
        """Only an acceptance *after* a quarantine releases it (a lost commit answer logs both)."""
        storage = self._seeded()
        env = Envelope(received_at=T0, rcpt_to=("support-1@acct1.inbox.test",))

        def entry(disposition: str, at: datetime) -> IntakeRecord:
            return IntakeRecord(
                raw_id=RawMessageId("r9"),
                envelope=env,
                disposition=disposition,
                reason_codes=("internal_error",) if disposition == "quarantined" else (),
                at=at,
                channel_id=ChannelId("chan-1"),
            )

        self._commit(storage, lambda u: u.intake_log.record(entry("accepted", T0)))
        later = T0 + timedelta(seconds=1)
        self._commit(storage, lambda u: u.intake_log.record(entry("quarantined", later)))
        with storage.unit_of_work() as uow:
            assert [e.raw_id for e in uow.intake_log.quarantined()] == ["r9"]
            uow.intake_log.record(entry("accepted", T0 + timedelta(seconds=2)))
            uow.commit()
        with storage.unit_of_work() as uow:
            assert uow.intake_log.quarantined() == ()

    def test_a_discard_ends_the_hold_until_the_next_quarantine(self) -> None:
        """A person's discard takes a message out of the list; held again only by a later
        quarantine (the same mail delivered anew)."""
        storage = self._seeded()
        env = Envelope(received_at=T0, rcpt_to=("support-1@acct1.inbox.test",))

        def entry(disposition: str, seconds: int) -> IntakeRecord:
            return IntakeRecord(
                raw_id=RawMessageId("r7"),
                envelope=env,
                disposition=disposition,
                at=T0 + timedelta(seconds=seconds),
                channel_id=ChannelId("chan-1"),
            )

        self._commit(storage, lambda u: u.intake_log.record(entry("quarantined", 0)))
        self._commit(storage, lambda u: u.intake_log.record(entry("discarded", 1)))
        with storage.unit_of_work() as uow:
            assert uow.intake_log.quarantined() == ()
        self._commit(storage, lambda u: u.intake_log.record(entry("quarantined", 2)))
        with storage.unit_of_work() as uow:
            assert [e.at for e in uow.intake_log.quarantined()] == [T0 + timedelta(seconds=2)]

    # --- narrow lookups and pages ----------------------------------------------------------------

    def test_by_subject_finds_the_contact_s_thread_by_key_newest_first(self) -> None:
        """Only the contact's conversations with that subject key, in the window, newest first,
        at most ``limit``: the lookup costs the same however many others the contact has."""
        storage = self._seeded()

        def add(uow: Any) -> None:
            for n, (subject, minutes) in enumerate(
                [
                    ("Re: Invoice 7", 10),
                    ("invoice 7", 20),
                    ("Invoice 8", 30),
                    ("Fwd: INVOICE 7", 40),
                ],
                start=2,
            ):
                at = T0 + timedelta(minutes=minutes)
                uow.conversations.add(attrs.evolve(_conversation(n, at=at), subject=subject))
            other = attrs.evolve(_conversation(9, contact=2), subject="Invoice 7")
            uow.contacts.add(_contact(2, "bob@example.com"))
            uow.conversations.add(other)

        self._commit(storage, add)
        with storage.unit_of_work() as uow:
            found = uow.conversations.by_subject(
                ChannelId("chan-1"), ContactId("contact-1"), subject_key("Invoice 7"), T0
            )
            assert [c.id for c in found] == ["conv-5", "conv-3", "conv-2"]
            later = T0 + timedelta(minutes=15)
            recent = uow.conversations.by_subject(
                ChannelId("chan-1"), ContactId("contact-1"), subject_key("invoice 7"), later, 1
            )
            assert [c.id for c in recent] == ["conv-5"]
            conversation = uow.conversations.get(ConversationId("conv-5"))
            uow.conversations.update(attrs.evolve(conversation, subject="Something else"))
            uow.commit()
        with storage.unit_of_work() as uow:
            moved = uow.conversations.by_subject(
                ChannelId("chan-1"), ContactId("contact-1"), subject_key("Invoice 7"), T0
            )
            assert [c.id for c in moved] == ["conv-3", "conv-2"]

    def test_conversation_pages_filter_and_continue_from_a_cursor(self) -> None:
        """Pages newest first by last activity, filtered by status, kind, assignee or none;
        the cursor continues exactly where the page ended, even after new arrivals."""
        storage = self._seeded()

        def add(uow: Any) -> None:
            for n in range(2, 9):
                conversation = _conversation(n, at=T0 + timedelta(minutes=n % 4))
                conversation = attrs.evolve(
                    conversation,
                    status=ConversationStatus.CLOSED if n % 3 == 0 else ConversationStatus.OPEN,
                    assignee_id=UserId("u1") if n % 2 == 0 else None,
                )
                uow.conversations.add(conversation)

        self._commit(storage, add)
        ordered = ["conv-7", "conv-3", "conv-6", "conv-2", "conv-5", "conv-8", "conv-4", "conv-1"]
        with storage.unit_of_work() as uow:
            seen: list[str] = []
            page = uow.conversations.page(
                ConversationQuery(channel_id=ChannelId("chan-1"), limit=3)
            )
            while True:
                seen += [c.id for c in page.items]
                if page.next is None:
                    break
                query = ConversationQuery(channel_id=ChannelId("chan-1"), after=page.next, limit=3)
                page = uow.conversations.page(query)
            assert seen == ordered
            closed = uow.conversations.page(
                ConversationQuery(channel_id=ChannelId("chan-1"), status=ConversationStatus.CLOSED)
            )
            assert [c.id for c in closed.items] == ["conv-3", "conv-6"]
            assert closed.next is None
            mine = uow.conversations.page(
                ConversationQuery(channel_id=ChannelId("chan-1"), assignee=UserId("u1"))
            )
            assert [c.id for c in mine.items] == ["conv-6", "conv-2", "conv-8", "conv-4"]
            nobody = uow.conversations.page(
                ConversationQuery(channel_id=ChannelId("chan-1"), unassigned=True, limit=2)
            )
            assert [c.id for c in nobody.items] == ["conv-7", "conv-3"]
            customers = uow.conversations.page(
                ConversationQuery(channel_id=ChannelId("chan-1"), kind=ConversationKind.NOTICE)
            )
            assert customers.items == ()

    def test_ticket_and_message_pages(self) -> None:
        """Tickets newest update first, by status; a conversation's messages oldest first."""
        storage = self._seeded()

        def add(uow: Any) -> None:
            for n in range(1, 5):
                ticket = attrs.evolve(
                    _ticket(n, n), updated_at=T0 + timedelta(minutes=n), owner_id=UserId("u1")
                )
                if n % 2:
                    ticket = attrs.evolve(ticket, status=TicketStatus.CLOSED)
                if n > 1:
                    uow.conversations.add(_conversation(n))
                uow.tickets.add(ticket)
            for n in range(1, 6):
                uow.messages.add(_message(n, f"m{n}@x", at=T0 + timedelta(seconds=6 - n)))

        self._commit(storage, add)
        with storage.unit_of_work() as uow:
            first = uow.tickets.page(TicketQuery(channel_id=ChannelId("chan-1"), limit=3))
            assert [k.id for k in first.items] == ["ticket-4", "ticket-3", "ticket-2"]
            assert first.next is not None
            rest = uow.tickets.page(
                TicketQuery(channel_id=ChannelId("chan-1"), after=first.next, limit=3)
            )
            assert ([k.id for k in rest.items], rest.next) == (["ticket-1"], None)
            closed = uow.tickets.page(
                TicketQuery(channel_id=ChannelId("chan-1"), status=TicketStatus.CLOSED)
            )
            assert [k.id for k in closed.items] == ["ticket-3", "ticket-1"]
            oldest = uow.messages.page(ConversationId("conv-1"), limit=2)
            assert [m.id for m in oldest.items] == ["msg-5", "msg-4"]
            assert oldest.next is not None
            more = uow.messages.page(ConversationId("conv-1"), after=oldest.next, limit=10)
            assert ([m.id for m in more.items], more.next) == (["msg-3", "msg-2", "msg-1"], None)
            with pytest.raises(InvalidValueError):
                uow.messages.page(ConversationId("conv-1"), limit=0)
