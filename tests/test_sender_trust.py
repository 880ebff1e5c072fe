"""Who a message is from, end to end: forged claims beside the same mail proven (issue 12 §2).

Each forgery below was reproduced against intake as it was: a list's or a team member's word, or a
provider's confirmation header, was believed from anyone. Each sits beside its legitimate twin,
the same mail signed (dkimpy, keys in an in-memory DNS) or sent from the domain's own servers,
which must keep working.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from inboxcore.app.service import Delivery, InboxConfig, InboxService
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.events import ForwardingConfirmationReceived
from inboxcore.domain.ids import AccountId, ChannelId, UserId
from inboxcore.domain.model import (
    Account,
    Channel,
    ChannelState,
    Contact,
    Envelope,
    Message,
    User,
)
from inboxcore.domain.outcomes import Disposition
from inboxcore.ingest import IntakePorts, IntakeResult, ingest
from inboxcore.mail.sender import SenderSource
from inboxcore.testing import (
    FakeClock,
    FakeDirectory,
    InMemoryDns,
    InMemoryRawStore,
    InMemoryStorage,
    RecordingEventSink,
    SequentialIds,
)
from tests.test_dkim_verify import rsa_key, sign

NOW = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
CHANNEL = "support-7f3k@acme.inbox.example.net"
ACME = AccountId("acme")
TEAM_IP, GOOGLE_IP, ATTACKER_IP = "192.0.2.10", "209.85.220.69", "203.0.113.66"
ANNA = User(id=UserId("anna"), account_id=ACME, email=EmailAddress.parse("anna@acme.example"))
JONAS = User(
    id=UserId("jonas"), account_id=ACME, email=EmailAddress.parse("jonas@acme-corp.example")
)
"""An agent whose address is on another domain than the channel's mailbox."""


def zone() -> InMemoryDns:
    key = rsa_key().record
    return InMemoryDns(
        {
            # The team's domain has no enforcing DMARC policy: forged mail from it is delivered.
            "acme.example": {"TXT": ["v=spf1 ip4:192.0.2.0/24 -all"]},
            "_dmarc.acme.example": {"TXT": ["v=DMARC1; p=none"]},
            "s2026._domainkey.acme.example": {"TXT": [key]},
            "googlegroups.com": {"TXT": ["v=spf1 ip4:209.85.128.0/17 ~all"]},
            "_dmarc.googlegroups.com": {"TXT": ["v=DMARC1; p=none"]},
            "s2026._domainkey.googlegroups.com": {"TXT": [key]},
            "google.com": {"TXT": ["v=spf1 ip4:209.85.128.0/17 -all"]},
            "_dmarc.google.com": {"TXT": ["v=DMARC1; p=reject"]},
            "s2026._domainkey.google.com": {"TXT": [key]},
            "attacker.example": {"TXT": ["v=spf1 ip4:203.0.113.0/24 -all"]},
            "s2026._domainkey.attacker.example": {"TXT": [key]},
            "lists.attacker.example": {"TXT": ["v=spf1 ip4:203.0.113.0/24 -all"]},
        }
    )


def channel(state: ChannelState = ChannelState.CONNECTED) -> Channel:
    return Channel(
        id=ChannelId("chan-1"),
        account_id=ACME,
        name="Support",
        forwarding_address=EmailAddress.parse(CHANNEL),
        created_at=NOW - timedelta(days=1),
        state=state,
        mailbox_addresses=(EmailAddress.parse("support@acme.example"),),
    )


def envelope(mail_from: str, client_ip: str | None) -> Envelope:
    return Envelope(received_at=NOW, mail_from=mail_from, rcpt_to=(CHANNEL,), client_ip=client_ip)


