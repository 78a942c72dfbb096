"""Regression tests of the publish, export and `returnlens run` defects (issue 11: 12 and 16;
issue 12: 11).

Expectations come from the rows and files the tests write themselves, read back with Python's
csv/json modules and plain DuckDB, never from the code under test.
"""

from __future__ import annotations

import csv
import json
import os
import re
import threading
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from returnlens.cli import main as cli
from returnlens.exports import ALERT_COLUMNS, REVIEW_QUEUE_COLUMNS, ExportError, write_exports
from returnlens.publish import publish

pytestmark = pytest.mark.integration

# ------------------------------------------------------------------------------ exports (12)

# supplier ids that break naive file names: a separator, its look-alike, case, traversal,
# a reserved Windows name, quotes and commas, non-ASCII, 300 characters, no supplier at all
HOSTILE_SUPPLIERS = (
    "SUP/003",
    "SUP_003",
    "sup_003",
    "../../etc/passwd",
    "CON",
    'a,b "c"\nd',
    "Leverancier Zoë & Co",
    "X" * 300,
    None,
)

ALERT_TYPES = {
    "rate": "double",
    "rate_lower_95": "double",
    "rate_upper_95": "double",
    "baseline_rate": "double",
    "lift": "double",
    "successes": "bigint",
    "trials": "bigint",
    "since_week_start_date": "date",
}


def _alert_rows() -> list[dict]:
    """Two alerts per hostile supplier (the first one three), every value distinct."""
    rows = []
    for i, supplier in enumerate(HOSTILE_SUPPLIERS):
        for j in range(3 if i == 0 else 2):
            n = 10 * i + j
            row = {c: f"{c}-{n}" for c in ALERT_COLUMNS}
            row.update(
                alert_id=f"product:P{n:03d}:high_rate",
                supplier_id=supplier,
                rate=0.125 + n / 1000,
                rate_lower_95=0.0625 + n / 1000,
                rate_upper_95=0.25 + n / 1000,
                baseline_rate=0.05,
                lift=2.5 + n,
                successes=n + 3,
                trials=100 + n,
                since_week_start_date=date(2025, 1, 6 + j * 7),
                severity="high" if j == 0 else "medium",
            )
            rows.append(row)
    return rows


def _serving_with_alerts(path: Path, rows: list[dict]) -> None:
    cols = ", ".join(f'"{c}" {ALERT_TYPES.get(c, "varchar")}' for c in ALERT_COLUMNS)
    queue_cols = ", ".join(
        f'"{c}" {"bigint" if c in ("priority", "days_open") else "varchar"}'
        for c in REVIEW_QUEUE_COLUMNS
    )
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute(f"create table marts.sig_quality_alerts ({cols})")
        con.executemany(
            f"insert into marts.sig_quality_alerts values ({', '.join('?' * len(ALERT_COLUMNS))})",
            [[r[c] for c in ALERT_COLUMNS] for r in rows],
        )
        con.execute(f"create table marts.sig_review_queue ({queue_cols})")


def _as_csv_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _as_json_value(value):
    return value.isoformat() if isinstance(value, date) else value


