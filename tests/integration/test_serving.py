"""BI readers and a publish at the same time: the reader never errors and never sees a
half-published serving database."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import duckdb
import pytest

pytestmark = pytest.mark.integration

READER = textwrap.dedent(
    """
    import json, sys, time
    import duckdb

    serving, stop_file, out, mode = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    # "held": a BI tool keeping one connection open; "short": one connection per query, as the
    # dashboard does. They run in separate processes: DuckDB caches a database per path within
    # a process, so a held connection would pin the old file for the short ones too.
    held = duckdb.connect(serving, read_only=True) if mode == "held" else None

    def consistent(con):
        published_at, tables = con.execute(
            "select published_at, tables from marts.publish_log"
        ).fetchall()[0]
        for name, rows in json.loads(tables).items():
            actual = con.execute(f'select count(*) from marts."{name}"').fetchall()[0][0]
            if actual != rows:
                raise AssertionError(f"{name}: {actual} rows, publish_log says {rows}")
        return str(published_at)

    seen, errors, queries = set(), [], 0
    import os
    while not os.path.exists(stop_file):
        try:
            if held is not None:
                seen.add(("held", consistent(held)))
            else:
                with duckdb.connect(serving, read_only=True) as con:
                    seen.add(("short", consistent(con)))
            queries += 1
        except Exception as exc:  # any error is a failure of the publish design
            errors.append(f"{mode}: {type(exc).__name__}: {exc}")
        with open(out + ".progress", "w") as fh:  # what this reader has seen so far
            json.dump(sorted(seen), fh)
        time.sleep(0.02)
    if held is not None:
        held.close()
    json.dump({"seen": sorted(seen), "errors": errors, "queries": queries}, open(out, "w"))
    """
)


def test_a_reader_during_a_publish_never_errors(pipeline_run, tmp_path):
    """The publish is the one step of a run that writes the serving file (the dbt build and the
    gates work on the warehouse): it runs here on the session run's gated warehouse while two
    readers query the serving file."""
    from returnlens.publish import publish

    with duckdb.connect(str(pipeline_run.serving), read_only=True) as con:
        before = str(con.execute("select published_at from marts.publish_log").fetchall()[0][0])
    script = tmp_path / "reader.py"
    script.write_text(READER)
    stop = tmp_path / "stop"
    readers = {
        mode: subprocess.Popen(
            [
                sys.executable,
                str(script),
                str(pipeline_run.serving),
                str(stop),
                str(tmp_path / f"{mode}.json"),
                mode,
            ]
        )
        for mode in ("held", "short")
    }
    try:
        time.sleep(1.0)
        result = publish(
            pipeline_run.warehouse, pipeline_run.serving, run_id=pipeline_run.result.run_id
        )
        with duckdb.connect(str(pipeline_run.serving), read_only=True) as con:
            after = str(con.execute("select published_at from marts.publish_log").fetchall()[0][0])
        # let the short-connection reader reach the new publish (bounded wait, not a fixed sleep)
        progress = tmp_path / "short.json.progress"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if progress.exists() and after in progress.read_text():
                break
            time.sleep(0.1)
    finally:
        stop.touch()
        for reader in readers.values():
            reader.wait(timeout=60)
    assert result.tables and all(result.gates.values())
    reports = [json.loads((tmp_path / f"{mode}.json").read_text()) for mode in readers]
    assert [r["errors"] for r in reports] == [[], []]
    assert all(r["queries"] > 20 for r in reports)
    seen = {tuple(s) for r in reports for s in r["seen"]}
    assert ("held", before) in seen  # the held connection kept reading the old file
    short = {published for kind, published in seen if kind == "short"}
    assert after != before
    assert short == {before, after}  # short connections moved to the new publish