def intake(
    raw: bytes,
    mail_from: str,
    client_ip: str | None,
    *,
    offline: bool = False,
    forwarding_path: str | None = None,
) -> IntakeResult:
    storage = InMemoryStorage()
    with storage.unit_of_work() as uow:
        uow.accounts.add(Account(id=ACME, name="Acme", subdomain="acme"))
        uow.channels.add(channel())
        uow.commit()
    ports = IntakePorts(
        storage=storage,
        raw_store=InMemoryRawStore(),
        clock=FakeClock(NOW),
        dns=None if offline else zone(),
        directory=FakeDirectory(users=[ANNA, JONAS]),
    )
    return ingest(raw, envelope(mail_from, client_ip), ports=ports, forwarding_path=forwarding_path)


def sender_of(result: IntakeResult) -> str | None:
    assert result.disposition is Disposition.ACCEPTED, result.reasons
    assert result.sender is not None
    return result.sender.sender.address if result.sender.sender else None


# --- lists: Google Groups, an attacker's own list ------------------------------------------------

GROUP_POST = b"""\
From: "'Maria Garcia' via Helpers" <helpers@googlegroups.com>
To: Helpers <helpers@googlegroups.com>
Reply-To: Maria Garcia <maria@cliente.es>
Subject: Pedido 88 roto
Date: Mon, 04 May 2026 07:50:00 +0000
Message-ID: <grp-1@cliente.es>
List-Id: <helpers.googlegroups.com>
List-Post: <https://groups.google.com/group/helpers/post>, <mailto:helpers@googlegroups.com>
Mailing-list: list helpers@googlegroups.com; contact helpers+owners@googlegroups.com
X-Original-Sender: maria@cliente.es
X-Original-From: Maria Garcia <maria@cliente.es>
Content-Type: text/plain; charset=utf-8

Hola, el pedido 88 lleg\xc3\xb3 roto.
""".replace(b"\n", b"\r\n")


def test_forged_google_groups_post_from_anywhere_is_the_groups() -> None:
    """A googlegroups.com "post" from an arbitrary IP (p=none lets it in): the group stays."""
    result = intake(GROUP_POST, "bounce@attacker.example", ATTACKER_IP)
    assert sender_of(result) == "helpers@googlegroups.com"
    assert "sender.list_not_trusted" in result.reason_codes


def test_dkim_signed_google_groups_post_is_the_posters() -> None:
    """The same post signed by googlegroups.com: the poster is the sender."""
    result = intake(
        sign(GROUP_POST, domain="googlegroups.com"), "helpers+bnc@googlegroups.com", GOOGLE_IP
    )
    assert sender_of(result) == "maria@cliente.es"
    assert result.sender is not None
    assert result.sender.source is SenderSource.GOOGLE_GROUPS
    assert "sender.list_trusted" in result.reason_codes
    reason = next(r for r in result.reasons if r.code == "sender.list_trusted")
    assert "DKIM of googlegroups.com" in reason.message


ATTACKER_LIST = b"""\
From: The CEO via Board <board@lists.attacker.example>
Reply-To: The CEO <ceo@bigbank.example>
To: board@lists.attacker.example
Subject: [Board] Wire the deposit today
Date: Mon, 04 May 2026 07:55:00 +0000
Message-ID: <wire-1@lists.attacker.example>
List-Id: <board.lists.attacker.example>
List-Post: <mailto:board@lists.attacker.example>
Content-Type: text/plain; charset=utf-8

Please wire the deposit today.
""".replace(b"\n", b"\r\n")


def test_an_attackers_own_list_does_not_name_the_sender() -> None:
    """A munged "list" post from the attacker's own domain (SPF passes for it): the list stays."""
    result = intake(ATTACKER_LIST, "bounces@lists.attacker.example", ATTACKER_IP)
    assert sender_of(result) == "board@lists.attacker.example"
    assert "sender.list_not_trusted" in result.reason_codes


# --- team-member forwards -----------------------------------------------------------------------

