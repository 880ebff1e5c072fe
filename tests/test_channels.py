"""Channel policy: hosting, forwarding addresses, lifecycle, from-name and from-address rules."""

from __future__ import annotations

import email.header
import email.utils
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from inboxcore.channels import (
    CHANNEL_TRANSITIONS,
    RESERVED_LOCAL_PARTS,
    ChannelStep,
    FromAddressKind,
    FromNameFormats,
    HostedDomainConfig,
    PlanHosting,
    allowed_steps,
    apply_step,
    check_channel,
    check_company_name,
    check_custom_from_address,
    check_forwarding_local_part,
    check_from_name_available,
    check_from_name_format,
    check_subdomain,
    default_from_address,
    forwarding_address,
    from_header,
    generate_forwarding_local_part,
    is_on_sending_domain,
    normalize_forwarding_local_part,
    render_from_name,
    resolve_from_address,
    slugify,
    transition_diagram,
    transliterate,
)
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import (
    ConfigurationError,
    InvalidTransition,
    InvalidValueError,
    Problem,
)
from inboxcore.domain.ids import AccountId, ChannelId, UserId
from inboxcore.domain.model import (
    Account,
    Channel,
    ChannelState,
    FromAddressSettings,
    FromNameMode,
    User,
)

T = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
CONFIG = HostedDomainConfig(
    hosted_domain="inbox.example.net",
    plans={
        "enterprise": PlanHosting(
            hosted_domain="mail.example.org",
            default_from_template="{username}.{subdomain}@{hosted_domain}",
        )
    },
)
ACME = Account(
    id=AccountId("acct-1"),
    name="Acme",
    subdomain="acme",
    sending_domains=frozenset({"acme.example"}),
)
JANE = User(
    id=UserId("u-1"),
    account_id=ACME.id,
    email=EmailAddress.parse("jane.doe@acme.example"),
    first_name="Jane",
    last_name="Doe",
    username="jane",
)


def channel(**changes: Any) -> Channel:
    base = Channel(
        id=ChannelId("ch-1"),
        account_id=ACME.id,
        name="Support",
        forwarding_address=EmailAddress.parse("support-abcdefghijklm@acme.inbox.example.net"),
        created_at=T,
        company_name="Acme Support",
    )
    return attrs.evolve(base, **changes)


def codes(problems: Iterable[Problem]) -> set[str]:
    return {p.code for p in problems}


# --- hosting ---------------------------------------------------------------------------------


def test_default_from_address_is_username_at_account_subdomain() -> None:
    """The default from-address is <username>@<subdomain>.<hosted domain>."""
    assert default_from_address(ACME, JANE, CONFIG).address == "jane@acme.inbox.example.net"


def test_plan_overrides_hosted_domain_and_template() -> None:
    """An account on a plan with its own hosting gets that plan's domain and template."""
    big = attrs.evolve(ACME, plan="enterprise")
    assert CONFIG.receiving_domain(big) == "acme.mail.example.org"
    assert default_from_address(big, JANE, CONFIG).address == "jane.acme@mail.example.org"


def test_default_from_address_falls_back_to_email_local_part_and_transliterates() -> None:
    """Without a username the email's local part is used; unusable usernames become plain ASCII."""
    no_username = attrs.evolve(JANE, username=None)
    assert default_from_address(ACME, no_username, CONFIG).local == "jane.doe"
    odd = attrs.evolve(JANE, username="Zoë Åberg")
    assert default_from_address(ACME, odd, CONFIG).local == "zoe.aberg"


def test_hosted_domain_config_refuses_bad_templates() -> None:
    """A from template with unknown fields or without {username} is a ConfigurationError."""
    with pytest.raises(ConfigurationError) as info:
        HostedDomainConfig(hosted_domain="inbox.example.net", default_from_template="{user}@{x}")
    assert {"hosting.template_unknown_field", "hosting.template_shape"} <= codes(
        info.value.problems
    )
    with pytest.raises(InvalidValueError):
        HostedDomainConfig(hosted_domain="not a domain")


def test_subdomain_must_be_one_dns_label() -> None:
    """Account subdomains are one lowercase LDH label."""
    assert check_subdomain("acme-eu") == ()
    for bad in ("Acme", "a.b", "-acme", "acme-", "", "a" * 64):
        assert codes(check_subdomain(bad)) == {"account.subdomain"}


