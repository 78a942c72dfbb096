"""The publish (issue 16): into a fresh serving file (every mart copied, every Parquet file
written) against into the serving file of the previous publish (only what differs written,
`returnlens/publish_updates.py`), side by side in one call, each publish in a fresh process.

Three publishes of the same marts, each timed (wall and CPU of its process):

- fresh: no serving file yet, as the first publish (and every full publish before issue 16);
- unchanged: into a copy of fresh's serving file and Parquet export, the warehouse unchanged
  (a rerun without new data);
- changed: into another such copy, after `BENCH_PUBLISH_CHANGED` (default 0.001) of the rows of
  every mart of at least 100,000 rows were changed (a daily run's kind of change). The change is
  made in the copy of serving, not in the warehouse (which is read only): publishing finds the
  same difference either way.

After each, serving is compared with the warehouse (`returnlens checksums` of its marts against
fresh's). BENCH_PUBLISH_WAREHOUSE: a built warehouse (e.g. of the 10M-order-line demo shop; only
read) whose public marts are published; by default a synthetic one (BENCH_PUBLISH_LINES rows in
a wide fact, default 2M, and 20 small marts). Parquet on, as by default.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks._common import record

ROOT = Path(__file__).resolve().parent.parent
WAREHOUSE = os.environ.get("BENCH_PUBLISH_WAREHOUSE")
LINES = int(os.environ.get("BENCH_PUBLISH_LINES", "2000000"))
CHANGED = float(os.environ.get("BENCH_PUBLISH_CHANGED", "0.001"))

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
warehouse, serving, models, out = sys.argv[1:5]
from returnlens.publish import publish
start = time.perf_counter()
result = publish(Path(warehouse), Path(serving), parquet=True, is_demo=False,
                 models=json.loads(models))
usage = resource.getrusage(resource.RUSAGE_SELF)
Path(out).write_text(json.dumps({
    "seconds": round(time.perf_counter() - start, 1),
    "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
    "updates": result.updates,
}))
"""

SYNTHETIC = """
create schema if not exists marts;
create or replace table marts.fct_wide as
select
    'L' || range as order_line_id,
    'O' || (range // 3) as order_id,
    'C' || hash(range // 3) % 500000 as customer_key,
    'P' || range % 2000 as product_id,
    ['apparel', 'shoes', 'home', 'garden', 'electronics'][1 + range % 5] as category,
    ['web', 'app', 'marketplace'][1 + range % 3] as channel,
    cast(1 + range % 4 as bigint) as quantity,
    cast(range % 7 = 0 as boolean) as has_return,
    round(5 + (hash(range) % 20000) / 100.0, 2) as line_amount_eur,
    date '2024-01-01' + cast(range % 700 as integer) as ordered_date,
    timestamp '2024-01-01' + to_seconds(cast(range % 60000000 as bigint)) as ordered_at
from range({lines});
"""


def _synthetic(path: Path) -> list[str]:
    import duckdb

    with duckdb.connect(str(path)) as con:
        con.execute(SYNTHETIC.format(lines=LINES))
        for i in range(20):
            con.execute(
                f"create table marts.kpi_{i:02d} as select range as day, "
                f"range * {i + 1} as lines, range / 7.0 as rate from range(800)"
            )
    return ["fct_wide", *(f"kpi_{i:02d}" for i in range(20))]


def _public_marts(path: Path) -> list[str]:
    import duckdb

    from returnlens.dbt_runner import public_models

    with duckdb.connect(str(path), read_only=True) as con:
        built = {
            r[0]
            for r in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'marts'"
            ).fetchall()
        }
    return sorted(set(public_models()) & built)


def _publish(warehouse: Path, serving: Path, models: list[str], work: Path) -> dict:
    out = work / f"{serving.parent.name}.json"
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(warehouse), str(serving), json.dumps(models), str(out)],
        cwd=ROOT,
        capture_output=True,  # DuckDB's progress bars
        text=True,
    )
    if done.returncode:
        sys.exit(f"the publish into {serving} failed:\n{done.stderr[-3000:]}")
    return json.loads(out.read_text(encoding="utf-8"))


