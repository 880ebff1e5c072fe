"""The embedded inbox behind the ``inboxcore`` command: one SQLite file holds everything.

``inboxcore init`` writes an account, its agents and teams, one or more channels, and the inbox's
own settings into a new SQLite database through the SQL storage adapter
(:class:`~inboxcore.adapters.sql.SqlStorage`); raw messages go to a table of the same file
(:class:`~inboxcore.adapters.sql.SqlRawStore`), so that one file is the whole inbox, to copy or
back up. Every later command (``ingest``, ``conversations``, ``serve``...) opens it with
:func:`open_inbox` and gets an :class:`Inbox`: the storage, the raw store, the directory of agents
and a ready :class:`~inboxcore.app.service.InboxService`.

The settings a host would keep in its own configuration live in one row of the table
``inboxcore_cli_settings``: the account id, the agents and teams (the
:class:`~inboxcore.ports.Directory` port of an inbox with no host application around it), the
Message-ID domain, and the conversation-token keys. The keys are generated with :mod:`secrets` at
init and never printed; the database file is made readable by its owner only, because whoever
holds the keys can forge reply tokens. The row is written last, so an init that failed half-way
is recognised (and the file removed).

What an inbox is made of is described by an :class:`InboxSpec`, built from flags or from a TOML
file (:func:`spec_from_toml`, format in ``docs/cli.md``); :func:`create_inbox` checks it all and
reports every problem at once as a :class:`~inboxcore.domain.errors.ConfigurationError`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

import attrs

from inboxcore.adapters.system import RandomIds, SystemClock
from inboxcore.app.config import InboxConfig
from inboxcore.bootstrap import build_inbox
from inboxcore.channels import check_channel_name, check_company_name, slugify
from inboxcore.domain.addresses import EmailAddress, normalize_domain
from inboxcore.domain.errors import (
    ConfigurationError,
    InvalidEmailAddress,
    InvalidValueError,
    NotFoundError,
    Problem,
    StorageError,
)
from inboxcore.domain.ids import AccountId, ChannelId, ContactId, TeamId, UserId
from inboxcore.domain.model import (
    DEFAULT_MAX_MESSAGE_SIZE,
    Account,
    Channel,
    ChannelState,
    Contact,
    DmarcFailureAction,
    IntakeSettings,
    RoutingMode,
    RoutingSettings,
    Team,
    TicketSettings,
    TicketTemplate,
    User,
)
from inboxcore.domain.serialization import converter
from inboxcore.ports import DnsResolver

if TYPE_CHECKING:
    from inboxcore.adapters.sql import SqlRawStore, SqlStorage

__all__ = [
    "AgentSpec",
    "ChannelSpec",
    "ContactSpec",
    "DEFAULT_DB",
    "Inbox",
    "InboxSettings",
    "InboxSpec",
    "SETTINGS_TABLE",
    "StoredDirectory",
    "TeamSpec",
    "check_spec",
    "create_inbox",
    "open_inbox",
    "parse_agent",
    "spec_from_toml",
]

log = logging.getLogger(__name__)

_E = TypeVar("_E", RoutingMode, DmarcFailureAction)

DEFAULT_DB = "inbox.db"
"""Where the command keeps its inbox unless ``--db`` says otherwise (the current directory)."""

SETTINGS_TABLE = "inboxcore_cli_settings"
"""The table of the CLI's own settings (one row), beside the storage adapter's tables."""

_FORMAT = 2  # 2: the settings serialized by the cattrs converter
_KEY_BYTES = 32
# --- the production ports a command-line inbox needs -----------------------------------------


@attrs.frozen
class StoredDirectory:
    """The :class:`~inboxcore.ports.Directory` port on the agents and teams of the settings.

    With no presence system around, an agent is available unless the configuration says
    ``available = false`` (or the agent is inactive).
    """

    users_by_id: Mapping[UserId, User]
    teams_by_id: Mapping[TeamId, Team]
    away: frozenset[UserId] = frozenset()

    def user(self, user_id: UserId) -> User | None:
        return self.users_by_id.get(user_id)

    def user_by_email(self, account_id: AccountId, email_key: str) -> User | None:
        for user in self.users_by_id.values():
            if user.account_id == account_id and user.email.key == email_key.lower():
                return user
        return None

    def users(self, account_id: AccountId) -> tuple[User, ...]:
        return tuple(u for u in self.users_by_id.values() if u.account_id == account_id)

    def team(self, team_id: TeamId) -> Team | None:
        return self.teams_by_id.get(team_id)

    def is_available(self, user_id: UserId) -> bool:
        user = self.users_by_id.get(user_id)
        return user is not None and user.active and user_id not in self.away


# --- what an inbox is made of -----------------------------------------------------------------


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
    setting.
    """
    r = _Reader()
    r.unknown(data, _TOP, "")
    account = r.table(data, "account", "account")
    r.unknown(account, _ACCOUNT, "account")
    agents = []
    for field, item in r.tables(data, "agents"):
        r.unknown(item, _AGENT, field)
        email = r.address(r.text(item, "email", field), f"{field}.email")
        if email is None:
            continue
        agents.append(
            AgentSpec(
                name=r.text(item, "name", field) or email.display_name or email.local,
                email=attrs.evolve(email, display_name=None),
                available=r.flag(item, "available", field, True),
                active=r.flag(item, "active", field, True),
            )
        )
    teams = []
    for field, item in r.tables(data, "teams"):
        r.unknown(item, _TEAM, field)
        name = r.text(item, "name", field)
        if not name:
            r.bad(f"{field}.name", f"{field}.name is required")
            continue
        teams.append(TeamSpec(name=name, members=r.texts(item, "members", field)))
    contacts = []
    for field, item in r.tables(data, "contacts"):
        r.unknown(item, _CONTACT, field)
        email = r.address(r.text(item, "email", field), f"{field}.email")
        if email is None:
            continue
        contacts.append(
            ContactSpec(
                email=attrs.evolve(email, display_name=None),
                name=r.text(item, "name", field) or email.display_name,
                owner=r.text(item, "owner", field),
            )
        )
    channels = []
    key = "channel" if "channel" in data and "channels" not in data else "channels"
    for field, item in r.tables(data, key):
        r.unknown(item, _CHANNEL, field)
        routing = r.table(item, "routing", f"{field}.routing")
        r.unknown(routing, _ROUTING, f"{field}.routing")
        tickets = r.table(item, "tickets", f"{field}.tickets")
        r.unknown(tickets, _TICKETS, f"{field}.tickets")
        address = r.text(item, "address", field)
        if not address:
            r.bad(f"{field}.address", f"{field}.address (the forwarding address) is required")
            continue
        rf, tf = f"{field}.routing", f"{field}.tickets"
        channels.append(
            ChannelSpec(
                address=address,
                name=r.text(item, "name", field, "Support") or "Support",
                company_name=r.text(item, "company_name", field),
                team_addresses=r.texts(item, "team_addresses", field),
                trusted_forwarders=r.texts(item, "trusted_forwarders", field),
                max_message_size=r.number(item, "max_message_size", field, DEFAULT_MAX_MESSAGE_SIZE)
                or DEFAULT_MAX_MESSAGE_SIZE,
                dmarc_failure_action=r.choice(
                    item,
                    "dmarc_failure_action",
                    field,
                    DmarcFailureAction,
                    DmarcFailureAction.QUARANTINE,
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
        )
    spec = InboxSpec(
        account=r.text(account, "name", "account", "Acme") or "Acme",
        subdomain=r.text(account, "subdomain", "account"),
        sending_domains=r.texts(account, "sending_domains", "account"),
        message_id_domain=r.text(data, "message_id_domain", "message_id_domain"),
        agents=tuple(agents),
        teams=tuple(teams),
        channels=tuple(channels),
        contacts=tuple(contacts),
    )
    if r.problems:
        # Report the rest too (unknown agents, bad addresses): every problem at once.
        raise ConfigurationError([*r.problems, *check_spec(spec)])
    return spec


def check_spec(spec: InboxSpec) -> tuple[Problem, ...]:
    """Every problem that would keep :func:`create_inbox` from creating ``spec``'s inbox."""
    try:
        _build(spec, SystemClock().now(), RandomIds())
    except ConfigurationError as exc:
        return exc.problems
    return ()


# --- the settings row --------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class InboxSettings:
    """What the inbox keeps beside the storage's records: the host's side of the ports."""

    account_id: AccountId
    message_id_domain: str
    conversation_keys: tuple[bytes, ...] = attrs.field(repr=False)
    """Oldest first; the newest signs (key rotation)."""
    users: tuple[User, ...] = ()
    teams: tuple[Team, ...] = ()
    away: frozenset[UserId] = frozenset()
    created_at: datetime

    def directory(self) -> StoredDirectory:
        return StoredDirectory(
            {u.id: u for u in self.users}, {t.id: t for t in self.teams}, self.away
        )

    def to_json(self) -> str:
        """The settings as JSON, in a versioned envelope (through the cattrs converter)."""
        return json.dumps(
            {"format": _FORMAT, "settings": converter.unstructure(self)}, sort_keys=True
        )

    @classmethod
    def from_json(cls, text: str) -> InboxSettings:
        """Settings stored by :meth:`to_json`; :class:`StorageError` if unreadable."""
        try:
            data = json.loads(text)
            if data.get("format") != _FORMAT:
                raise StorageError(
                    f"the inbox settings have format {data.get('format')!r}; "
                    f"this inboxcore reads format {_FORMAT}"
                )
            return converter.structure(data["settings"], cls)
        except (KeyError, TypeError, ValueError, AttributeError, BaseExceptionGroup) as exc:
            raise StorageError(f"the inbox settings are unreadable: {exc}") from exc


# --- the inbox -----------------------------------------------------------------------------


class Inbox:
    """An opened inbox: storage, raw store, settings and the service, ready to receive."""

    def __init__(
        self,
        *,
        path: Path,
        storage: SqlStorage,
        settings: InboxSettings,
        dns: DnsResolver | None = None,
    ) -> None:
        self.path = path
        self.storage = storage
        self.raw_store: SqlRawStore = storage.raw_store()
        self.settings = settings
        self.directory = settings.directory()
        self.clock = SystemClock()
        self.ids = RandomIds()
        self.service = build_inbox(
            storage=storage,
            raw_store=self.raw_store,
            clock=self.clock,
            ids=self.ids,
            directory=self.directory,
            config=InboxConfig(
                conversation_keys=settings.conversation_keys,
                message_id_domain=settings.message_id_domain,
            ),
            dns=dns,
        )

    @property
    def account_id(self) -> AccountId:
        return self.settings.account_id

    def channels(self) -> tuple[Channel, ...]:
        """The account's channels, oldest first."""
        with self.storage.unit_of_work() as uow:
            return uow.channels.for_account(self.account_id)

    def account(self) -> Account:
        with self.storage.unit_of_work() as uow:
            return uow.accounts.get(self.account_id)

    def close(self) -> None:
        self.storage.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _require_sql() -> Any:
    try:
        import inboxcore.adapters.sql as sql
    except ImportError as exc:  # pragma: no cover - the sql extra is part of every test run
        raise StorageError("the inbox needs SQLAlchemy: pip install 'inboxcore[sql]'") from exc
    return sql


def _settings_table() -> Any:
    import sqlalchemy as sa

    return sa.Table(
        SETTINGS_TABLE,
        sa.MetaData(),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def _storage(path: Path) -> SqlStorage:
    from sqlalchemy.engine import URL

    sql = _require_sql()
    engine = sql.make_engine(URL.create("sqlite", database=str(path)))
    try:
        storage: SqlStorage = sql.SqlStorage(engine)
    except BaseException:
        engine.dispose()
        raise
    return storage


_SQLITE_MAGIC = b"SQLite format 3\x00"


def _require_sqlite_file(where: Path) -> None:
    """Refuse a file that is not an SQLite database before the database library sees it (its
    error would name its own internals and a web page, not the file the user gave)."""
    try:
        with where.open("rb") as handle:
            magic = handle.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise StorageError(f"cannot read {where}: {exc.strerror}") from exc
    if magic != _SQLITE_MAGIC:
        raise StorageError(
            f"{where} is not an inbox: it is not an SQLite database "
            "(give --db the file `inboxcore init` created)"
        )


def open_inbox(path: str | os.PathLike[str], *, dns: DnsResolver | None = None) -> Inbox:
    """Open the inbox ``inboxcore init`` created at ``path``.

    Raises :class:`~inboxcore.domain.errors.NotFoundError` when there is no file (nothing is
    created)
    and :class:`~inboxcore.domain.errors.StorageError` when the file is not an inbox or is
    unreadable.
    """
    import sqlalchemy as sa

    where = Path(path)
    if not where.is_file():
        raise NotFoundError(f"no inbox at {where}: create one with `inboxcore init`")
    _require_sqlite_file(where)
    try:
        storage = _storage(where)
    except sa.exc.SQLAlchemyError as exc:
        raise StorageError(f"{where} is not an inbox database: {exc}") from exc
    try:
        table = _settings_table()
        try:
            with storage.engine.connect() as connection:
                row = connection.execute(
                    sa.select(table.c.value).where(table.c.name == "inbox")
                ).first()
        except sa.exc.SQLAlchemyError:
            row = None
        if row is None:
            raise StorageError(
                f"{where} holds no inbox settings: it was not made by `inboxcore init` "
                "(or init did not finish)"
            )
        settings = InboxSettings.from_json(row[0])
        return Inbox(path=where, storage=storage, settings=settings, dns=dns)
    except BaseException:
        storage.close()
        raise


# --- creating an inbox ---------------------------------------------------------------------


def _unique_id(prefix: str, slug: str, taken: set[str]) -> str:
    base = f"{prefix}-{slug or 'x'}"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    taken.add(candidate)
    return candidate


def _check_domain(value: str, field: str, problems: list[Problem]) -> str | None:
    try:
        return normalize_domain(value)
    except (InvalidEmailAddress, InvalidValueError, ValueError) as exc:
        problems.append(Problem(code="config.invalid", message=str(exc), field=field))
        return None


def _parse_address(value: str, field: str, problems: list[Problem]) -> EmailAddress | None:
    try:
        return EmailAddress.parse(value)
    except InvalidEmailAddress as exc:
        problems.append(Problem(code="config.invalid", message=str(exc), field=field))
        return None


@attrs.frozen(kw_only=True)
class _Built:
    account: Account
    users: tuple[User, ...]
    teams: tuple[Team, ...]
    channels: tuple[Channel, ...]
    contacts: tuple[Contact, ...]
    away: frozenset[UserId]
    message_id_domain: str


def _build(spec: InboxSpec, now: datetime, ids: RandomIds) -> _Built:
    """Every record of the new inbox, or a ConfigurationError with every problem."""
    problems: list[Problem] = []
    subdomain = slugify(spec.subdomain or spec.account, 63) or "inbox"
    account_id = AccountId(subdomain)
    if not spec.account.strip():
        problems.append(
            Problem(code="config.invalid", message="the account needs a name", field="account")
        )
    sending = [
        d
        for d in (
            _check_domain(v, "account.sending_domains", problems) for v in spec.sending_domains
        )
        if d
    ]
    account = Account(
        id=account_id, name=" ".join(spec.account.split()), subdomain=subdomain,
        sending_domains=frozenset(sending),
    )  # fmt: skip
    taken: set[str] = set()
    users: list[User] = []
    by_email: dict[str, User] = {}
    away: set[UserId] = set()
    for i, agent in enumerate(spec.agents):
        if agent.email.key in by_email:
            problems.append(
                Problem(
                    code="config.duplicate_agent",
                    message=f"{agent.email.address} is listed twice",
                    field=f"agents[{i}]",
                )
            )
            continue
        first, _, last = " ".join(agent.name.split()).partition(" ")
        user = User(
            id=UserId(_unique_id("u", slugify(agent.email.local, 20), taken)),
            account_id=account_id,
            email=agent.email,
            first_name=first,
            last_name=last,
            active=agent.active,
        )
        users.append(user)
        by_email[agent.email.key] = user
        if not agent.available:
            away.add(user.id)

    def agent_ids(emails: Sequence[str], field: str) -> tuple[UserId, ...]:
        found = []
        for value in emails:
            address = _parse_address(value, field, problems)
            if address is None:
                continue
            user = by_email.get(address.key)
            if user is None:
                problems.append(
                    Problem(
                        code="config.unknown_agent",
                        message=f"{value} is not one of the agents",
                        field=field,
                    )
                )
                continue
            found.append(user.id)
        return tuple(dict.fromkeys(found))

    teams: list[Team] = []
    by_name: dict[str, Team] = {}
    for i, team_spec in enumerate(spec.teams):
        team = Team(
            id=TeamId(_unique_id("team", slugify(team_spec.name, 30), taken)),
            account_id=account_id,
            name=" ".join(team_spec.name.split()),
            member_ids=agent_ids(team_spec.members, f"teams[{i}].members"),
        )
        teams.append(team)
        by_name[team.name.casefold()] = team

    if not spec.channels:
        problems.append(
            Problem(
                code="config.no_channel",
                message="give the forwarding address to receive at (--channel-address)",
                field="channels",
            )
        )
    channels: list[Channel] = []
    addresses: set[str] = set()
    for i, cs in enumerate(spec.channels):
        field = f"channels[{i}]"
        address = _parse_address(cs.address, f"{field}.address", problems)
        if address is not None and address.untagged.key in addresses:
            problems.append(
                Problem(
                    code="forwarding_address.taken",
                    message=f"{address.address} receives for another channel already",
                    field=f"{field}.address",
                )
            )
        company = cs.company_name if cs.company_name is not None else account.name
        problems += check_channel_name(cs.name)
        problems += check_company_name(company)
        mailboxes = [
            a
            for a in (
                _parse_address(v, f"{field}.team_addresses", problems) for v in cs.team_addresses
            )
            if a
        ]
        forwarders = [
            d
            for d in (
                _check_domain(v, f"{field}.trusted_forwarders", problems)
                for v in cs.trusted_forwarders
            )
            if d
        ]
        team_ids = []
        for name in cs.route_to_teams:
            wanted = by_name.get(" ".join(name.split()).casefold())
            if wanted is None:
                problems.append(
                    Problem(
                        code="config.unknown_team",
                        message=f"there is no team named {name!r}",
                        field=f"{field}.routing.teams",
                    )
                )
            else:
                team_ids.append(wanted.id)
        user_ids = agent_ids(cs.route_to_users, f"{field}.routing.users")
        if cs.routing is RoutingMode.USERS_AND_TEAMS and not user_ids and not team_ids:
            user_ids = tuple(u.id for u in users if u.active)
            if not user_ids:
                problems.append(
                    Problem(
                        code="config.nobody_to_route_to",
                        message="routing to users and teams needs at least one agent (--agent)",
                        field=f"{field}.routing",
                    )
                )
        if cs.max_message_size < 1:
            problems.append(
                Problem(
                    code="config.invalid",
                    message="the size limit must be positive",
                    field=f"{field}.max_message_size",
                )
            )
        if address is None:
            continue
        addresses.add(address.untagged.key)
        channels.append(
            Channel(
                id=ChannelId(_unique_id("ch", slugify(cs.name, 30), taken)),
                account_id=account_id,
                name=" ".join(cs.name.split()),
                forwarding_address=attrs.evolve(address.untagged, display_name=None),
                created_at=now,
                state=ChannelState.CONNECTED,
                connected_at=now,
                mailbox_addresses=tuple(mailboxes),
                company_name=" ".join(company.split()),
                routing=RoutingSettings(
                    mode=cs.routing,
                    user_ids=user_ids,
                    team_ids=tuple(team_ids),
                    max_open_per_agent=cs.max_open_per_agent,
                    fallback=cs.fallback,
                ),
                tickets=TicketSettings(
                    enabled=cs.tickets,
                    template=TicketTemplate(
                        pipeline=cs.pipeline,
                        stage=cs.stage,
                        priority=cs.priority,
                        category=cs.category,
                    ),
                ),
                intake=IntakeSettings(
                    max_message_size=max(cs.max_message_size, 1),
                    trusted_forwarders=tuple(forwarders),
                    dmarc_failure_action=cs.dmarc_failure_action,
                ),
            )
        )
    names = [c.from_name_key for c in channels]
    if len(set(names)) != len(names):
        problems.append(
            Problem(
                code="from_name.taken",
                message="two channels use the same company name: a from-name belongs to one "
                "address only",
                field="channels",
            )
        )
    contacts = []
    for i, contact in enumerate(spec.contacts):
        owner = None
        if contact.owner is not None:
            found = agent_ids([contact.owner], f"contacts[{i}].owner")
            owner = found[0] if found else None
        contacts.append(
            Contact(
                id=ContactId(ids.new_id("contact")),
                account_id=account_id,
                email=contact.email,
                created_at=now,
                name=contact.name,
                owner_id=owner,
            )
        )
    domain = spec.message_id_domain or (
        channels[0].forwarding_address.domain if channels else "inbox.invalid"
    )
    checked = _check_domain(domain, "message_id_domain", problems)
    if problems:
        raise ConfigurationError(problems)
    return _Built(
        account=account,
        users=tuple(users),
        teams=tuple(teams),
        channels=tuple(channels),
        contacts=tuple(contacts),
        away=frozenset(away),
        message_id_domain=checked or domain,
    )


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()


def create_inbox(path: str | os.PathLike[str], spec: InboxSpec) -> Inbox:
    """Create a new inbox file at ``path`` as ``spec`` describes, and open it.

    Raises :class:`~inboxcore.domain.errors.ConfigurationError` listing every problem of the spec
    (or
    ``inbox.exists`` when ``path`` exists: an inbox is never overwritten), and
    :class:`~inboxcore.domain.errors.StorageError` when the file cannot be written. Nothing is left
    behind on failure.
    """
    import sqlalchemy as sa

    where = Path(path)
    if where.exists():
        raise ConfigurationError(
            [
                Problem(
                    code="inbox.exists",
                    message=f"{where} exists already; choose another --db or remove it",
                    field="db",
                )
            ]
        )
    clock, ids = SystemClock(), RandomIds()
    now = clock.now()
    built = _build(spec, now, ids)
    settings = InboxSettings(
        account_id=built.account.id,
        message_id_domain=built.message_id_domain,
        conversation_keys=(secrets.token_bytes(_KEY_BYTES),),
        users=built.users,
        teams=built.teams,
        away=built.away,
        created_at=now,
    )
    try:
        # Owner-only from the start: the file will hold the conversation-token keys.
        fd = os.open(where, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        os.close(fd)
    except OSError as exc:
        raise StorageError(f"cannot create {where}: {exc.strerror}") from exc
    try:
        storage = _storage(where)
        try:
            with storage.unit_of_work() as uow:
                uow.accounts.add(built.account)
                for channel in built.channels:
                    uow.channels.add(channel)
                for contact in built.contacts:
                    uow.contacts.add(contact)
                uow.commit()
            table = _settings_table()
            with storage.engine.connect() as connection:
                table.create(connection, checkfirst=True)
                connection.execute(sa.insert(table).values(name="inbox", value=settings.to_json()))
                connection.commit()
        finally:
            storage.close()
    except sa.exc.SQLAlchemyError as exc:
        _remove_database(where)
        raise StorageError(f"cannot create the inbox at {where}: {exc}") from exc
    except BaseException:
        _remove_database(where)
        raise
    return open_inbox(where)
