"""Channel setup use cases over the fakes: create, customize, from rules, verification, lifecycle."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import timedelta
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inboxcore.app.channel_setup import ChannelSetup, SetupConfig, VerificationConfig
from inboxcore.auth.dkim_verify import verify_dkim
from inboxcore.channels import ChannelStep, FromAddressKind, HostedDomainConfig, apply_step
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import (
    BadTokenSignature,
    ConfigurationError,
    ImmutableFieldError,
    InvalidTransition,
    PortError,
    RateLimited,
    TokenAlreadyUsed,
    TokenExpired,
    TokenSuperseded,
)
from inboxcore.domain.events import ChannelStateChanged
from inboxcore.domain.ids import AccountId, ChannelId, UserId
from inboxcore.domain.model import (
    Account,
    Channel,
    ChannelState,
    FromNameMode,
    SendResult,
    SendStatus,
    SignatureSettings,
    User,
)
from inboxcore.testing import (
    FakeClock,
    InMemoryDkimKeys,
    InMemoryDns,
    InMemoryStorage,
    RecordingEventSink,
    RecordingTransport,
    SequentialIds,
    generate_ed25519_key,
    generate_rsa_key,
)

ACME = Account(
    id=AccountId("acct-1"),
    name="Acme",
    subdomain="acme",
    sending_domains=frozenset({"acme.example"}),
)
GLOBEX = Account(id=AccountId("acct-2"), name="Globex", subdomain="globex")
JANE = User(
    id=UserId("u-1"),
    account_id=ACME.id,
    email=EmailAddress.parse("jane@acme.example"),
    first_name="Jane",
    last_name="Doe",
    username="jane",
)
CONFIG = SetupConfig(
    hosting=HostedDomainConfig(hosted_domain="inbox.example.net"),
    verification=VerificationConfig(
        secret_keys=(b"verification-key-0123456789abcdef",),
        url_template="https://app.example.com/verify-sender?token={token}",
        sender="Example Helpdesk <no-reply@inbox.example.net>",
        product_name="Example Helpdesk",
    ),
)


class World:
    """The use cases wired to fresh fakes."""

    def __init__(self, seed: int = 0) -> None:
        self.storage = InMemoryStorage()
        self.transport = RecordingTransport()
        self.clock = FakeClock()
        self.ids = SequentialIds(seed)
        self.events = RecordingEventSink()
        self.setup = ChannelSetup(
            storage=self.storage,
            transport=self.transport,
            clock=self.clock,
            ids=self.ids,
            config=CONFIG,
            events=self.events,
        )
        with self.storage.unit_of_work() as uow:
            uow.accounts.add(ACME)
            uow.accounts.add(GLOBEX)
            uow.commit()

    def channel(self, channel_id: ChannelId) -> Channel:
        with self.storage.unit_of_work() as uow:
            return uow.channels.get(channel_id)

    def ready(self, name: str = "Support", company: str = "Acme Support") -> Channel:
        return self.setup.create_channel(ACME.id, name, company_name=company)

    def last_mail(self) -> EmailMessage:
        message = email.message_from_bytes(
            self.transport.sent[-1].data, policy=email.policy.default
        )
        assert isinstance(message, EmailMessage)
        return message

    def last_token(self) -> str:
        text = self.last_mail().get_body(("plain",))
        assert text is not None
        link = re.search(r"https://app\.example\.com/\S+", text.get_content())
        assert link is not None
        return parse_qs(urlsplit(link.group(0)).query)["token"][0]


@pytest.fixture
def world() -> World:
    return World()


def codes(error: ConfigurationError) -> set[str]:
    return {p.code for p in error.problems}


# --- creating --------------------------------------------------------------------------------


def test_create_gives_a_draft_with_generated_address(world: World) -> None:
    """A new channel is a draft with a readable, suffixed address on the account subdomain."""
    channel = world.ready("Équipe Support")
    assert channel.state is ChannelState.DRAFT
    assert channel.forwarding_address.domain == "acme.inbox.example.net"
    assert re.fullmatch(r"equipe-support-[a-z2-7]{13}", channel.forwarding_address.local)
    assert world.channel(channel.id) == channel


def test_create_retries_when_the_generated_address_collides(world: World) -> None:
    """A collision with an existing or retired address is retried with new random bytes."""
    first = world.ready()
    replay = World(seed=0)  # same random bytes as `world`: the first address collides
    replay.storage = world.storage
    replay.setup = ChannelSetup(
        storage=world.storage,
        transport=replay.transport,
        clock=replay.clock,
        ids=SequentialIds(0),
        config=CONFIG,
    )
    second = replay.setup.create_channel(ACME.id, "Support", company_name="Acme Sales")
    assert second.forwarding_address != first.forwarding_address
    assert len(world.storage.records(Channel)) == 2


def test_create_refuses_bad_input_with_every_problem(world: World) -> None:
    """An empty name and an address-like company name are both reported."""
    with pytest.raises(ConfigurationError) as info:
        world.setup.create_channel(ACME.id, "  ", company_name="help@acme.example")
    assert codes(info.value) == {"channel.name_required", "from_name.looks_like_address"}


def test_create_refuses_a_taken_from_name(world: World) -> None:
    """A second channel may not reuse the from-name, whatever its case and spacing."""
    world.ready()
    with pytest.raises(ConfigurationError) as info:
        world.ready("Sales", company=" acme  SUPPORT")
    assert codes(info.value) == {"from_name.taken"}


# --- forwarding address -------------------------------------------------------------------------


def test_draft_address_can_be_customized(world: World) -> None:
    """The team's chosen local part is normalized and used."""
    channel = world.ready()
    changed = world.setup.customize_forwarding_address(channel.id, "  Help-Desk ")
    assert changed.forwarding_address.address == "help-desk@acme.inbox.example.net"


