"""The pieces behind the command: the TOML reader, the settings row, envelopes, progress."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from inboxcore.cli._inbox import InboxSettings, StoredDirectory
from inboxcore.cli._ingest import Progress
from inboxcore.cli._sources import envelope_sender
from inboxcore.cli._spec import ChannelSpec, InboxSpec, check_spec, parse_agent, spec_from_toml
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import ConfigurationError, Problem
from inboxcore.domain.ids import AccountId, TeamId, UserId
from inboxcore.domain.model import RoutingMode, Team, User

toml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 10**9) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=10,
)
toml_keys = st.sampled_from(
    ["account", "agents", "teams", "channels", "channel", "contacts", "message_id_domain", "x"]
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(toml_keys, toml_values, max_size=5))
def test_any_toml_document_gives_a_spec_or_a_configuration_error(data: dict[str, Any]) -> None:
    """Whatever the file holds, the reader returns a spec or lists problems; it never crashes."""
    problems: tuple[Problem, ...] = ()
    spec: InboxSpec | None = None
    try:
        spec = spec_from_toml(data)
    except ConfigurationError as exc:
        problems = exc.problems
    if spec is None:
        assert problems
        assert all(p.code and p.message for p in problems)
    else:
        assert isinstance(check_spec(spec), tuple)


def test_a_spec_without_a_channel_is_refused() -> None:
    """An inbox must receive somewhere: no channel is the config.no_channel problem."""
    assert [p.code for p in check_spec(InboxSpec())] == ["config.no_channel"]


def test_two_channels_with_the_same_company_name_clash() -> None:
    """A from-name belongs to one address only, also between channels of one config."""
    spec = InboxSpec(
        channels=(ChannelSpec(address="a@in.example"), ChannelSpec(address="b@in.example"))
    )
    assert "from_name.taken" in [p.code for p in check_spec(spec)]


def test_parse_agent_takes_name_and_address_or_the_local_part() -> None:
    """'Name <email>' splits; a bare address gets its local part as the name."""
    assert parse_agent("Jonas Weber <jonas.weber@acme.example>") == (
        "Jonas Weber",
        EmailAddress.parse("jonas.weber@acme.example"),
    )
    assert parse_agent("anna@acme.example")[0] == "anna"


@settings(max_examples=50, deadline=None)
@given(
    keys=st.lists(st.binary(min_size=16, max_size=64), min_size=1, max_size=3),
    away=st.booleans(),
    domain=st.from_regex(r"[a-z]{1,10}\.example", fullmatch=True),
)
def test_settings_round_trip_through_json(keys: list[bytes], away: bool, domain: str) -> None:
    """The settings row reads back equal, keys included."""
    anna = User(
        id=UserId("u-anna"),
        account_id=AccountId("acme"),
        email=EmailAddress.parse("anna@acme.example"),
        first_name="Anna",
        last_name="Berg",
    )
    team = Team(
        id=TeamId("team-t1"), account_id=AccountId("acme"), name="T1", member_ids=(anna.id,)
    )
    original = InboxSettings(
        account_id=AccountId("acme"),
        message_id_domain=domain,
        conversation_keys=tuple(keys),
        users=(anna,),
        teams=(team,),
        away=frozenset({anna.id}) if away else frozenset(),
        created_at=datetime(2025, 3, 3, 9, 0, tzinfo=UTC),
    )
    assert InboxSettings.from_json(original.to_json()) == original


def test_stored_directory_availability() -> None:
    """Agents are available unless marked away or inactive; unknown ids never are."""
    active = User(
        id=UserId("u-a"), account_id=AccountId("acme"), email=EmailAddress.parse("a@acme.example")
    )
    away = User(
        id=UserId("u-b"), account_id=AccountId("acme"), email=EmailAddress.parse("b@acme.example")
    )
    gone = User(
        id=UserId("u-c"),
        account_id=AccountId("acme"),
        email=EmailAddress.parse("c@acme.example"),
        active=False,
    )
    directory = StoredDirectory({u.id: u for u in (active, away, gone)}, {}, frozenset({away.id}))
    assert [directory.is_available(u) for u in (active.id, away.id, gone.id)] == [
        True,
        False,
        False,
    ]
    assert not directory.is_available(UserId("u-nobody"))
    assert directory.user_by_email(AccountId("acme"), "A@ACME.example") == active


def test_envelope_sender_prefers_the_topmost_return_path() -> None:
    """The last server's Return-Path wins over later ones and over the mbox From line."""
    raw = (
        b"Return-Path: <maria@bakery.example>\r\nReturn-Path: <old@relay.example>\r\n"
        b"Subject: hi\r\n\r\nReturn-Path: <body@x.example>\r\n"
    )
    assert envelope_sender(raw, "someone@else.example") == "maria@bakery.example"


def test_envelope_sender_null_and_fallbacks() -> None:
    """<> is the null sender; without Return-Path the mbox From line's address counts; the
    separator's MAILER-DAEMON is no sender at all (never the null sender); else unknown."""
    assert envelope_sender(b"Return-Path: <>\n\nbody") == ""
    assert envelope_sender(b"Subject: x\n\nReturn-Path: <a@b.example>\n", "a@mbox.example") == (
        "a@mbox.example"
    )
    assert envelope_sender(b"Subject: x\n\n", "MAILER-DAEMON") is None
    assert envelope_sender(b"Subject: x\n\n") is None


def test_progress_stays_quiet_for_short_runs_and_draws_when_forced() -> None:
    """With a delay nothing is drawn at first; with no delay the bar shows done/total."""
    quiet = io.StringIO()
    bar = Progress(quiet, 10, enabled=True, delay=60)
    bar.update(5)
    bar.close()
    assert quiet.getvalue() == ""
    loud = io.StringIO()
    bar = Progress(loud, 4, enabled=True, delay=0)
    bar.update(4)
    bar.close()
    assert "4/4 messages" in loud.getvalue()
    assert loud.getvalue().endswith("\r\x1b[K")


def test_routing_users_default_to_every_active_agent() -> None:
    """users_and_teams with no list routes to all agents (none given: a problem)."""
    spec = InboxSpec(
        channels=(ChannelSpec(address="a@in.example", routing=RoutingMode.USERS_AND_TEAMS),)
    )
    assert "config.nobody_to_route_to" in [p.code for p in check_spec(spec)]