def _copy_published(source: Path, target: Path) -> None:
    """A copy of a serving folder (file and Parquet export, links kept as links)."""
    shutil.copytree(source, target, symlinks=True)


def _change(serving: Path, share: float) -> dict[str, int]:
    """Change `share` of the rows of every mart of at least 100,000 rows in the serving copy
    (delete them: the publish finds them missing and inserts them again)."""
    import duckdb

    changed = {}
    with duckdb.connect(str(serving)) as con:
        big = con.execute(
            "select table_name, estimated_size from duckdb_tables() "
            "where schema_name = 'marts' and estimated_size >= 100000"
        ).fetchall()
        for name, _ in big:
            (n,) = con.execute(f"select count(*) from marts.{name}").fetchone()
            every = max(int(1 / share), 1)
            con.execute(f"delete from marts.{name} where rowid % {every} = 0")
            changed[name] = n - con.execute(f"select count(*) from marts.{name}").fetchone()[0]
        con.execute("checkpoint")
    return changed


def _equal(serving: Path, reference: Path, models: list[str]) -> bool:
    from returnlens.checksums import mart_checksums

    ours = mart_checksums(serving, run_metadata=True).tables
    theirs = mart_checksums(reference, run_metadata=True).tables
    return all(ours[name] == theirs[name] for name in models)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench_publish_") as tmp:
        work = Path(tmp)
        if WAREHOUSE:
            warehouse = Path(WAREHOUSE)
            models = _public_marts(warehouse)
        else:
            warehouse = work / "warehouse.duckdb"
            models = _synthetic(warehouse)
        runs = {}
        (work / "fresh").mkdir()
        fresh = work / "fresh" / "serving.duckdb"
        runs["fresh"] = _publish(warehouse, fresh, models, work)
        _copy_published(work / "fresh", work / "unchanged")
        _copy_published(work / "fresh", work / "changed")
        runs["unchanged"] = _publish(warehouse, work / "unchanged" / "serving.duckdb", models, work)
        changed_rows = _change(work / "changed" / "serving.duckdb", CHANGED)
        runs["changed"] = _publish(warehouse, work / "changed" / "serving.duckdb", models, work)
        equal = {
            name: _equal(work / name / "serving.duckdb", fresh, models)
            for name in ("unchanged", "changed")
        }
    kinds = {
        name: {
            how: sum(1 for u in run["updates"].values() if u.startswith(how))
            for how in ("copied", "unchanged", "updated", "replaced")
        }
        for name, run in runs.items()
    }
    figures = {
        "warehouse": WAREHOUSE or f"synthetic, {LINES:,} wide rows + 20 small marts",
        "marts": len(models),
        "changed_rows": changed_rows,
        **{
            f"{name}_{what}": run[key]
            for name, run in runs.items()
            for what, key in (("wall_s", "seconds"), ("cpu_s", "cpu_seconds"))
        },
        "unchanged_over_fresh_cpu": round(
            runs["unchanged"]["cpu_seconds"] / runs["fresh"]["cpu_seconds"], 2
        ),
        "changed_over_fresh_cpu": round(
            runs["changed"]["cpu_seconds"] / runs["fresh"]["cpu_seconds"], 2
        ),
        "kinds": kinds,
        "equal_to_fresh": equal,
        "updates": {name: run["updates"] for name, run in runs.items()},
        "load": os.getloadavg()[0],
    }
    shown = {k: v for k, v in figures.items() if k not in ("updates", "changed_rows")}
    verdict = (
        "serving equals a fresh publish after both"
        if all(equal.values())
        else "DIFFERS from a fresh publish"
    )
    record("bench_publish", figures, verdict, shown)


if __name__ == "__main__":
    main()