def test_customizing_reports_rule_problems(world: World) -> None:
    """Reserved or malformed names are refused with their problem codes."""
    channel = world.ready()
    with pytest.raises(ConfigurationError) as info:
        world.setup.customize_forwarding_address(channel.id, "postmaster")
    assert codes(info.value) == {"forwarding_address.reserved"}


def test_customizing_to_a_taken_address_is_a_problem(world: World) -> None:
    """Two channels cannot share a forwarding address."""
    one = world.ready()
    two = world.ready("Sales", company="Acme Sales")
    world.setup.customize_forwarding_address(one.id, "helpdesk")
    with pytest.raises(ConfigurationError) as info:
        world.setup.customize_forwarding_address(two.id, "HELPDESK")
    assert codes(info.value) == {"forwarding_address.taken"}


def test_address_is_immutable_after_connect(world: World) -> None:
    """Once connected, customizing raises ImmutableFieldError."""
    channel = world.ready()
    world.setup.connect(channel.id)
    with pytest.raises(ImmutableFieldError) as info:
        world.setup.customize_forwarding_address(channel.id, "helpdesk")
    assert info.value.field == "forwarding_address"


def test_disconnect_retires_the_address_for_good(world: World) -> None:
    """A disconnected channel's address can never be taken again, by any channel."""
    channel = world.ready()
    world.setup.customize_forwarding_address(channel.id, "helpdesk")
    world.setup.connect(channel.id)
    world.setup.disconnect(channel.id)
    newcomer = world.ready("New", company="Acme Support")  # the from-name is free again
    with pytest.raises(ConfigurationError) as info:
        world.setup.customize_forwarding_address(newcomer.id, "helpdesk")
    assert codes(info.value) == {"forwarding_address.retired"}


def test_an_address_that_received_mail_is_retired_when_customized(world: World) -> None:
    """After the provider's confirmation arrived, the old draft address is retired on change."""
    channel = world.ready()
    world.setup.customize_forwarding_address(channel.id, "helpdesk")
    with world.storage.unit_of_work() as uow:
        current = uow.channels.get(channel.id)
        uow.channels.update(
            apply_step(current, ChannelStep.OBSERVE_CONFIRMATION, world.clock.now())
        )
        uow.commit()
    world.setup.customize_forwarding_address(channel.id, "helpdesk-2")
    with world.storage.unit_of_work() as uow:
        assert uow.channels.is_retired("helpdesk@acme.inbox.example.net")


# --- lifecycle ---------------------------------------------------------------------------------


def test_connect_and_disconnect_emit_state_events(world: World) -> None:
    """Connecting and disconnecting change state and tell the event sink."""
    channel = world.ready()
    connected = world.setup.connect(channel.id)
    assert connected.state is ChannelState.CONNECTED
    assert connected.connected_at == world.clock.now()
    world.setup.disconnect(channel.id)
    steps = [(e.old, e.new, e.step) for e in world.events.of_type(ChannelStateChanged)]
    assert steps == [
        (ChannelState.DRAFT, ChannelState.CONNECTED, "connect"),
        (ChannelState.CONNECTED, ChannelState.DISCONNECTED, "disconnect"),
    ]


