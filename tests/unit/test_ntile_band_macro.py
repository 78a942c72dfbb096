"""Macro ntile_band gives, from a row's rank and its partition's row count alone, the bucket
DuckDB's own ntile gives the row, so sig_return_rate_by_behaviour_band can band rows grouped
by measured value (their first and last rank) instead of sorting every line.

The macro is rendered with Jinja as dbt renders it; the expectation is the engine's ntile over
the ranked rows (a different code path: a window function, no arithmetic of ours).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import jinja2
import pytest

pytestmark = pytest.mark.unit

MACROS = Path(__file__).resolve().parents[2] / "macros"
NTILE_BAND = (
    jinja2.Environment()
    .from_string((MACROS / "ntile_band.sql").read_text(encoding="utf-8"))
    .module.ntile_band
)


@pytest.mark.parametrize("buckets", [10, 4, 1, 7])
def test_ntile_band_equals_ntile_for_every_rank_of_partitions_of_1_to_400_rows(buckets):
    # every partition size from 1 to 400 (fewer rows than buckets, multiples and remainders of
    # every kind) and every rank in it; ranks and counts as bigint, as the model passes them
    band = NTILE_BAND("r", "n", buckets)
    with duckdb.connect() as con:
        counts = con.execute(
            f"""
            with ranked as (
                select
                    n,
                    r,
                    ntile({buckets}) over (partition by n order by r) as expected
                from range(1, 401) as sizes(n), range(1, 401) as ranks(r)
                where r <= n
            )
            select
                count(*),
                count(*) filter (where ({band}) is distinct from expected),
                count(distinct typeof({band}))
            from ranked
            """
        ).fetchone()
    assert counts == (80200, 0, 1)


def test_ntile_band_is_exact_at_band_boundaries_of_partitions_of_10_to_the_15_rows():
    # the division the macro does is of bigints in double (DuckDB's and Spark's /), exact for
    # whole numbers below 2^53: the boundaries of partitions of 10^15 rows, one row either side
    band = NTILE_BAND("r", "n")
    with duckdb.connect() as con:
        rows = con.execute(
            f"""
            select n, r, {band}
            from (values
                (1000000000000003, 1),
                (1000000000000003, 300000000000003),
                (1000000000000003, 300000000000004),
                (1000000000000003, 1000000000000003),
                (1000000000000009, 900000000000009),
                (1000000000000009, 900000000000010)
            ) as t(n, r)
            """
        ).fetchall()
    # n = 10^15 + 3: bands 1-3 hold 10^14 + 1 rows, so rank 3 * (10^14 + 1) ends band 3;
    # n = 10^15 + 9: bands 1-9 hold 10^14 + 1 rows, band 10 starts at 9 * (10^14 + 1) + 1
    assert [b for _, _, b in rows] == [1, 3, 4, 10, 9, 10]
