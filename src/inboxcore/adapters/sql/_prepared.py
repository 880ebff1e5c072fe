"""The hot path's statements run on the driver's cursor, compiled once per engine.

SQLAlchemy's execution path (cache key, compiled-cache lookup, execution context, result
metadata) costs several times what SQLite takes to run one of the unit of work's small
statements: about 80 to 140 µs a statement against 10 to 20 µs for the statement itself. The
statements every message runs are fixed (:mod:`._repositories` builds them once with bound
parameters), so each is compiled once per engine and per set of parameter names, and run
straight on the DBAPI cursor of the unit's connection. The values are converted by the very
processors SQLAlchemy's types would use (timestamps, JSON), so what is stored and read back is
the same either way; the contract suite runs on both paths.

Listeners of ``before_cursor_execute`` on the engine are still called (with no execution
context): the tests and benchmarks that count statements keep counting them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.crud import REQUIRED

__all__ = ["Prepared", "Rows", "prepare", "run_prepared"]

_Processor = Callable[[Any], Any] | None


@attrs.frozen
class Prepared:
    """One statement compiled for one dialect: its text, its parameters in the driver's order
    with their defaults and converters, and the converters of its result columns."""

    sql: str
    names: tuple[str, ...]
    positional: bool
    defaults: tuple[Any, ...]
    binds: tuple[_Processor, ...]
    results: tuple[_Processor, ...]

    def parameters(self, given: dict[str, Any]) -> Sequence[Any] | dict[str, Any]:
        values = []
        for name, default, convert in zip(self.names, self.defaults, self.binds, strict=True):
            value = given.get(name, default)
            values.append(value if convert is None or value is None else convert(value))
        return values if self.positional else dict(zip(self.names, values, strict=True))


def prepare(statement: sa.Executable, engine: Engine, keys: tuple[str, ...]) -> Prepared:
    """Compile ``statement`` for ``engine``'s dialect, for parameters named ``keys`` (an INSERT
    or UPDATE sets just those columns)."""
    dialect = engine.dialect
    clause: Any = statement
    compiled: Any = clause.compile(dialect=dialect, column_keys=list(keys))
    positional = bool(compiled.positional)
    names = tuple(compiled.positiontup if positional else compiled.params)
    return Prepared(
        sql=compiled.string,
        names=names,
        positional=positional,
        defaults=tuple(_no_required(compiled.params.get(n)) for n in names),
        binds=tuple(compiled.binds[n].type._cached_bind_processor(dialect) for n in names),
        results=tuple(
            column[3]._cached_result_processor(dialect, None) for column in compiled._result_columns
        ),
    )


def _no_required(default: Any) -> Any:
    """An INSERT's parameter that must be given has a marker as its default: keep None instead
    (a missing value is then NULL, which the schema's NOT NULL refuses)."""
    return None if default is REQUIRED else default


class Rows:
    """What a prepared statement returned: the rows, converted, and the count of rows changed."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[tuple[Any, ...]], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def first(self) -> tuple[Any, ...] | None:
        return self._rows[0] if self._rows else None

    def all(self) -> list[tuple[Any, ...]]:
        return self._rows

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None


def run_prepared(
    connection: Connection, engine: Engine, prepared: Prepared, given: dict[str, Any]
) -> Rows:
    """Run ``prepared`` on ``connection``'s DBAPI cursor (in its transaction)."""
    dbapi_connection: Any = connection.connection.dbapi_connection
    cursor = dbapi_connection.cursor()
    try:
        parameters = prepared.parameters(given)
        for listener in engine.dispatch.before_cursor_execute:
            listener(connection, cursor, prepared.sql, parameters, None, False)
        cursor.execute(prepared.sql, parameters)
        raw = cursor.fetchall() if cursor.description is not None else []
        rowcount = cursor.rowcount
    finally:
        cursor.close()
    results = prepared.results
    if raw and any(convert is not None for convert in results):
        rows = [
            tuple(v if c is None else c(v) for v, c in zip(row, results, strict=True))
            for row in raw
        ]
    else:
        rows = [tuple(row) for row in raw]
    return Rows(rows, rowcount)