# --- forwarding addresses ---------------------------------------------------------------------


def test_generated_address_has_readable_slug_and_random_suffix() -> None:
    """A generated local part is a transliterated slug of the name plus 13 base32 characters."""
    local = generate_forwarding_local_part("Équipe Support Zürich", bytes(range(8)))
    slug, _, suffix = local.rpartition("-")
    assert slug == "equipe-support-zurich"
    assert len(suffix) == 13
    assert check_forwarding_local_part(local, CONFIG) == ()


def test_generated_address_differs_with_the_random_bytes() -> None:
    """Two channels of the same name get different addresses."""
    a = generate_forwarding_local_part("Support", b"\x00" * 8)
    b = generate_forwarding_local_part("Support", b"\x00" * 7 + b"\x01")
    assert a != b


def test_generated_address_falls_back_for_unreadable_or_reserved_names() -> None:
    """A name with nothing readable, or a reserved one, yields the slug 'inbox'."""
    assert generate_forwarding_local_part("日本語", b"\x01" * 8).startswith("inbox-")
    assert generate_forwarding_local_part("Postmaster", b"\x01" * 8).startswith("inbox-")


def test_generation_needs_enough_random_bytes() -> None:
    """Fewer than 8 random bytes would make the address guessable: refused."""
    with pytest.raises(InvalidValueError):
        generate_forwarding_local_part("Support", b"\x00" * 4)


@settings(max_examples=200)
@given(st.text(max_size=80), st.binary(min_size=8, max_size=16))
@example(name="0" * 38, random=b"\x00" * 16)  # once overflowed 64 octets (found in CI)
def test_any_name_generates_a_valid_forwarding_address(name: str, random: bytes) -> None:
    """Whatever the name, the generated local part passes every forwarding rule."""
    local = generate_forwarding_local_part(name, random)
    assert check_forwarding_local_part(local, CONFIG) == ()
    assert forwarding_address(local, ACME, CONFIG).domain == "acme.inbox.example.net"


def test_transliteration_covers_latin_cyrillic_greek() -> None:
    """Accents, ligatures, Cyrillic and Greek become ASCII."""
    assert transliterate("Straße Æsir Øre") == "Strasse AEsir Ore"
    assert slugify("Служба поддержки") == "sluzhba-podderzhki"
    assert slugify("Υποστήριξη") == "ypostirixi"


def test_slug_is_cut_at_a_word_boundary() -> None:
    """Long names are cut between words, never over the limit."""
    slug = slugify("customer support for the northern european region team", 30)
    assert len(slug) <= 30
    assert slug == "customer-support-for-the"


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("", {"forwarding_address.empty"}),
        ("Support", {"forwarding_address.uppercase"}),
        ("sales+vip", {"forwarding_address.plus_sign"}),
        ("hé-llo", {"forwarding_address.invalid_characters"}),
        ("a b c d", {"forwarding_address.invalid_characters"}),
        (".team", {"forwarding_address.dot_placement"}),
        ("team.", {"forwarding_address.dot_placement"}),
        ("te..am", {"forwarding_address.dot_placement"}),
        ("abc", {"forwarding_address.too_short"}),
        ("a" * 65, {"forwarding_address.too_long"}),
        ("postmaster", {"forwarding_address.reserved"}),
        ("no_reply", {"forwarding_address.reserved"}),
        ("mailer-daemon", {"forwarding_address.reserved"}),
        ("admin", {"forwarding_address.reserved"}),
        ("Abuse", {"forwarding_address.uppercase", "forwarding_address.reserved"}),
        ("support", set()),
        ("billing.eu_2", set()),
    ],
)
def test_forwarding_local_part_rules(local: str, expected: set[str]) -> None:
    """Each forwarding rule reports its own problem code, and valid names report none."""
    assert codes(check_forwarding_local_part(local, CONFIG)) == expected


def test_all_problems_are_reported_at_once() -> None:
    """A local part breaking several rules gets every problem in one answer."""
    found = codes(check_forwarding_local_part(".A+b", CONFIG))
    assert found == {
        "forwarding_address.uppercase",
        "forwarding_address.plus_sign",
        "forwarding_address.dot_placement",
    }


