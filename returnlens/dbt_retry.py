"""One more try, in a fresh dbt process, for a dbt build that ran out of DuckDB memory.

A fresh dbt process starts with a fresh DuckDB database, so the step builds what did not finish
once more there before it gives up: every node but those that finished (models, seeds, passed
tests), nothing twice. It helps where memory was short for the moment (two models side by side,
a transient state of the database). It does not help with the 10M out-of-memory in
`sig_purchase_journeys` seen in 2026-11: that depends on the tables the build wrote and fails
alone in a fresh process too (docs/operations.md, "Memory"). A build that also failed for
another reason (a failing test, an SQL error) is not retried: the retry could not change that.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from returnlens.warehouse import out_of_memory_results

# statuses of nodes a retry leaves alone: built, or tested and passed (a warning passes)
FINISHED = ("success", "pass", "warn", "no-op")


def _results(run_results: Path) -> list[dict]:
    return json.loads(Path(run_results).read_text(encoding="utf-8"))["results"]


def node_selector(unique_id: str) -> str:
    """The name dbt selects a node by: `model.returnlens.fct_returns` → `fct_returns`, a test's
    `test.returnlens.not_null_x_y.1a2b3c` → `not_null_x_y`."""
    return unique_id.split(".")[2]


@dataclass(frozen=True)
class Retry:
    """What a retry builds again: all but `finished` (node names), after `out_of_memory`."""

    out_of_memory: list[str]  # names of the nodes that ran out of memory
    finished: list[str]  # names of the nodes that finished, for `dbt build --exclude`
    unfinished: int  # nodes the retry builds or tests: those out of memory and those skipped


def retry_after_out_of_memory(run_results: Path) -> Retry | None:
    """After a failed build: what to build again, when at least one node ran out of DuckDB
    memory and every other unfinished node was skipped because of it; None when the build is
    not one to retry (no run results, no node out of memory, or a test failed or a node errored
    for another reason)."""
    if not Path(run_results).exists():
        return None
    results = _results(run_results)
    out_of_memory = out_of_memory_results(results)
    other = [
        r
        for r in results
        if r["status"] == "fail" or (r["status"] == "error" and r not in out_of_memory)
    ]
    if not out_of_memory or other:
        return None
    finished = [r for r in results if r["status"] in FINISHED]
    return Retry(
        out_of_memory=[node_selector(r["unique_id"]) for r in out_of_memory],
        finished=sorted({node_selector(r["unique_id"]) for r in finished}),
        unfinished=len(results) - len(finished),
    )


def merge_run_results(first: Path, retry: Path) -> Path:
    """dbt's run_results of the first build with each node the retry ran replaced by the
    retry's result, written beside the retry's as `run_results.merged.json` (its manifest.json
    is beside it, as `returnlens.dbt_runner.failed_checks` expects); the path written."""
    retried = json.loads(Path(retry).read_text(encoding="utf-8"))
    by_id = {r["unique_id"]: r for r in _results(first)}
    by_id.update({r["unique_id"]: r for r in retried["results"]})
    merged = Path(retry).with_name("run_results.merged.json")
    merged.write_text(json.dumps({**retried, "results": list(by_id.values())}), encoding="utf-8")
    return merged
