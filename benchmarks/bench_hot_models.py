"""The hot models: staging tables vs staging views, side by side in one run (issue 16).

The customer hash (macro hash_customer_id) and the returns platforms' order-line matching used
to be computed in staging views, again on every scan of every model and test reading them. This
benchmark loads one demo shop (scale 6.7 ≈ 1M order lines by default) with the real loader, then
runs the same `dbt build` (models, seeds and data tests; unit tests left out) on two copies of
that warehouse: the project as it was before (BENCH_HOT_BEFORE, a git ref exported with
`git archive`) and this project, back to back in BENCH_HOT_ROUNDS rounds (before-after, then
after-before, ...); the best of each variant is kept, and each round's own ratio is reported.
Per-model times come from dbt's run_results.json. Figures, each as after/before ratio:

- the whole build (dbt's elapsed time and the CPU time of dbt and DuckDB), its models and its
  tests;
- the staging models that hash the customer id or match return lines, and the models and tests
  that read them (directly or through views);
- sig_purchase_journeys, the hottest mart;
- the warehouse file's size after the build (the tables' disk cost);
- the marts of both builds compared by checksum (returnlens.checksums): they must be equal.

    make bench BENCH=bench_hot_models
    BENCH_HOT_SCALE=6.7 BENCH_HOT_SEED=42 BENCH_HOT_ROUNDS=1 BENCH_HOT_BEFORE=<git ref>
    BENCH_HOT_LANDING=<an already generated landing folder of that seed and scale>
    BENCH_HOT_WORKDIR=<a folder to keep the warehouses in> (default: a temporary one)
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import duckdb

from returnlens.checksums import differences, mart_checksums
from returnlens.config import PROJECT_ROOT
from returnlens.dbt_runner import dbt_executable, location_args
from returnlens.profile import dbt_vars_json, load_profile

SCALE = float(os.environ.get("BENCH_HOT_SCALE", "6.7"))
SEED = int(os.environ.get("BENCH_HOT_SEED", "42"))
ROUNDS = int(os.environ.get("BENCH_HOT_ROUNDS", "1"))
# the last commit with the customer hash and the matching in staging views
BEFORE = os.environ.get("BENCH_HOT_BEFORE", "8734c20")
LANDING = os.environ.get("BENCH_HOT_LANDING", "")
WORKDIR = os.environ.get("BENCH_HOT_WORKDIR", "")

# the models made tables for issue 16 (the customer hash, the matching, hot intermediates):
# the first six since 8734c20, the rest since 24e9d8c (BENCH_HOT_BEFORE=24e9d8c compares
# only those)
HOT = (
    "stg_shop__customers",
    "stg_shop__orders",
    "stg_returns__order_line_matches",
    "int_warehouse_as_of",
    "int_order_lines_joined_to_returns",
    "int_return_lines_costed",
    "int_return_lines_mapped_to_reasons",
    "int_return_lines_mapped_to_states",
    "int_quality_rules_evaluated",
    "int_quality_subjects_pivoted",
)
# and the views whose scans got cheaper: their readers (in the before project, through its
# views) are the models and tests to watch, the same set in both variants
HOT_VIEWS = (*HOT, "stg_web__events", "stg_returns__return_lines")


def _export(ref: str, dest: Path) -> Path:
    """The project at git ref `ref`, exported (no .git, no target/) into `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), "archive", ref], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def _load(landing: Path, warehouse: Path) -> float:
    from returnlens.ingest.loader import load_all

    started = time.perf_counter()
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("set enable_progress_bar = false")
        load_all(con, landing)
        con.execute("checkpoint")
    finally:
        con.close()
    return time.perf_counter() - started


def _dbt_build(project: Path, workdir: Path, warehouse: Path, vars_json: str, salt: Path) -> dict:
    """Run `dbt build` of `project` on `warehouse` with the shop profile's vars, as the
    pipeline does; dbt's run_results.json."""
    target = workdir / "target"
    env = {
        **os.environ,
        "RETURNLENS_DATA_DIR": str(workdir),
        "RETURNLENS_WAREHOUSE": str(warehouse),
        # one salt for both variants, so that their customer keys and marts can be compared
        "RETURNLENS_PII_SALT_FILE": str(salt),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    env.pop("RETURNLENS_LANDING_DIR", None)
    env.pop("DBT_TARGET_PATH", None)
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = subprocess.run(
        [
            dbt_executable(),
            "build",
            "--exclude-resource-type",
            "unit_test",
            "--vars",
            vars_json,
            *location_args(project, target, target / "logs"),
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        raise RuntimeError(f"dbt build of {project} failed:\n{run.stdout[-4000:]}")
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    results = json.loads((target / "run_results.json").read_text())
    # CPU seconds of dbt and DuckDB's threads: far steadier than wall time on a shared machine
    results["cpu_s"] = used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime
    return results


def _readers(manifest: dict, names: tuple[str, ...]) -> set[str]:
    """Unique ids of the models and tests that read one of `names`, directly or through views."""
    children: dict[str, list[str]] = {}
    for uid, node in manifest["nodes"].items():
        for parent in node.get("depends_on", {}).get("nodes", []):
            children.setdefault(parent, []).append(uid)
    todo = [u for u in manifest["nodes"] if u.split(".")[-1] in names and u.startswith("model.")]
    seen, found = set(todo), set()
    while todo:
        for child in children.get(todo.pop(), []):
            if child in seen:
                continue
            seen.add(child)
            found.add(child)
            node = manifest["nodes"][child]
            if child.startswith("model.") and node["config"]["materialized"] == "view":
                todo.append(child)
    return found


def _figures(results: dict, readers: set[str]) -> dict:
    times = {r["unique_id"]: r["execution_time"] for r in results["results"]}

    def total(pred) -> float:
        return round(sum(t for uid, t in times.items() if pred(uid)), 2)

    def name(uid: str) -> str:
        return uid.split(".")[-1]

    return {
        "build_s": round(results["elapsed_time"], 2),
        "cpu_s": round(results["cpu_s"], 1),
        "models_s": total(lambda u: u.startswith("model.")),
        "tests_s": total(lambda u: u.startswith("test.")),
        "hot_staging_s": total(lambda u: u.startswith("model.") and name(u) in HOT_VIEWS),
        "readers_models_s": total(lambda u: u in readers and u.startswith("model.")),
        "readers_tests_s": total(lambda u: u in readers and u.startswith("test.")),
        "sig_purchase_journeys_s": total(lambda u: name(u) == "sig_purchase_journeys"),
        "per_model_s": {
            name(u): round(t, 2)
            for u, t in times.items()
            if u.startswith("model.") and (name(u) in HOT_VIEWS or u in readers)
        },
    }


def _ratio(after: float, before: float) -> float | None:
    return round(after / before, 2) if before else None


def main() -> None:
    """Build before and after on copies of one loaded warehouse; figures to benchmarks/results/."""
    from benchmarks._common import record
    from returnlens.demo.generator import generate

    with tempfile.TemporaryDirectory(prefix="bench_hot_") as tmp:
        work = Path(WORKDIR or tmp)
        work.mkdir(parents=True, exist_ok=True)
        landing = Path(LANDING) if LANDING else work / "landing"
        if not LANDING:
            generate(landing, seed=SEED, scale=SCALE)
        loaded = work / "loaded.duckdb"
        loaded.unlink(missing_ok=True)
        load_s = _load(landing, loaded)
        vars_json = dbt_vars_json(load_profile(landing))
        projects = {"before": _export(BEFORE, work / "before_project"), "after": PROJECT_ROOT}
        best: dict[str, dict] = {}
        readers: set[str] | None = None
        paired: list[float] = []  # after/before build time of each round (ABBA order)
        cpu_paired: list[float] = []  # and its CPU time
        for round_ in range(ROUNDS):
            order = list(projects.items())
            built: dict[str, float] = {}
            cpu: dict[str, float] = {}
            for variant, project in order if round_ % 2 == 0 else order[::-1]:
                vdir = work / variant
                shutil.rmtree(vdir, ignore_errors=True)
                vdir.mkdir()
                warehouse = vdir / "warehouse.duckdb"
                shutil.copyfile(loaded, warehouse)
                started = time.perf_counter()
                results = _dbt_build(project, vdir, warehouse, vars_json, work / "pii_salt")
                wall = time.perf_counter() - started
                if readers is None:  # the before project's readers, through its views
                    manifest = json.loads((vdir / "target" / "manifest.json").read_text())
                    readers = _readers(manifest, HOT_VIEWS)
                figures = _figures(results, readers)
                figures["wall_s"] = round(wall, 1)  # with dbt's parse and start-up
                figures["warehouse_mib"] = round(warehouse.stat().st_size / 2**20)
                print(f"round {round_ + 1} {variant}: build {figures['build_s']} s")
                built[variant] = figures["build_s"]
                cpu[variant] = figures["cpu_s"]
                if variant not in best or figures["build_s"] < best[variant]["build_s"]:
                    best[variant] = figures
            paired.append(round(built["after"] / built["before"], 2))
            cpu_paired.append(round(cpu["after"] / cpu["before"], 2))
        sums = {v: mart_checksums(work / v / "warehouse.duckdb", double_decimals=9) for v in best}
        differing = differences(sums["after"], sums["before"])
        before, after = best["before"], best["after"]
        figures = {
            "scale": SCALE,
            "seed": SEED,
            "rounds": ROUNDS,
            "before_ref": BEFORE,
            "load_s": round(load_s, 1),
            # the machine is shared: each round's own ratio, before and after back to back
            "build_ratio_per_round": paired,
            "cpu_ratio_per_round": cpu_paired,
            "loaded_mib": round(loaded.stat().st_size / 2**20),
            **{
                f"{key}_ratio": _ratio(after[key], before[key])
                for key in (
                    "build_s",
                    "cpu_s",
                    "models_s",
                    "tests_s",
                    "readers_models_s",
                    "readers_tests_s",
                    "sig_purchase_journeys_s",
                )
            },
            "extra_disk_mib": after["warehouse_mib"] - before["warehouse_mib"],
            "marts_compared": len(sums["after"].tables),
            "marts_differing": differing,
            "before": before,
            "after": after,
        }
    faster = after["build_s"] < before["build_s"]
    verdict = (
        f"{'PASS' if faster and not differing else 'FAIL'} (build after/before "
        f"{figures['build_s_ratio']}, marts {'differ' if differing else 'equal'})"
    )
    record("bench_hot_models", figures, verdict)


if __name__ == "__main__":
    main()
