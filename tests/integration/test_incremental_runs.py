"""Incremental daily runs: a new day of landing files, built incrementally, equals a rebuild.

One demo shop (seed 11, scale 0.05) is split as a shop delivers it: the landing folder without
its last order day (orders, order lines and web events of that day, returns and NPS answers
from that day on) is run fully (run a); then that day's files are added as files of their own,
with a return for an order six weeks older delivered late in a returns file of its own, and a
normal (incremental) run follows (run b). Then dbt rebuilds the incremental models and every
model downstream of them from scratch (`dbt run --full-refresh`) on the same raw tables (c):
every mart after b must equal c exactly, row for row, value for value.

The late return must update its order's cohort: the line's journey row, the behaviour bands and
kpi_return_rates_by_order_cohort, with expected figures counted from the landing files with
Python's csv module.

Runs a and b are the real main job (Dagster in-process, the real loader and dbt step) without
its gates, publish and exports, which read the marts but do not change them (they cost 45 s a
run); c is plain dbt, as a user rebuilds (the pipeline's own full-refresh decision is tested in
tests/unit/test_incremental_plan.py).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import duckdb
import pytest

from benchmarks.landing_days import read_csv, split_off_last_day, write_csv
from returnlens.config import environment

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SEED, SCALE = 11, 0.05
LATE_DAYS = 42  # the late return's order is this many days older than the new day
JOURNEYS = "intermediate.int_web_events_aggregated_to_order_lines"
REBUILT = "config.materialized:incremental+"
LATE_EVENT_DAYS = 2  # web events of these days before the new day arrive with it (allowed: 3)
ENV_VARS = (
    "RETURNLENS_DUCKDB_THREADS",
    "RETURNLENS_DATA_DIR",
    "RETURNLENS_LANDING_DIR",
    "RETURNLENS_WAREHOUSE",
    "RETURNLENS_SERVING",
    "DAGSTER_HOME",
)


def landing_rows(landing: Path, pattern: str) -> list[dict]:
    return [r for path in sorted(landing.glob(pattern)) for r in read_csv(path)[1]]


def late_return(landing: Path, new_day: Path, day: dt.date) -> dict:
    """A return, requested on `day`, of a web order line ordered LATE_DAYS (or a few more)
    days earlier whose order has no return yet, on a cohort day the new day's returns do not
    touch: the row to deliver late."""
    orders = {r["order_id"]: r for r in landing_rows(landing, "shop/orders_*.csv")}
    returns_header = read_csv(sorted((landing / "returns").glob("returns_*.csv"))[0])[0]
    returns = landing_rows(landing, "returns/returns_*.csv")
    new_returns = landing_rows(new_day, "returns/returns_*.csv")
    returned_orders = {r["order_id"] for r in returns + new_returns}
    days_returned_later = {
        orders[r["order_id"]]["ordered_at"][:10] for r in new_returns if r["order_id"] in orders
    }
    lines = landing_rows(landing, "shop/order_lines_*.csv")
    line = next(
        r
        for days in range(LATE_DAYS, LATE_DAYS + 28)
        for r in lines
        if orders[r["order_id"]]["ordered_at"][:10] == (day - dt.timedelta(days=days)).isoformat()
        and orders[r["order_id"]]["session_id"]
        and r["order_id"] not in returned_orders
        and orders[r["order_id"]]["ordered_at"][:10] not in days_returned_later
    )
    template = next(r for r in returns + new_returns if r["status"] == "requested")
    rma_number = max(int(r["rma_id"][3:]) for r in returns + new_returns) + 1
    return {
        **template,
        "rma_id": f"RMA{rma_number:07d}",
        "order_id": line["order_id"],
        "order_line_id": line["order_line_id"],
        "sku": line["sku"],
        "quantity": line["quantity"],
        "reason_code": "SIZE_TOO_SMALL",
        "reason_text": "",
        "requested_at": f"{day} 12:00:00",
        "_header": returns_header,
        "_cohort": orders[line["order_id"]]["ordered_at"][:10],
    }


def expected_cohort(landing: Path, cohort: str) -> dict:
    """Orders of the cohort day, those with a return and their returned units, from the files."""
    orders = {
        r["order_id"]
        for r in landing_rows(landing, "shop/orders_*.csv")
        if r["ordered_at"][:10] == cohort
    }
    returned = defaultdict(int)
    for r in landing_rows(landing, "returns/returns_*.csv"):
        if r["order_id"] in orders:
            returned[r["order_id"]] += int(r["quantity"])
    return {
        "orders": len(orders),
        "orders_with_return": len(returned),
        "units_returned": sum(returned.values()),
    }


def expected_web_lines(landing: Path) -> dict:
    """Web order lines (orders with a session) and those with a return, from the files."""
    web_orders = {
        r["order_id"] for r in landing_rows(landing, "shop/orders_*.csv") if r["session_id"]
    }
    lines = {
        r["order_line_id"]
        for r in landing_rows(landing, "shop/order_lines_*.csv")
        if r["order_id"] in web_orders
    }
    returned = {r["order_line_id"] for r in landing_rows(landing, "returns/returns_*.csv")} & lines
    return {"order_lines": len(lines), "returned_lines": len(returned)}


def observed(warehouse: Path, late: dict) -> dict:
    """What the warehouse says about the late return's line, its cohort and the bands."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        journey = con.execute(
            "select has_return, returned_quantity, product_views, sessions_in_lookback "
            "from marts.sig_purchase_journeys where order_line_id = ?",
            [late["order_line_id"]],
        ).fetchone()
        cohort = con.execute(
            "select orders, orders_with_return, units_returned from "
            "marts.kpi_return_rates_by_order_cohort where period_grain = 'day' "
            "and slice_type = 'all' and period_start_date = cast(? as date)",
            [late["_cohort"]],
        ).fetchone()
        band = con.execute(
            "select sum(order_lines), sum(returned_lines) from "
            "marts.sig_return_rate_by_behaviour_band "
            "where behaviour = 'product_views' and category = 'all'"
        ).fetchone()
        finalised = con.execute(f"select count(*), max(ordered_at) from {JOURNEYS}").fetchone()
        state = con.execute(
            "select built_fully from returnlens_state.incremental_models "
            "where relation_name like '%int_web_events_aggregated_to_order_lines%'"
        ).fetchall()
        log = con.execute(
            "select change_seq, built_fully from returnlens_state.incremental_models "
            "where relation_name like '%stg_loader__changed_orders%'"
        ).fetchall()
        listed = con.execute(
            "select distinct order_id, cause from staging.stg_loader__changed_orders"
        ).fetchall()
    return {
        "journey": journey,
        "cohort": dict(
            zip(("orders", "orders_with_return", "units_returned"), cohort, strict=True)
        ),
        "band": {"order_lines": band[0], "returned_lines": band[1]},
        "finalised": finalised,
        "built_fully": state,
        "change_log": log,
        "listed": listed,
    }


