"""Versioned schema migrations for the SQL storage: ordered steps, applied in one transaction.

The schema lives here and only here: each :class:`Migration` is a frozen step that builds its own
tables and indexes (a later step never edits an earlier one, it adds a new step). The database
records what it has in ``inboxcore_schema_version``, one row per applied step. :func:`migrate`
brings a database to the newest version:

- it takes a lock first, so that many workers starting at once migrate exactly once
  (PostgreSQL: a transaction-scoped advisory lock; SQLite: ``BEGIN IMMEDIATE``);
- it applies every missing step and records it in the same transaction, so a failed step leaves
  the database at the version it had (both PostgreSQL and SQLite have transactional DDL);
- it refuses a database newer than this code (an older worker must not write to a newer schema).

Why not Alembic: the schema is small, hosts embed it into their own databases, and an ordered list
of steps with a version table is the part of Alembic that matters here, without its environment
files. Hosts that run Alembic for their own tables keep ours out of autogenerate with
``include_name`` (every table of ours starts with ``inboxcore_``).

Constraints mirror the domain rules of :mod:`inboxcore.ports`: one channel per forwarding
address, one from-name per account among channels that are not disconnected (a partial unique
index), one message per dedup key per channel, one contact per email key per account, one ticket
per conversation. Foreign keys are ``DEFERRABLE INITIALLY DEFERRED``: a unit of work may write a
conversation before the contact it names, as long as both are there at commit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine

from inboxcore.domain.errors import InvalidValueError, StorageError

__all__ = [
    "LATEST_VERSION",
    "MIGRATIONS",
    "Migration",
    "VERSION_TABLE",
    "check_schema_name",
    "migrate",
    "schema_version",
]

VERSION_TABLE = "inboxcore_schema_version"
"""The table recording every applied step."""

# Any fixed 64-bit number: the advisory lock that serializes migrations on PostgreSQL.
_PG_LOCK_KEY = 0x1B0C0E5C4E


@attrs.frozen(kw_only=True)
class Migration:
    """One step of the schema's history.

    ``apply`` receives a connection inside the migration's transaction and must only create or
    alter (never read application data it does not also write); it may branch on
    ``connection.dialect.name``.
    """

    version: int
    name: str
    apply: Callable[[Connection], None]


def _json() -> sa.types.TypeEngine[Any]:
    # json rather than jsonb on PostgreSQL: jsonb refuses "\u0000", which mail may carry.
    return sa.Text().with_variant(postgresql.JSON(), "postgresql")


def _seq() -> sa.Column[int]:
    # INTEGER PRIMARY KEY is SQLite's rowid; BIGSERIAL on PostgreSQL. It orders records by
    # insertion, which breaks ties between equal timestamps the way the in-memory store does.
    return sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True)


def _fk(target: str, name: str) -> sa.ForeignKey:
    return sa.ForeignKey(target, name=name, deferrable=True, initially="DEFERRED")


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _v1_initial(connection: Connection) -> None:
    """The record tables, their uniqueness rules and the pipeline's lookup indexes."""
    md = sa.MetaData()
    sa.Table(
        "inboxcore_accounts",
        md,
        _seq(),
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("data", _json(), nullable=False),
        sa.UniqueConstraint("id", name="uq_inboxcore_accounts_id"),
    )
    sa.Table(
        "inboxcore_channels",
        md,
        _seq(),
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column(
            "account_id",
            sa.String(255),
            _fk("inboxcore_accounts.id", "fk_inboxcore_channels_account"),
            nullable=False,
        ),
        sa.Column("address_key", sa.String(320), nullable=False),
        sa.Column("from_name_key", sa.Text(), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        _ts("created_at"),
        sa.Column("data", _json(), nullable=False),
        sa.UniqueConstraint("id", name="uq_inboxcore_channels_id"),
        sa.UniqueConstraint("address_key", name="uq_inboxcore_channels_address_key"),
    )
    channels = md.tables["inboxcore_channels"]
    sa.Index(
        "uq_inboxcore_channels_from_name",
        channels.c.account_id,
        channels.c.from_name_key,
        unique=True,
        sqlite_where=sa.text("state <> 'disconnected' AND from_name_key <> ''"),
        postgresql_where=sa.text("state <> 'disconnected' AND from_name_key <> ''"),
    )
    sa.Index("ix_inboxcore_channels_account", channels.c.account_id, channels.c.created_at)
    sa.Table(
        "inboxcore_retired_addresses",
        md,
        sa.Column("address_key", sa.String(320), primary_key=True),
        sa.Column(
            "channel_id",
            sa.String(255),
            _fk("inboxcore_channels.id", "fk_inboxcore_retired_addresses_channel"),
            nullable=False,
        ),
        _ts("retired_at"),
    )
    sa.Table(
        "inboxcore_contacts",
        md,
        _seq(),
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column(
            "account_id",
            sa.String(255),
            _fk("inboxcore_accounts.id", "fk_inboxcore_contacts_account"),
            nullable=False,
        ),
        sa.Column("email_key", sa.String(320), nullable=False),
        sa.Column("data", _json(), nullable=False),
        sa.UniqueConstraint("id", name="uq_inboxcore_contacts_id"),
        sa.UniqueConstraint("account_id", "email_key", name="uq_inboxcore_contacts_email"),
    )
    conversations = sa.Table(
        "inboxcore_conversations",
        md,
        _seq(),
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column(
            "account_id",
            sa.String(255),
            _fk("inboxcore_accounts.id", "fk_inboxcore_conversations_account"),
            nullable=False,
        ),
        sa.Column(
            "channel_id",
            sa.String(255),
            _fk("inboxcore_channels.id", "fk_inboxcore_conversations_channel"),
            nullable=False,
        ),
        # No foreign key to contacts: a host may keep contacts in its CRM and store only the id.
        sa.Column("contact_id", sa.String(255), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("assignee_id", sa.String(255), nullable=True),
        _ts("created_at"),
        _ts("last_message_at"),
        sa.Column("data", _json(), nullable=False),
        sa.UniqueConstraint("id", name="uq_inboxcore_conversations_id"),
    )
    sa.Index(
        "ix_inboxcore_conversations_contact",
        conversations.c.channel_id,
        conversations.c.contact_id,
        conversations.c.last_message_at,
    )
    sa.Index(
        "ix_inboxcore_conversations_channel",
        conversations.c.channel_id,
        conversations.c.created_at,
    )
    messages = sa.Table(
        "inboxcore_messages",
        md,
        _seq(),
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("account_id", sa.String(255), nullable=False),
        sa.Column(
            "channel_id",
            sa.String(255),
            _fk("inboxcore_channels.id", "fk_inboxcore_messages_channel"),
            nullable=False,
        ),
        # No foreign key to conversations: a message may be filed before its conversation is.
        sa.Column("conversation_id", sa.String(255), nullable=False),
        # "mid:<Message-ID>" or "fp:<fingerprint>": the unique index is also the Message-ID index.
        sa.Column("dedup_key", sa.Text(), nullable=False),
        _ts("received_at"),
        sa.Column("data", _json(), nullable=False),
        sa.UniqueConstraint("id", name="uq_inboxcore_messages_id"),
        sa.UniqueConstraint("channel_id", "dedup_key", name="uq_inboxcore_messages_dedup"),
    )
    sa.Index(
        "ix_inboxcore_messages_conversation",
        messages.c.conversation_id,
        messages.c.received_at,
    )
    tickets = sa.Table(
        "inboxcore_tickets",
        md,
        _seq(),
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("account_id", sa.String(255), nullable=False),
        sa.Column(
            "channel_id",
            sa.String(255),
            _fk("inboxcore_channels.id", "fk_inboxcore_tickets_channel"),
            nullable=False,
        ),
        sa.Column(
            "conversation_id",
            sa.String(255),
            _fk("inboxcore_conversations.id", "fk_inboxcore_tickets_conversation"),
            nullable=False,
        ),
        _ts("created_at"),
        sa.Column("data", _json(), nullable=False),
        sa.UniqueConstraint("id", name="uq_inboxcore_tickets_id"),
        sa.UniqueConstraint("conversation_id", name="uq_inboxcore_tickets_conversation"),
    )
    sa.Index("ix_inboxcore_tickets_channel", tickets.c.channel_id, tickets.c.created_at)
    sa.Table(
        "inboxcore_rotations",
        md,
        sa.Column(
            "channel_id",
            sa.String(255),
            _fk("inboxcore_channels.id", "fk_inboxcore_rotations_channel"),
            primary_key=True,
        ),
        # NULL until the first assignment: the row exists early so that it can be locked.
        sa.Column("data", _json(), nullable=True),
    )
    intake = sa.Table(
        "inboxcore_intake_log",
        md,
        _seq(),
        sa.Column("raw_id", sa.String(64), nullable=False),
        # No foreign key: the log records mail for addresses that match no channel, and must
        # never fail to append.
        sa.Column("channel_id", sa.String(255), nullable=True),
        sa.Column("disposition", sa.String(32), nullable=False),
        _ts("at"),
        sa.Column("data", _json(), nullable=False),
    )
    sa.Index("ix_inboxcore_intake_log_raw", intake.c.raw_id)
    sa.Index("ix_inboxcore_intake_log_disposition", intake.c.disposition, intake.c.channel_id)
    md.create_all(connection)


def _v2_raw_messages_and_assignee(connection: Connection) -> None:
    """The table raw-message store, and the index behind per-agent caps on open conversations."""
    md = sa.MetaData()
    sa.Table(
        "inboxcore_raw_messages",
        md,
        sa.Column("raw_id", sa.String(64), primary_key=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    md.create_all(connection)
    conversations = sa.Table(
        "inboxcore_conversations",
        sa.MetaData(),
        sa.Column("assignee_id", sa.String(255)),
        sa.Column("status", sa.String(32)),
    )
    sa.Index(
        "ix_inboxcore_conversations_open_assignee",
        conversations.c.assignee_id,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    ).create(connection)


def _v3_raw_receipts(connection: Connection) -> None:
    """The envelope each raw message was received with, so that one never recorded can be run
    again as received. Messages already stored get a ``legacy`` row (envelope unknown, time of
    the migration): the recovery sweep runs them with what their delivery headers say."""
    md = sa.MetaData()
    receipts = sa.Table(
        "inboxcore_raw_receipts",
        md,
        sa.Column("raw_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        _ts("received_at", nullable=True),
        sa.Column("envelope", _json(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('received', 'own', 'legacy')", name="ck_inboxcore_raw_receipts_kind"
        ),
    )
    sa.Index("ix_inboxcore_raw_receipts_received_at", receipts.c.received_at)
    md.create_all(connection)
    connection.execute(
        sa.text(
            "INSERT INTO inboxcore_raw_receipts (raw_id, kind, received_at) "
            "SELECT raw_id, 'legacy', CURRENT_TIMESTAMP FROM inboxcore_raw_messages"
        )
    )


_BACKFILL_BATCH = 1000
_TIME = sa.DateTime(timezone=True)


def _backfill(
    connection: Connection, table: str, compute: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    """Fill new columns of every row of ``table`` from its JSON document, a batch at a time."""
    rows = sa.table(table, sa.column("seq"), sa.column("data", _json()))
    last = -1
    while True:
        batch = connection.execute(
            sa.select(rows.c.seq, rows.c.data)
            .where(rows.c.seq > last)
            .order_by(rows.c.seq)
            .limit(_BACKFILL_BATCH)
        ).all()
        if not batch:
            return
        for seq, data in batch:
            document = json.loads(data) if isinstance(data, str) else data
            values = compute(document)
            target = sa.table(
                table,
                sa.column("seq"),
                *(sa.column(k, _TIME if k.endswith("_at") else None) for k in values),
            )
            connection.execute(sa.update(target).where(target.c.seq == seq).values(values))
        last = batch[-1][0]


def _v4_listing_columns(connection: Connection) -> None:
    """Columns and indexes that make every hot-path lookup and agent listing an indexed query:
    the threading subject key and kind of conversations, the status, owner and update time of
    tickets; keyset indexes for pages newest first."""
    from inboxcore.policies.threads import subject_key

    for column in (
        "ALTER TABLE inboxcore_conversations ADD COLUMN subject_key TEXT",
        "ALTER TABLE inboxcore_conversations ADD COLUMN kind VARCHAR(32)",
        "ALTER TABLE inboxcore_tickets ADD COLUMN status VARCHAR(32)",
        "ALTER TABLE inboxcore_tickets ADD COLUMN owner_id VARCHAR(255)",
        "ALTER TABLE inboxcore_tickets ADD COLUMN updated_at "
        + ("TIMESTAMP WITH TIME ZONE" if connection.dialect.name == "postgresql" else "DATETIME"),
    ):
        connection.exec_driver_sql(column)
    _backfill(
        connection,
        "inboxcore_conversations",
        # PostgreSQL text holds no NUL (the repositories store lookup keys the same way).
        lambda d: {
            "subject_key": subject_key(d.get("subject") or "").replace("\x00", "\ufffd"),
            "kind": d["kind"],
        },
    )
    _backfill(
        connection,
        "inboxcore_tickets",
        lambda d: {
            "status": d["status"],
            "owner_id": d.get("owner_id"),
            "updated_at": datetime.fromisoformat(d["updated_at"]).astimezone(UTC),
        },
    )
    md = sa.MetaData()
    conversations = sa.Table(
        "inboxcore_conversations",
        md,
        *(sa.Column(n, sa.Text()) for n in ("id", "channel_id", "contact_id", "subject_key")),
        *(sa.Column(n, sa.Text()) for n in ("status", "kind", "assignee_id")),
        sa.Column("last_message_at", sa.DateTime(timezone=True)),
    )
    c = conversations.c
    for name, columns in (
        ("subject", (c.channel_id, c.contact_id, c.subject_key, c.last_message_at)),
        ("recent", (c.channel_id, c.last_message_at, c.id)),
        ("status_recent", (c.channel_id, c.status, c.last_message_at, c.id)),
        ("assignee_recent", (c.channel_id, c.assignee_id, c.last_message_at, c.id)),
    ):
        sa.Index(f"ix_inboxcore_conversations_{name}", *columns).create(connection)
    tickets = sa.Table(
        "inboxcore_tickets",
        md,
        *(sa.Column(n, sa.Text()) for n in ("id", "channel_id", "status")),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
    )
    k = tickets.c
    sa.Index("ix_inboxcore_tickets_recent", k.channel_id, k.updated_at, k.id).create(connection)
    sa.Index(
        "ix_inboxcore_tickets_status_recent", k.channel_id, k.status, k.updated_at, k.id
    ).create(connection)


def _v5_subject_index_with_id(connection: Connection) -> None:
    """Threading by subject orders by (last_message_at, id) with a limit: without ``id`` in the
    subject index SQLite's planner walked the channel's recent index instead, every conversation
    of the channel (9.5 ms a message at 10^5 stored, measured by benchmarks/bench_scale.py)."""
    md = sa.MetaData()
    conversations = sa.Table(
        "inboxcore_conversations",
        md,
        *(sa.Column(n, sa.Text()) for n in ("id", "channel_id", "contact_id", "subject_key")),
        sa.Column("last_message_at", sa.DateTime(timezone=True)),
    )
    c = conversations.c
    old = sa.Index("ix_inboxcore_conversations_subject", c.channel_id, c.contact_id, c.subject_key)
    old.drop(connection)
    sa.Index(
        "ix_inboxcore_conversations_subject_recent",
        c.channel_id,
        c.contact_id,
        c.subject_key,
        c.last_message_at,
        c.id,
    ).create(connection)


_LZ4_SUPPORTED = sa.text(
    "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
)


def _v6_raw_bytes_lz4(connection: Connection) -> None:
    """PostgreSQL compresses large values with pglz by default: storing a 50 KB raw message
    cost 1.6 ms of server time, 1.2 ms of it compressing, where lz4 takes 0.4 ms and compresses
    mail as well (measured on this schema's bytea column). Raw messages written from now on use
    lz4 where the server has it (PostgreSQL 14+ built with lz4, as Debian's and the official
    images are); stored ones keep pglz and read as before. SQLite compresses nothing."""
    if connection.dialect.name != "postgresql":
        return
    if connection.execute(_LZ4_SUPPORTED).first() is None:
        return
    connection.exec_driver_sql(
        "ALTER TABLE inboxcore_raw_messages ALTER COLUMN data SET COMPRESSION lz4"
    )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(version=1, name="initial schema", apply=_v1_initial),
    Migration(
        version=2,
        name="raw-message table and open-by-assignee index",
        apply=_v2_raw_messages_and_assignee,
    ),
    Migration(version=3, name="raw-message receipts", apply=_v3_raw_receipts),
    Migration(version=4, name="listing columns and keyset indexes", apply=_v4_listing_columns),
    Migration(version=5, name="subject index ordered by id", apply=_v5_subject_index_with_id),
    Migration(version=6, name="raw bytes compressed with lz4", apply=_v6_raw_bytes_lz4),
)
"""Every step, oldest first; versions count up from 1 without gaps."""

LATEST_VERSION = MIGRATIONS[-1].version
"""The schema version this code reads and writes."""

_VERSIONS = sa.Table(
    VERSION_TABLE,
    sa.MetaData(),
    sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("name", sa.Text(), nullable=False),
    sa.Column(
        "applied_at",
        sa.DateTime(timezone=True),
        nullable=False,
        server_default=sa.func.current_timestamp(),
    ),
)

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def check_schema_name(schema: str) -> str:
    """``schema`` if it is a plain lowercase PostgreSQL identifier; InvalidValueError if not."""
    if not _SCHEMA_NAME.fullmatch(schema):
        raise InvalidValueError(f"not a plain lowercase schema name: {schema!r}")
    return schema


def _read_version(connection: Connection) -> int:
    if not sa.inspect(connection).has_table(VERSION_TABLE):
        return 0
    found = connection.execute(sa.select(sa.func.max(_VERSIONS.c.version))).scalar()
    return int(found or 0)


def schema_version(engine: Engine) -> int:
    """The version of the schema in the database; 0 for an empty database."""
    with engine.connect() as connection:
        return _read_version(connection)


def migrate(
    engine: Engine, *, target: int | None = None, schema: str | None = None
) -> tuple[int, ...]:
    """Bring the database to ``target`` (default: the newest version); return the steps applied.

    ``schema`` (PostgreSQL only) is created if missing; the engine's connections must have it
    first in their ``search_path`` (:func:`inboxcore.adapters.sql.make_engine` does that).
    Raises :class:`~inboxcore.domain.errors.StorageError` if the database is newer than this code
    or a
    step fails (then nothing of this run was applied).
    """
    goal = LATEST_VERSION if target is None else target
    if not 0 <= goal <= LATEST_VERSION:
        raise InvalidValueError(f"no schema version {goal} (this code knows 0..{LATEST_VERSION})")
    dialect = engine.dialect.name
    try:
        with engine.connect() as connection:
            if dialect == "sqlite":
                # The storage engine runs the driver in autocommit mode; take the write lock.
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            elif dialect == "postgresql":
                connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_LOCK_KEY)))
                if schema is not None:
                    name = check_schema_name(schema)
                    connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{name}"')
                    current = connection.execute(sa.select(sa.func.current_schema())).scalar()
                    if current != name:
                        connection.rollback()
                        raise InvalidValueError(
                            f"the engine's search_path starts with {current!r}, not {name!r}: "
                            "build it with make_engine(url, schema=...)"
                        )
            try:
                applied = _apply(connection, goal)
            except BaseException:
                connection.rollback()
                raise
            connection.commit()
            return applied
    except sa.exc.SQLAlchemyError as exc:
        raise StorageError(f"schema migration failed: {exc}") from exc


def _apply(connection: Connection, goal: int) -> tuple[int, ...]:
    current = _read_version(connection)
    if current > LATEST_VERSION:
        raise StorageError(
            f"the database schema is version {current}, newer than this code knows "
            f"({LATEST_VERSION}): upgrade inboxcore before using this database"
        )
    if current > goal:
        raise StorageError(f"the database is at version {current}; migrations never go back")
    _VERSIONS.create(connection, checkfirst=True)
    applied: list[int] = []
    for step in MIGRATIONS:
        if current < step.version <= goal:
            step.apply(connection)
            connection.execute(sa.insert(_VERSIONS).values(version=step.version, name=step.name))
            applied.append(step.version)
    return tuple(applied)