FORWARD = b"""\
From: Anna Berg <anna@acme.example>
To: support-7f3k@acme.inbox.example.net
Subject: Fwd: Contract renewal
Date: Mon, 04 May 2026 08:00:00 +0000
Message-ID: <fwd-1@acme.example>
Content-Type: text/plain; charset=utf-8

Please take this one.

---------- Forwarded message ---------
From: Carl Jensen <carl@customer.example>
Date: Mon, 4 May 2026 at 07:40
Subject: Contract renewal
To: <anna@acme.example>

We would like to renew for two more years.
""".replace(b"\n", b"\r\n")
FORGED_FORWARD = FORWARD.replace(b"Carl Jensen <carl@customer.example>", b"<ceo@victim.example>")


def test_forged_team_forward_is_not_unwrapped() -> None:
    """An outsider forging anna@acme.example (p=none, SPF failing): the quoted CEO is not used."""
    result = intake(FORGED_FORWARD, "anna@acme.example", ATTACKER_IP)
    assert sender_of(result) == "anna@acme.example"
    assert result.sender is not None
    assert result.sender.team_member is None
    assert "sender.team_unauthenticated" in result.reason_codes


def test_signed_team_forward_is_unwrapped() -> None:
    """Anna's forward signed by acme.example: the customer in the block is the sender."""
    result = intake(sign(FORWARD, domain="acme.example"), "anna@acme.example", ATTACKER_IP)
    assert sender_of(result) == "carl@customer.example"
    assert result.sender is not None
    assert result.sender.team_member == EmailAddress.parse("Anna Berg <anna@acme.example>")
    reason = next(r for r in result.reasons if r.code == "sender.team_authenticated")
    assert "DKIM of acme.example" in reason.message


def test_team_forward_from_the_teams_servers_is_unwrapped() -> None:
    """Aligned SPF is proof too: Anna's forward sent from acme.example's own servers."""
    result = intake(FORWARD, "anna@acme.example", TEAM_IP)
    assert sender_of(result) == "carl@customer.example"


def test_the_channels_mailbox_as_envelope_sender_is_the_forwarding_path() -> None:
    """Gmail forwarding by the channel's mailbox (MAIL FROM support+caf_=...@acme.example, SPF
    pass) is the configured path: it proves an agent on another domain (acme-corp.example)."""
    raw = FORWARD.replace(b"Anna Berg <anna@acme.example>", b"Jonas <jonas@acme-corp.example>")
    via_mailbox = "support+caf_=support-7f3k=acme.inbox.example.net@acme.example"
    proven = intake(raw, via_mailbox, TEAM_IP)
    assert sender_of(proven) == "carl@customer.example"
    reason = next(r for r in proven.reasons if r.code == "sender.team_authenticated")
    assert "forwarding path" in reason.message
    assert "support@acme.example" in reason.message


def test_no_forwarding_path_without_spf_or_the_mailbox() -> None:
    """The mailbox's address from a server its SPF does not list, or another address of the
    domain: no path, and acme.example's SPF proves nothing about acme-corp.example."""
    raw = FORWARD.replace(b"Anna Berg <anna@acme.example>", b"Jonas <jonas@acme-corp.example>")
    via_mailbox = "support+caf_=support-7f3k=acme.inbox.example.net@acme.example"
    assert sender_of(intake(raw, via_mailbox, ATTACKER_IP)) == "jonas@acme-corp.example"
    other = "billing+caf_=support-7f3k=acme.inbox.example.net@acme.example"
    assert sender_of(intake(raw, other, TEAM_IP)) == "jonas@acme-corp.example"


def test_offline_only_an_operators_word_stands_in_for_proof() -> None:
    """Without DNS nothing proves Anna; an operator vouching for a mailbox export does."""
    signed = sign(FORWARD, domain="acme.example")
    assert sender_of(intake(signed, "anna@acme.example", None, offline=True)) == (
        "anna@acme.example"
    )
    vouched = intake(
        signed, "anna@acme.example", None, offline=True, forwarding_path="an operator's export"
    )
    assert sender_of(vouched) == "carl@customer.example"
    reason = next(r for r in vouched.reasons if r.code == "sender.team_authenticated")
    assert "an operator's export" in reason.message


