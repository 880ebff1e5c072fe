"""Lightweight handles on the tables that :mod:`.migrations` creates, for the queries.

The schema itself (types, constraints, indexes) is defined once, in the migration steps; the
queries need only names and the few column types that convert values (JSON documents and
timestamps). The contract and migration tests check that the two agree.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

# PostgreSQL's json, not jsonb: jsonb refuses "\u0000", which a hostile message may carry.
_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSON(none_as_null=True), "postgresql")
_TIME = sa.DateTime(timezone=True)
TIME = _TIME
"""The timestamp type of every time column (for bound parameters compared with them)."""
_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "data": _JSON,
    "envelope": _JSON,
    "created_at": _TIME,
    "last_message_at": _TIME,
    "updated_at": _TIME,
    "received_at": _TIME,
    "retired_at": _TIME,
    "at": _TIME,
}


def _table(name: str, *columns: str) -> sa.TableClause:
    return sa.table(name, *(sa.column(c, _TYPES.get(c)) for c in columns))


ACCOUNTS = _table("inboxcore_accounts", "seq", "id", "data")
CHANNELS = _table(
    "inboxcore_channels",
    "seq",
    "id",
    "account_id",
    "address_key",
    "from_name_key",
    "state",
    "created_at",
    "data",
)
RETIRED = _table("inboxcore_retired_addresses", "address_key", "channel_id", "retired_at")
CONTACTS = _table("inboxcore_contacts", "seq", "id", "account_id", "email_key", "data")
CONVERSATIONS = _table(
    "inboxcore_conversations",
    "seq",
    "id",
    "account_id",
    "channel_id",
    "contact_id",
    "status",
    "assignee_id",
    "created_at",
    "last_message_at",
    "subject_key",
    "kind",
    "data",
)
MESSAGES = _table(
    "inboxcore_messages",
    "seq",
    "id",
    "account_id",
    "channel_id",
    "conversation_id",
    "dedup_key",
    "received_at",
    "data",
)
TICKETS = _table(
    "inboxcore_tickets",
    "seq",
    "id",
    "account_id",
    "channel_id",
    "conversation_id",
    "created_at",
    "status",
    "owner_id",
    "updated_at",
    "data",
)
ROTATIONS = _table("inboxcore_rotations", "channel_id", "data")
INTAKE_LOG = _table(
    "inboxcore_intake_log", "seq", "raw_id", "channel_id", "disposition", "at", "data"
)
RAW_MESSAGES = sa.table(
    "inboxcore_raw_messages",
    sa.column("raw_id"),
    sa.column("size"),
    sa.column("data", sa.LargeBinary()),
)
RAW_RECEIPTS = _table("inboxcore_raw_receipts", "raw_id", "kind", "received_at", "envelope")

ALL_TABLES = (
    ACCOUNTS,
    CHANNELS,
    RETIRED,
    CONTACTS,
    CONVERSATIONS,
    MESSAGES,
    TICKETS,
    ROTATIONS,
    INTAKE_LOG,
    RAW_MESSAGES,
    RAW_RECEIPTS,
)


def insert_ignoring(
    dialect: str, table: sa.TableClause, values: dict[str, Any], keys: list[str]
) -> sa.Insert:
    """INSERT that does nothing when a row with the same ``keys`` exists (or is being added)."""
    if dialect == "postgresql":
        return postgresql.insert(table).values(values).on_conflict_do_nothing(index_elements=keys)
    return sqlite.insert(table).values(values).on_conflict_do_nothing(index_elements=keys)


def upsert(
    dialect: str,
    table: sa.TableClause,
    values: dict[str, Any],
    keys: list[str],
    where: sa.ColumnElement[bool] | None = None,
) -> sa.Insert:
    """INSERT, or UPDATE the other columns of the row with the same ``keys`` (only where
    ``where`` holds of the stored row, when given)."""
    changed = [c for c in values if c not in keys]
    if dialect == "postgresql":
        pg = postgresql.insert(table).values(values)
        return pg.on_conflict_do_update(
            index_elements=keys, set_={c: pg.excluded[c] for c in changed}, where=where
        )
    lite = sqlite.insert(table).values(values)
    return lite.on_conflict_do_update(
        index_elements=keys, set_={c: lite.excluded[c] for c in changed}, where=where
    )