def relations(con) -> list[str]:
    """Every mart of the warehouse, and the finalised journeys (incremental)."""
    marts = con.execute(
        "select table_schema || '.' || table_name from information_schema.tables "
        "where table_schema = 'marts' order by 1"
    ).fetchall()
    return [r[0] for r in marts] + [JOURNEYS]


def snapshot_marts(warehouse: Path, out: Path) -> list[str]:
    """Every mart of the warehouse (and the finalised journeys) written to Parquet (exact
    values); their names."""
    out.mkdir()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        names = relations(con)
        for name in names:
            con.execute(f"copy {name} to '{out / name}.parquet' (format parquet)")
    return names


def differences(warehouse: Path, snapshot: Path, names: list[str]) -> dict[str, str]:
    """Relations whose rows differ from the snapshot (as multisets, every column), counted."""
    out = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        now = relations(con)
        if now != names:
            out["(set of marts)"] = f"{sorted(set(now) ^ set(names))}"
        for name in set(names) & set(now):
            old = f"read_parquet('{snapshot / name}.parquet')"
            counts = [
                con.execute(f"select count(*) from (from {a} except all from {b})").fetchone()[0]
                for a, b in ((old, name), (name, old))
            ]
            if any(counts):
                out[name] = f"{counts[0]} row(s) only incremental, {counts[1]} only full rebuild"
    return out


