"""Dashboard: the queries each page runs, timed uncached against a large serving database.

Each page is rendered once with Streamlit's AppTest while the dashboard's data layer records
every statement and its bound parameters (default filters, plus one category filter where a
page has one). The benchmark then replays each page's statements the way the dashboard runs
them on a cache miss (a fresh in-memory DuckDB attaching the serving file read-only per
statement: dashboard/data.py `run_query`), REPEAT times, and reports per page the p50 and p95
of the page's total query time. Goal: p95 <= 200 ms per page on a 10M-order-line serving DB.

    make bench BENCH=bench_dashboard                       # serving = RETURNLENS_SERVING or data/
    BENCH_DASHBOARD_SERVING=/big/serving.duckdb make bench BENCH=bench_dashboard
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

from benchmarks._common import record

ROOT = Path(__file__).resolve().parent.parent
REPEAT = int(os.environ.get("BENCH_DASHBOARD_REPEAT", "20"))
GOAL_MS = 200.0
PAGES = ("overview", "quality", "planning", "behaviour", "review_queue", "data_health")
CATEGORY_PAGES = ("overview", "quality", "planning", "behaviour", "review_queue")


def _serving() -> Path:
    value = os.environ.get("BENCH_DASHBOARD_SERVING")
    if value:
        os.environ["RETURNLENS_SERVING"] = value
    from returnlens.config import settings

    return settings().serving


def record_page_queries(serving: Path) -> dict[str, list[tuple[str, tuple]]]:
    """Render every page (default filters, then a category filter) and collect its queries."""
    from streamlit.testing.v1 import AppTest

    from dashboard import data

    recorded: list[tuple[str, tuple]] = []
    original = data._cached

    def recorder(sql, params, stamp):
        recorded.append((sql, params))
        return data.run_query(stamp[0], sql, params)

    data._cached = recorder
    pages: dict[str, list[tuple[str, tuple]]] = {}
    try:
        with data.duckdb.connect(str(serving), read_only=True) as con:
            category = con.execute(
                "select slice_value from marts.kpi_return_rates_by_order_cohort "
                "where slice_type = 'category' group by 1 order by sum(units_sold) desc limit 1"
            ).fetchall()[0][0]
        for name in PAGES:
            variants = [None, category] if name in CATEGORY_PAGES else [None]
            for variant in variants:
                at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=600)
                at.run()
                if name != "overview":
                    at.switch_page(f"views/{name}.py").run()
                recorded.clear()
                if variant is not None:
                    at.sidebar.selectbox(key="f_category").set_value(variant)
                at.run()  # one full rerun of the page: what a visitor waits for
                if at.exception:
                    raise RuntimeError(f"{name}: {[e.value for e in at.exception]}")
                key = name if variant is None else f"{name}[category]"
                pages[key] = list(recorded)
    finally:
        data._cached = original
    return pages


def time_pages(serving: Path, pages: dict[str, list[tuple[str, tuple]]]) -> dict[str, dict]:
    """Replay each page's statements uncached, REPEAT times; p50/p95 of the page total."""
    from dashboard.data import run_query

    out: dict[str, dict] = {}
    for name, queries in pages.items():
        for sql, params in queries:  # warm the OS page cache once, as a running server has it
            run_query(str(serving), sql, params)
        totals, slowest = [], {}
        for _ in range(REPEAT):
            total = 0.0
            for sql, params in queries:
                start = time.perf_counter()
                run_query(str(serving), sql, params)
                took = time.perf_counter() - start
                total += took
                slowest[sql] = max(slowest.get(sql, 0.0), took)
            totals.append(total * 1000)
        totals.sort()
        p95 = totals[min(len(totals) - 1, round(0.95 * (len(totals) - 1)))]
        worst_sql, worst = max(slowest.items(), key=lambda kv: kv[1])
        out[name] = {
            "queries": len(queries),
            "p50_ms": round(statistics.median(totals), 1),
            "p95_ms": round(p95, 1),
            "slowest_query_ms": round(worst * 1000, 1),
            "slowest_query": " ".join(worst_sql.split())[:120],
        }
    return out


def main() -> None:
    """Run the benchmark and record the figures."""
    import duckdb

    serving = _serving()
    if not serving.exists():
        raise SystemExit(f"{serving}: nothing published; run the pipeline first (make run)")
    with duckdb.connect(str(serving), read_only=True) as con:
        order_lines = con.execute("select count(*) from marts.fct_order_lines").fetchall()[0][0]
    size_gib = serving.stat().st_size / 1024**3
    pages = record_page_queries(serving)
    timings = time_pages(serving, pages)
    for name, t in timings.items():
        print(
            f"  {name:24s} {t['queries']:3d} queries  p50 {t['p50_ms']:7.1f} ms  "
            f"p95 {t['p95_ms']:7.1f} ms  slowest {t['slowest_query_ms']:6.1f} ms"
        )
    worst = max(t["p95_ms"] for t in timings.values())
    figures = {
        "order_lines": order_lines,
        "serving_gib": round(size_gib, 2),
        "repeat": REPEAT,
        "worst_page_p95_ms": worst,
        **{f"{name}_p95_ms": t["p95_ms"] for name, t in timings.items()},
    }
    verdict = (
        f"{'meets' if worst <= GOAL_MS else 'misses'} the goal: worst page p95 {worst:.0f} ms "
        f"(goal <= {GOAL_MS:.0f} ms) on {order_lines:,} order lines"
    )
    path = record("bench_dashboard", figures, verdict)
    # the per-page detail (query counts, slowest statement) next to the summary figures
    import json

    payload = json.loads(path.read_text())
    payload["pages"] = timings
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