def test_defect12_every_supplier_gets_its_own_bounded_file_and_an_index(tmp_path):
    rows = _alert_rows()
    serving = tmp_path / "serving.duckdb"
    _serving_with_alerts(serving, rows)
    alerts_dir = tmp_path / "exports" / "quality_alerts"
    alerts_dir.mkdir(parents=True)
    (alerts_dir / "SUP_OLD.csv").write_text("stale file of a supplier without alerts now\n")

    result = write_exports(serving, tmp_path / "exports")

    with open(alerts_dir / "index.csv", newline="", encoding="utf-8") as fh:
        index = list(csv.DictReader(fh))
    expected_ids = {"" if s is None else s for s in HOSTILE_SUPPLIERS}
    assert sorted(r["supplier_id"] for r in index) == sorted(expected_ids)
    assert next(r for r in index if r["supplier_id"] == "")["has_supplier"] == "false"
    assert {r["has_supplier"] for r in index if r["supplier_id"] != ""} == {"true"}
    names = [r[k] for r in index for k in ("csv_file", "json_file")]
    # unique (also on case-insensitive file systems), safe and bounded
    assert len({n.lower() for n in names}) == len(names) == 2 * len(HOSTILE_SUPPLIERS)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+\.(csv|json)", n) for n in names), names
    assert max(len(n) for n in names) <= 80
    # the folder holds exactly the indexed files (the stale one is gone)
    assert sorted(p.name for p in alerts_dir.iterdir()) == sorted([*names, "index.csv"])

    for entry in index:
        supplier = entry["supplier_id"] if entry["has_supplier"] == "true" else None
        expected = [r for r in rows if r["supplier_id"] == supplier]
        assert int(entry["alerts"]) == len(expected)
        with open(alerts_dir / entry["csv_file"], newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            assert tuple(next(reader)) == ALERT_COLUMNS
            got = sorted(reader)
        assert got == sorted([_as_csv_text(r[c]) for c in ALERT_COLUMNS] for r in expected)
        doc = json.loads((alerts_dir / entry["json_file"]).read_text(encoding="utf-8"))
        assert doc["recipient"] == supplier
        assert sorted(doc["alerts"], key=lambda a: a["alert_id"]) == sorted(
            ({c: _as_json_value(r[c]) for c in ALERT_COLUMNS} for r in expected),
            key=lambda a: a["alert_id"],
        )
    assert sum(result.alert_files.values()) == len(rows)
    assert result.removed_files == ["SUP_OLD.csv"]


def test_defect12_a_failed_export_names_the_path_and_the_fix(tmp_path):
    serving = tmp_path / "serving.duckdb"
    _serving_with_alerts(serving, _alert_rows())
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "quality_alerts").write_text("a file where the alert folder belongs\n")
    with pytest.raises(ExportError) as caught:
        write_exports(serving, exports)
    message = str(caught.value)
    assert str(exports / "quality_alerts") in message
    assert "returnlens export" in message  # the fix: rewrite the exports once repaired
    assert "SUP" not in message  # names the path, quotes no data


# ------------------------------------------------------------------------------ parquet (16)


# the hand-made marts below stand for the project's public models
TEST_MARTS = ("mart_a", "mart_b")


def _warehouse(path: Path, publish_no: int) -> None:
    """Marts whose row counts and values change with every publish."""
    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists marts")
        con.execute(
            "create or replace table marts.mart_a as "
            f"select {publish_no} as publish_no, range as id from range({publish_no + 1})"
        )
        con.execute(
            "create or replace table marts.mart_b as "
            f"select {publish_no} as publish_no, range as id from range({2 * publish_no + 3})"
        )


def _read_snapshot(root: Path) -> tuple[str, set[int]]:
    """The documented way (docs/bi.md): read manifest.json once, then only its folder."""
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    folder = root / manifest["folder"]
    publish_id = manifest["publish_id"]
    numbers: set[int] = set()
    with duckdb.connect() as con:
        log = con.execute(
            "select publish_id, tables from read_parquet(?)", [str(folder / "publish_log.parquet")]
        ).fetchall()
        assert [r[0] for r in log] == [publish_id], "publish_log of another publish"
        counts = json.loads(log[0][1])
        for name, entry in manifest["tables"].items():
            path = str(folder / entry["file"])
            embedded = con.execute(
                "select value::varchar from parquet_kv_metadata(?) "
                "where key::varchar = 'publish_id'",
                [path],
            ).fetchall()
            assert embedded == [(publish_id,)], f"{name} of another publish"
            if name.startswith("mart_"):
                rows = con.execute(
                    "select count(*), list(distinct publish_no) from read_parquet(?)", [path]
                ).fetchall()[0]
                assert rows[0] == counts[name] == entry["rows"], name
                numbers |= set(rows[1])
    return publish_id, numbers