class _BrokenSink:
    def emit(self, event: object) -> None:
        raise RuntimeError("the host's queue is down")


def test_a_failing_event_sink_never_undoes_a_committed_connect(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """One rule everywhere: events after commit, and a host's sink failing is logged, never
    raised into the caller (the channel is connected all the same)."""
    channel = world.ready()
    setup = ChannelSetup(
        storage=world.storage,
        transport=world.transport,
        clock=world.clock,
        ids=world.ids,
        config=CONFIG,
        events=_BrokenSink(),
    )
    connected = setup.connect(channel.id)
    assert connected.state is ChannelState.CONNECTED
    assert world.channel(channel.id).state is ChannelState.CONNECTED
    assert "event sink failed for ChannelStateChanged" in caplog.text


def test_connect_requires_a_complete_channel(world: World) -> None:
    """A channel without a company name cannot be connected."""
    channel = world.setup.create_channel(ACME.id, "Support")
    with pytest.raises(ConfigurationError) as info:
        world.setup.connect(channel.id)
    assert codes(info.value) == {"from_name.company_required"}
    assert world.channel(channel.id).state is ChannelState.DRAFT


def test_connecting_twice_is_an_invalid_transition(world: World) -> None:
    """connect on a connected channel names the state and the step."""
    channel = world.ready()
    world.setup.connect(channel.id)
    with pytest.raises(InvalidTransition) as info:
        world.setup.connect(channel.id)
    assert (info.value.state, info.value.step) == ("connected", "connect")


def test_disconnected_channels_take_no_settings(world: World) -> None:
    """Settings of a disconnected channel can no longer change."""
    channel = world.ready()
    world.setup.disconnect(channel.id)
    with pytest.raises(InvalidTransition):
        world.setup.set_from_name(channel.id, FromNameMode.COMPANY, "Acme")


# --- from-name and signature ---------------------------------------------------------------------


def test_from_name_collision_is_a_problem(world: World) -> None:
    """Setting another channel's from-name is refused as from_name.taken."""
    world.ready()
    other = world.ready("Sales", company="Acme Sales")
    with pytest.raises(ConfigurationError) as info:
        world.setup.set_from_name(other.id, FromNameMode.COMPANY, "ACME support")
    assert codes(info.value) == {"from_name.taken"}
    changed = world.setup.set_from_name(other.id, FromNameMode.COMPANY, "Acme Sales Team")
    assert changed.from_name_mode is FromNameMode.COMPANY


def test_signature_with_unknown_token_is_refused(world: World) -> None:
    """set_signature stores only templates that pass the check."""
    channel = world.ready()
    with pytest.raises(ConfigurationError) as info:
        world.setup.set_signature(channel.id, SignatureSettings(html="{agent.phone}"))
    assert codes(info.value) == {"signature.unknown_token"}
    stored = world.setup.set_signature(
        channel.id, SignatureSettings(html="<b>{agent.full_name}</b>")
    )
    assert stored.signature.html == "<b>{agent.full_name}</b>"


# --- from-address and verification --------------------------------------------------------------


def test_sending_domain_address_needs_no_verification(world: World) -> None:
    """An address on a connected sending domain is used at once, no mail sent."""
    channel = world.ready()
    change = world.setup.set_from_address(channel.id, "help@acme.example")
    assert not change.verification_sent
    assert world.transport.sent == []
    preview = world.setup.preview(channel.id, JANE)
    assert preview.from_address.kind is FromAddressKind.CUSTOM_SENDING_DOMAIN
    assert preview.from_header == "Jane from Acme Support <help@acme.example>"


def test_foreign_address_gets_a_verification_mail(world: World) -> None:
    """A foreign custom address is pending, a mail with a link is sent, the default is used."""
    channel = world.ready()
    change = world.setup.set_from_address(channel.id, "team@gmail.example")
    assert change.verification_sent
    assert change.send_result is not None
    assert change.send_result.status is SendStatus.ACCEPTED
    sent = world.transport.sent[-1]
    assert sent.rcpt_to == ("team@gmail.example",)
    assert sent.mail_from == "no-reply@inbox.example.net"
    mail = world.last_mail()
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["To"] == "team@gmail.example"
    assert "Acme Support" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert world.last_token()
    preview = world.setup.preview(channel.id, JANE)
    assert preview.from_address.kind is FromAddressKind.DEFAULT
    assert preview.from_address.pending == EmailAddress.parse("team@gmail.example")


def test_confirming_marks_the_address_verified(world: World) -> None:
    """A valid token verifies the address; replies then come from it."""
    channel = world.ready()
    world.setup.set_from_address(channel.id, "team@gmail.example")
    world.clock.advance(timedelta(hours=2))
    confirmed = world.setup.confirm_from_address(world.last_token())
    assert confirmed.from_address.verified_at == world.clock.now()
    assert confirmed.from_address.pending_token_id is None
    preview = world.setup.preview(channel.id, JANE)
    assert preview.from_address.kind is FromAddressKind.CUSTOM_VERIFIED
    assert preview.from_header == "Jane from Acme Support <team@gmail.example>"


def test_a_token_works_once(world: World) -> None:
    """Using a token twice raises TokenAlreadyUsed."""
    channel = world.ready()
    world.setup.set_from_address(channel.id, "team@gmail.example")
    token = world.last_token()
    world.setup.confirm_from_address(token)
    with pytest.raises(TokenAlreadyUsed):
        world.setup.confirm_from_address(token)


def test_token_for_a_changed_address_is_superseded(world: World) -> None:
    """After the address changed (even back again), old links are superseded."""
    channel = world.ready()
    world.setup.set_from_address(channel.id, "team@gmail.example")
    first = world.last_token()
    world.setup.set_from_address(channel.id, "other@gmail.example")
    with pytest.raises(TokenSuperseded):
        world.setup.confirm_from_address(first)
    world.setup.set_from_address(channel.id, "team@gmail.example")
    with pytest.raises(TokenSuperseded):
        world.setup.confirm_from_address(first)
    world.setup.confirm_from_address(world.last_token())


def test_token_expires_after_max_age(world: World) -> None:
    """A token older than 24 hours raises TokenExpired."""
    channel = world.ready()
    world.setup.set_from_address(channel.id, "team@gmail.example")
    world.clock.advance(timedelta(hours=24, seconds=1))
    with pytest.raises(TokenExpired):
        world.setup.confirm_from_address(world.last_token())


def test_resend_keeps_earlier_links_working(world: World) -> None:
    """A resend mails a new link; the link of the first mail still confirms."""
    channel = world.ready()
    world.setup.set_from_address(channel.id, "team@gmail.example")
    first = world.last_token()
    world.clock.advance(timedelta(minutes=2))
    world.setup.resend_verification(channel.id)
    assert len(world.transport.sent) == 2
    assert world.last_token() != first
    world.setup.confirm_from_address(first)


def test_resend_is_rate_limited(world: World) -> None:
    """Resending too soon, or too often within the window, raises RateLimited with retry_after."""
    channel = world.ready()
    world.setup.set_from_address(channel.id, "team@gmail.example")
    with pytest.raises(RateLimited) as soon:
        world.setup.resend_verification(channel.id)
    assert soon.value.retry_after == world.clock.now() + timedelta(minutes=1)
    start = world.clock.now()
    for _ in range(4):
        world.clock.advance(timedelta(minutes=1))
        world.setup.resend_verification(channel.id)
    world.clock.advance(timedelta(minutes=1))
    with pytest.raises(RateLimited) as capped:
        world.setup.resend_verification(channel.id)
    assert capped.value.retry_after == start + timedelta(hours=1)
    assert len(world.transport.sent) == 5


def test_switching_addresses_does_not_escape_the_cap(world: World) -> None:
    """Alternating between two addresses still counts every mail against the channel."""
    channel = world.ready()
    for i in range(5):
        world.setup.set_from_address(channel.id, f"a{i % 2}-{i}@gmail.example")
    with pytest.raises(RateLimited):
        world.setup.set_from_address(channel.id, "victim@gmail.example")
    world.clock.advance(timedelta(hours=1))
    assert world.setup.set_from_address(channel.id, "victim@gmail.example").verification_sent


def test_resend_without_pending_address_is_a_problem(world: World) -> None:
    """Nothing to verify is reported as from_address.nothing_to_verify."""
    channel = world.ready()
    with pytest.raises(ConfigurationError) as info:
        world.setup.resend_verification(channel.id)
    assert codes(info.value) == {"from_address.nothing_to_verify"}


def test_transport_refusal_is_reported_not_raised(world: World) -> None:
    """A refused verification mail comes back as the send result."""
    channel = world.ready()
    world.transport.refuse_next(
        SendResult(status=SendStatus.PERMANENT_FAILURE, smtp_code=550, detail="no such user")
    )
    change = world.setup.set_from_address(channel.id, "nobody@gmail.example")
    assert change.send_result is not None
    assert change.send_result.status is SendStatus.PERMANENT_FAILURE


def test_back_to_default_clears_the_custom_address(world: World) -> None:
    """Setting None goes back to the default, and pending links are superseded."""
    channel = world.ready()
    world.setup.set_from_address(channel.id, "team@gmail.example")
    token = world.last_token()
    world.setup.set_from_address(channel.id, None)
    assert world.channel(channel.id).from_address.custom is None
    with pytest.raises(TokenSuperseded):
        world.setup.confirm_from_address(token)


def test_bad_custom_addresses_are_problems(world: World) -> None:
    """Invalid or hosted-domain addresses are refused with problem codes."""
    channel = world.ready()
    with pytest.raises(ConfigurationError) as info:
        world.setup.set_from_address(channel.id, "me@acme.inbox.example.net")
    assert codes(info.value) == {"from_address.hosted_domain"}


def test_verification_config_refuses_insecure_links() -> None:
    """The link template must be https and hold {token}."""
    with pytest.raises(ConfigurationError):
        VerificationConfig(
            secret_keys=(b"verification-key-0123456789abcdef",),
            url_template="http://app.example.com/verify?t={token}",
            sender="no-reply@inbox.example.net",
        )


@settings(max_examples=40)
@given(st.data())
def test_any_change_to_a_token_is_refused(data: st.DataObject) -> None:
    """Changing one character of a verification token makes it BadTokenSignature."""
    world = World()
    channel = world.ready()
    world.setup.set_from_address(channel.id, "team@gmail.example")
    token = world.last_token()
    i = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from("AZaz09-_.").filter(lambda c: c != token[i]))
    with pytest.raises(BadTokenSignature):
        world.setup.confirm_from_address(token[:i] + replacement + token[i + 1 :])