def test_every_reserved_name_is_refused() -> None:
    """Each listed reserved name is refused under the default rules."""
    for name in RESERVED_LOCAL_PARTS:
        assert "forwarding_address.reserved" in codes(check_forwarding_local_part(name, CONFIG))


def test_minimum_length_is_configurable() -> None:
    """A host may demand longer forwarding names."""
    strict = HostedDomainConfig(hosted_domain="inbox.example.net", forwarding_min_length=8)
    assert codes(check_forwarding_local_part("support", strict)) == {"forwarding_address.too_short"}


@example("@@")
@example("a@b@c")
@given(st.text(max_size=40))
def test_normalization_is_idempotent(text: str) -> None:
    """Normalizing a normalized local part changes nothing (several @ included)."""
    once = normalize_forwarding_local_part(text)
    assert normalize_forwarding_local_part(once) == once


def test_normalization_trims_lowercases_and_keeps_the_local_part() -> None:
    """What a team types is trimmed, lowercased, and cut at the @."""
    assert normalize_forwarding_local_part("  Help-Desk@acme.example ") == "help-desk"
    assert normalize_forwarding_local_part("ＳＵＰＰＯＲＴ") == "support"


# --- lifecycle -------------------------------------------------------------------------------


def test_transition_table_is_the_lifecycle() -> None:
    """Draft connects; connected disconnects; disconnected is final."""
    assert CHANNEL_TRANSITIONS[(ChannelState.DRAFT, ChannelStep.CONNECT)] is ChannelState.CONNECTED
    assert (
        CHANNEL_TRANSITIONS[(ChannelState.CONNECTED, ChannelStep.DISCONNECT)]
        is ChannelState.DISCONNECTED
    )
    assert allowed_steps(ChannelState.DISCONNECTED) == ()


def test_confirmation_mail_may_arrive_in_draft_and_connected() -> None:
    """The provider's confirmation mail is observed before and after connecting."""
    draft = apply_step(channel(), ChannelStep.OBSERVE_CONFIRMATION, T)
    assert draft.state is ChannelState.DRAFT
    assert draft.confirmation_seen_at == T
    connected = apply_step(draft, ChannelStep.CONNECT, T)
    later = T + timedelta(hours=1)
    again = apply_step(connected, ChannelStep.OBSERVE_CONFIRMATION, later)
    assert again.state is ChannelState.CONNECTED
    assert again.confirmation_seen_at == later


def test_connect_and_disconnect_stamp_their_times() -> None:
    """Connecting sets connected_at; disconnecting sets disconnected_at."""
    connected = apply_step(channel(), ChannelStep.CONNECT, T)
    assert connected.connected_at == T
    gone = apply_step(connected, ChannelStep.DISCONNECT, T + timedelta(days=3))
    assert gone.state is ChannelState.DISCONNECTED
    assert gone.disconnected_at == T + timedelta(days=3)


def test_first_mail_is_stamped_once() -> None:
    """receiving_since keeps the time of the first forwarded mail."""
    connected = apply_step(channel(), ChannelStep.CONNECT, T)
    first = apply_step(connected, ChannelStep.OBSERVE_FIRST_MAIL, T + timedelta(minutes=5))
    second = apply_step(first, ChannelStep.OBSERVE_FIRST_MAIL, T + timedelta(hours=5))
    assert second.receiving_since == T + timedelta(minutes=5)


@pytest.mark.parametrize(
    ("state", "step"),
    [
        (ChannelState.CONNECTED, ChannelStep.CONNECT),
        (ChannelState.CONNECTED, ChannelStep.CUSTOMIZE_ADDRESS),
        (ChannelState.DISCONNECTED, ChannelStep.CONNECT),
        (ChannelState.DISCONNECTED, ChannelStep.DISCONNECT),
        (ChannelState.DISCONNECTED, ChannelStep.OBSERVE_FIRST_MAIL),
    ],
)
def test_disallowed_steps_name_state_and_step(state: ChannelState, step: ChannelStep) -> None:
    """A step the table does not allow raises InvalidTransition naming state and step."""
    with pytest.raises(InvalidTransition) as info:
        apply_step(channel(state=state), step, T)
    assert info.value.state == state.value
    assert info.value.step == step.value
    assert state.value in str(info.value)