def test_defect16_parquet_readers_never_mix_two_publishes(tmp_path, monkeypatch):
    monkeypatch.setenv("RETURNLENS_LANDING_DIR", str(tmp_path / "landing"))
    warehouse = tmp_path / "warehouse.duckdb"
    serving = tmp_path / "serving.duckdb"
    root = tmp_path / "serving_parquet"
    # an export folder of the earlier layout (files straight in the folder) is migrated
    root.mkdir()
    (root / "mart_a.parquet").write_bytes(b"old layout")
    _warehouse(warehouse, 0)
    publish(warehouse, serving, parquet=True, models=TEST_MARTS)

    stop = threading.Event()
    seen: list[tuple[str, set[int]]] = []
    errors: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                seen.append(_read_snapshot(root))
            except Exception as exc:  # any error is a failure of the publish design
                errors.append(f"{type(exc).__name__}: {exc}")

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for n in range(1, 7):
            _warehouse(warehouse, n)
            publish(warehouse, serving, parquet=True, models=TEST_MARTS)
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert errors == []
    assert len({pid for pid, _ in seen}) >= 2  # the reader really read across publishes
    assert all(len(numbers) == 1 for _, numbers in seen)  # one publish per snapshot
    assert not (root / "mart_a.parquet").exists()

    # the serving file and the Parquet export name the same publish
    with duckdb.connect(str(serving), read_only=True) as con:
        (serving_id,) = con.execute("select publish_id from marts.publish_log").fetchall()[0]
    publish_id, numbers = _read_snapshot(root)
    assert publish_id == serving_id and numbers == {6}
    assert os.path.realpath(root / "current") == os.path.realpath(
        root / json.loads((root / "manifest.json").read_text())["folder"]
    )
    # old versions go after the grace period, the newest ones stay
    monkeypatch.setenv("RETURNLENS_PARQUET_KEEP", "2")
    monkeypatch.setenv("RETURNLENS_PARQUET_GRACE_SECONDS", "0")
    _warehouse(warehouse, 7)
    publish(warehouse, serving, parquet=True, models=TEST_MARTS)
    versions = sorted(p.name for p in (root / "versions").iterdir())
    assert len(versions) == 2
    assert json.loads((root / "manifest.json").read_text())["folder"] == f"versions/{versions[-1]}"
    assert _read_snapshot(root)[1] == {7}


# ------------------------------------------------------------------------------ demo data (11)

CLI_ENV_VARS = (
    "RETURNLENS_DATA_DIR",
    "RETURNLENS_LANDING_DIR",
    "RETURNLENS_WAREHOUSE",
    "RETURNLENS_SERVING",
    "RETURNLENS_REPORTS_DIR",
    "RETURNLENS_EXPORTS_DIR",
    "DAGSTER_HOME",
)


def _cli_env(data: Path, **overrides: str) -> dict[str, str | None]:
    env: dict[str, str | None] = dict.fromkeys(CLI_ENV_VARS)
    env.update(RETURNLENS_DATA_DIR=str(data), DAGSTER_HOME=str(data / "dagster_home"))
    env.update(overrides)
    return env


def _all_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.mark.parametrize("case", ["missing", "empty", "mistyped_file"])
def test_defect11_a_configured_landing_without_data_is_an_error_never_the_demo(tmp_path, case):
    data = tmp_path / "data"
    data.mkdir()
    landing = tmp_path / "shop_exports"
    if case == "empty":
        landing.mkdir()
    if case == "mistyped_file":  # files, but none a landing contract knows
        (landing / "shop").mkdir(parents=True)
        (landing / "shop" / "bestellingen.txt").write_text("order_id\nO1\n")
    before = _all_files(landing)

    result = CliRunner().invoke(
        cli, ["run", "--scale", "0.01"], env=_cli_env(data, RETURNLENS_LANDING_DIR=str(landing))
    )

    assert result.exit_code == 2, result.output
    assert str(landing) in result.output
    assert "RETURNLENS_LANDING_DIR" in result.output
    assert "docs/contracts" in result.output  # what to do
    assert _all_files(landing) == before  # nothing generated into the user's folder
    assert landing.exists() == (case != "missing")
    assert _all_files(data) == []  # no demo anywhere, no warehouse, nothing published