@settings(max_examples=25)
@given(st.integers(min_value=1, max_value=10**6))
def test_tokens_past_their_age_are_refused(extra_seconds: int) -> None:
    """Any token older than max_age is refused, however much older."""
    world = World()
    channel = world.ready()
    world.setup.set_from_address(channel.id, "team@gmail.example")
    world.clock.advance(timedelta(hours=24, seconds=extra_seconds))
    with pytest.raises(TokenExpired):
        world.setup.confirm_from_address(world.last_token())


@settings(max_examples=25)
@given(st.integers(min_value=0, max_value=24 * 3600 - 1), st.integers(min_value=2, max_value=4))
def test_a_token_works_exactly_once(age: int, attempts: int) -> None:
    """Within its age a token confirms once; every later use is TokenAlreadyUsed."""
    world = World()
    channel = world.ready()
    world.setup.set_from_address(channel.id, "team@gmail.example")
    token = world.last_token()
    world.clock.advance(timedelta(seconds=age))
    world.setup.confirm_from_address(token)
    for _ in range(attempts - 1):
        with pytest.raises(TokenAlreadyUsed):
            world.setup.confirm_from_address(token)


# --- preview -----------------------------------------------------------------------------------


def test_preview_shows_from_header_and_signature(world: World) -> None:
    """The preview holds the exact From header and the rendered signature."""
    channel = world.setup.create_channel(ACME.id, "Support", company_name="Støtte AS")
    world.setup.set_signature(
        channel.id,
        SignatureSettings(html="<p>{agent.full_name}, {company}<br>{agent.email}</p>"),
    )
    preview = world.setup.preview(channel.id, JANE)
    assert preview.display_name == "Jane from Støtte AS"
    assert (
        preview.from_header == "=?utf-8?q?Jane_from_St=C3=B8tte_AS?= <jane@acme.inbox.example.net>"
    )
    assert preview.signature.html == "<p>Jane Doe, Støtte AS<br>jane@acme.example</p>"
    assert preview.signature.text == "Jane Doe, Støtte AS\njane@acme.example"


