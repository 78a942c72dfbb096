"""The whole pipeline at scale, beside bare DuckDB doing the same work (issue 16).

    make bench BENCH=bench_scale
    BENCH_SCALE_SCALES="1,6.7,67"   demo shop scales (seed 42); 6.7 = 1M, 67 = 10M order lines
    BENCH_SCALE_LANDING_67=<folder>  an existing landing of that scale (also _6_7, _1, ...), or
    BENCH_SCALE_LANDINGS="67=<folder>,6.7=<folder>"; then the generator is not measured there
    BENCH_SCALE_INCREMENTAL=0        skip the incremental one-day runs (they need a second landing)
    BENCH_SCALE_WORKDIR=<folder>     where to work (default: a temp folder, removed afterwards)

For each scale, one after the other, in this one call:

1. the generator (`returnlens generate --seed 42 --scale S`): wall, CPU, peak memory;
2. the main job as a user runs it (`returnlens run`, default settings, a fresh data folder;
   dbt's manifest parsed beforehand, as after any earlier run): wall, CPU, peak resident memory
   summed over the process tree (benchmarks/peak_rss.py), and each step's time from the run's
   Dagster events;
3. bare DuckDB doing the same work in one process (benchmarks/_bare.py): plain reads of the same
   files, dbt's compiled SQL of every model and data test from the run's target/ folder in
   dbt's order, each GX suite as one aggregate query, the same publish copy;
4. incremental: the landing without its last order day run fully on a fresh data folder, then
   the day's files added and a normal (incremental) run: the one-day run / full run ratio. The
   returns, answers and web events after that day are dropped from the landing first, so the
   day is one day of the shop's files (benchmarks/landing_days.py, `after="drop"`; until
   2026-11-29 they came with the day: weeks of returns, and the as-of date moved on by them).
   With an existing landing this needs a second one: the generator writes it (and is measured
   there).

RETURNLENS_* settings other than the folders are passed on (and recorded): unset, every run
uses the defaults. Results: benchmarks/results/bench_scale.json (scales measured earlier and not
in this call are kept), bench_scale.png (time and memory vs scale) and the table in
benchmarks/README.md.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks._bare import latest_dbt_run
from benchmarks._common import RESULTS_DIR, record
from benchmarks.landing_days import split_off_last_day
from benchmarks.peak_rss import measure

ROOT = Path(__file__).resolve().parent.parent
SEED = 42
BUDGET_GIB = 4.0  # issue 16: the process tree within 4 GiB by default
TARGETS = {"ratio": 1.5, "one_day": 0.1, "generator_s": 60.0}  # at 10M order lines (scale 67)
FOLDER_VARS = (
    "RETURNLENS_DATA_DIR",
    "RETURNLENS_LANDING_DIR",
    "RETURNLENS_WAREHOUSE",
    "RETURNLENS_SERVING",
    "DAGSTER_HOME",
    "DBT_TARGET_PATH",
    "DBT_LOG_PATH",
)
BIN = Path(sys.executable).parent
PARSE = "from returnlens.dbt_runner import parse; parse()"
STEPS = r"""
import json
import dagster as dg
with dg.DagsterInstance.get() as instance:
    run = instance.get_runs(limit=1)[0]
    started, steps = {}, {}
    for e in instance.all_logs(run.run_id):
        d = e.dagster_event
        if d is None:
            continue
        if d.event_type_value == "STEP_START":
            started[d.step_key] = e.timestamp
        elif d.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and d.step_key in started:
            steps[d.step_key] = {
                "seconds": round(e.timestamp - started[d.step_key], 2),
                "ok": d.event_type_value == "STEP_SUCCESS",
            }
    print(json.dumps({"run_id": run.run_id, "status": run.status.value, "steps": steps}))