NOT_MART_BUILDING = (
    "gx_gates_raw",
    "gx_gates_marts",
    "serving__published_marts",
    "exports__signal_exports",
)


def run_job(**dbt_config) -> bool:
    """The main job in-process, its steps that load and build (no gates, publish, exports)."""
    import dagster as dg

    from orchestration.definitions import defs
    from returnlens.dbt_runner import parse
    from returnlens.pipeline import dbt_build_config, ensure_dagster_home

    ensure_dagster_home()
    parse()
    job = (defs() if callable(defs) else defs).resolve_job_def("main")
    ops = [n.name for n in job.graph.nodes if n.name not in NOT_MART_BUILDING]
    with dg.DagsterInstance.get() as instance:
        return job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            op_selection=ops,
            run_config={
                "loggers": {"console": {"config": {"log_level": "WARNING"}}},
                **dbt_build_config(**dbt_config),
            },
        ).success


def dbt_full_refresh(landing: Path, workdir: Path) -> subprocess.CompletedProcess:
    """`dbt run --full-refresh` of the incremental models and every model downstream of them,
    with the shop's vars. The other models are rebuilt in full by every run from the same raw
    tables, so rebuilding them again could not tell the two runs apart (and costs a minute)."""
    from returnlens.config import PROJECT_ROOT
    from returnlens.dbt_runner import dbt_executable, location_args
    from returnlens.profile import dbt_vars_json, load_profile

    return subprocess.run(
        [
            dbt_executable(),
            "run",
            "--full-refresh",
            "--quiet",
            "--select",
            REBUILT,
            *location_args(PROJECT_ROOT, workdir / "target", workdir / "logs"),
            "--vars",
            dbt_vars_json(load_profile(landing)),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
    )


def rebuilt_relations(target: Path) -> set[str]:
    """schema.name of every model the rebuild ran successfully (its run_results.json)."""
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))
    return {
        ".".join(r["relation_name"].replace('"', "").split(".")[-2:])
        for r in results["results"]
        if r["status"] == "success" and r.get("relation_name")
    }