def test_preview_without_agent_uses_company_only(world: World) -> None:
    """An automatic reply (no agent) shows the company and a signature without agent lines."""
    channel = world.ready()
    world.setup.set_from_address(channel.id, "help@acme.example")
    world.setup.set_signature(channel.id, SignatureSettings(html="{agent.first_name}<br>{company}"))
    preview = world.setup.preview(channel.id, None)
    assert preview.from_header == "Acme Support <help@acme.example>"
    assert preview.signature.html == "Acme Support"


# --- the verification mail: composition and DKIM ---------------------------------------------------


def signing_world(keys: InMemoryDkimKeys) -> World:
    world = World()
    world.setup = ChannelSetup(
        storage=world.storage,
        transport=world.transport,
        clock=world.clock,
        ids=world.ids,
        config=CONFIG,
        events=world.events,
        dkim_keys=keys,
    )
    return world


def test_verification_mail_is_composed_as_our_outbound_mail(world: World) -> None:
    """Loop header, automatic-mail headers and a Message-ID on the hosted domain are set."""
    channel = world.ready()
    change = world.setup.set_from_address(channel.id, "team@gmail.example")
    assert change.signed_by is None
    mail = world.last_mail()
    assert mail["X-Inboxcore-Loop"] == channel.id
    assert mail["X-Auto-Response-Suppress"] == "All"
    assert str(mail["From"]) == "Example Helpdesk <no-reply@inbox.example.net>"
    assert re.fullmatch(r"<verify-[0-9a-f]{24}@inbox\.example\.net>", mail["Message-ID"])
    assert world.transport.sent[-1].rfc_message_id == mail["Message-ID"].strip("<>")
    assert b"DKIM-Signature" not in world.transport.sent[-1].data


