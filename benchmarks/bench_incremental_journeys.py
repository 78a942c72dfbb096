"""The web journeys, full vs incremental: dbt time of a new day against a full rebuild.

    .venv/bin/python -m benchmarks.run bench_incremental_journeys
    BENCH_INCR_SCALE=6.7 BENCH_INCR_SEED=42 (defaults; scale 6.7 = 1M order lines)
    BENCH_INCR_LANDING=<folder>  copy this generated landing instead of generating one
    BENCH_INCR_WORKDIR=<folder>  where to work (default: a temp folder, removed afterwards)

The demo shop is split as a shop delivers it: the landing folder without its last order day
(that day's orders, order lines and web events; returns and NPS answers from that day on)
and that day's files apart. 1. The real main job (Dagster in-process, loader, dbt, gates,
publish) on the landing without the day: the journeys built from scratch, as on a first run.
2. The day's files added and loaded (the real loader), the journeys' upstream models rebuilt
(`dbt run --select +sig_purchase_journeys --exclude <the journeys>`). 3. Side by side on the
same data, with dbt: the journeys incremental (a normal run: one new day), then rebuilt from
scratch (`--full-refresh`). The journeys are the finalised ones
(int_web_events_aggregated_to_order_lines, incremental) plus sig_purchase_journeys (which
computes the pending ones and joins the returns); the figures are dbt's execution times from
run_results.json, and the first run's beside them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks._common import record
from benchmarks.landing_days import split_off_last_day

SCALE = float(os.environ.get("BENCH_INCR_SCALE", "6.7"))
SEED = int(os.environ.get("BENCH_INCR_SEED", "42"))
JOURNEY_MODELS = ("int_web_events_aggregated_to_order_lines", "sig_purchase_journeys")
TARGET = 0.1  # issue 16: an incremental one-day run at most 0.1x the full run


def model_times(run_results: Path) -> dict[str, float]:
    """dbt's execution time per model of a build."""
    results = json.loads(run_results.read_text(encoding="utf-8"))["results"]
    return {
        r["unique_id"].split(".")[-1]: round(r["execution_time"], 2)
        for r in results
        if r["unique_id"].startswith("model.")
    }


def journeys_s(times: dict[str, float]) -> float:
    return round(sum(times.get(m, 0.0) for m in JOURNEY_MODELS), 2)


def dbt_run(workdir: Path, vars_json: str, *args: str) -> dict[str, float]:
    """`dbt run` of this project on the work folder's warehouse; dbt's time per model."""
    from returnlens.config import PROJECT_ROOT
    from returnlens.dbt_runner import dbt_executable, location_args

    target = workdir / "target"
    subprocess.run(
        [
            dbt_executable(),
            "run",
            "--quiet",
            *location_args(PROJECT_ROOT, target, workdir / "logs"),
            "--vars",
            vars_json,
            *args,
        ],
        check=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
    )
    return model_times(target / "run_results.json")


def main() -> None:
    from returnlens.dbt_runner import target_dir
    from returnlens.ingest.loader import load_all
    from returnlens.pipeline import run_main_job
    from returnlens.profile import dbt_vars_json, load_profile
    from returnlens.warehouse import connect

    workdir = Path(os.environ.get("BENCH_INCR_WORKDIR") or tempfile.mkdtemp(prefix="incr_"))
    landing, new_day = workdir / "landing", workdir / "new_day"
    source = os.environ.get("BENCH_INCR_LANDING")
    if source:
        shutil.copytree(source, landing)
    else:
        from returnlens.demo.generator import generate

        generate(landing, seed=SEED, scale=SCALE)
    day = split_off_last_day(landing, new_day).isoformat()
    os.environ.update(
        RETURNLENS_DATA_DIR=str(workdir / "data"),
        RETURNLENS_LANDING_DIR=str(landing),
        DAGSTER_HOME=str(workdir / "dagster_home"),
    )
    os.environ.pop("RETURNLENS_WAREHOUSE", None)
    os.environ.pop("RETURNLENS_SERVING", None)
    # 1. the main job on the landing without the day: the journeys built from scratch
    started = time.perf_counter()
    first = run_main_job(log_level="WARNING")
    first_s = time.perf_counter() - started
    first_times = model_times(
        next(target_dir().glob(f"returnlens_dbt_assets-{first.run_id[:7]}-*/run_results.json"))
    )
    # 2. the day's files loaded, the journeys' upstream models rebuilt with them
    shutil.copytree(new_day, landing, dirs_exist_ok=True)
    con = connect()
    try:
        load_all(con, landing)
    finally:
        con.close()
    vars_json = dbt_vars_json(load_profile(landing))
    journeys = " ".join(JOURNEY_MODELS)
    dbt_run(workdir, vars_json, "--select", "+sig_purchase_journeys", "--exclude", journeys)
    # 3. side by side on the same data: the journeys incremental, then rebuilt from scratch
    incremental = dbt_run(workdir, vars_json, "--select", journeys)
    full = dbt_run(workdir, vars_json, "--select", journeys, "--full-refresh")
    ratio = journeys_s(incremental) / journeys_s(full)
    figures = {
        "scale": SCALE,
        "seed": SEED,
        "new_day": day,
        "journeys_incremental_s": journeys_s(incremental),
        "journeys_full_s": journeys_s(full),
        "journeys_ratio": round(ratio, 3),
        **{f"{m}_incremental_s": incremental.get(m) for m in JOURNEY_MODELS},
        **{f"{m}_full_s": full.get(m) for m in JOURNEY_MODELS},
        "first_run_journeys_s": journeys_s(first_times),
        "first_run_dbt_models_s": round(sum(first_times.values()), 1),
        "first_run_s": round(first_s, 1),
    }
    record(
        "bench_incremental_journeys",
        figures,
        f"journeys {ratio:.2f}x of a full rebuild ({'<=' if ratio <= TARGET else '>'} {TARGET})",
    )
    if not os.environ.get("BENCH_INCR_WORKDIR"):
        shutil.rmtree(workdir, ignore_errors=True)
