"""Shared helpers of the benchmarks: timing, peak memory and the result files."""

from __future__ import annotations

import json
import os
import platform
import resource
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SUMMARY = RESULTS_DIR / "summary.md"


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Best wall time of `repeat` calls (seconds) and the last call's return value."""
    best, value = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def peak_rss_gib() -> float:
    """Peak resident memory of this process and its finished children, in GiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024 / 1024


def record(
    name: str, figures: dict[str, Any], verdict: str, shown: dict[str, Any] | None = None
) -> Path:
    """Write benchmarks/results/<name>.json and append a row to the markdown summary (the
    figures, or `shown` when they are too many for a row)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": name,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "figures": figures,
        "verdict": verdict,
    }
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    if not SUMMARY.exists():
        SUMMARY.write_text("| benchmark | figures | verdict | measured at |\n|---|---|---|---|\n")
    shown = ", ".join(f"{k}={v}" for k, v in (figures if shown is None else shown).items())
    with SUMMARY.open("a", encoding="utf-8") as fh:
        fh.write(f"| {name} | {shown} | {verdict} | {payload['measured_at']} |\n")
    print(f"{name}: {shown} -> {verdict}")
    return path
