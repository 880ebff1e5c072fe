"""Every real-world message of ../shared/corpus through the whole service: a verdict, never a crash.

The module-level corpus tests judge parsing (mime4j), classification (sisimai) and sender
resolution (crisp) one stage at a time; this one runs each message through
:class:`~inboxcore.app.service.InboxService` into one shared in-memory inbox, the way a channel would
receive them, and checks what the team would see: every message gets a verdict; bounces and other
automatic mail land in the inbox without opening a ticket or being routed; a manual forward by an
agent belongs to the original writer's contact. The agent's forwards come from the team's own
server (SPF passes for team.example), which is what makes them the team's. Scores are printed
(``pytest -s``).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from inboxcore.app.service import Delivery, InboxConfig, InboxService
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.ids import AccountId, ChannelId, UserId
from inboxcore.domain.model import (
    Account,
    Channel,
    ChannelState,
    Contact,
    Conversation,
    Envelope,
    MessageKind,
    RoutingMode,
    RoutingSettings,
    Ticket,
    User,
)
from inboxcore.domain.outcomes import Disposition
from inboxcore.testing import (
    FakeClock,
    FakeDirectory,
    InMemoryDns,
    InMemoryRawStore,
    InMemoryStorage,
    RecordingEventSink,
    SequentialIds,
)
from tests.test_corpus_bounces import NOT_BOUNCES_FOR_US
from tests.test_corpus_forwards import AGENT, _wrap

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
CHANNEL = "support-7f3k@acme.inbox.example.net"
ACME = AccountId("acme")
TEAM_IP = "192.0.2.10"
TEAM_ZONE = {"team.example": {"TXT": ["v=spf1 ip4:192.0.2.0/24 -all"]}}


def _service() -> tuple[InboxService, InMemoryStorage]:
    storage = InMemoryStorage()
    agent = User(id=UserId("u1"), account_id=ACME, email=EmailAddress.parse(AGENT))
    directory = FakeDirectory(users=[agent], available=[UserId("u1")])
    channel = Channel(
        id=ChannelId("chan-1"),
        account_id=ACME,
        name="Support",
        forwarding_address=EmailAddress.parse(CHANNEL),
        created_at=NOW,
        state=ChannelState.CONNECTED,
        routing=RoutingSettings(mode=RoutingMode.USERS_AND_TEAMS, user_ids=(UserId("u1"),)),
    )
    with storage.unit_of_work() as uow:
        uow.accounts.add(Account(id=ACME, name="Acme", subdomain="acme"))
        uow.channels.add(channel)
        uow.commit()
    service = InboxService(
        storage=storage,
        raw_store=InMemoryRawStore(),
        clock=FakeClock(NOW),
        ids=SequentialIds(),
        directory=directory,
        events=RecordingEventSink(),
        config=InboxConfig(
            conversation_keys=(b"corpus-conversation-key-01",),
            message_id_domain="acme.inbox.example.net",
        ),
        dns=InMemoryDns(TEAM_ZONE),
    )
    return service, storage


def _rows(shared: Path) -> list[dict[str, Any]]:
    index = shared / "corpus" / "index.jsonl"
    return [json.loads(line) for line in index.read_text(encoding="utf-8").splitlines()]


def _raw(shared: Path, row: dict[str, Any], n: int = 0) -> bytes:
    data: bytes = (shared / "corpus" / str(row["path"])).read_bytes()
    if row["format"] == "body_text":
        subject = None
        if row.get("subject_file"):
            subject = (shared / "corpus" / row["subject_file"]).read_text(encoding="utf-8").strip()
        # Each row is a different forward from the agent (some share a body file and differ in
        # subject): give each its own Message-ID.
        unique = f"row{n}." + row["path"].replace("/", ".")
        return _wrap(data, subject).replace(
            b"<corpus-forward@team.example>", f"<{unique}@team.example>".encode()
        )
    return data


def _ticket_of(storage: InMemoryStorage, delivery: Delivery) -> Ticket | None:
    return next(
        (t for t in storage.records(Ticket) if t.conversation_id == delivery.conversation_id), None
    )


def test_every_corpus_message_gets_a_verdict_and_lands_right(shared_dir: Path) -> None:
    """All ~590 corpus messages: a verdict each; automatic mail opens no ticket; forwards find their writer."""
    service, storage = _service()
    verdicts: Counter[str] = Counter()
    checks: Counter[str] = Counter()
    failures: list[str] = []
    for n, row in enumerate(_rows(shared_dir)):
        raw = _raw(shared_dir, row, n)
        mail_from = "" if row["category"] == "bounce" else "srs0=x@acme.example"
        client_ip = None
        if row["format"] == "body_text":  # the agent's forward, from the team's own server
            mail_from, client_ip = AGENT, TEAM_IP
        envelope = Envelope(
            received_at=NOW, mail_from=mail_from, rcpt_to=(CHANNEL,), client_ip=client_ip
        )
        delivery = service.receive(raw, envelope)
        verdicts[delivery.disposition.value] += 1
        assert 200 <= delivery.smtp.code < 600
        assert delivery.disposition is not Disposition.REJECTED, (row["path"], delivery.reasons)
        if delivery.disposition is Disposition.QUARANTINED:
            # Only a message with no usable sender may be held back; never a crash.
            assert delivery.reason_codes == ("no_sender",), (row["path"], delivery.reasons)
            continue
        expected = row.get("expected", {})
        kind = delivery.intake.kind
        if expected.get("is_automated") and row["path"] not in NOT_BOUNCES_FOR_US:
            checks["automated: no ticket, not routed"] += 1
            if delivery.disposition is Disposition.ACCEPTED and (
                kind is MessageKind.MESSAGE or _ticket_of(storage, delivery) is not None
            ):
                failures.append(f"{row['path']}: automatic mail became work ({kind})")
        if expected.get("is_bounce") is True and row["path"] not in NOT_BOUNCES_FOR_US:
            checks["bounce"] += 1
            if kind is not MessageKind.BOUNCE:
                failures.append(f"{row['path']}: bounce classified {kind}")
        if (
            row["source"] == "crisp_forward_parser"
            and expected.get("forwarded")
            and expected.get("original_from_email")
        ):
            checks["forward: contact is the original writer"] += 1
            contact = next(
                (c for c in storage.records(Contact) if c.id == delivery.contact_id), None
            )
            if contact is None or contact.email.key != expected["original_from_email"].lower():
                failures.append(
                    f"{row['path']}: contact {contact and contact.email} is not {expected['original_from_email']}"
                )
    print(
        f"\ncorpus through the service: {dict(verdicts)}; checks: {dict(checks)}; failures: {len(failures)}"
    )
    assert failures == []
    assert sum(verdicts.values()) == len(_rows(shared_dir))
    # 82 corpus files repeat both the Message-ID and the Date of an earlier one (anonymised
    # fixtures; 16 are byte-identical): in real mail that is the same message delivered again,
    # so they are duplicates and only the first of each is checked as a bounce.
    assert verdicts["duplicate"] <= 82
    assert checks["bounce"] >= 380
    assert checks["forward: contact is the original writer"] >= 100
    # Every accepted customer conversation got a ticket and was routed to the one agent.
    tickets = {t.conversation_id for t in storage.records(Ticket)}
    for conversation in storage.records(Conversation):
        if conversation.kind.value == "customer" and conversation.linked_conversation_id is None:
            assert conversation.id in tickets
            assert conversation.assignee_id == "u1"


def test_corpus_again_is_all_duplicates(shared_dir: Path) -> None:
    """Delivering the whole raw-message corpus twice: the second pass changes nothing."""
    service, storage = _service()
    rows = [r for r in _rows(shared_dir) if r["format"] == "rfc5322"][:150]
    envelope = Envelope(received_at=NOW, mail_from="", rcpt_to=(CHANNEL,))
    first = [service.receive(_raw(shared_dir, r), envelope).disposition for r in rows]
    before = (len(storage.records(Conversation)), len(storage.records(Contact)))
    second = [service.receive(_raw(shared_dir, r), envelope).disposition for r in rows]
    assert before == (len(storage.records(Conversation)), len(storage.records(Contact)))
    for a, b in zip(first, second, strict=True):
        if a is Disposition.ACCEPTED:
            assert b is Disposition.DUPLICATE
        else:
            assert b is a
