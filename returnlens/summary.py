"""The KPI summary printed at the end of a run, read from the serving database."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

COHORTS_SQL = """
select
    min(period_start_date), max(period_end_date),
    sum(units_sold), sum(units_returned),
    sum(units_returned) / sum(units_sold),
    sum(refunded_eur) / sum(gross_revenue_eur),
    sum(orders_with_return) / sum(orders)
from marts.kpi_return_rates_by_order_cohort
where period_grain = 'month' and slice_type = 'all' and is_cohort_mature
"""

BY_CATEGORY_SQL = """
select
    category,
    sum(units_sold) as units_sold,
    sum(units_returned) / sum(units_sold) as rate_units,
    sum(refunded_eur) / sum(gross_revenue_eur) as rate_value,
    (sum(promoters) - sum(detractors)) * 100.0 / nullif(sum(nps_responses), 0) as nps
from marts.kpi_weekly_returns_by_category
where is_cohort_mature
group by 1
order by 1
"""

# the three request months before the latest one (which is still running)
PROCESSING_SQL = """
select strftime(period_start_date, '%Y-%m'), median_days, p90_days
from marts.kpi_return_processing_times
where period_grain = 'month' and slice_type = 'all' and step = 'requested_to_refunded'
order by period_start_date desc
limit 3 offset 1
"""

REASONS_SQL = """
select reason_label, sum(return_lines) / sum(sum(return_lines)) over () as share
from marts.kpi_reason_mix
where period_grain = 'month' and slice_type = 'all'
group by 1
order by 2 desc, 1
limit 3
"""

NPS_SQL = """
select
    segment,
    (sum(promoters) - sum(detractors)) * 100.0 / nullif(sum(nps_responses), 0),
    sum(nps_responses)
from marts.kpi_nps
where period_grain = 'month' and slice_type = 'all'
group by 1
"""


def _nps_text(nps: dict, segment: str) -> str:
    value, responses = nps.get(segment, (None, 0))
    return f"{value:+.0f} (n={responses:,})" if value is not None else "-"


DEMO_LABEL = (
    "DEMO DATA: these marts were built from the generated demo shop, not from a shop's own "
    "files. To load your shop, put its files under <landing>/<source>/ as docs/contracts/ "
    "describes (default data/landing, or set RETURNLENS_LANDING_DIR) and run again."
)


def _header(con, serving: Path) -> list[str]:
    columns = {
        r[0]
        for r in con.execute(
            "select column_name from duckdb_columns() where schema_name = 'marts' "
            "and table_name = 'publish_log'"
        ).fetchall()
    }
    extra = ", ".join(c for c in ("publish_id", "is_demo") if c in columns) or "null, null"
    published_at, tables, *rest = con.execute(
        f"select published_at, tables, {extra} from marts.publish_log "
        "order by published_at desc limit 1"
    ).fetchall()[0]
    publish_id = rest[0] if "publish_id" in columns else None
    is_demo = bool(rest[-1]) if "is_demo" in columns else False
    lines = [DEMO_LABEL, ""] if is_demo else []
    lines += [
        f"Serving database: {serving}",
        f"Published at {published_at:%Y-%m-%d %H:%M:%S} UTC; {len(json.loads(tables))} marts"
        + (f"; publish {publish_id}" if publish_id else ""),
    ]
    return lines


def kpi_summary_header(serving: Path) -> str:
    """Which publish the serving database holds, and whether it is the demo shop."""
    con = duckdb.connect(str(serving), read_only=True)
    try:
        return "\n".join(_header(con, serving))
    finally:
        con.close()


def kpi_summary(serving: Path) -> str:
    """A short, plain-text KPI summary of the published marts (one short read-only connection)."""
    con = duckdb.connect(str(serving), read_only=True)
    try:
        header = _header(con, serving)
        cohorts = con.execute(COHORTS_SQL).fetchall()[0]
        by_category = con.execute(BY_CATEGORY_SQL).fetchall()
        processing = sorted(con.execute(PROCESSING_SQL).fetchall())
        reasons = con.execute(REASONS_SQL).fetchall()
        nps = {s: (v, n) for s, v, n in con.execute(NPS_SQL).fetchall()}
    finally:
        con.close()
    first, last, sold, returned, rate_units, rate_value, rate_orders = cohorts
    lines = [*header, ""]
    if sold:
        lines += [
            f"Mature order cohorts {first} .. {last} (return window closed):",
            f"  units sold {sold:,}, returned {returned:,}; return rate {rate_units:.1%} of units, "
            f"{rate_value:.1%} of value, {rate_orders:.1%} of orders",
        ]
    else:
        lines.append("No mature order cohorts yet (return windows still open).")
    if processing:
        months = ", ".join(f"{m} {med:.1f} (p90 {p90:.1f})" for m, med, p90 in processing)
        lines.append(f"  Days end to end (request -> refund), median by request month: {months}")
    if reasons:
        top = ", ".join(f"{label} {share:.0%}" for label, share in reasons)
        lines.append(f"  Top reasons: {top}")
    lines += [
        f"  NPS {_nps_text(nps, 'all')}: returners {_nps_text(nps, 'returner')}, "
        f"non-returners {_nps_text(nps, 'non_returner')}; after a fast refund "
        f"{_nps_text(nps, 'fast_refund')}, a slow one {_nps_text(nps, 'slow_refund')}",
        "",
        f"  {'category':<12} {'units sold':>10} {'rate units':>10} {'rate value':>10} {'NPS':>6}",
    ]
    for category, units, r_units, r_value, cat_nps in by_category:
        nps_text = f"{cat_nps:6.1f}" if cat_nps is not None else "     -"
        lines.append(f"  {category:<12} {units:>10,} {r_units:>10.1%} {r_value:>10.1%} {nps_text}")
    return "\n".join(lines)
