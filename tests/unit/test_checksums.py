"""`returnlens checksums` on small hand-made serving files (real DuckDB files, the real CLI)."""

from __future__ import annotations

import hashlib
import json

import duckdb
import pytest
from click.testing import CliRunner

from returnlens.checksums import ChecksumError, differences, mart_checksums
from returnlens.cli import main

pytestmark = pytest.mark.unit

# every kind of value a mart holds, a null beside the string 'NULL', doubles that differ only in
# their last bits, a decimal, dates and timestamps
ROWS = [
    (1, "apparel", 0.1, 12.50, "2026-01-05", "2026-01-05 10:00:00", True),
    (2, "NULL", 0.30000000000000004, -3.00, "2026-02-28", "2026-02-28 23:59:59.999999", False),
    (3, None, 1e300, None, None, None, None),
    (4, "shoes, 'quoted'", float("inf"), 0.01, "2025-12-31", "2025-12-31 00:00:00", True),
]
DDL = (
    "create table marts.kpi_demo (id bigint, category varchar, rate double, "
    "amount decimal(10, 2), order_date date, ordered_at timestamp, is_open boolean)"
)


def _serving(path, rows, *, extra_log=None):
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute(DDL)
    con.executemany("insert into marts.kpi_demo values (?, ?, ?, ?, ?, ?, ?)", rows)
    con.execute("create table marts.publish_log (publish_id varchar, gates_passed boolean)")
    con.execute("insert into marts.publish_log values (?, true)", [extra_log or "p1"])
    con.execute("create table main.not_published (x integer)")  # outside marts: not listed
    con.close()
    return path


def test_the_same_rows_in_another_order_give_the_same_checksum(tmp_path):
    a = mart_checksums(_serving(tmp_path / "a.duckdb", ROWS))
    b = mart_checksums(_serving(tmp_path / "b.duckdb", list(reversed(ROWS))))
    assert set(a.tables) == {"kpi_demo", "publish_log"}
    assert a.tables["kpi_demo"].rows == len(ROWS)
    assert a.tables["kpi_demo"] == b.tables["kpi_demo"]
    assert differences(a, b) == []


@pytest.mark.parametrize(
    ("index", "column", "value"),
    [
        (1, 2, 0.3),  # 0.30000000000000004 -> 0.3: the last bits of a double count
        (0, 3, 12.51),  # a cent
        (1, 1, None),  # the string 'NULL' -> null
        (2, 1, "NULL"),  # null -> the string 'NULL'
        (3, 5, "2025-12-31 00:00:00.000001"),  # a microsecond
        (0, 6, False),
    ],
)
def test_one_changed_value_gives_another_checksum(tmp_path, index, column, value):
    changed = [list(r) for r in ROWS]
    changed[index][column] = value
    a = mart_checksums(_serving(tmp_path / "a.duckdb", ROWS))
    b = mart_checksums(_serving(tmp_path / "b.duckdb", [tuple(r) for r in changed]))
    assert a.tables["kpi_demo"].rows == b.tables["kpi_demo"].rows
    assert a.tables["kpi_demo"].checksum != b.tables["kpi_demo"].checksum
    assert differences(b, a) == ["kpi_demo: same 4 rows, different content"]


def test_a_duplicated_row_in_place_of_another_gives_another_checksum(tmp_path):
    a = mart_checksums(_serving(tmp_path / "a.duckdb", [ROWS[0], ROWS[0], ROWS[1]]))
    b = mart_checksums(_serving(tmp_path / "b.duckdb", [ROWS[0], ROWS[1], ROWS[1]]))
    assert a.tables["kpi_demo"].checksum != b.tables["kpi_demo"].checksum


def test_the_checksum_is_the_sum_of_the_md5_halves_of_each_row_text(tmp_path):
    path = tmp_path / "s.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute("create table marts.t (id bigint, name varchar)")
    con.execute("insert into marts.t values (1, 'a'), (2, 'b'), (3, null)")
    con.close()
    # DuckDB's text of a row as a struct, written out by hand (strings are quoted only where
    # the text would be ambiguous: the string 'NULL', commas, quotes)
    texts = ["{'id': 1, 'name': a}", "{'id': 2, 'name': b}", "{'id': 3, 'name': NULL}"]
    digests = [hashlib.md5(t.encode()).digest() for t in texts]
    upper = sum(int.from_bytes(d[:8], "little") for d in digests) % 2**64
    lower = sum(int.from_bytes(d[8:], "little") for d in digests) % 2**64
    assert mart_checksums(path).tables["t"].checksum == f"{upper:016x}{lower:016x}"


