"""What an inbox is made of: :class:`InboxSpec` and its parts, built from flags or from a TOML
file (:func:`spec_from_toml`, format in ``docs/cli.md``), checked all at once
(:func:`check_spec`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar

import attrs

from inboxcore.adapters.system import RandomIds, SystemClock
from inboxcore.cli._records import build_records
from inboxcore.domain.addresses import EmailAddress
from inboxcore.domain.errors import ConfigurationError, InvalidEmailAddress, Problem
from inboxcore.domain.model import DEFAULT_MAX_MESSAGE_SIZE, DmarcFailureAction, RoutingMode

__all__ = [
    "AgentSpec",
    "ChannelSpec",
    "ContactSpec",
    "InboxSpec",
    "TeamSpec",
    "check_spec",
    "parse_agent",
    "spec_from_toml",
]

_E = TypeVar("_E", RoutingMode, DmarcFailureAction)


def parse_agent(text: str) -> tuple[str, EmailAddress]:
    """``"Anna Berg <anna@acme.example>"`` (or a bare address) as a name and an address."""
    address = EmailAddress.parse(text)
    name = address.display_name or address.local
    return name, attrs.evolve(address, display_name=None)


@attrs.frozen(kw_only=True)
class AgentSpec:
    name: str
    email: EmailAddress
    available: bool = True
    active: bool = True


@attrs.frozen(kw_only=True)
class TeamSpec:
    name: str
    members: tuple[str, ...] = ()
    """Agents' email addresses."""


@attrs.frozen(kw_only=True)
class ContactSpec:
    """A contact the CRM already knows, possibly with an owner (for ``contact_owner`` routing)."""

    email: EmailAddress
    name: str | None = None
    owner: str | None = None
    """The owning agent's email address."""


@attrs.frozen(kw_only=True)
class ChannelSpec:
    address: str
    """The forwarding address the channel receives at."""
    name: str = "Support"
    company_name: str | None = None
    """The from-name's company part; the account name when None."""
    team_addresses: tuple[str, ...] = ()
    """The team's own mailboxes that forward here (``support@acme.example``)."""
    routing: RoutingMode = RoutingMode.UNASSIGNED
    route_to_users: tuple[str, ...] = ()
    """Agents' addresses for ``users_and_teams``; every agent when both lists are empty."""
    route_to_teams: tuple[str, ...] = ()
    """Team names for ``users_and_teams``."""
    max_open_per_agent: int | None = None
    fallback: RoutingMode = RoutingMode.UNASSIGNED
    tickets: bool = True
    pipeline: str = "support"
    stage: str = "new"
    priority: str | None = None
    category: str | None = None
    trusted_forwarders: tuple[str, ...] = ()
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    dmarc_failure_action: DmarcFailureAction = DmarcFailureAction.QUARANTINE


@attrs.frozen(kw_only=True)
class InboxSpec:
    account: str = "Acme"
    subdomain: str | None = None
    sending_domains: tuple[str, ...] = ()
    message_id_domain: str | None = None
    """The domain of the Message-IDs of our own mail; the first channel's domain when None."""
    agents: tuple[AgentSpec, ...] = ()
    teams: tuple[TeamSpec, ...] = ()
    channels: tuple[ChannelSpec, ...] = ()
    contacts: tuple[ContactSpec, ...] = ()


# --- reading a TOML configuration -------------------------------------------------------------


