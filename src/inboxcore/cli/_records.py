"""The records of a new command-line inbox, built from its :class:`~inboxcore.cli._spec.InboxSpec`:
the account, agents, teams, channels and contacts, with ids that say what they name (``u-anna``,
``team-billing``, ``ch-support``), or every problem at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from inboxcore.channels import check_channel_name, check_company_name, slugify
from inboxcore.domain.addresses import EmailAddress, normalize_domain
from inboxcore.domain.errors import (
    ConfigurationError,
    InvalidEmailAddress,
    InvalidValueError,
    Problem,
)
from inboxcore.domain.ids import AccountId, ChannelId, ContactId, TeamId, UserId
from inboxcore.domain.model import (
    Account,
    Channel,
    ChannelState,
    Contact,
    IntakeSettings,
    RoutingMode,
    RoutingSettings,
    Team,
    TicketSettings,
    TicketTemplate,
    User,
)
from inboxcore.ports import IdSource

if TYPE_CHECKING:
    from inboxcore.cli._spec import ChannelSpec, InboxSpec

__all__ = ["InboxRecords", "build_records"]


@attrs.frozen(kw_only=True)
class InboxRecords:
    """Every record of a new inbox, ready to be added in one unit of work."""

    account: Account
    users: tuple[User, ...]
    teams: tuple[Team, ...]
    channels: tuple[Channel, ...]
    contacts: tuple[Contact, ...]
    away: frozenset[UserId]
    message_id_domain: str


def build_records(spec: InboxSpec, now: datetime, ids: IdSource) -> InboxRecords:
    """Every record of ``spec``'s inbox. Raises
    :class:`~inboxcore.domain.errors.ConfigurationError` with every problem found."""
    builder = _Builder(spec=spec, now=now, ids=ids)
    account = builder.account()
    builder.users()
    teams = builder.teams()
    channels = builder.channels(account)
    contacts = builder.contacts()
    domain = spec.message_id_domain or (
        channels[0].forwarding_address.domain if channels else "inbox.invalid"
    )
    checked = builder.domain(domain, "message_id_domain")
    if builder.problems:
        raise ConfigurationError(builder.problems)
    return InboxRecords(
        account=account,
        users=tuple(builder.by_email.values()),
        teams=teams,
        channels=channels,
        contacts=contacts,
        away=frozenset(builder.away),
        message_id_domain=checked or domain,
    )


def _unique_id(prefix: str, slug: str, taken: set[str]) -> str:
    base = f"{prefix}-{slug or 'x'}"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    taken.add(candidate)
    return candidate


def _words(text: str) -> str:
    return " ".join(text.split())


@attrs.define(kw_only=True)
class _Builder:
    """Builds the records in order (agents before the teams and channels naming them), collecting
    every problem instead of stopping at the first."""

    spec: InboxSpec
    now: datetime
    ids: IdSource
    problems: list[Problem] = attrs.field(factory=list)
    taken: set[str] = attrs.field(factory=set)
    """Ids given so far: a second "Support" channel is ``ch-support-2``."""
    by_email: dict[str, User] = attrs.field(factory=dict)
    by_team_name: dict[str, Team] = attrs.field(factory=dict)
    away: set[UserId] = attrs.field(factory=set)
    account_id: AccountId = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.account_id = AccountId(
            slugify(self.spec.subdomain or self.spec.account, 63) or "inbox"
        )

    def problem(self, code: str, message: str, field: str) -> None:
        self.problems.append(Problem(code=code, message=message, field=field))

    def domain(self, value: str, field: str) -> str | None:
        try:
            return normalize_domain(value)
        except (InvalidEmailAddress, InvalidValueError, ValueError) as exc:
            self.problem("config.invalid", str(exc), field)
            return None

    def address(self, value: str, field: str) -> EmailAddress | None:
        try:
            return EmailAddress.parse(value)
        except InvalidEmailAddress as exc:
            self.problem("config.invalid", str(exc), field)
            return None

    # --- account, agents, teams, contacts --------------------------------------------------

    def account(self) -> Account:
        if not self.spec.account.strip():
            self.problem("config.invalid", "the account needs a name", "account")
        domains = [self.domain(v, "account.sending_domains") for v in self.spec.sending_domains]
        return Account(
            id=self.account_id,
            name=_words(self.spec.account),
            subdomain=str(self.account_id),
            sending_domains=frozenset(d for d in domains if d),
        )

    def users(self) -> None:
        for i, agent in enumerate(self.spec.agents):
            if agent.email.key in self.by_email:
                message = f"{agent.email.address} is listed twice"
                self.problem("config.duplicate_agent", message, f"agents[{i}]")
                continue
            first, _, last = _words(agent.name).partition(" ")
            user = User(
                id=UserId(_unique_id("u", slugify(agent.email.local, 20), self.taken)),
                account_id=self.account_id,
                email=agent.email,
                first_name=first,
                last_name=last,
                active=agent.active,
            )
            self.by_email[agent.email.key] = user
            if not agent.available:
                self.away.add(user.id)

    def agent_ids(self, emails: Sequence[str], field: str) -> tuple[UserId, ...]:
        """The agents with these addresses, each once; an address of no agent is a problem."""
        found = []
        for value in emails:
            address = self.address(value, field)
            if address is None:
                continue
            user = self.by_email.get(address.key)
            if user is None:
                self.problem("config.unknown_agent", f"{value} is not one of the agents", field)
                continue
            found.append(user.id)
        return tuple(dict.fromkeys(found))

    def teams(self) -> tuple[Team, ...]:
        teams = []
        for i, team_spec in enumerate(self.spec.teams):
            team = Team(
                id=TeamId(_unique_id("team", slugify(team_spec.name, 30), self.taken)),
                account_id=self.account_id,
                name=_words(team_spec.name),
                member_ids=self.agent_ids(team_spec.members, f"teams[{i}].members"),
            )
            teams.append(team)
            self.by_team_name[team.name.casefold()] = team
        return tuple(teams)

    def contacts(self) -> tuple[Contact, ...]:
        contacts = []
        for i, contact in enumerate(self.spec.contacts):
            owner = None
            if contact.owner is not None:
                found = self.agent_ids([contact.owner], f"contacts[{i}].owner")
                owner = found[0] if found else None
            contacts.append(
                Contact(
                    id=ContactId(self.ids.new_id("contact")),
                    account_id=self.account_id,
                    email=contact.email,
                    created_at=self.now,
                    name=contact.name,
                    owner_id=owner,
                )
            )
        return tuple(contacts)

    # --- channels ---------------------------------------------------------------------------

    def channels(self, account: Account) -> tuple[Channel, ...]:
        if not self.spec.channels:
            message = "give the forwarding address to receive at (--channel-address)"
            self.problem("config.no_channel", message, "channels")
        channels: list[Channel] = []
        addresses: set[str] = set()
        for i, spec in enumerate(self.spec.channels):
            field = f"channels[{i}]"
            address = self.address(spec.address, f"{field}.address")
            if address is not None and address.untagged.key in addresses:
                message = f"{address.address} receives for another channel already"
                self.problem("forwarding_address.taken", message, f"{field}.address")
            channel = self.channel(spec, field, account, address)
            if channel is not None:
                addresses.add(channel.forwarding_address.key)
                channels.append(channel)
        names = [c.from_name_key for c in channels]
        if len(set(names)) != len(names):
            message = (
                "two channels use the same company name: a from-name belongs to one address only"
            )
            self.problem("from_name.taken", message, "channels")
        return tuple(channels)

    def channel(
        self, spec: ChannelSpec, field: str, account: Account, address: EmailAddress | None
    ) -> Channel | None:
        """One channel, connected from the start; None (with problems) when it has no address."""
        company = spec.company_name if spec.company_name is not None else account.name
        self.problems += check_channel_name(spec.name)
        self.problems += check_company_name(company)
        mailboxes = [self.address(v, f"{field}.team_addresses") for v in spec.team_addresses]
        forwarders = [
            self.domain(v, f"{field}.trusted_forwarders") for v in spec.trusted_forwarders
        ]
        routing = self.routing(spec, field)
        if spec.max_message_size < 1:
            message = "the size limit must be positive"
            self.problem("config.invalid", message, f"{field}.max_message_size")
        if address is None:
            return None
        template = TicketTemplate(
            pipeline=spec.pipeline, stage=spec.stage, priority=spec.priority, category=spec.category
        )
        return Channel(
            id=ChannelId(_unique_id("ch", slugify(spec.name, 30), self.taken)),
            account_id=self.account_id,
            name=_words(spec.name),
            forwarding_address=attrs.evolve(address.untagged, display_name=None),
            created_at=self.now,
            state=ChannelState.CONNECTED,
            connected_at=self.now,
            mailbox_addresses=tuple(a for a in mailboxes if a),
            company_name=_words(company),
            routing=routing,
            tickets=TicketSettings(enabled=spec.tickets, template=template),
            intake=IntakeSettings(
                max_message_size=max(spec.max_message_size, 1),
                trusted_forwarders=tuple(d for d in forwarders if d),
                dmarc_failure_action=spec.dmarc_failure_action,
            ),
        )

    def routing(self, spec: ChannelSpec, field: str) -> RoutingSettings:
        """The channel's routing; ``users_and_teams`` naming nobody routes to every active agent."""
        team_ids = []
        for name in spec.route_to_teams:
            wanted = self.by_team_name.get(_words(name).casefold())
            if wanted is None:
                message = f"there is no team named {name!r}"
                self.problem("config.unknown_team", message, f"{field}.routing.teams")
            else:
                team_ids.append(wanted.id)
        user_ids = self.agent_ids(spec.route_to_users, f"{field}.routing.users")
        if spec.routing is RoutingMode.USERS_AND_TEAMS and not user_ids and not team_ids:
            user_ids = tuple(u.id for u in self.by_email.values() if u.active)
            if not user_ids:
                message = "routing to users and teams needs at least one agent (--agent)"
                self.problem("config.nobody_to_route_to", message, f"{field}.routing")
        return RoutingSettings(
            mode=spec.routing,
            user_ids=user_ids,
            team_ids=tuple(team_ids),
            max_open_per_agent=spec.max_open_per_agent,
            fallback=spec.fallback,
        )
