"""Exact percentiles from a sort (issue 16): macros percentile_position and
percentile_interpolate, applied to the two values a row_number ranks around the position, give
bit for bit what DuckDB's own percentile_cont gives, so kpi_return_processing_times can rank
its lines with a sort (which spills to disk) instead of a holistic aggregate (which held every
group's values in memory at once).

The macros are rendered with Jinja as dbt renders them; the expectation is the engine's own
percentile_cont over the same values (a different code path: one aggregate, no ranks).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import jinja2
import pytest

pytestmark = pytest.mark.unit

MACROS = Path(__file__).resolve().parents[2] / "macros"
FRACTIONS = (0.5, 0.9, 0.1, 0.99, 0.33)


def _macros(name: str):
    """The macros of macros/<name>.sql as Python callables (dbt's own Jinja syntax)."""
    source = (MACROS / f"{name}.sql").read_text(encoding="utf-8")
    return jinja2.Environment(extensions=["jinja2.ext.do"]).from_string(source).module


POSITION = _macros("percentile_position")
INTERPOLATE = _macros("percentile_interpolate")


@pytest.fixture(scope="module")
def values():
    con = duckdb.connect()
    con.execute("set threads = 1")
    # 2,000 groups of 1 to ~120 values: ties (one decimal), negatives, a wide range, hours
    con.execute(
        """
        create table v as
        select
            i % 2000 as g,
            case
                when i % 7 = 0 then round(cast(hash(i) % 1000 as double) / 10.0, 1)
                when i % 11 = 0 then -cast(hash(i) % 100000000 as double) / 997.0
                else cast(hash(i * 31) % 1209600 as double) / 3600.0
            end as x
        from range(0, 120000) as r(i)
        where hash(i * 17) % 2000 < i % 2000 + 5
        """
    )
    yield con
    con.close()


def _mismatches(con, fraction: float, interpolate) -> tuple[int, int]:
    position = POSITION.percentile_position("n", fraction)
    value = interpolate("lower_x", "upper_x", "position")
    return con.execute(
        f"""
        with expected as (
            select g, percentile_cont({fraction}) within group (order by x) as p
            from v group by g
        ),
        ranked as (
            select g, x, row_number() over (partition by g order by x) - 1 as r,
                count(*) over (partition by g) as n
            from v
        ),
        positioned as (select *, {position} as position from ranked),
        around as (
            select g, max(position) as position,
                max(case when r = floor(position) then x end) as lower_x,
                max(case when r = ceil(position) then x end) as upper_x
            from positioned
            where r = floor(position) or r = ceil(position)
            group by g
        ),
        actual as (select g, {value} as p from around)
        select count(*), count(*) filter (where expected.p is distinct from actual.p)
        from expected full join actual using (g)
        """
    ).fetchone()


@pytest.mark.parametrize("fraction", FRACTIONS)
def test_duckdb_percentile_from_ranks_equals_percentile_cont_bit_for_bit(values, fraction):
    groups, different = _mismatches(values, fraction, INTERPOLATE.duckdb__percentile_interpolate)
    assert groups > 1900
    assert different == 0


def test_the_plain_formula_is_not_enough_on_duckdb(values):
    """DuckDB's build fuses lower * (1 - d) + upper * d into one multiply-add; without the
    emulation about one percentile in six differs in the last bit. When this fails, DuckDB
    rounds like the plain formula: duckdb__percentile_interpolate may become the default."""
    different = sum(
        _mismatches(values, f, INTERPOLATE.default__percentile_interpolate)[1] for f in (0.9, 0.1)
    )
    assert different > 100