"""
STEP_GROUPS = {  # step key prefixes of the main job's parts
    "ingest": ("adapters__", "ingest_", "raw__load_audit"),
    "gates raw": ("gx_gates_raw",),
    "dbt build": ("returnlens_dbt_assets",),
    "gates marts": ("gx_gates_marts",),
    "publish": ("serving__published_marts",),
    "exports": ("exports__signal_exports",),
}


def scale_key(scale: float) -> str:
    """6.7 -> '6.7', 67.0 -> '67'."""
    return f"{scale:g}"


def given_landing(scale: float) -> Path | None:
    """An existing landing folder for the scale, from BENCH_SCALE_LANDING_<scale> (dot as
    underscore) or BENCH_SCALE_LANDINGS ("<scale>=<folder>,...")."""
    key = scale_key(scale)
    folder = os.environ.get(f"BENCH_SCALE_LANDING_{key.replace('.', '_')}")
    for item in filter(None, os.environ.get("BENCH_SCALE_LANDINGS", "").split(",")):
        name, _, path = item.partition("=")
        if name.strip() and float(name) == scale and not folder:
            folder = path.strip()
    if not folder:
        return None
    landing = Path(folder)
    truth = landing / "ground_truth.json"
    if not truth.is_file():
        raise SystemExit(f"{landing}: no ground_truth.json, not a finished demo landing folder")
    facts = json.loads(truth.read_text())
    if (facts.get("seed"), facts.get("scale")) != (SEED, scale):
        raise SystemExit(
            f"{landing}: seed {facts.get('seed')} scale {facts.get('scale')}, not seed {SEED} "
            f"scale {scale}; point BENCH_SCALE_LANDING_{key.replace('.', '_')} at the right one"
        )
    return landing


def run_env(data: Path, landing: Path, label: str) -> dict:
    """The environment of a run on a fresh data folder: folders of its own, settings as given."""
    env = {k: v for k, v in os.environ.items() if k not in FOLDER_VARS}
    env.update(
        RETURNLENS_DATA_DIR=str(data / "data"),
        RETURNLENS_LANDING_DIR=str(landing),
        DAGSTER_HOME=str(data / "dagster_home"),
        DBT_TARGET_PATH=f"target/bench_scale_{os.getpid()}/{label}",
        DBT_LOG_PATH=f"logs/bench_scale_{os.getpid()}/{label}",
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    return env


def settings_given() -> dict:
    """RETURNLENS_* settings passed on to the runs (a salt by name only)."""
    return {
        k: ("<set>" if "SALT" in k else v)
        for k, v in sorted(os.environ.items())
        if k.startswith("RETURNLENS_") and k not in FOLDER_VARS
    }


def _measure(command: list[str], env: dict, log: Path) -> dict:
    with log.open("a", encoding="utf-8") as out:
        out.write(f"\n==> {' '.join(command)}\n")
        out.flush()
        return measure(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def generate(scale: float, landing: Path, log: Path) -> dict:
    """`returnlens generate` measured: wall, CPU, peak memory."""
    command = [str(BIN / "returnlens"), "generate", "--seed", str(SEED), "--scale", str(scale)]
    m = _measure([*command, "--out", str(landing)], dict(os.environ), log)
    if m["returncode"] != 0:
        raise SystemExit(f"the generator failed at scale {scale}: see {log}")
    return {"measured": True, **_figures(m)}


def _figures(m: dict) -> dict:
    keys = ("seconds", "cpu_seconds", "peak_rss_gib", "peak_at_seconds", "peak_by_process_gib")
    return {k: m[k] for k in keys}


def pipeline(env: dict, log: Path) -> dict:
    """`returnlens run` on the env's folders, measured, with its steps' and models' times."""
    parse = _measure([sys.executable, "-c", PARSE], env, log)
    m = _measure([str(BIN / "returnlens"), "run"], env, log)
    out = {"success": m["returncode"] == 0, **_figures(m), "parse_seconds": parse["seconds"]}
    steps = subprocess.run(
        [sys.executable, "-c", STEPS], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if steps.returncode == 0:
        out["steps"] = json.loads(steps.stdout.strip().splitlines()[-1])["steps"]
        out["parts"] = {
            name: round(sum(s["seconds"] for k, s in out["steps"].items() if k.startswith(p)), 1)
            for name, p in STEP_GROUPS.items()
        }
    try:
        results = latest_dbt_run(ROOT / env["DBT_TARGET_PATH"]) / "run_results.json"
        times = {
            r["unique_id"].split(".")[-1]: round(r["execution_time"], 2)
            for r in json.loads(results.read_text())["results"]
            if r["unique_id"].startswith("model.")
        }
        out["dbt_models_seconds"] = round(sum(times.values()), 1)
        out["slowest_models"] = dict(sorted(times.items(), key=lambda kv: -kv[1])[:8])
    except (ValueError, OSError):  # no dbt run folder: the run stopped before dbt
        pass
    return out


def bare(env: dict, landing: Path, work: Path, log: Path) -> dict:
    """Bare DuckDB doing the run's work (benchmarks/_bare.py) in one process, measured."""
    data = Path(env["RETURNLENS_DATA_DIR"])
    out = work / "bare.json"
    run_dir = latest_dbt_run(ROOT / env["DBT_TARGET_PATH"])
    command = [
        sys.executable,
        "-m",
        "benchmarks._bare",
        str(landing),
        str(data / "warehouse.duckdb"),
    ]
    command += [str(run_dir), str(work / "bare"), str(data / "serving.duckdb"), str(out)]
    m = _measure(command, env, log)
    if m["returncode"] != 0:  # recorded, no ratio; the other scales still run
        return {"failed": f"see {log}", **_figures(m)}
    detail = json.loads(out.read_text())
    parts = {k: {m: round(x, 1) for m, x in v.items()} for k, v in detail.pop("parts").items()}
    return {**_figures(m), "parts": parts, **detail}


def incremental(landing: Path, work: Path, key: str, log: Path) -> dict:
    """Full run on the landing without its last order day, then the day added and run."""
    new_day = work / "new_day"
    started = time.perf_counter()
    day = split_off_last_day(landing, new_day, after="drop")
    split_s = time.perf_counter() - started
    env = run_env(work, landing, f"{key}_incremental")
    full = pipeline(env, log)
    shutil.copytree(new_day, landing, dirs_exist_ok=True)
    one_day = pipeline(env, log)
    import duckdb

    with duckdb.connect(str(work / "data" / "warehouse.duckdb"), read_only=True) as con:
        built_fully = [
            r[0]
            for r in con.execute(
                "select built_fully from returnlens_state.incremental_models"
            ).fetchall()
        ]
    return {
        "day": day.isoformat(),
        "split_seconds": round(split_s, 1),
        "full": full,
        "one_day": one_day,
        "one_day_built_fully": built_fully,
        "ratio_wall": round(one_day["seconds"] / full["seconds"], 3),
        "ratio_cpu": round(one_day["cpu_seconds"] / full["cpu_seconds"], 3),
    }


def _commit() -> str:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True
    )
    return head.stdout.decode().strip() + ("+changes" if dirty.stdout.strip() else "")


