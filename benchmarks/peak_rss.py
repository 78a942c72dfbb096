"""Run a command and report its wall and CPU time and the peak resident memory summed over its whole
process tree (the command and every descendant, e.g. the dbt subprocess), sampled from /proc.

    python benchmarks/peak_rss.py [--interval 0.2] [--json out.json] -- <command> [args...]

No dependency beyond the standard library (Linux /proc only). The peak is a sampled one: a spike
shorter than the interval can be missed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def tree_rss(root: int) -> tuple[int, dict[str, int]]:
    """Bytes resident summed over `root` and its descendants, and per command name."""
    kids = _children()
    total, by_name, stack = 0, {}, [root]
    while stack:
        pid = stack.pop()
        stack.extend(kids.get(pid, []))
        try:
            pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
            name = Path(f"/proc/{pid}/comm").read_text().strip()
        except (OSError, IndexError, ValueError):
            continue
        total += pages * PAGE
        by_name[name] = by_name.get(name, 0) + pages * PAGE
    return total, by_name


def _children_cpu() -> float:
    import resource

    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return c.ru_utime + c.ru_stime


def measure(command: list[str], interval: float = 0.2, **popen) -> dict:
    """Run command (Popen keyword arguments: env, cwd, stdout, ...) to its end; its wall time,
    CPU time (the command and every descendant it waited for) and sampled peak resident memory
    summed over its process tree."""
    start, cpu = time.perf_counter(), _children_cpu()
    proc = subprocess.Popen(command, **popen)
    peak, peak_by_name, peak_at = 0, {}, 0.0
    while proc.poll() is None:
        total, by_name = tree_rss(proc.pid)
        if total > peak:
            peak, peak_by_name, peak_at = total, by_name, time.perf_counter() - start
        time.sleep(interval)
    return {
        "command": command,
        "returncode": proc.returncode,
        "seconds": round(time.perf_counter() - start, 1),
        "cpu_seconds": round(_children_cpu() - cpu, 1),
        "peak_rss_gib": round(peak / 2**30, 3),
        "peak_at_seconds": round(peak_at, 1),
        "peak_by_process_gib": {k: round(v / 2**30, 3) for k, v in sorted(peak_by_name.items())},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--json", type=Path)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    result = measure(command, args.interval)
    print(json.dumps(result, indent=2), file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return result["returncode"]


if __name__ == "__main__":
    sys.exit(main())
