"""A landing file whose read runs out of DuckDB's memory is not the file's fault: the load fails
naming the memory setting and the file, records nothing against the file (no failed file, no
quarantine, no rows), and the same landing loads fully once the limit is lifted.

Each file is read with a buffer larger than the whole limit, so the read itself runs out of
memory every time (not some later step, not by chance): DuckDB's JSON reader allocates twice
`maximum_object_size` (2 x 16 MiB) whatever the file's size; its CSV reader a buffer of the file's
size. Rows are counted from the files with Python, not taken from the loader.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from returnlens.ingest.loader import load_all
from returnlens.ingest.privacy import scrub_landing
from returnlens.ingest.raw_tables import ensure_raw_schema
from returnlens.warehouse import MemoryBudgetExceeded, connect

pytestmark = pytest.mark.unit

LIMIT = "RETURNLENS_DUCKDB_MEMORY_LIMIT"


@pytest.fixture
def default_budget(monkeypatch, tmp_path):
    """A data folder of the test's own (not made: every connection makes its spill folder) and
    the default memory settings, whatever the calling shell set."""
    monkeypatch.setenv("RETURNLENS_DATA_DIR", str(tmp_path / "data"))
    for var in ("RETURNLENS_MEMORY_BUDGET", "RETURNLENS_DUCKDB_THREADS", "RETURNLENS_SPILL_DIR"):
        monkeypatch.delenv(var, raising=False)


def load_out_of_memory(warehouse: Path, landing: Path, limit: str, monkeypatch) -> str:
    """Load `landing` with DuckDB limited to `limit`: the load must fail for the budget, and its
    message name the setting. Returns the message; the limit is left set."""
    monkeypatch.setenv(LIMIT, limit)
    with connect(warehouse) as con, pytest.raises(MemoryBudgetExceeded) as err:
        load_all(con, landing)
    message = str(err.value)
    assert f"{LIMIT}={limit} limits each DuckDB database" in message
    return message


def _web_events(landing: Path) -> tuple[Path, list[str]]:
    """200 valid events as JSON lines (a few KiB: far below the reader's 32 MiB buffer)."""
    path = landing / "web" / "events_2025-11.jsonl"
    path.parent.mkdir(parents=True)
    ids = [f"E{i:010d}" for i in range(1, 201)]
    with path.open("w") as fh:
        for i, event_id in enumerate(ids):
            event = {
                "event_id": event_id,
                "session_id": f"S{i // 4:09d}",
                "customer_id": f"C{i % 50:07d}",
                "event_type": "product_view",
                "event_at": f"2025-11-{i % 28 + 1:02d} 12:{i % 60:02d}:00",
                "sku": f"GA{i % 300:05d}-OS-PNK",
                "device": "desktop",
                "traffic_source": "direct",
            }
            fh.write(json.dumps(event) + "\n")
    return path, ids


def _batches(landing: Path) -> tuple[Path, list[str]]:
    """60,000 production batches as CSV (~2.4 MiB: the reader's buffer exceeds a 2 MiB limit)."""
    path = landing / "purchasing" / "batches.csv"
    path.parent.mkdir(parents=True)
    ids = [f"AP{i:07d}-B01" for i in range(60_000)]
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["batch_id", "product_id", "supplier_id", "received_date", "units_received"])
        for i, batch_id in enumerate(ids):
            out.writerow(
                [batch_id, f"AP{i % 977:05d}", f"SUP{i % 25:03d}", f"2025-{i % 12 + 1:02d}-01", 7]
            )
    return path, ids


def _declared_batches(landing: Path) -> tuple[Path, list[str]]:
    """The same CSV file, its dialect declared in the shop profile: no dialect sample is read
    first, so the read that runs out of memory is the load's own."""
    landing.mkdir()
    (landing / "returnlens.yml").write_text(
        "version: 1\ndeliveries:\n  production_batches:\n"
        '    - pattern: "batches*.csv"\n      format: csv\n      delimiter: ","\n'
    )
    return _batches(landing)


def _rows_in(path: Path) -> int:
    """Rows of a landing file, counted without DuckDB (JSON lines: lines; CSV: records)."""
    if path.suffix == ".jsonl":
        return sum(1 for line in path.read_text().splitlines() if line.strip())
    with path.open(newline="") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


