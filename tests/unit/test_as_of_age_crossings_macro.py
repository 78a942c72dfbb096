"""The dispatched pre-hook `delete_as_of_age_crossings(flag_column, timestamp_column,
max_age_days, among)` (macros/delete_as_of_age_crossings.sql): on an incremental build, delete
the rows, among those `among` selects, whose stored flag differs from "timestamp_column before
today's as-of moment less max_age_days" (fct_returns' is_stale), in both directions; nothing on
a full build; Spark only on Delta.

Rendered with Jinja as dbt renders it (dbt's context stubbed: this, ref, run_query returning
the as-of moment, is_incremental, config, adapter.dispatch, dbt.dateadd as DuckDB's interval
arithmetic); the DELETE runs in DuckDB on rows written here, the expected survivors worked out
by hand from the timestamps.
"""

from __future__ import annotations

import duckdb
import pytest

from tests.unit.as_of_macro_stub import CompilerError, render_macros

pytestmark = pytest.mark.unit

# fct_returns' rows whose state the request's age decides
AMONG = {"state": ["open", "stale"], "rule": ["timestamps", "stale"]}


# the rows left as of 2026-03-20 12:00 with 10 days (stale when requested before 2026-03-10
# 12:00), worked out by hand from the rows of `con`: the open rows before the limit went stale,
# the stale one after it is open again, the rows outside AMONG or without a timestamp stay
LEFT_AS_OF_0320_1200 = [
    "closed",
    "no_timestamp",
    "open_at_the_limit",
    "stale_still_stale",
    "status_decides",
]


def macros(as_of, **options):
    return render_macros("delete_as_of_age_crossings.sql", as_of, **options)


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("create schema marts")
    c.execute(
        "create table marts.fct_x (rma varchar, requested_at timestamp, is_stale boolean, "
        "state varchar, rule varchar)"
    )
    c.execute(
        """
        insert into marts.fct_x values
            ('open_now_stale', '2026-03-09 00:00:00', false, 'open', 'timestamps'),
            ('open_now_stale_by_a_second', '2026-03-10 11:59:59', false, 'open', 'timestamps'),
            ('open_at_the_limit', '2026-03-10 12:00:00', false, 'open', 'timestamps'),
            ('stale_still_stale', '2026-03-01 00:00:00', true, 'stale', 'stale'),
            ('stale_now_open', '2026-03-15 00:00:00', true, 'stale', 'stale'),
            ('status_decides', '2026-03-01 00:00:00', false, 'open', 'status'),
            ('closed', '2026-03-01 00:00:00', false, 'closed', 'timestamps'),
            ('no_timestamp', null, false, 'open', 'timestamps')
        """
    )
    yield c
    c.close()


def left(con) -> list[str]:
    return sorted(r[0] for r in con.execute("select rma from marts.fct_x").fetchall())


def test_deletes_the_rows_whose_flag_the_as_of_moment_changed_both_ways(con):
    # as of 2026-03-20 12:00, 10 days: stale when requested before 2026-03-10 12:00
    m, queries = macros("2026-03-20 12:00:00")
    sql = m.delete_as_of_age_crossings("is_stale", "requested_at", 10, AMONG)
    assert queries == ["select cast(as_of_at as varchar) from intermediate.int_warehouse_as_of"]
    con.execute(sql)
    assert left(con) == LEFT_AS_OF_0320_1200


def test_a_moment_with_microseconds_is_kept_to_the_microsecond(con):
    # stale when requested before 2026-03-10 11:59:59.5: the row of 11:59:59 is
    m, _ = macros("2026-03-20 11:59:59.500000")
    con.execute(m.delete_as_of_age_crossings("is_stale", "requested_at", 10, AMONG))
    assert "open_now_stale_by_a_second" not in left(con)
    m, _ = macros("2026-03-20 11:59:58.999999")
    con.execute(
        "insert into marts.fct_x values "
        "('open_a_microsecond_young', '2026-03-10 11:59:59', false, 'open', 'timestamps')"
    )
    con.execute(m.delete_as_of_age_crossings("is_stale", "requested_at", 10, AMONG))
    assert "open_a_microsecond_young" in left(con)


def test_without_among_every_row_counts_and_without_an_as_of_moment_none_is_old(con):
    m, _ = macros("2026-03-20 12:00:00")
    con.execute(m.delete_as_of_age_crossings("is_stale", "requested_at", 10))
    assert left(con) == ["no_timestamp", "open_at_the_limit", "stale_still_stale"]
    con.execute("delete from marts.fct_x")
    con.execute(
        "insert into marts.fct_x values ('stale', '2026-03-01', true, 'stale', 'stale'), "
        "('open', '2026-03-01', false, 'open', 'timestamps')"
    )
    m, _ = macros(None)
    con.execute(m.delete_as_of_age_crossings("is_stale", "requested_at", 10, AMONG))
    assert left(con) == ["open"]


def test_nothing_on_a_full_build_and_bad_values_are_refused(con):
    m, queries = macros("2026-03-20 12:00:00", incremental=False)
    assert m.delete_as_of_age_crossings("is_stale", "requested_at", 10, AMONG).strip() == ""
    assert queries == []
    m, _ = macros("2026-03-20 12:00:00'; drop table marts.fct_x; --")
    with pytest.raises(ValueError):
        m.delete_as_of_age_crossings("is_stale", "requested_at", 10, AMONG)
    m, _ = macros("2026-03-20 12:00:00")
    with pytest.raises(CompilerError, match="plain words"):
        m.delete_as_of_age_crossings("is_stale", "requested_at", 10, {"state": ["open') or ('"]})


def test_spark_deletes_on_delta_only_without_a_subquery(con):
    m, _ = macros("2026-03-20 12:00:00", adapter="spark", file_format="parquet")
    with pytest.raises(CompilerError, match="--full-refresh") as err:
        m.delete_as_of_age_crossings("is_stale", "requested_at", 10, AMONG)
    assert "file_format delta" in str(err.value)
    m, _ = macros("2026-03-20 12:00:00", adapter="spark", file_format="delta")
    sql = " ".join(m.delete_as_of_age_crossings("is_stale", "requested_at", 10, AMONG).split())
    assert sql.lower().startswith("delete from marts.fct_x where") and "select" not in sql.lower()
    con.execute(sql)
    assert left(con) == LEFT_AS_OF_0320_1200
