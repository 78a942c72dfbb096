"""Fixtures shared by the integration tests: a warehouse connection and an empty landing zone
for hand-made files, and a private data folder for a test's own pipeline run."""

from __future__ import annotations

import duckdb
import pytest

from returnlens.ingest import contracts

PIPELINE_ENV = (
    "RETURNLENS_DATA_DIR",
    "RETURNLENS_LANDING_DIR",
    "RETURNLENS_WAREHOUSE",
    "RETURNLENS_SERVING",
    "DAGSTER_HOME",
    "RETURNLENS_REPORTS_DIR",
)


@pytest.fixture()
def con(tmp_path):
    """A real DuckDB warehouse file in the test's temp folder."""
    c = duckdb.connect(str(tmp_path / "w.duckdb"))
    yield c
    c.close()


@pytest.fixture()
def landing(tmp_path):
    """An empty landing zone with one folder per source."""
    root = tmp_path / "landing"
    for src in contracts.SOURCES:
        (root / src).mkdir(parents=True)
    return root


@pytest.fixture()
def private_data_dir(tmp_path, monkeypatch):
    """Every Returnlens and Dagster path of this test under its own data folder."""
    data = tmp_path / "data"
    for k in PIPELINE_ENV:
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("RETURNLENS_DATA_DIR", str(data))
    monkeypatch.setenv("DAGSTER_HOME", str(data / "dagster_home"))
    return data


@pytest.fixture(scope="session")
def native_warehouse(tmp_path_factory, worker_id):
    """The native demo shop's pipeline run the layout comparisons share (layout_marts.py).

    Made once per test session: `make test`'s two processes share it through the parent of
    their temp folders, the first to ask runs it under a file lock, the other waits for it.
    The warehouse is only read afterwards (read-only connections, which processes may share).
    """
    import fcntl

    from tests.integration.layout_marts import run_pipeline

    root = tmp_path_factory.getbasetemp()
    shared = (root.parent if worker_id != "master" else root) / "layout_marts_native"
    shared.mkdir(exist_ok=True)
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = shared / "native" / "published"
        if not done.exists():
            run_pipeline("native", shared)
            done.write_text("the run published\n")
    return shared / "native" / "warehouse.duckdb"
