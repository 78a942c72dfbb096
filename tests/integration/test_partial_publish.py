"""A partial publish (issue 16, `returns_alerts`): the refreshed marts come from the warehouse, the
others stay as the serving file and the Parquet export held them. Real DuckDB files and the real
publish; hand-made marts whose every row says which build it comes from."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from returnlens.publish import publish

pytestmark = pytest.mark.integration

MARTS = ("mart_a", "mart_b")


def _build(warehouse: Path, build_no: int) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema if not exists marts")
        for i, name in enumerate(MARTS):
            con.execute(
                f"create or replace table marts.{name} as "
                f"select {build_no} as build_no, range as id from range({build_no + i + 2})"
            )


def _served(serving: Path) -> dict:
    with duckdb.connect(str(serving), read_only=True) as con:
        marts = {
            name: con.execute(f"select distinct build_no from marts.{name}").fetchall()
            for name in MARTS
        }
        published_at, tables, refreshed = con.execute(
            "select published_at, tables, refreshed_at from marts.publish_log"
        ).fetchone()
    return {
        "marts": marts,
        "published_at": published_at.isoformat(),
        "tables": json.loads(tables),
        "refreshed_at": json.loads(refreshed),
    }


def test_a_partial_publish_keeps_the_other_marts_as_published(tmp_path, monkeypatch):
    monkeypatch.setenv("RETURNLENS_LANDING_DIR", str(tmp_path / "landing"))
    warehouse, serving = tmp_path / "warehouse.duckdb", tmp_path / "serving.duckdb"
    root = tmp_path / "serving_parquet"
    _build(warehouse, 1)
    first = publish(warehouse, serving, parquet=True, models=MARTS)
    _build(warehouse, 2)  # both marts rebuilt, only mart_a refreshed
    second = publish(warehouse, serving, parquet=True, models=MARTS, refresh=["mart_a"])

    served = _served(serving)
    assert served["marts"] == {"mart_a": [(2,)], "mart_b": [(1,)]}
    assert served["tables"] == {"mart_a": 4, "mart_b": 4}  # rows of build 2 and of build 1
    assert served["refreshed_at"] == {
        "mart_a": second.published_at.isoformat(),
        "mart_b": first.published_at.isoformat(),
    }
    assert second.refreshed == ["mart_a"]

    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["publish_id"] == second.publish_id
    folder = root / manifest["folder"]
    old_folder = root / "versions" / first.publish_id
    tables = manifest["tables"]
    assert (tables["mart_a"]["publish_id"], tables["mart_b"]["publish_id"]) == (
        second.publish_id,
        first.publish_id,
    )
    # mart_b is the first version's file itself; mart_a was written again
    assert (folder / "mart_b.parquet").samefile(old_folder / "mart_b.parquet")
    assert not (folder / "mart_a.parquet").samefile(old_folder / "mart_a.parquet")
    with duckdb.connect() as con:
        for name, build_no in (("mart_a", 2), ("mart_b", 1)):
            assert con.execute(
                "select distinct build_no from read_parquet(?)", [str(folder / f"{name}.parquet")]
            ).fetchall() == [(build_no,)]

    # a full publish afterwards refreshes both
    third = publish(warehouse, serving, parquet=True, models=MARTS)
    served = _served(serving)
    assert served["marts"] == {"mart_a": [(2,)], "mart_b": [(2,)]}
    assert set(served["refreshed_at"].values()) == {third.published_at.isoformat()}


def test_a_partial_publish_needs_every_other_mart_published(tmp_path, monkeypatch):
    monkeypatch.setenv("RETURNLENS_LANDING_DIR", str(tmp_path / "landing"))
    warehouse, serving = tmp_path / "warehouse.duckdb", tmp_path / "serving.duckdb"
    _build(warehouse, 1)
    with pytest.raises(RuntimeError, match=r"no serving database yet.*main job"):
        publish(warehouse, serving, parquet=False, models=MARTS, refresh=["mart_a"])
    assert not serving.exists()
    publish(warehouse, serving, parquet=False, models=["mart_a"])  # mart_b never published
    before = serving.stat().st_mtime_ns
    with pytest.raises(RuntimeError, match=r"mart_b not published yet.*main job"):
        publish(warehouse, serving, parquet=False, models=MARTS, refresh=["mart_a"])
    assert serving.stat().st_mtime_ns == before


def _gate(warehouse: Path, run_id: str, suite: str, passed: bool, minute: int) -> None:
    """A gate outcome as the gates record it (quality.gate_runs), at 2026-01-01 00:<minute>."""
    from returnlens.quality.history import ensure_history

    with duckdb.connect(str(warehouse)) as con:
        ensure_history(con)
        con.execute(
            "insert into quality.gate_runs (run_id, suite, passed, evaluated_at) "
            "values (?, ?, ?, make_timestamp(2026, 1, 1, 0, ?, 0))",
            [run_id, suite, passed, minute],
        )


def test_a_partial_publish_is_refused_while_a_gate_it_does_not_run_last_failed(
    tmp_path, monkeypatch
):
    """The alert job runs only its own models' gates: what it reads besides (raw orders, the
    dimensions) was last judged by the main run. When that judgement was a failure (main
    published nothing), the alerts built on it must not be published either."""
    from returnlens.publish import GateFailedError

    monkeypatch.setenv("RETURNLENS_LANDING_DIR", str(tmp_path / "landing"))
    warehouse, serving = tmp_path / "warehouse.duckdb", tmp_path / "serving.duckdb"
    _build(warehouse, 1)
    _gate(warehouse, "main-1", "raw_orders", True, 1)
    _gate(warehouse, "main-1", "mart_a", True, 1)
    publish(warehouse, serving, parquet=False, models=MARTS, run_id="main-1")
    _gate(warehouse, "main-2", "raw_orders", False, 2)  # main-2 blocked: nothing published
    _build(warehouse, 2)
    _gate(warehouse, "alerts-3", "mart_a", True, 3)
    before = serving.stat().st_mtime_ns
    with pytest.raises(GateFailedError, match=r"raw_orders.*main job"):
        publish(
            warehouse, serving, parquet=False, models=MARTS, run_id="alerts-3", refresh=["mart_a"]
        )
    assert serving.stat().st_mtime_ns == before
    assert _served(serving)["marts"]["mart_a"] == [(1,)]
    # once a later run passes that gate again, the partial publish goes ahead
    _gate(warehouse, "main-4", "raw_orders", True, 4)
    _gate(warehouse, "alerts-5", "mart_a", True, 5)
    publish(warehouse, serving, parquet=False, models=MARTS, run_id="alerts-5", refresh=["mart_a"])
    assert _served(serving)["marts"]["mart_a"] == [(2,)]


def test_a_partial_publish_does_not_keep_a_parquet_file_older_than_serving(tmp_path, monkeypatch):
    """The Parquet export was switched off for a publish (RETURNLENS_PUBLISH_PARQUET=0) and on
    again: a mart the partial publish keeps must be written from serving, not linked from the
    older Parquet version."""
    monkeypatch.setenv("RETURNLENS_LANDING_DIR", str(tmp_path / "landing"))
    warehouse, serving = tmp_path / "warehouse.duckdb", tmp_path / "serving.duckdb"
    root = tmp_path / "serving_parquet"
    _build(warehouse, 1)
    publish(warehouse, serving, parquet=True, models=MARTS)
    _build(warehouse, 2)
    publish(warehouse, serving, parquet=False, models=MARTS)  # serving has build 2, Parquet 1
    _build(warehouse, 3)
    third = publish(warehouse, serving, parquet=True, models=MARTS, refresh=["mart_a"])
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    folder = root / manifest["folder"]
    with duckdb.connect() as con:
        served = {
            name: con.execute(
                "select distinct build_no from read_parquet(?)", [str(folder / f"{name}.parquet")]
            ).fetchall()
            for name in MARTS
        }
    assert served == {"mart_a": [(3,)], "mart_b": [(2,)]}  # as serving holds them
    assert manifest["tables"]["mart_b"]["publish_id"] == third.publish_id  # written by this one
    assert (
        manifest["tables"]["mart_b"]["published_at"] == _served(serving)["refreshed_at"]["mart_b"]
    )