def one_scale(scale: float, work: Path) -> dict:
    """Every figure of one scale (see the module)."""
    key = scale_key(scale)
    work.mkdir(parents=True, exist_ok=True)
    log = work / "log.txt"
    entry = {
        "scale": scale,
        "seed": SEED,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "settings": settings_given(),
        "load_before": [round(x, 2) for x in os.getloadavg()],
    }
    shared = given_landing(scale)
    landing = shared or work / "landing"
    if shared:
        entry["generator"] = {"measured": False, "note": f"existing landing {shared}"}
    else:
        entry["generator"] = generate(scale, landing, log)
    rows = json.loads((landing / "ground_truth.json").read_text())["row_counts"]
    entry["order_lines"], entry["web_events"] = rows["order_lines"], rows["web_events"]
    entry["landing_gib"] = round(
        sum(p.stat().st_size for p in landing.rglob("*") if p.is_file()) / 2**30, 2
    )
    print(f"scale {key}: {rows['order_lines']:,} order lines; the main job ...", flush=True)
    main = work / "main"
    env = run_env(main, landing, key)
    entry["pipeline"] = pipeline(env, log)
    print(f"scale {key}: bare DuckDB ...", flush=True)
    entry["bare"] = bare(env, landing, main, log) if entry["pipeline"]["success"] else None
    if entry["bare"] and "failed" not in entry["bare"]:
        entry["ratio_wall"] = round(entry["pipeline"]["seconds"] / entry["bare"]["seconds"], 2)
        entry["ratio_cpu"] = round(
            entry["pipeline"]["cpu_seconds"] / entry["bare"]["cpu_seconds"], 2
        )
    entry["within_budget"] = entry["pipeline"]["peak_rss_gib"] <= BUDGET_GIB
    shutil.rmtree(main, ignore_errors=True)
    if os.environ.get("BENCH_SCALE_INCREMENTAL", "1") == "0":
        entry["incremental"] = {"skipped": "BENCH_SCALE_INCREMENTAL=0"}
    else:
        print(f"scale {key}: incremental one-day run ...", flush=True)
        incr = work / "incremental"
        if shared:  # a landing of our own to split: generated (and measured) here
            entry["generator"] = {
                **generate(scale, incr / "landing", log),
                "note": f"measured writing the incremental runs' landing ({shared} was given)",
            }
            landing = incr / "landing"
        entry["incremental"] = incremental(landing, incr, key, log)
        shutil.rmtree(incr, ignore_errors=True)
    entry["load_after"] = [round(x, 2) for x in os.getloadavg()]
    return entry