@pytest.mark.parametrize(
    ("write", "table", "limit"),
    [
        pytest.param(_web_events, "raw.web_events", "24MiB", id="jsonl"),
        pytest.param(_batches, "raw.production_batches", "2MiB", id="csv"),
        pytest.param(_declared_batches, "raw.production_batches", "2MiB", id="declared-csv"),
    ],
)
def test_a_read_out_of_memory_fails_the_load_and_blames_no_file(
    write: Callable[[Path], tuple[Path, list[str]]],
    table: str,
    limit: str,
    default_budget,
    monkeypatch,
    tmp_path,
):
    landing = tmp_path / "landing"
    path, ids = write(landing)
    name = path.relative_to(landing).as_posix()
    warehouse = tmp_path / "w.duckdb"

    message = load_out_of_memory(warehouse, landing, limit, monkeypatch)
    assert name in message and "ran out of memory" in message
    assert "Out of Memory Error" in message  # DuckDB's own line, which quotes no data
    assert not [i for i in ids if i in message]  # nor anything else of the file's rows
    assert "deliver it again" not in message and "Export it again" not in message

    monkeypatch.delenv(LIMIT)  # the default budget
    with connect(warehouse) as con:
        statuses = con.execute(
            "select status from raw.load_audit where source_file = ?", [name]
        ).fetchall()
        assert ("failed",) not in statuses  # at most `error`: crashed, retried next run
        assert con.execute("select count(*) from raw.quarantine_files").fetchall() == [(0,)]
        assert con.execute("select count(*) from raw.quarantine_rows").fetchall() == [(0,)]
        assert con.execute(f"select count(*) from {table}").fetchall() == [(0,)]

        results = load_all(con, landing)
        (loaded,) = [f for e in results for f in e.files if f.source_file == name]
        rows = _rows_in(path)
        assert (loaded.status, loaded.rows_in, loaded.rows_loaded) == ("loaded", rows, rows)
        assert con.execute(f"select count(*) from {table}").fetchall() == [(rows,)]
        assert con.execute("select count(*) from raw.quarantine_rows").fetchall() == [(0,)]


def test_a_landing_scrub_out_of_memory_fails_instead_of_skipping_the_file(monkeypatch, tmp_path):
    """Forgetting a customer rewrites the landing CSV files holding them; a file whose read ran
    out of memory was skipped as "never loaded" and reported neither scrubbed nor not scrubbed,
    so the customer's data stayed in it unsaid."""
    monkeypatch.setenv("RETURNLENS_DATA_DIR", str(tmp_path / "data"))
    for var in ("RETURNLENS_MEMORY_BUDGET", "RETURNLENS_DUCKDB_THREADS", LIMIT):
        monkeypatch.delenv(var, raising=False)
    path = tmp_path / "landing" / "shop" / "customers.csv"
    path.parent.mkdir(parents=True)
    header = "customer_id,first_name,last_name,email,phone,street,postal_code,city,country_code"
    lines = [
        f"C{i:07d},Ann{i},Berg,ann.{i}@mail.example.nl,+31 6 {i:08d},Dorpsstraat {i},"
        f"1234 AB,Utrecht,NL"
        for i in range(1, 40_001)
    ]  # ~3.5 MiB: the CSV reader's buffer exceeds a 2 MiB limit
    path.write_text("\n".join([header, *lines]) + "\n")
    before = path.read_bytes()
    with connect(tmp_path / "w.duckdb") as con:
        ensure_raw_schema(con)
        monkeypatch.setenv(LIMIT, "2MiB")  # the scrub's own DuckDB database gets it
        with pytest.raises(MemoryBudgetExceeded) as err:
            scrub_landing(con, "C0000007", "ab" * 32, tmp_path / "landing")
        message = str(err.value)
        assert f"{LIMIT}=2MiB limits each DuckDB database" in message
        assert "shop/customers.csv" in message and "ann.7@" not in message
        assert path.read_bytes() == before

        monkeypatch.delenv(LIMIT)
        assert scrub_landing(con, "C0000007", "ab" * 32, tmp_path / "landing") == ([str(path)], [])
    with path.open(newline="") as fh:
        rows = {r["customer_id"]: r for r in csv.DictReader(fh)}
    assert len(rows) == len(lines)
    assert rows["C0000007"]["email"] != "ann.7@mail.example.nl"
    assert rows["C0000008"]["email"] == "ann.8@mail.example.nl"


