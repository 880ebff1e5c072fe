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

What an inbox is made of is described by an :class:`~inboxcore.cli._spec.InboxSpec`, built from
flags or from a TOML file (:func:`~inboxcore.cli._spec.spec_from_toml`, format in ``docs/cli.md``);
:func:`create_inbox` builds its records (:mod:`inboxcore.cli._records`), checks it all and
reports every problem at once as a :class:`~inboxcore.domain.errors.ConfigurationError`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

import attrs

from inboxcore.adapters.system import RandomIds, SystemClock
from inboxcore.app.config import InboxConfig
from inboxcore.bootstrap import build_inbox
from inboxcore.cli._records import InboxRecords, build_records
from inboxcore.cli._spec import InboxSpec
from inboxcore.domain.errors import (
    ConfigurationError,
    NotFoundError,
    Problem,
    StorageError,
)
from inboxcore.domain.ids import AccountId, TeamId, UserId
from inboxcore.domain.model import (
    Account,
    Channel,
    DmarcFailureAction,
    RoutingMode,
    Team,
    User,
)
from inboxcore.domain.serialization import converter
from inboxcore.ports import DnsResolver

if TYPE_CHECKING:
    from inboxcore.adapters.sql import SqlRawStore, SqlStorage

__all__ = [
    "DEFAULT_DB",
    "Inbox",
    "InboxSettings",
    "SETTINGS_TABLE",
    "StoredDirectory",
    "create_inbox",
    "open_inbox",
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


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()


def _write(where: Path, built: InboxRecords, settings: InboxSettings) -> None:
    """The records in one unit of work, then the settings row (last: its presence says that
    init finished)."""
    import sqlalchemy as sa

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
    built = build_records(spec, now, ids)
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
        _write(where, built, settings)
    except sa.exc.SQLAlchemyError as exc:
        _remove_database(where)
        raise StorageError(f"cannot create the inbox at {where}: {exc}") from exc
    except BaseException:
        _remove_database(where)
        raise
    return open_inbox(where)