def verdict(entries: dict[str, dict]) -> str:
    """One line per scale: ratios, memory, generator; the targets (issue 16) at 10M lines."""
    parts = []
    for key, e in sorted(entries.items(), key=lambda kv: float(kv[0])):
        p, gen, incr = e["pipeline"], e["generator"], e.get("incremental", {})
        bits = [f"scale {key}: run {p['seconds']:.0f} s" + ("" if p["success"] else " FAILED")]
        if e.get("ratio_wall") is not None:
            bits.append(f"{e['ratio_wall']:.2f}x bare")
        if "ratio_wall" in incr:
            bits.append(f"one day {incr['ratio_wall']:.2f}x full")
        bits.append(
            f"peak {p['peak_rss_gib']:.2f} GiB ({'within' if e['within_budget'] else 'OVER'}"
            f" {BUDGET_GIB:g} GiB)"
        )
        if gen.get("measured"):
            bits.append(f"generator {gen['seconds']:.0f} s")
        if float(key) >= 67:
            met = [
                e.get("ratio_wall") is not None and e["ratio_wall"] <= TARGETS["ratio"],
                incr.get("ratio_wall", 1e9) <= TARGETS["one_day"],
                e["within_budget"],
                gen.get("seconds", 1e9) <= TARGETS["generator_s"],
            ]
            bits.append(f"{sum(met)}/4 targets met")
        parts.append(", ".join(bits))
    return "; ".join(parts)


def main() -> None:
    """Measure every scale of BENCH_SCALE_SCALES; write the results, the plot and the table."""
    from benchmarks._scale_report import plot, update_readme

    scales = [float(s) for s in os.environ.get("BENCH_SCALE_SCALES", "1,6.7,67").split(",")]
    given = os.environ.get("BENCH_SCALE_WORKDIR")
    root = Path(given) if given else Path(tempfile.mkdtemp(prefix="bench_scale_"))
    root.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / "bench_scale.json"
    earlier = json.loads(path.read_text())["figures"]["scales"] if path.exists() else {}
    entries = dict(earlier)
    try:
        for scale in scales:
            entries[scale_key(scale)] = one_scale(scale, root / scale_key(scale))
            record(
                "bench_scale",
                _figures_of(entries),
                verdict(entries),
                shown={"scales": ",".join(sorted(entries, key=float))},
            )
            plot(entries, RESULTS_DIR / "bench_scale.png", BUDGET_GIB)
            update_readme(entries, ROOT / "benchmarks" / "README.md")
    finally:
        shutil.rmtree(ROOT / "target" / f"bench_scale_{os.getpid()}", ignore_errors=True)
        shutil.rmtree(ROOT / "logs" / f"bench_scale_{os.getpid()}", ignore_errors=True)
        if not given:
            shutil.rmtree(root, ignore_errors=True)
    print(f"plot: {RESULTS_DIR / 'bench_scale.png'}; table: benchmarks/README.md")


def _figures_of(entries: dict[str, dict]) -> dict:
    return {
        "budget_gib": BUDGET_GIB,
        "targets_at_scale_67": TARGETS,
        "scales": dict(sorted(entries.items(), key=lambda kv: float(kv[0]))),
    }


if __name__ == "__main__":
    main()
