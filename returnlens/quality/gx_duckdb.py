"""Make Great Expectations' SQL datasource work on DuckDB files.

GX 1.x closes its SQLAlchemy connection before it reads query results for most dialects. DuckDB
returns nothing once the connection is closed, so every expectation then fails with
`MetricResolutionError: list index out of range`. GX keeps the connection open for the dialects
listed in `_PERSISTED_CONNECTION_DIALECTS`; registering DuckDB there makes expectations run as
aggregate SQL inside DuckDB. `tests/unit/test_gx_duckdb.py` fails if this stops being needed or
stops working.
"""

from __future__ import annotations

from great_expectations.execution_engine import sqlalchemy_execution_engine as _engine


class _DuckDBDialect(str):
    """A dialect marker that compares equal to "duckdb" and has `.value`, like GX's enum."""

    @property
    def value(self) -> str:
        return str(self)


DUCKDB_DIALECT = _DuckDBDialect("duckdb")


def enable() -> None:
    """Register DuckDB as a dialect whose connection GX keeps open (idempotent)."""
    dialects = _engine._PERSISTED_CONNECTION_DIALECTS
    if DUCKDB_DIALECT not in dialects:
        _engine._PERSISTED_CONNECTION_DIALECTS = (*dialects, DUCKDB_DIALECT)


def disable() -> None:
    """Undo `enable()` (for the test that proves the fix is still needed)."""
    _engine._PERSISTED_CONNECTION_DIALECTS = tuple(
        d for d in _engine._PERSISTED_CONNECTION_DIALECTS if d != DUCKDB_DIALECT
    )