def test_defect11_files_in_the_default_landing_are_never_replaced_by_the_demo(tmp_path):
    data = tmp_path / "data"
    (data / "landing" / "returns").mkdir(parents=True)
    (data / "landing" / "returns" / "returns.xlsx.csv.bak").write_text("rma_id\nR1\n")

    result = CliRunner().invoke(cli, ["run", "--scale", "0.01"], env=_cli_env(data))

    assert result.exit_code == 2, result.output
    assert str(data / "landing") in result.output
    assert _all_files(data) == [data / "landing" / "returns" / "returns.xlsx.csv.bak"]


def test_defect11_publish_log_says_whether_the_data_is_the_demo(tmp_path, monkeypatch):
    from returnlens.summary import kpi_summary_header

    warehouse = tmp_path / "warehouse.duckdb"
    _warehouse(warehouse, 1)
    flags = {}
    for label, marker in (("own", False), ("demo", True)):
        landing = tmp_path / label / "landing"
        (landing / "shop").mkdir(parents=True)
        if marker:  # what `returnlens generate` writes beside the landing files
            (landing / "ground_truth.json").write_text("{}")
        monkeypatch.setenv("RETURNLENS_LANDING_DIR", str(landing))
        serving = tmp_path / label / "serving.duckdb"
        publish(warehouse, serving, parquet=True, models=TEST_MARTS)
        with duckdb.connect(str(serving), read_only=True) as con:
            flags[label] = con.execute("select is_demo from marts.publish_log").fetchall()
        manifest = json.loads((tmp_path / label / "serving_parquet" / "manifest.json").read_text())
        assert manifest["is_demo"] is marker
        assert ("DEMO DATA" in kpi_summary_header(serving)) is marker
    assert flags == {"own": [(False,)], "demo": [(True,)]}


@pytest.fixture(scope="module")
def fresh_clone_run(tmp_path_factory):
    """`returnlens run` (what `make run` calls) on a fresh clone: nothing configured, no data.

    A file sits where the exports folder belongs, so the export step fails after the publish:
    the same run checks that the CLI reports the publish and the failed exports accurately.
    """
    data = tmp_path_factory.mktemp("fresh_clone") / "data"
    data.mkdir()
    (data / "exports").write_text("a file where the exports folder belongs\n")
    result = CliRunner().invoke(
        cli, ["run", "--seed", "11", "--scale", "0.1"], env=_cli_env(data), catch_exceptions=False
    )
    return data, result


@pytest.mark.slow
def test_defect11_make_run_on_a_fresh_clone_publishes_the_demo_labelled(fresh_clone_run):
    data, result = fresh_clone_run
    demo = data / "demo" / "landing"
    assert (demo / "ground_truth.json").is_file()
    assert not (data / "landing").exists()  # the user's landing folder is never written
    assert f"generating the DEMO shop into {demo}" in result.output
    assert "DEMO DATA" in result.output  # the summary says so
    with duckdb.connect(str(data / "serving.duckdb"), read_only=True) as con:
        assert con.execute("select is_demo from marts.publish_log").fetchall() == [(True,)]
        # the published marts hold the demo shop's orders
        orders = con.execute("select count(distinct order_id) from marts.fct_order_lines")
        published_orders = orders.fetchall()[0][0]
    with duckdb.connect() as con:
        landing_orders = con.execute(
            "select count(distinct order_id) from read_csv(?, header = true)",
            [str(demo / "shop" / "orders_*.csv")],
        ).fetchall()[0][0]
    assert published_orders == landing_orders > 0


