"""Quality alerts at scale: alerts on shops with thousands of suppliers and no planted defect.

Every seed generates a demo shop with `SUPPLIERS` suppliers and `plant_signals=False` (every
product, supplier and batch returns at its category's base rates, so any quality alert is a false
alarm), loads it with the real loader into a private DuckDB file and builds the quality marts
with the real dbt project (`dbt build --select +sig_quality_alerts`, models and seeds only).
The figure is the average number of alerts over the seeds (issue 12: <= 1 over 10 seeds at 5,000
suppliers), with the subjects tested per level so the denominator is visible.

    .venv/bin/python -m benchmarks.run bench_alerts_at_scale
    BENCH_ALERTS_SEEDS=10 BENCH_ALERTS_SUPPLIERS=5000 BENCH_ALERTS_SCALE=1 (the defaults)

`null_shop_alerts` is also what tests/integration/test_alerts_at_scale.py runs on fewer seeds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import duckdb

from returnlens.config import PROJECT_ROOT
from returnlens.dbt_runner import dbt_executable
from returnlens.demo.generator import generate
from returnlens.ingest.loader import load_all

SEEDS = int(os.environ.get("BENCH_ALERTS_SEEDS", "10"))
SUPPLIERS = int(os.environ.get("BENCH_ALERTS_SUPPLIERS", "5000"))
SCALE = float(os.environ.get("BENCH_ALERTS_SCALE", "1"))
# the dbt project to build (default: this one); e.g. an export of an older commit to compare with
PROJECT = Path(os.environ.get("BENCH_ALERTS_PROJECT", str(PROJECT_ROOT)))
LABEL = os.environ.get("BENCH_ALERTS_LABEL", "")  # suffix of the result's name, e.g. "before"
TARGET = 1.0  # issue 12: at most one alert on average over the seeds

# signal_var defaults: the minimum evidence a subject needs before any rule is tested
MIN_LINES = {"product": 30, "supplier": 30, "batch": 15}


def _dbt_build(workdir: Path, warehouse: Path) -> None:
    env = {
        **os.environ,
        "RETURNLENS_DATA_DIR": str(workdir),
        "RETURNLENS_WAREHOUSE": str(warehouse),
        "DBT_TARGET_PATH": str(workdir / "target"),
        "DBT_LOG_PATH": str(workdir / "target" / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    env.pop("RETURNLENS_LANDING_DIR", None)
    run = subprocess.run(
        [
            dbt_executable(),
            "build",
            "--select",
            "+sig_quality_alerts",
            "--resource-type",
            "model",
            "--resource-type",
            "seed",
            "--project-dir",
            str(PROJECT),
            "--profiles-dir",
            str(PROJECT),
        ],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        raise RuntimeError(f"dbt build failed in {workdir}:\n{run.stdout[-4000:]}")


def null_shop_alerts(
    workdir: Path,
    seed: int,
    suppliers: int = SUPPLIERS,
    scale: float = SCALE,
    keep: bool = False,
) -> dict:
    """Generate a shop without planted signals, load it, build the quality marts, count alerts.

    Returns the alerts (ids), the subjects per level, those with enough order lines to be tested,
    the ground truth's `planted` facts, and the landing and warehouse paths, which are removed
    afterwards unless `keep`.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    landing, warehouse = workdir / "landing", workdir / "warehouse.duckdb"
    started = time.perf_counter()
    generate(landing, seed=seed, scale=scale, suppliers=suppliers, plant_signals=False)
    planted = json.loads((landing / "ground_truth.json").read_text())["planted"]
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("set enable_progress_bar = false")
        load_all(con, landing)
    finally:
        con.close()
    _dbt_build(workdir, warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        alerts = [
            r[0]
            for r in con.execute(
                "select alert_id from marts.sig_quality_alerts order by alert_id"
            ).fetchall()
        ]
        subjects, tested = {}, {}
        for level, min_lines in MIN_LINES.items():
            subjects[level], tested[level] = con.execute(
                f"select count(*), count(*) filter (where order_lines >= {min_lines}) "
                f"from marts.sig_{level}_quality"
            ).fetchone()
    if not keep:
        shutil.rmtree(landing, ignore_errors=True)
        warehouse.unlink(missing_ok=True)
    return {
        "landing": landing,
        "warehouse": warehouse,
        "seed": seed,
        "alerts": alerts,
        "subjects": subjects,
        "tested": tested,
        "planted": planted,
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    """Average alerts over SEEDS null shops; the figure goes to benchmarks/results/."""
    from benchmarks._common import record

    runs = []
    with tempfile.TemporaryDirectory(prefix="bench_alerts_") as tmp:
        for seed in range(1, SEEDS + 1):
            run = null_shop_alerts(Path(tmp) / f"seed{seed}", seed)
            print(
                f"seed {seed}: {len(run['alerts'])} alerts {run['alerts'][:5]}, "
                f"tested {run['tested']}, {run['seconds']} s"
            )
            runs.append(run)
    counts = [len(r["alerts"]) for r in runs]
    mean = sum(counts) / len(counts)
    figures = {
        "suppliers": SUPPLIERS,
        "scale": SCALE,
        "seeds": len(runs),
        "alerts_per_seed": counts,
        "mean_alerts": round(mean, 2),
        "suppliers_tested_mean": round(sum(r["tested"]["supplier"] for r in runs) / len(runs)),
        "products_tested_mean": round(sum(r["tested"]["product"] for r in runs) / len(runs)),
        "batches_tested_mean": round(sum(r["tested"]["batch"] for r in runs) / len(runs)),
        "alert_ids": {r["seed"]: r["alerts"] for r in runs if r["alerts"]},
    }
    verdict = f"{'PASS' if mean <= TARGET else 'FAIL'} (target <= {TARGET} alert per seed)"
    name = "bench_alerts_at_scale" + (f"_{LABEL}" if LABEL else "")
    figures["project"] = str(PROJECT)
    record(name, figures, verdict)


if __name__ == "__main__":
    main()