# --- agents by email ------------------------------------------------------------------------------


def service() -> tuple[InboxService, InMemoryStorage, RecordingEventSink]:
    storage, events = InMemoryStorage(), RecordingEventSink()
    with storage.unit_of_work() as uow:
        uow.accounts.add(Account(id=ACME, name="Acme", subdomain="acme"))
        uow.channels.add(channel(state=ChannelState.DRAFT))
        uow.commit()
    inbox = InboxService(
        storage=storage,
        raw_store=InMemoryRawStore(),
        clock=FakeClock(NOW),
        ids=SequentialIds(),
        directory=FakeDirectory(users=[ANNA], available=[ANNA.id]),
        events=events,
        config=InboxConfig(
            conversation_keys=(b"trust-conversation-key-0123",),
            message_id_domain="acme.inbox.example.net",
        ),
        dns=zone(),
    )
    return inbox, storage, events


CUSTOMER = b"""\
From: Carl Jensen <carl@customer.example>
To: support@acme.example
Subject: Contract renewal
Date: Mon, 04 May 2026 07:40:00 +0000
Message-ID: <c1@customer.example>
Content-Type: text/plain; charset=utf-8

We would like to renew for two more years.
""".replace(b"\n", b"\r\n")
AGENT_REPLY = b"""\
From: Anna Berg <anna@acme.example>
To: Carl Jensen <carl@customer.example>
Subject: Re: Contract renewal
Date: Mon, 04 May 2026 08:10:00 +0000
Message-ID: <r1@acme.example>
In-Reply-To: <c1@customer.example>
References: <c1@customer.example>
Content-Type: text/plain; charset=utf-8

Carl, we agree to a 40% discount.
""".replace(b"\n", b"\r\n")


def _first_and(raw: bytes, client_ip: str) -> tuple[Delivery, Delivery, InMemoryStorage]:
    inbox, storage, _ = service()
    first = inbox.receive(CUSTOMER, envelope("carl@customer.example", None))
    second = inbox.receive(raw, envelope("anna@acme.example", client_ip))
    return first, second, storage


def test_forged_agent_reply_is_not_the_agents_and_stays_out_of_the_thread() -> None:
    """An outsider forging Anna's From into Carl's thread: no agent message, no joined thread."""
    first, forged, storage = _first_and(AGENT_REPLY, ATTACKER_IP)
    assert forged.disposition is Disposition.ACCEPTED
    assert storage.records(Message)[-1].author_id is None
    assert forged.conversation_id != first.conversation_id
    assert forged.thread is not None
    assert forged.thread.reason == "hijack_protection"


def test_signed_agent_reply_is_the_agents_in_the_thread() -> None:
    """Anna's reply signed by acme.example joins Carl's thread as hers, no contact made."""
    first, reply, storage = _first_and(sign(AGENT_REPLY, domain="acme.example"), ATTACKER_IP)
    assert reply.conversation_id == first.conversation_id
    assert storage.records(Message)[-1].author_id == "anna"
    assert [c.email.address for c in storage.records(Contact)] == ["carl@customer.example"]


# --- forwarding confirmations ------------------------------------------------------------------------

CONFIRMATION = b"""\
X-Google-Address-Confirmation: Qz8pLmW3sT0vYb1R
From: Gmail Team <forwarding-noreply@google.com>
To: support-7f3k@acme.inbox.example.net
Subject: (#578694102) Gmail Forwarding Confirmation - Receive Mail from support@acme.example
Date: Mon, 04 May 2026 08:00:00 +0000
Message-ID: <c0nf1rm@google.com>
Content-Type: text/plain; charset=UTF-8

support@acme.example has requested to automatically forward mail to your email
address support-7f3k@acme.inbox.example.net.
Confirmation code: 578694102

https://mail-settings.google.com/mail/vf-%5BANGjdJ9kT4%5D-hP2sLq8ZrVx0Ye3Wn5Ud
""".replace(b"\n", b"\r\n")
NOT_GOOGLE = CONFIRMATION.replace(
    b"Gmail Team <forwarding-noreply@google.com>", b"Gmail Team <no-reply@attacker.example>"
).replace(b"https://mail-settings.google.com/mail/vf-", b"https://attacker.example/vf-")
GENERIC = b"""\
From: Mail Service <no-reply@attacker.example>
To: support-7f3k@acme.inbox.example.net
Subject: Confirm forwarding to support-7f3k@acme.inbox.example.net
Date: Mon, 04 May 2026 08:00:00 +0000
Message-ID: <generic-1@attacker.example>
Content-Type: text/plain; charset=UTF-8

support@acme.example has requested to forward mail to your address.
Verification code: 99887766
https://attacker.example/confirm?c=99887766
""".replace(b"\n", b"\r\n")