@pytest.mark.slow
def test_defect12_the_cli_reports_the_publish_when_the_exports_fail(fresh_clone_run):
    data, result = fresh_clone_run
    out = result.output
    assert result.exit_code == 1
    assert "Nothing was published" not in out
    assert "published: yes" in out
    with duckdb.connect(str(data / "serving.duckdb"), read_only=True) as con:
        (publish_id,) = con.execute("select publish_id from marts.publish_log").fetchall()[0]
    assert publish_id in out
    assert "exports: FAILED" in out
    assert str(data / "exports") in out  # the path
    assert "returnlens export" in out  # the fix


def test_defect16_a_failing_parquet_switch_leaves_the_serving_file_as_it_was(tmp_path, monkeypatch):
    """Found in review: the serving file was swapped before the Parquet export; when switching
    the export then failed (a full disk, a bad RETURNLENS_PARQUET_KEEP), the run said nothing
    was published although serving had changed, and serving and Parquet named different
    publishes. The export is switched first; a failure leaves both as they were."""
    monkeypatch.setenv("RETURNLENS_LANDING_DIR", str(tmp_path / "landing"))
    warehouse = tmp_path / "warehouse.duckdb"
    serving = tmp_path / "serving.duckdb"
    root = tmp_path / "serving_parquet"
    _warehouse(warehouse, 1)
    publish(warehouse, serving, parquet=True, models=TEST_MARTS)
    before = serving.read_bytes()
    _warehouse(warehouse, 2)
    # the manifest cannot be replaced: a folder is in its way
    manifest = root / "manifest.json"
    manifest.unlink()
    manifest.mkdir()
    (manifest / "keep").write_text("x")
    with pytest.raises(OSError):
        publish(warehouse, serving, parquet=True, models=TEST_MARTS)
    assert serving.read_bytes() == before
    # a bad keep setting does not undo a publish that happened: cleaning up is not publishing
    (manifest / "keep").unlink()
    manifest.rmdir()
    monkeypatch.setenv("RETURNLENS_PARQUET_KEEP", "three")
    result = publish(warehouse, serving, parquet=True, models=TEST_MARTS)
    with duckdb.connect(str(serving), read_only=True) as con:
        (served,) = con.execute("select publish_id from marts.publish_log").fetchall()[0]
    assert served == result.publish_id
    assert json.loads((root / "manifest.json").read_text())["publish_id"] == served


def test_defect12_when_one_supplier_export_fails_the_index_matches_the_files_written(tmp_path):
    """Found in review: after a failed supplier export the old index was kept, although the
    other suppliers' files had been rewritten (its alert counts were stale and new suppliers
    were missing). The index now lists exactly the files this export wrote, with their counts."""
    from returnlens.exports import file_stem

    rows = _alert_rows()
    serving = tmp_path / "serving.duckdb"
    _serving_with_alerts(serving, rows)
    alerts_dir = tmp_path / "exports" / "quality_alerts"
    alerts_dir.mkdir(parents=True)
    blocked = next(s for s in HOSTILE_SUPPLIERS if s is not None)
    (alerts_dir / f"{file_stem(blocked)}.csv").mkdir()  # this supplier's file cannot be written
    (alerts_dir / "index.csv").write_text("supplier_id\nan index of an earlier export\n")
    with pytest.raises(ExportError):
        write_exports(serving, tmp_path / "exports")
    with open(alerts_dir / "index.csv", newline="", encoding="utf-8") as fh:
        index = list(csv.DictReader(fh))
    expected_ids = {"" if s is None else s for s in HOSTILE_SUPPLIERS} - {blocked}
    assert sorted(r["supplier_id"] for r in index) == sorted(expected_ids)
    for entry in index:
        supplier = entry["supplier_id"] if entry["has_supplier"] == "true" else None
        assert int(entry["alerts"]) == sum(r["supplier_id"] == supplier for r in rows)
        assert (alerts_dir / entry["csv_file"]).is_file()