def test_a_platform_file_out_of_memory_fails_the_load_and_blames_no_file(
    default_budget, monkeypatch, tmp_path
):
    """A platform adapter's read (bol.com JSON through `read_text` and the JSON functions) that
    runs out of memory: its own catch takes only unreadable files, so the load fails naming the
    setting and the page, and the page loads whole once the limit is lifted (items counted with `json`)."""
    # the data folder is not made here: every connection makes its spill folder (before, a
    # spill into a folder whose parent did not exist failed the page as unreadable)
    landing = tmp_path / "landing"
    shutil.copytree(Path(__file__).parents[1] / "data" / "platforms" / "bol", landing)
    (path,) = (landing / "bol").glob("*.json")
    name = path.relative_to(landing).as_posix()
    items = sum(len(r["returnItems"]) for r in json.loads(path.read_text())["returns"])
    warehouse = tmp_path / "w.duckdb"

    # staging this page needs over 20 MiB
    message = load_out_of_memory(warehouse, landing, "4MiB", monkeypatch)
    assert f"(reading {name})" in message  # the file being staged

    monkeypatch.delenv(LIMIT)
    with connect(warehouse) as con:
        statuses = con.execute(
            "select status from raw.load_audit where source_file = ?", [name]
        ).fetchall()
        assert ("failed",) not in statuses
        assert con.execute("select count(*) from raw.quarantine_files").fetchall() == [(0,)]
        assert con.execute("select count(*) from raw.quarantine_rows").fetchall() == [(0,)]
        assert con.execute("select count(*) from raw.returns").fetchall() == [(0,)]
        results = load_all(con, landing)
        (page,) = [f for e in results for f in e.files if f.source_file == name]
        assert (page.status, page.rows_in) == ("loaded", items)
        assert page.rows_loaded + page.rows_quarantined == items
        assert con.execute("select count(*) from raw.returns").fetchall() == [(page.rows_loaded,)]


@pytest.mark.parametrize(
    ("platform", "limit"),
    [
        pytest.param("sendcloud", "4MiB", id="sendcloud"),
        pytest.param("woocommerce", "4MiB", id="woocommerce"),
        pytest.param("shopify", "4MiB", id="shopify-connector-tables"),
        pytest.param("shopify_export", "2MiB", id="shopify-orders-export"),
    ],
)
def test_a_platform_file_out_of_memory_names_the_file_and_fails_none(
    platform: str, limit: str, default_budget, monkeypatch, tmp_path
):
    """Every platform's staging (one file at a time, the files a batch joins, Shopify's joined
    connector tables, Shopify's orders export) that runs out of memory fails the load naming
    the file being read and the setting; no file is failed or quarantined, and the same
    landing loads whole once the limit is lifted."""
    monkeypatch.setenv("RETURNLENS_PII_SALT", "a-salt-of-the-memory-tests-0123456789")
    landing = tmp_path / "landing"
    shutil.copytree(Path(__file__).parents[1] / "data" / "platforms" / platform, landing)
    names = sorted(p.relative_to(landing).as_posix() for p in landing.rglob("*") if p.is_file())
    warehouse = tmp_path / "w.duckdb"

    message = load_out_of_memory(warehouse, landing, limit, monkeypatch)
    assert [n for n in names if f"reading {n}" in message], message

    monkeypatch.delenv(LIMIT)
    with connect(warehouse) as con:
        failed = con.execute("select source_file from raw.load_audit where status = 'failed'")
        assert failed.fetchall() == []
        assert con.execute("select count(*) from raw.quarantine_files").fetchall() == [(0,)]
        results = load_all(con, landing)
    # every file loaded (Shopify's lookup tables are joined, not loaded as files of their own)
    statuses = {f.source_file: f.status for e in results for f in e.files}
    assert statuses and set(statuses) <= set(names)
    assert set(statuses.values()) == {"loaded"}
