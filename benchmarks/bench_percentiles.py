"""Processing-time percentiles at scale (issue 16): kpi_return_processing_times as it is now
(ranks from a sort + macro percentile_interpolate) against its percentile_cont version (a
holistic aggregate), side by side on the same return lines under the default memory budget.

Both are the model's SQL as dbt compiles it (`dbt compile --inline`): the model file of this
checkout, and the same file at BENCH_PERCENTILES_BASELINE_REV (the last one with
percentile_cont). Each runs in its own process with the DuckDB settings of every Returnlens
connection (`returnlens.warehouse.connect`: memory_limit, threads and spill folder from
RETURNLENS_MEMORY_BUDGET, default 4 GiB), reading marts.fct_returns of
BENCH_PERCENTILES_WAREHOUSE (a built warehouse, e.g. of the 10M-order-line demo shop) or, by
default, of a synthetic fct_returns of BENCH_PERCENTILES_LINES return lines (2M, about what a
10M-order-line shop has). Figures: wall time, CPU time (wall time drifts on a shared machine) and
peak RSS of each process, and whether the two results are identical (every value, bit for bit:
`except all` both ways). BENCH_PERCENTILES_MEMORY_LIMIT (e.g. 1GiB) sets DuckDB's memory_limit
of both instead of the budget's share: the holistic baseline fails where the sort spills.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks._common import record

ROOT = Path(__file__).resolve().parent.parent
MODEL = "models/marts/kpi/kpi_return_processing_times.sql"
BASELINE_REV = os.environ.get("BENCH_PERCENTILES_BASELINE_REV", "d7b28d3")
LINES = int(os.environ.get("BENCH_PERCENTILES_LINES", "2000000"))
WAREHOUSE = os.environ.get("BENCH_PERCENTILES_WAREHOUSE")

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
warehouse, sql_file, out_db, out_file = sys.argv[1:5]
from returnlens.config import settings
from returnlens.warehouse import connect
settings().spill_dir.mkdir(parents=True, exist_ok=True)
con = connect(":memory:")
con.execute(f"attach '{warehouse}' as source (read_only)")
con.execute(f"attach '{out_db}' as result")
con.execute("create schema marts")
con.execute("create view marts.fct_returns as select * from source.marts.fct_returns")
start = time.perf_counter()
error = None
try:
    con.execute("create table result.kpi as " + Path(sql_file).read_text())
except Exception as exc:  # the figure to report, e.g. DuckDB's out-of-memory error
    error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
elapsed = time.perf_counter() - start
settings = dict(con.execute(
    "select name, value from duckdb_settings() where name in ('memory_limit', 'threads')"
).fetchall())
usage = resource.getrusage(resource.RUSAGE_SELF)
peak = usage.ru_maxrss / 1024 / 1024
Path(out_file).write_text(json.dumps({
    "seconds": round(elapsed, 1),
    "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),  # of the process, imports too
    "peak_gib": round(peak, 2),
    "error": error,
    **settings,
}))
"""

SYNTHETIC = """
create schema if not exists marts;
create or replace table marts.fct_returns as
with lines as (
    select
        i,
        cast(hash(i) % 1000000 as bigint) as h,
        date '2025-11-01' + cast(hash(i * 7) % 396 as integer) as requested_date,
        cast(3600 + hash(i * 11) % 1209600 as bigint) as s1,
        cast(600 + hash(i * 13) % 432000 as bigint) as s2,
        cast(60 + hash(i * 17) % 259200 as bigint) as s3
    from range({lines}) as r(i)
)
select
    'R' || i as rma_id,
    'L' || i as order_line_id,
    ['apparel', 'shoes', 'home', 'garden', 'electronics'][1 + h % 5] as category,
    'S' || (1 + h % 25) as supplier_id,
    ['web', 'app', 'marketplace'][1 + h % 3] as channel,
    requested_date,
    s1 / 3600.0 as hours_requested_to_received,
    case when h % 10 < 8 then s2 / 3600.0 end as hours_received_to_inspected,
    case when h % 10 < 7 then s3 / 3600.0 end as hours_inspected_to_refunded,
    case when h % 10 < 7 then (s1 + s2 + s3) / 3600.0 end as hours_requested_to_refunded
from lines
"""


def _compile(model_sql: str, work: Path) -> str:
    """The model's SQL as dbt compiles it (lint target: in-memory, catalog "memory")."""
    out = subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "dbt"),
            "compile",
            "--quiet",
            "--target",
            "lint",
            "--target-path",
            str(work / "target"),
            "--log-path",
            str(work / "logs"),
            "--inline",
            model_sql,
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
    )
    return out.stdout


def _run(warehouse: Path, sql: str, name: str, work: Path) -> dict:
    env = dict(os.environ)
    if os.environ.get("BENCH_PERCENTILES_MEMORY_LIMIT"):
        env["RETURNLENS_DUCKDB_MEMORY_LIMIT"] = os.environ["BENCH_PERCENTILES_MEMORY_LIMIT"]
    sql_file, out_db, out_file = (work / f"{name}.sql", work / f"{name}.duckdb", work / name)
    sql_file.write_text(sql)
    out_db.unlink(missing_ok=True)
    subprocess.run(
        [sys.executable, "-c", CHILD, str(warehouse), str(sql_file), str(out_db), str(out_file)],
        cwd=ROOT,
        check=True,
        env=env,
    )
    return json.loads(out_file.read_text())


def _identical(work: Path) -> dict:
    import duckdb

    with duckdb.connect() as con:
        con.execute(f"attach '{work / 'current.duckdb'}' as current (read_only)")
        con.execute(f"attach '{work / 'baseline.duckdb'}' as baseline (read_only)")
        rows, only_current, only_baseline = con.execute(
            """
            select
                (select count(*) from current.kpi),
                (select count(*) from (
                    select * from current.kpi except all select * from baseline.kpi)),
                (select count(*) from (
                    select * from baseline.kpi except all select * from current.kpi))
            """
        ).fetchone()
    return {"rows": rows, "only_current": only_current, "only_baseline": only_baseline}


def main() -> None:
    import duckdb

    with tempfile.TemporaryDirectory(prefix="bench_percentiles_") as tmp:
        work = Path(tmp)
        if WAREHOUSE:
            warehouse = Path(WAREHOUSE)
        else:
            warehouse = work / "fct_returns.duckdb"
            with duckdb.connect(str(warehouse)) as con:
                con.execute(SYNTHETIC.format(lines=LINES))
        with duckdb.connect(str(warehouse), read_only=True) as con:
            lines = con.execute("select count(*) from marts.fct_returns").fetchone()[0]
        baseline_model = subprocess.run(
            ["git", "show", f"{BASELINE_REV}:{MODEL}"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        current_model = (ROOT / MODEL).read_text()
        figures: dict = {"return_lines": lines, "source": WAREHOUSE or "synthetic"}
        for name, model in (("current", current_model), ("baseline", baseline_model)):
            result = _run(warehouse, _compile(model, work), name, work)
            figures.update({f"{name}_{k}": v for k, v in result.items()})
        if figures["current_error"] is None and figures["baseline_error"] is None:
            figures.update(_identical(work))
            same = figures["only_current"] == figures["only_baseline"] == 0
        else:
            same = None
    verdict = (
        "current failed"
        if figures["current_error"]
        else (
            f"baseline failed ({figures['baseline_error'][:60]}), current did not"
            if figures["baseline_error"]
            else f"identical={same}, peak {figures['current_peak_gib']} vs "
            f"{figures['baseline_peak_gib']} GiB"
        )
    )
    record("bench_percentiles", figures, verdict)


if __name__ == "__main__":
    main()