def _confirm(raw: bytes, mail_from: str, client_ip: str) -> tuple[Delivery, Channel, list[object]]:
    inbox, storage, events = service()
    delivery = inbox.receive(raw, envelope(mail_from, client_ip))
    (stored,) = storage.records(Channel)
    return delivery, stored, list(events.of_type(ForwardingConfirmationReceived))


def test_googles_signed_confirmation_is_verified_and_observed() -> None:
    """Google's signed confirmation: verified, its link and code on the event, state moved."""
    delivery, stored, (event,) = _confirm(
        sign(CONFIRMATION, domain="google.com"), "forwarding-noreply@google.com", GOOGLE_IP
    )
    assert isinstance(event, ForwardingConfirmationReceived)
    assert event.verified
    assert event.code == "578694102"
    assert event.url is not None
    assert event.url.startswith("https://mail-settings.google.com/")
    assert stored.confirmation_seen_at == NOW
    assert "confirmation.verified" in delivery.reason_codes


def test_google_header_from_another_sender_is_unverified() -> None:
    """A non-Google sender, authenticated as its own domain, with Google's header: unverified."""
    signed = sign(NOT_GOOGLE, domain="attacker.example")
    delivery, stored, (event,) = _confirm(signed, "no-reply@attacker.example", ATTACKER_IP)
    assert isinstance(event, ForwardingConfirmationReceived)
    assert (event.url, event.code) == (None, None)
    assert stored.confirmation_seen_at is None
    assert not event.verified
    assert "confirmation.unverified" in delivery.reason_codes
    classification = delivery.intake.classification
    assert classification is not None
    assert classification.forwarding_confirmation is not None
    assert not classification.forwarding_confirmation.verified


def test_generic_confirmation_from_an_unknown_sender_is_never_verified() -> None:
    """A "confirm forwarding" subject from no-reply@attacker.example names no known provider."""
    signed = sign(GENERIC, domain="attacker.example")
    delivery, stored, (event,) = _confirm(signed, "no-reply@attacker.example", ATTACKER_IP)
    assert isinstance(event, ForwardingConfirmationReceived)
    assert event.url is None
    assert stored.confirmation_seen_at is None
    assert not event.verified
    reason = next(r for r in delivery.reasons if r.code == "confirmation.unverified")
    assert "no provider known" in reason.message


def test_unsigned_confirmation_claiming_google_is_unverified() -> None:
    """Google's From without Google's signature or servers: unverified (and DMARC holds it)."""
    result = intake(CONFIRMATION, "forwarding-noreply@google.com", ATTACKER_IP)
    assert result.disposition is Disposition.QUARANTINED
    classification = result.classification
    assert classification is not None
    assert classification.forwarding_confirmation is not None
    assert not classification.forwarding_confirmation.verified


def test_offline_a_confirmation_is_unverified() -> None:
    """Without DNS nothing proves Google sent it."""
    result = intake(sign(CONFIRMATION, domain="google.com"), "", None, offline=True)
    classification = result.classification
    assert classification is not None
    assert classification.forwarding_confirmation is not None
    assert not classification.forwarding_confirmation.verified
    assert "confirmation.unverified" in result.reason_codes
