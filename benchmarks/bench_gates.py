"""Quality gates: GX by SQL pushdown in DuckDB vs GX over a pandas frame, on a 10M-row table.

Both variants validate the same expectations (the table-level rules of expectations/
raw_returns.json: ranges, ordered timestamps, completeness) on the same 10M-row table, each in its own process so peak memory is its
own. The pandas variant includes fetching the table into a frame, since that is what
validating "in pandas" costs. A second figure: the share of a full pipeline run (demo shop,
scale 6.7 ≈ 1M order lines by default) spent in the gate steps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks._common import record

ROWS = int(os.environ.get("BENCH_GATES_ROWS", "10000000"))
PIPELINE_SCALE = float(os.environ.get("BENCH_GATES_PIPELINE_SCALE", "6.7"))  # ~1M order lines
ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, resource, sys, time, logging
from pathlib import Path
mode, warehouse, suite_file, docs_dir, out_file = sys.argv[1:6]
import great_expectations  # import cost (~5 s) is the same for both; time the work only
start = time.perf_counter()
if mode == "sql":
    from returnlens.quality.gates import run_suite
    result = run_suite(Path(suite_file), Path(warehouse), docs_dir=Path(docs_dir))
    passed, n = result.passed, len(result.outcomes)
else:
    import duckdb, great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    spec = json.loads(Path(suite_file).read_text())
    con = duckdb.connect(warehouse, read_only=True)
    df = con.execute("select * from " + spec["meta"]["relation"]).df()
    con.close()
    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = {"globally": False}
    batch = ctx.data_sources.add_pandas("p").add_dataframe_asset("t").add_batch_definition_whole_dataframe("b")
    suite = gx.ExpectationSuite(name="s")
    for e in spec["expectations"]:
        suite.add_expectation_configuration(ExpectationConfiguration(type=e["type"], kwargs=e["kwargs"], severity=e.get("severity", "critical")))
    suite = ctx.suites.add(suite)
    vd = ctx.validation_definitions.add(gx.ValidationDefinition(name="v", data=batch, suite=suite))
    res = vd.run(batch_parameters={"dataframe": df}, result_format={"result_format": "SUMMARY"})
    passed, n = res.success, len(res.results)
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
Path(out_file).write_text(json.dumps({"seconds": elapsed, "peak_gib": peak, "passed": passed, "expectations": n}))
"""


def _build_table(warehouse: Path) -> None:
    import duckdb

    con = duckdb.connect(str(warehouse))
    con.execute("create schema raw")
    con.execute(
        f"""
        create table raw.returns as
        select
            'R' || lpad(cast(range // 2 as varchar), 9, '0') as rma_id,
            'O' || lpad(cast(range as varchar), 9, '0') || '-1' as order_line_id,
            cast(1 + range % 3 as integer) as quantity,
            case when range % 10 = 0 then null else 'SIZE_TOO_SMALL' end as reason_code,
            timestamp '2026-01-01' + to_minutes(cast(range % 500000 as bigint)) as requested_at,
            timestamp '2026-01-03' + to_minutes(cast(range % 500000 as bigint)) as received_at,
            timestamp '2026-01-09' + to_minutes(cast(range % 500000 as bigint)) as refunded_at,
            cast((range % 20000) / 100.0 as decimal(10, 2)) as refund_amount_eur
        from range({ROWS})
        """
    )
    con.close()


def _suite(path: Path) -> Path:
    spec = json.loads((ROOT / "expectations" / "raw_returns.json").read_text())
    columns = {
        "quantity",
        "reason_code",
        "requested_at",
        "received_at",
        "refunded_at",
        "refund_amount_eur",
    }
    keep = []
    for e in spec["expectations"]:
        kw = e["kwargs"]
        used = {kw.get("column"), kw.get("column_A"), kw.get("column_B")} - {None}
        if used and used <= columns:
            keep.append(e)
    # No `unique` here: key uniqueness is a dbt test in Returnlens, not a GX expectation (GX's
    # unique on 10M strings alone takes ~9 s by SQL here).
    suite = {"name": "bench_returns", "meta": {"relation": "raw.returns"}, "expectations": keep}
    path.write_text(json.dumps(suite))
    return path


def _child(mode: str, warehouse: Path, suite: Path, docs_dir: Path) -> dict:
    result = docs_dir / f"{mode}.json"
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(warehouse), str(suite), str(docs_dir), str(result)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{mode} variant failed:\n{out.stderr[-3000:]}")
    return json.loads(result.read_text())


def _pipeline_share(tmp: Path) -> dict:
    """Run the real pipeline on a demo shop; share of the run spent in the GX gate steps."""
    env = {
        **os.environ,
        "RETURNLENS_DATA_DIR": str(tmp / "pipeline"),
        "DAGSTER_HOME": str(tmp / "pipeline" / "dagster_home"),
    }
    script = (
        "import json, time\n"
        "from returnlens.config import settings\n"
        "from returnlens.demo.generator import generate\n"
        "from returnlens.pipeline import run_main_job\n"
        f"generate(settings().landing_dir, seed=42, scale={PIPELINE_SCALE})\n"
        "start = time.perf_counter()\n"
        "r = run_main_job(parse_dbt=False, log_level='ERROR')\n"
        "total = time.perf_counter() - start\n"
        "gx = sum(e.event_specific_data.duration_ms for e in r.all_events\n"
        "         if e.event_type_value == 'STEP_SUCCESS' and 'gx_gates' in e.step_key) / 1000\n"
        "print(json.dumps({'success': r.success, 'gx_seconds': gx, 'run_seconds': total}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, env=env
    )
    if out.returncode != 0:
        raise RuntimeError(f"pipeline run failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Run both variants side by side and the pipeline share; record the figures."""
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        warehouse = tmp / "bench.duckdb"
        _build_table(warehouse)
        suite = _suite(tmp / "suite.json")
        sql = _child("sql", warehouse, suite, tmp)
        pandas = _child("pandas", warehouse, suite, tmp)
        share = _pipeline_share(tmp)
    ratio = pandas["seconds"] / sql["seconds"]
    figures = {
        "rows": ROWS,
        "expectations": sql["expectations"],
        "sql_pushdown_s": round(sql["seconds"], 2),
        "sql_peak_gib": round(sql["peak_gib"], 2),
        "pandas_s": round(pandas["seconds"], 2),
        "pandas_peak_gib": round(pandas["peak_gib"], 2),
        "speedup": round(ratio, 1),
        "pipeline_scale": PIPELINE_SCALE,
        "pipeline_gx_s": round(share["gx_seconds"], 1),
        "pipeline_run_s": round(share["run_seconds"], 1),
        "pipeline_gx_share": round(share["gx_seconds"] / share["run_seconds"], 3),
    }
    both_passed = sql["passed"] and pandas["passed"]
    verdict = (
        f"{'meets' if ratio >= 10 else 'misses'} >=10x target; gates "
        f"{figures['pipeline_gx_share']:.0%} of the pipeline run (target <=10%)"
        + ("" if both_passed else "; WARNING: a variant did not pass its suite")
    )
    record("gates", figures, verdict)


if __name__ == "__main__":
    main()