@given(st.sampled_from(ChannelState), st.sampled_from(ChannelStep))
def test_apply_step_follows_the_table_exactly(state: ChannelState, step: ChannelStep) -> None:
    """apply_step succeeds exactly for the pairs in the table, landing where it says."""
    expected = CHANNEL_TRANSITIONS.get((state, step))
    if expected is None:
        with pytest.raises(InvalidTransition):
            apply_step(channel(state=state), step, T)
    else:
        assert apply_step(channel(state=state), step, T).state is expected


def test_diagram_is_drawn_from_the_table() -> None:
    """Every transition appears in the Mermaid diagram."""
    diagram = transition_diagram()
    assert diagram.startswith("stateDiagram-v2")
    for (state, step), new in CHANNEL_TRANSITIONS.items():
        assert f"{state.value} --> {new.value}: {step.value}" in diagram


# --- from-name -------------------------------------------------------------------------------


def test_from_name_in_both_modes() -> None:
    """Agent-and-company renders 'Jane from Acme Support'; company-only renders the company."""
    assert render_from_name(channel(), JANE) == "Jane from Acme Support"
    company = channel(from_name_mode=FromNameMode.COMPANY)
    assert render_from_name(company, JANE) == "Acme Support"


def test_from_name_format_is_configurable() -> None:
    """A host can choose another format, e.g. 'Jane Doe | Acme Support'."""
    formats = FromNameFormats(agent_and_company="{agent_full_name} | {company}")
    assert render_from_name(channel(), JANE, formats) == "Jane Doe | Acme Support"


def test_agent_without_name_falls_back_to_company_format() -> None:
    """An agent with no first name never produces ' from Acme'."""
    nameless = attrs.evolve(JANE, first_name="", last_name="")
    assert render_from_name(channel(), nameless) == "Acme Support"
    assert render_from_name(channel(), None) == "Acme Support"


def test_from_name_strips_line_breaks() -> None:
    """Header-breaking characters in names never reach the From line."""
    sneaky = attrs.evolve(JANE, first_name="Jane\r\nBcc: victim@example.com")
    rendered = render_from_name(channel(), sneaky)
    assert "\n" not in rendered
    assert "\r" not in rendered


def test_from_name_format_problems() -> None:
    """Unknown fields and broken syntax in a format are problems, and refused by the value."""
    assert codes(check_from_name_format("{agent_nickname} at {company}")) == {
        "from_name.format_unknown_field"
    }
    assert codes(check_from_name_format("{company")) == {"from_name.format_syntax"}
    with pytest.raises(ConfigurationError):
        FromNameFormats(company="{company!r}")


@pytest.mark.parametrize(
    ("company", "expected"),
    [
        ("", {"from_name.company_required"}),
        ("   ", {"from_name.company_required"}),
        ("Acme\nSupport", {"from_name.control_characters"}),
        ("x" * 101, {"from_name.too_long"}),
        ("support@acme.example", {"from_name.looks_like_address"}),
        ("Acme Support", set()),
        ("Støtte AS", set()),
    ],
)
def test_company_name_rules(company: str, expected: set[str]) -> None:
    """A from-name must be present, one line, reasonably short and not address-like."""
    assert codes(check_company_name(company)) == expected


def test_from_name_collides_after_normalization() -> None:
    """'Acme Support' and ' acme  SUPPORT' are the same from-name within an account."""
    other = channel(id=ChannelId("ch-2"), name="Sales", company_name="Acme Support")
    mine = channel(company_name="")
    assert codes(check_from_name_available(mine, " acme  SUPPORT", [other])) == {"from_name.taken"}
    assert codes(check_from_name_available(mine, "ＡＣＭＥ Support", [other])) == {
        "from_name.taken"
    }


def test_from_name_free_when_other_channel_disconnected_or_other_account() -> None:
    """Disconnected channels and other accounts do not hold a from-name."""
    gone = channel(id=ChannelId("ch-2"), state=ChannelState.DISCONNECTED)
    foreign = channel(id=ChannelId("ch-3"), account_id=AccountId("acct-2"))
    assert check_from_name_available(channel(), "Acme Support", [gone, foreign]) == ()


def test_from_name_check_ignores_the_channel_itself() -> None:
    """A channel keeping its own name is no collision."""
    assert check_from_name_available(channel(), "Acme Support", [channel()]) == ()


# --- from-address ----------------------------------------------------------------------------