def test_ignored_columns_and_tables_are_left_out_and_must_exist(tmp_path):
    a = mart_checksums(_serving(tmp_path / "a.duckdb", ROWS, extra_log="p1"))
    b = mart_checksums(_serving(tmp_path / "b.duckdb", ROWS, extra_log="p2"))
    assert differences(a, b) == ["publish_log: same 1 rows, different content"]
    a = mart_checksums(tmp_path / "a.duckdb", ["publish_log.publish_id"])
    b = mart_checksums(tmp_path / "b.duckdb", ["publish_log.publish_id"])
    assert differences(a, b) == []
    assert a.tables["publish_log"].columns == ["gates_passed BOOLEAN"]
    assert "publish_log" not in mart_checksums(tmp_path / "a.duckdb", ["publish_log"]).tables
    run = mart_checksums(tmp_path / "a.duckdb", run_metadata=True)  # only columns that exist
    assert run.ignored == ["publish_log.publish_id"]
    with pytest.raises(ChecksumError, match=r"--ignore publish_log\.nope: no such"):
        mart_checksums(tmp_path / "a.duckdb", ["publish_log.nope"])
    with pytest.raises(ChecksumError, match="left out different"):
        differences(a, mart_checksums(tmp_path / "b.duckdb"))


def test_cli_compare_reports_the_marts_that_differ_and_exits_1(tmp_path):
    runner = CliRunner()
    a = _serving(tmp_path / "a.duckdb", ROWS)
    b = _serving(tmp_path / "b.duckdb", list(reversed(ROWS)), extra_log="p2")
    c = _serving(tmp_path / "c.duckdb", ROWS[:3])
    out = runner.invoke(main, ["checksums", "--serving", str(a), "--json"])
    assert out.exit_code == 0, out.output
    saved = tmp_path / "a.json"
    saved.write_text(out.stdout)
    assert json.loads(out.stdout)["tables"]["kpi_demo"]["rows"] == len(ROWS)

    opts = ["--ignore", "publish_log.publish_id"]
    out = runner.invoke(main, ["checksums", "--serving", str(b), "--compare", str(saved), *opts])
    assert out.exit_code == 2  # a.json was written without leaving publish_id out
    assert "left out different" in out.stderr

    out = runner.invoke(main, ["checksums", "--serving", str(a), "--json", *opts])
    saved.write_text(out.stdout)
    out = runner.invoke(main, ["checksums", "--serving", str(b), "--compare", str(saved), *opts])
    assert out.exit_code == 0, out.output
    assert "all 2 marts equal" in out.stdout
    out = runner.invoke(main, ["checksums", "--serving", str(c), "--compare", str(saved), *opts])
    assert out.exit_code == 1
    assert "1 mart(s) differ" in out.stderr
    assert "kpi_demo: 3 rows here, 4 there" in out.stderr

    out = runner.invoke(main, ["checksums", "--serving", str(tmp_path / "none.duckdb")])
    assert out.exit_code == 2
    assert "No serving database" in out.stderr


def test_double_decimals_tells_summation_noise_from_a_change(tmp_path):
    # the last bits of a double that DuckDB summed in another order, and a real change
    noisy = [(*ROWS[0][:2], 0.1 + 1e-16 * 3, *ROWS[0][3:]), *ROWS[1:]]
    changed = [(*ROWS[0][:2], 0.1000001, *ROWS[0][3:]), *ROWS[1:]]
    base = _serving(tmp_path / "a.duckdb", ROWS)
    assert 0.1 + 1e-16 * 3 != 0.1  # the noise is real at full precision
    exact = mart_checksums(base).tables["kpi_demo"].checksum
    assert (
        mart_checksums(_serving(tmp_path / "b.duckdb", noisy)).tables["kpi_demo"].checksum != exact
    )
    at_9 = {
        name: mart_checksums(_serving(tmp_path / f"{name}.duckdb", rows), double_decimals=9)
        for name, rows in (("base9", ROWS), ("noisy9", noisy), ("changed9", changed))
    }
    assert at_9["noisy9"].tables["kpi_demo"].checksum == at_9["base9"].tables["kpi_demo"].checksum
    assert differences(at_9["changed9"], at_9["base9"]) == [
        "kpi_demo: same 4 rows, different content"
    ]
    # results at different precisions are not compared
    with pytest.raises(ChecksumError, match="--double-decimals"):
        differences(at_9["base9"], mart_checksums(base))
