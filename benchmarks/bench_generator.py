"""Demo generator: wall, CPU and peak memory of `returnlens generate` beside a bare write.

For each scale in BENCH_GEN_SCALES (default "6.7"; 67 is 10M order lines), seed 42:
- the generator: `returnlens generate --scale S --seed 42 --out <tmp>` in a subprocess;
- the bare baseline, in the same run: DuckDB COPY writing the same entities with the same row
  counts (the generator's ground_truth.json "row_counts"), the same number of columns (the
  landing contracts) and the same formats (CSV, JSON lines or Parquet as the generator wrote
  them), the columns synthetic text from range(); one file per entity, two threads.
Each side's wall, CPU (user + system of the subprocess) and peak RSS summed over its process
tree (benchmarks/peak_rss.py, sampled every 0.2 s), and the ratio generator / bare. Goal
(DESIGN.md): the generator at 10M order lines in <= 60 s on 2 cores.

    make bench BENCH=bench_generator
    BENCH_GEN_SCALES="6.7 67" make bench BENCH=bench_generator
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._common import record
from benchmarks.peak_rss import tree_rss

ROOT = Path(__file__).resolve().parent.parent
SCALES = [float(s) for s in os.environ.get("BENCH_GEN_SCALES", "6.7").split()]
SEED = 42
GOAL_S_AT_67 = 60.0


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _measured(command: list[str]) -> dict:
    """Wall, CPU and peak tree RSS of one subprocess."""
    cpu0, start = _cpu(), time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss(proc.pid)[0])
        time.sleep(0.2)
    if proc.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode})")
    return {
        "wall_s": round(time.perf_counter() - start, 2),
        "cpu_s": round(_cpu() - cpu0, 2),
        "peak_rss_gib": round(peak / 2**30, 3),
    }


def _files(landing: Path) -> dict[str, tuple[str, int]]:
    """Per entity of the generated landing: its files' format and total bytes."""
    from returnlens.ingest.contracts import ENTITIES

    out = {}
    for e in ENTITIES:
        folder = landing / e.source
        stem = e.pattern.split("*")[0].split(".")[0]
        files = [p for p in folder.glob(f"{stem}*") if p.is_file()] if folder.is_dir() else []
        if files:
            out[e.name] = (files[0].suffix.lstrip("."), sum(p.stat().st_size for p in files))
    return out


def baseline(landing: str, out: str) -> None:
    """Write what the generator wrote to `landing` again as synthetic rows, with DuckDB COPY."""
    import duckdb

    from returnlens.ingest.contracts import entity

    rows = json.loads((Path(landing) / "ground_truth.json").read_text())["row_counts"]
    con = duckdb.connect()
    con.execute("set threads = 2")
    for name, (fmt, _) in _files(Path(landing)).items():
        cols = ", ".join(
            f"cast(i * {k + 7} % 1000003 as varchar) as {c.name}"
            for k, c in enumerate(entity(name).columns)
        )
        opts = {"csv": "format csv, header true", "jsonl": "format json"}.get(fmt, "format parquet")
        target = Path(out) / f"{name}.{fmt}"
        con.execute(f"copy (select {cols} from range({rows[name]}) t(i)) to '{target}' ({opts})")
    con.close()


def run_scale(scale: float, work: Path) -> dict:
    landing, bare = work / "landing", work / "bare"
    bare.mkdir(parents=True)
    exe = Path(sys.executable).parent / "returnlens"
    gen = _measured(
        [str(exe), "generate", "--scale", str(scale), "--seed", str(SEED), "--out", str(landing)]
    )
    code = f"from benchmarks.bench_generator import baseline; baseline({str(landing)!r}, {str(bare)!r})"
    base = _measured([sys.executable, "-c", code])
    files = _files(landing)
    rows = json.loads((landing / "ground_truth.json").read_text())["row_counts"]
    bare_bytes = sum(p.stat().st_size for p in bare.iterdir())
    return {
        "scale": scale,
        "order_lines": rows["order_lines"],
        "rows_written": sum(rows[name] for name in files),
        "generated_gib": round(sum(b for _, b in files.values()) / 2**30, 3),
        "bare_gib": round(bare_bytes / 2**30, 3),
        "web_format": files.get("web_events", ("none", 0))[0],
        "generator": gen,
        "bare_duckdb_copy": base,
        "ratio_wall": round(gen["wall_s"] / base["wall_s"], 2),
        "ratio_cpu": round(gen["cpu_s"] / base["cpu_s"], 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    """Run the benchmark at every scale and record the figures."""
    runs = []
    for scale in SCALES:
        work = Path(tempfile.mkdtemp(prefix="bench_generator_"))
        try:
            runs.append(run_scale(scale, work))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(json.dumps(runs[-1]))
    at_67 = [r for r in runs if r["scale"] >= 67]
    if at_67:
        wall = at_67[0]["generator"]["wall_s"]
        verdict = f"{'PASS' if wall <= GOAL_S_AT_67 else 'FAIL'} at 10M lines: {wall} s (goal 60 s)"
    else:
        verdict = "no 10M-line run (BENCH_GEN_SCALES without 67): see the ratios"
    figures = {f"scale_{r['scale']:g}": r for r in runs}
    record("bench_generator", figures, verdict)


if __name__ == "__main__":
    main()