def test_resolution_uses_default_without_custom() -> None:
    """Without a custom address, replies go out from the agent's default."""
    resolved = resolve_from_address(channel(), ACME, JANE, CONFIG)
    assert resolved.kind is FromAddressKind.DEFAULT
    assert resolved.address.address == "jane@acme.inbox.example.net"
    assert resolved.pending is None


def test_unverified_custom_address_waits_and_default_is_used() -> None:
    """An unverified custom address on a foreign domain is pending; mail uses the default."""
    custom = EmailAddress.parse("help@other.example")
    ch = channel(from_address=FromAddressSettings(custom=custom, pending_token_id="t1"))
    resolved = resolve_from_address(ch, ACME, JANE, CONFIG)
    assert resolved.kind is FromAddressKind.DEFAULT
    assert resolved.pending == custom


def test_verified_custom_address_is_used() -> None:
    """Once verified, the custom address is the from-address."""
    custom = EmailAddress.parse("help@other.example")
    ch = channel(from_address=FromAddressSettings(custom=custom, verified_at=T))
    resolved = resolve_from_address(ch, ACME, JANE, CONFIG)
    assert resolved.kind is FromAddressKind.CUSTOM_VERIFIED
    assert resolved.address == custom


def test_custom_address_on_sending_domain_needs_no_verification() -> None:
    """An address on a connected sending domain is used at once."""
    custom = EmailAddress.parse("Help@ACME.example")
    ch = channel(from_address=FromAddressSettings(custom=custom))
    assert is_on_sending_domain(custom, ACME)
    resolved = resolve_from_address(ch, ACME, JANE, CONFIG)
    assert resolved.kind is FromAddressKind.CUSTOM_SENDING_DOMAIN


def test_custom_address_falls_back_when_sending_domain_is_removed() -> None:
    """If the account disconnects its sending domain, an unverified custom address stops."""
    custom = EmailAddress.parse("help@acme.example")
    ch = channel(from_address=FromAddressSettings(custom=custom))
    without = attrs.evolve(ACME, sending_domains=frozenset())
    assert resolve_from_address(ch, without, JANE, CONFIG).kind is FromAddressKind.DEFAULT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("not an address", {"from_address.invalid"}),
        ("Help <help@acme.example>", {"from_address.display_name"}),
        ("team@acme.inbox.example.net", {"from_address.hosted_domain"}),
        ("x@mail.example.org", {"from_address.hosted_domain"}),
        (
            "support-abcdefghijklm@acme.inbox.example.net",
            {
                "from_address.hosted_domain",
                "from_address.is_forwarding_address",
            },
        ),
        ("help@acme.example", set()),
    ],
)
def test_custom_from_address_rules(text: str, expected: set[str]) -> None:
    """A custom from-address must be a plain address off the hosted domain."""
    assert codes(check_custom_from_address(text, channel(), ACME, CONFIG)) == expected


def test_from_header_encodes_non_ascii_names() -> None:
    """A non-ASCII display name is RFC 2047-encoded and decodes back exactly."""
    zoe = attrs.evolve(JANE, first_name="Zoë")
    header = from_header(channel(company_name="Støtte AS"), ACME, zoe, CONFIG)
    assert header.isascii()
    assert "=?utf-8?" in header
    name, addr = email.utils.parseaddr(header)
    decoded = str(email.header.make_header(email.header.decode_header(name)))
    assert decoded == "Zoë from Støtte AS"
    assert addr == "jane@acme.inbox.example.net"


def test_from_header_quotes_specials() -> None:
    """Names with RFC 5322 specials are quoted."""
    header = from_header(channel(company_name="Acme, Inc."), ACME, JANE, CONFIG)
    assert header == '"Jane from Acme, Inc." <jane@acme.inbox.example.net>'


def test_check_channel_reports_everything_blocking_connect() -> None:
    """check_channel lists every problem of a channel at once."""
    bad = channel(
        company_name="",
        forwarding_address=EmailAddress.parse("abuse@elsewhere.example"),
        from_address=FromAddressSettings(custom=EmailAddress.parse("me@acme.inbox.example.net")),
    )
    found = codes(check_channel(bad, ACME, CONFIG))
    assert found == {
        "forwarding_address.wrong_domain",
        "forwarding_address.reserved",
        "from_name.company_required",
        "from_address.hosted_domain",
    }
    assert check_channel(channel(), ACME, CONFIG) == ()