class _Reader:
    """Reads typed values out of parsed TOML, collecting a problem for each bad one."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def bad(self, field: str, message: str) -> None:
        self.problems.append(Problem(code="config.invalid", message=message, field=field))

    def table(self, data: Mapping[str, Any], key: str, field: str) -> Mapping[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, Mapping):
            self.bad(field, f"{field} must be a table")
            return {}
        return value

    def tables(self, data: Mapping[str, Any], key: str) -> list[tuple[str, Mapping[str, Any]]]:
        value = data.get(key, [])
        if isinstance(value, Mapping):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            self.bad(key, f"{key} must be an array of tables ([[{key}]])")
            return []
        return [(f"{key}[{i}]", v) for i, v in enumerate(value)]

    def text(
        self, data: Mapping[str, Any], key: str, field: str, default: str | None = None
    ) -> str | None:
        value = data.get(key, default)
        if value is not None and not isinstance(value, str):
            self.bad(f"{field}.{key}", f"{field}.{key} must be a string")
            return default
        return value

    def texts(self, data: Mapping[str, Any], key: str, field: str) -> tuple[str, ...]:
        value = data.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.bad(f"{field}.{key}", f"{field}.{key} must be a list of strings")
            return ()
        return tuple(value)

    def flag(self, data: Mapping[str, Any], key: str, field: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            self.bad(f"{field}.{key}", f"{field}.{key} must be true or false")
            return default
        return value

    def number(
        self, data: Mapping[str, Any], key: str, field: str, default: int | None
    ) -> int | None:
        value = data.get(key, default)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            self.bad(f"{field}.{key}", f"{field}.{key} must be a whole number")
            return default
        if value is not None and value < 1:
            self.bad(f"{field}.{key}", f"{field}.{key} must be positive")
            return default
        return value

    def choice(
        self, data: Mapping[str, Any], key: str, field: str, kind: type[_E], default: _E
    ) -> _E:
        value = data.get(key)
        if value is None:
            return default
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(m.value for m in kind)
            self.bad(f"{field}.{key}", f"{field}.{key} must be one of: {allowed}")
            return default

    def address(self, value: str | None, field: str) -> EmailAddress | None:
        if value is None:
            self.bad(field, f"{field} is required")
            return None
        try:
            return EmailAddress.parse(value)
        except InvalidEmailAddress as exc:
            self.bad(field, f"{field}: {exc}")
            return None

    def unknown(self, data: Mapping[str, Any], known: Iterable[str], field: str) -> None:
        for key in sorted(set(data) - set(known)):
            where = f"{field}.{key}" if field else key
            self.bad(where, f"unknown setting {where}")


_TOP = ("account", "message_id_domain", "agents", "teams", "channels", "channel", "contacts")
_ACCOUNT = ("name", "subdomain", "sending_domains")
_AGENT = ("name", "email", "available", "active")
_TEAM = ("name", "members")
_CONTACT = ("email", "name", "owner")
_CHANNEL = (
    "address",
    "name",
    "company_name",
    "team_addresses",
    "trusted_forwarders",
    "max_message_size",
    "dmarc_failure_action",
    "routing",
    "tickets",
)
_ROUTING = ("mode", "users", "teams", "max_open_per_agent", "fallback")
_TICKETS = ("enabled", "pipeline", "stage", "priority", "category")


def spec_from_toml(data: Mapping[str, Any]) -> InboxSpec:
    """The inbox a parsed TOML document describes (see ``docs/cli.md`` for the format).

    Raises :class:`~inboxcore.domain.errors.ConfigurationError` listing every bad or unknown
    setting (and, when there are some, every problem :func:`check_spec` finds too).
    """
    r = _Reader()
    r.unknown(data, _TOP, "")
    account = r.table(data, "account", "account")
    r.unknown(account, _ACCOUNT, "account")
    key = "channel" if "channel" in data and "channels" not in data else "channels"
    spec = InboxSpec(
        account=r.text(account, "name", "account", "Acme") or "Acme",
        subdomain=r.text(account, "subdomain", "account"),
        sending_domains=r.texts(account, "sending_domains", "account"),
        message_id_domain=r.text(data, "message_id_domain", "message_id_domain"),
        agents=tuple(_agents(r, data)),
        teams=tuple(_teams(r, data)),
        channels=tuple(_channel(r, field, item) for field, item in r.tables(data, key)),
        contacts=tuple(_contacts(r, data)),
    )
    if r.problems:
        # Report the rest too (unknown agents, bad addresses): every problem at once.
        raise ConfigurationError([*r.problems, *check_spec(spec)])
    return spec


def _agents(r: _Reader, data: Mapping[str, Any]) -> Iterator[AgentSpec]:
    for field, item in r.tables(data, "agents"):
        r.unknown(item, _AGENT, field)
        email = r.address(r.text(item, "email", field), f"{field}.email")
        if email is None:
            continue
        yield AgentSpec(
            name=r.text(item, "name", field) or email.display_name or email.local,
            email=attrs.evolve(email, display_name=None),
            available=r.flag(item, "available", field, True),
            active=r.flag(item, "active", field, True),
        )


def _teams(r: _Reader, data: Mapping[str, Any]) -> Iterator[TeamSpec]:
    for field, item in r.tables(data, "teams"):
        r.unknown(item, _TEAM, field)
        name = r.text(item, "name", field)
        if not name:
            r.bad(f"{field}.name", f"{field}.name is required")
            continue
        yield TeamSpec(name=name, members=r.texts(item, "members", field))


def _contacts(r: _Reader, data: Mapping[str, Any]) -> Iterator[ContactSpec]:
    for field, item in r.tables(data, "contacts"):
        r.unknown(item, _CONTACT, field)
        email = r.address(r.text(item, "email", field), f"{field}.email")
        if email is None:
            continue
        yield ContactSpec(
            email=attrs.evolve(email, display_name=None),
            name=r.text(item, "name", field) or email.display_name,
            owner=r.text(item, "owner", field),
        )


def _channel(r: _Reader, field: str, item: Mapping[str, Any]) -> ChannelSpec:
    """One ``[[channels]]`` table; a missing address is reported (the spec keeps an empty one,
    never created since the problem stops the inbox)."""
    r.unknown(item, _CHANNEL, field)
    routing = r.table(item, "routing", f"{field}.routing")
    r.unknown(routing, _ROUTING, f"{field}.routing")
    tickets = r.table(item, "tickets", f"{field}.tickets")
    r.unknown(tickets, _TICKETS, f"{field}.tickets")
    address = r.text(item, "address", field)
    if not address:
        r.bad(f"{field}.address", f"{field}.address (the forwarding address) is required")
    rf, tf = f"{field}.routing", f"{field}.tickets"
    size = r.number(item, "max_message_size", field, DEFAULT_MAX_MESSAGE_SIZE)
    return ChannelSpec(
        address=address or "",
        name=r.text(item, "name", field, "Support") or "Support",
        company_name=r.text(item, "company_name", field),
        team_addresses=r.texts(item, "team_addresses", field),
        trusted_forwarders=r.texts(item, "trusted_forwarders", field),
        max_message_size=size or DEFAULT_MAX_MESSAGE_SIZE,
        dmarc_failure_action=r.choice(
            item, "dmarc_failure_action", field, DmarcFailureAction, DmarcFailureAction.QUARANTINE
        ),
        routing=r.choice(routing, "mode", rf, RoutingMode, RoutingMode.UNASSIGNED),
        route_to_users=r.texts(routing, "users", rf),
        route_to_teams=r.texts(routing, "teams", rf),
        max_open_per_agent=r.number(routing, "max_open_per_agent", rf, None),
        fallback=r.choice(routing, "fallback", rf, RoutingMode, RoutingMode.UNASSIGNED),
        tickets=r.flag(tickets, "enabled", tf, True),
        pipeline=r.text(tickets, "pipeline", tf, "support") or "support",
        stage=r.text(tickets, "stage", tf, "new") or "new",
        priority=r.text(tickets, "priority", tf),
        category=r.text(tickets, "category", tf),
    )


def check_spec(spec: InboxSpec) -> tuple[Problem, ...]:
    """Every problem that would keep :func:`~inboxcore.cli._inbox.create_inbox` from creating
    ``spec``'s inbox."""
    try:
        build_records(spec, SystemClock().now(), RandomIds())
    except ConfigurationError as exc:
        return exc.problems
    return ()
