"""The KPI summary printed at the end of a run, read from the serving database."""

from __future__ import annotations

from pathlib import Path

import duckdb


def kpi_summary(serving: Path) -> str:
    """A short, plain-text KPI summary of the published marts (one short read-only connection)."""
    con = duckdb.connect(str(serving), read_only=True)
    try:
        published_at, tables = con.execute(
            "select published_at, tables from marts.publish_log order by published_at desc limit 1"
        ).fetchall()[0]
        mart = "marts.kpi_weekly_returns_by_category"
        overall = con.execute(
            f"""
            select
                min(week_start_date), max(week_start_date),
                sum(units_sold), sum(units_returned),
                sum(units_returned) / sum(units_sold),
                sum(refunded_eur) / sum(gross_revenue_eur),
                sum(nps_responses)
            from {mart}
            where is_cohort_mature
            """
        ).fetchall()[0]
        by_category = con.execute(
            f"""
            select
                category,
                sum(units_sold) as units_sold,
                sum(units_returned) / sum(units_sold) as rate_units,
                sum(refunded_eur) / sum(gross_revenue_eur) as rate_value,
                (sum(promoters) - sum(detractors)) * 100.0 / nullif(sum(nps_responses), 0) as nps
            from {mart}
            where is_cohort_mature
            group by 1
            order by 1
            """
        ).fetchall()
    finally:
        con.close()
    first, last, sold, returned, rate_units, rate_value, responses = overall
    lines = [
        f"Serving database: {serving}",
        f"Published at {published_at:%Y-%m-%d %H:%M:%S} UTC; marts: {tables}",
        "",
        f"Mature order cohorts {first} .. {last} (return window closed):",
        f"  units sold {sold:,}, returned {returned:,}; return rate {rate_units:.1%} of units, "
        f"{rate_value:.1%} of value; {responses:,} NPS responses",
        "",
        f"  {'category':<12} {'units sold':>10} {'rate units':>10} {'rate value':>10} {'NPS':>6}",
    ]
    for category, units, r_units, r_value, nps in by_category:
        nps_text = f"{nps:6.1f}" if nps is not None else "     -"
        lines.append(f"  {category:<12} {units:>10,} {r_units:>10.1%} {r_value:>10.1%} {nps_text}")
    return "\n".join(lines)