def hold_back_late_events(landing: Path, new_day: Path, day: dt.date) -> int:
    """Web events of the LATE_EVENT_DAYS days before the new day, of every other session,
    delivered late with the new day (a clickstream export that lags): run a sees those days
    in part, so their journeys must stay pending until the events are in. The number moved."""
    late_days = {(day - dt.timedelta(days=n)).isoformat() for n in range(1, LATE_EVENT_DAYS + 1)}
    moved = []
    for path in sorted((landing / "web").glob("events_*.jsonl")):
        keep = []
        for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
            event = json.loads(line)
            is_late = event["event_at"][:10] in late_days and event["session_id"][-1] in "02468"
            (moved if is_late else keep).append(line)
        path.write_text("".join(keep), encoding="utf-8")
    (new_day / "web" / f"events_{day}_late.jsonl").write_text("".join(moved), encoding="utf-8")
    return len(moved)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Runs a (partial landing, full), b (new day + late return, incremental), c (rebuild)."""
    from returnlens.demo.generator import generate

    root = tmp_path_factory.mktemp("incremental")
    landing, new_day = root / "landing", root / "new_day"
    generate(landing, seed=SEED, scale=SCALE)
    day = split_off_last_day(landing, new_day)
    result_late_events = hold_back_late_events(landing, new_day, day)
    late = late_return(landing, new_day, day)
    warehouse = root / "data" / "warehouse.duckdb"
    # one DuckDB thread: a sum of doubles then adds in one order, so two builds of the same
    # data agree to the last bit (with two threads sig_intervention_effects' weighted sums
    # differed by one ulp between two full builds)
    with environment(
        ENV_VARS,
        RETURNLENS_DATA_DIR=str(root / "data"),
        RETURNLENS_LANDING_DIR=str(landing),
        DAGSTER_HOME=str(root / "dagster_home"),
        RETURNLENS_DUCKDB_THREADS="1",
    ):
        result = {"day": day, "late": late, "late_events": result_late_events}
        result["new_day"] = new_day
        result["a_success"] = run_job()
        result["a"] = observed(warehouse, late)
        result["a_expected"] = expected_cohort(landing, late["_cohort"]) | {
            "web": expected_web_lines(landing)
        }
        shutil.copytree(new_day, landing, dirs_exist_ok=True)
        header = late.pop("_header")
        write_csv(
            landing / "returns" / f"returns_late_{day}.csv",
            header,
            [{k: v for k, v in late.items() if k in header}],
        )
        result["b_success"] = run_job()
        result["b"] = observed(warehouse, late)
        result["b_expected"] = expected_cohort(landing, late["_cohort"]) | {
            "web": expected_web_lines(landing)
        }
        result["marts"] = snapshot_marts(warehouse, root / "after_incremental")
        result["c"] = dbt_full_refresh(landing, root / "dbt")
        result["rebuilt"] = rebuilt_relations(root / "dbt" / "target")
        result["differences"] = differences(warehouse, root / "after_incremental", result["marts"])
        yield result


def test_runs_succeed_and_take_the_incremental_path(runs):
    assert runs["a_success"] and runs["b_success"]
    assert runs["c"].returncode == 0, runs["c"].stdout[-3000:]
    # run a built the journeys fully, b appended to them
    assert runs["a"]["built_fully"] == [(True,)]
    assert runs["b"]["built_fully"] == [(False,)]
    # the change log: built fully as run 1, appended to as run 2
    assert runs["a"]["change_log"] == [(1, True)]
    assert runs["b"]["change_log"] == [(2, False)]
    rows_a, horizon_a = runs["a"]["finalised"]
    rows_b, horizon_b = runs["b"]["finalised"]
    assert rows_b > rows_a and horizon_b > horizon_a
    # the days whose events came late were still pending after run a
    assert runs["late_events"] > 0
    assert horizon_a.date() < runs["day"] - dt.timedelta(days=LATE_EVENT_DAYS)
    # some journeys were still pending after b (after the horizon), computed at the run
    assert rows_b < runs["b"]["band"]["order_lines"]


def test_every_mart_after_an_incremental_run_equals_a_full_rebuild(runs):
    assert len(runs["marts"]) > 30
    # the rebuild ran the journeys, the marts that read them and the incremental model
    assert {JOURNEYS, "marts.sig_purchase_journeys"} <= runs["rebuilt"]
    assert len(set(runs["marts"]) & runs["rebuilt"]) >= 3, sorted(runs["rebuilt"])
    assert runs["differences"] == {}


def test_the_change_log_lists_the_new_days_orders_and_the_late_returns_order(runs):
    """Run b's log, against the new day's files: their orders (with their lines) are listed as
    loaded, and the late return's order as returned (run a lists nothing: built fully)."""
    assert runs["a"]["listed"] == []
    new_orders = {r["order_id"] for r in landing_rows(runs["new_day"], "shop/orders_*.csv")}
    listed = defaultdict(set)
    for order_id, cause in runs["b"]["listed"]:
        listed[cause].add(order_id)
    assert new_orders and listed["order_loaded"] == new_orders
    assert listed["order_line_loaded"] == new_orders
    assert runs["late"]["order_id"] in listed["return_loaded"]


def test_a_late_return_updates_its_cohort_after_an_incremental_run(runs):
    a, b, late = runs["a"], runs["b"], runs["late"]
    quantity = int(late["quantity"])
    # the line's journey: unchanged behaviour, now returned
    assert a["journey"][:2] == (False, 0)
    assert b["journey"][:2] == (True, quantity)
    assert b["journey"][2:] == a["journey"][2:]
    # its cohort day: counted from the landing files before and after the delivery
    for run in ("a", "b"):
        expected = dict(runs[f"{run}_expected"])
        web = expected.pop("web")
        assert runs[run]["cohort"] == expected, run
        assert runs[run]["band"] == web, run
    assert b["cohort"]["orders_with_return"] == a["cohort"]["orders_with_return"] + 1
    assert b["cohort"]["units_returned"] == a["cohort"]["units_returned"] + quantity
