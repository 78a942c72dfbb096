"""Ingest throughput: the contract-checking loader vs a plain DuckDB `read_csv` into a table.

Both read the same order_lines files of a generated demo shop (scale 6.7 ≈ 1M lines) into a
fresh DuckDB file, side by side in one run, best of `REPEAT` alternating rounds. Target (DESIGN):
the loader reaches ≥ 0.9x the plain read's rows/s (the issue's floor is 0.7x).

`make bench BENCH=bench_ingest`; set BENCH_INGEST_LANDING to reuse an already generated landing
folder, BENCH_INGEST_SCALE to change the size.
"""

from __future__ import annotations

import os
import resource
import tempfile
import time
from pathlib import Path

import duckdb

from benchmarks._common import peak_rss_gib, record
from returnlens.config import settings
from returnlens.ingest.contracts import entity
from returnlens.ingest.loader import landing_files, load_entity
from returnlens.warehouse import quote_literal as ql

SCALE = float(os.environ.get("BENCH_INGEST_SCALE", "6.7"))
REPEAT = int(os.environ.get("BENCH_INGEST_REPEAT", "3"))
TARGET = 0.9
FLOOR = 0.7


def _cpu() -> float:
    """CPU seconds of this process so far (all threads: DuckDB's and the checksum's)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _connect(path: Path) -> duckdb.DuckDBPyConnection:
    path.unlink(missing_ok=True)
    cfg = settings()
    return duckdb.connect(
        str(path), config={"memory_limit": cfg.duckdb_memory_limit, "threads": cfg.duckdb_threads}
    )


def _plain(files: list[Path], db: Path) -> int:
    con = _connect(db)
    try:
        listed = "[" + ", ".join(ql(str(f)) for f in files) + "]"
        con.execute(f"create table order_lines as select * from read_csv({listed})")
        return con.execute("select count(*) from order_lines").fetchall()[0][0]
    finally:
        con.close()


def _loader(landing: Path, db: Path) -> tuple[int, int]:
    con = _connect(db)
    try:
        res = load_entity(con, entity("order_lines"), landing)
        return res.rows_loaded, res.rows_quarantined
    finally:
        con.close()


def _unchanged_rerun(landing: Path, db: Path) -> float:
    con = duckdb.connect(str(db))
    try:
        start = time.perf_counter()
        res = load_entity(con, entity("order_lines"), landing)
        assert res.count("unchanged") == len(res.files)
        return time.perf_counter() - start
    finally:
        con.close()


def main() -> None:
    """Generate (or reuse) the landing zone, time both readers, record the ratio."""
    with tempfile.TemporaryDirectory(prefix="bench_ingest_") as tmp:
        tmpdir = Path(tmp)
        landing = Path(os.environ.get("BENCH_INGEST_LANDING", tmpdir / "landing"))
        if not landing_files(entity("order_lines"), landing):
            from returnlens.demo.generator import generate

            print(f"generating the demo shop at scale {SCALE} into {landing} ...")
            generate(landing, seed=7, scale=SCALE)
        files = landing_files(entity("order_lines"), landing)
        size_mb = sum(f.stat().st_size for f in files) / 1e6
        plain_s = loader_s = float("inf")
        plain_cpu = loader_cpu = 0.0  # the CPU seconds of the best round
        rows = loaded = quarantined = 0
        for _ in range(REPEAT):  # alternate, so drift on a shared machine hits both alike
            cpu, start = _cpu(), time.perf_counter()
            rows = _plain(files, tmpdir / "plain.duckdb")
            if time.perf_counter() - start < plain_s:
                plain_s, plain_cpu = time.perf_counter() - start, _cpu() - cpu
            cpu, start = _cpu(), time.perf_counter()
            loaded, quarantined = _loader(landing, tmpdir / "loader.duckdb")
            if time.perf_counter() - start < loader_s:
                loader_s, loader_cpu = time.perf_counter() - start, _cpu() - cpu
        assert loaded + quarantined == rows, (rows, loaded, quarantined)
        rerun_s = _unchanged_rerun(landing, tmpdir / "loader.duckdb")
    plain_rps, loader_rps = rows / plain_s, rows / loader_s
    ratio = loader_rps / plain_rps
    figures = {
        "files": len(files),
        "rows": rows,
        "mb": round(size_mb, 1),
        "plain_read_csv_s": round(plain_s, 2),
        "loader_s": round(loader_s, 2),
        "plain_rows_per_s": round(plain_rps),
        "loader_rows_per_s": round(loader_rps),
        "loader_mb_per_s": round(size_mb / loader_s, 1),
        "ratio": round(ratio, 2),
        "plain_cpu_s": round(plain_cpu, 2),
        "loader_cpu_s": round(loader_cpu, 2),
        "cpu_ratio": round(plain_cpu / loader_cpu, 2),
        "unchanged_rerun_s": round(rerun_s, 3),
        "peak_rss_gib": round(peak_rss_gib(), 2),
    }
    if ratio >= TARGET:
        verdict = f"meets target (≥ {TARGET}x plain read_csv)"
    elif ratio >= FLOOR:
        verdict = f"above the {FLOOR}x floor, below the {TARGET}x target"
    else:
        verdict = f"BELOW the {FLOOR}x floor"
    record("bench_ingest", figures, verdict)


if __name__ == "__main__":
    main()