def test_verification_mail_is_dkim_signed_by_the_hosted_domain() -> None:
    """With the host's keys, the mail carries a d=inbox.example.net signature that verifies."""
    keys = InMemoryDkimKeys({"inbox.example.net": [generate_rsa_key("hd1")]})
    world = signing_world(keys)
    channel = world.ready()
    change = world.setup.set_from_address(channel.id, "team@gmail.example")
    assert change.signed_by == "inbox.example.net"
    data = world.transport.sent[-1].data
    assert data.startswith(b"DKIM-Signature:")
    (result,) = verify_dkim(data, InMemoryDns(keys.dns_records()), now=world.clock.now())
    assert result.result == "pass"
    assert result.domain == "inbox.example.net"
    world.clock.advance(timedelta(minutes=2))
    resent = world.setup.resend_verification(channel.id)
    assert resent.signed_by == "inbox.example.net"
    assert world.transport.sent[-1].data.startswith(b"DKIM-Signature:")
    world.setup.confirm_from_address(world.last_token())
    assert world.channel(channel.id).from_address.verified_at is not None


def test_verification_mail_without_a_key_for_its_domain_goes_unsigned() -> None:
    """Keys for other domains only: the mail goes out unsigned rather than signed by a stranger."""
    keys = InMemoryDkimKeys({"acme.example": [generate_ed25519_key("s1")]})
    world = signing_world(keys)
    channel = world.ready()
    change = world.setup.set_from_address(channel.id, "team@gmail.example")
    assert change.verification_sent
    assert change.signed_by is None
    assert keys.lookups == ["inbox.example.net"]


def test_unreadable_keys_record_nothing_and_a_retry_works_at_once() -> None:
    """A failing key store raises PortError before anything is stored, sent or rate-limited."""
    keys = InMemoryDkimKeys({"inbox.example.net": [generate_ed25519_key("hd1")]})
    world = signing_world(keys)
    channel = world.ready()
    keys.fail_next_lookups()
    with pytest.raises(PortError):
        world.setup.set_from_address(channel.id, "team@gmail.example")
    assert world.transport.sent == []
    assert world.channel(channel.id).from_address == channel.from_address
    change = world.setup.set_from_address(channel.id, "team@gmail.example")
    assert change.signed_by == "inbox.example.net"
    assert len(world.transport.sent) == 1
    world.clock.advance(timedelta(minutes=2))
    sent_at = world.channel(channel.id).from_address.verification_sent_at
    keys.fail_next_lookups()
    with pytest.raises(PortError):
        world.setup.resend_verification(channel.id)
    assert world.channel(channel.id).from_address.verification_sent_at == sent_at
    assert len(world.transport.sent) == 1
