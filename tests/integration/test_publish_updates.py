"""A publish into an existing serving file writes only what differs (issue 16): unchanged marts
are not written and keep their Parquet file, a large mart with few changed rows has just those
deleted and inserted, the rest is copied whole; the serving file then holds exactly the
warehouse's marts, as a publish into a fresh file would. Real DuckDB files and the real
publish; hand-made marts, the expected rows computed here from the warehouse's tables."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

import returnlens.publish_updates as publish_updates
from returnlens.checksums import mart_checksums
from returnlens.publish import publish

pytestmark = pytest.mark.integration

MARTS = ("big", "dups", "renamed", "small", "steady", "typed")


def _build(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema if not exists marts")
        con.execute(
            "create or replace table marts.big as select range as line_id, "
            "'order-' || (range // 3) as order_id, range % 7 = 0 as is_returned, "
            "case when range % 11 = 0 then null else range * 1.25 end as amount "
            "from range(2000)"
        )
        # identical rows count: a multiset, not a set
        con.execute(
            "create or replace table marts.dups as "
            "select range % 100 as k, 'x' as v from range(1000)"
        )
        con.execute("create or replace table marts.small as select 1 as id, 'a' as label")
        con.execute("create or replace table marts.steady as select range as id from range(50)")
        con.execute("create or replace table marts.typed as select range as id from range(10)")
        con.execute("create or replace table marts.renamed as select range as id from range(1000)")


def _change(warehouse: Path) -> None:
    """A daily run's kind of change, mart by mart."""
    with duckdb.connect(str(warehouse)) as con:
        # big: 5 rows changed, 2 removed, 3 added, one value to null and one from null
        con.execute("update marts.big set is_returned = not is_returned where line_id < 5")
        con.execute("delete from marts.big where line_id in (100, 101)")
        con.execute(
            "insert into marts.big select 5000 + range, 'order-new', false, 1.0 from range(3)"
        )
        con.execute("update marts.big set amount = null where line_id = 200")
        con.execute("update marts.big set amount = 7.5 where line_id = 11")
        # dups: one more copy of a repeated row, and one copy fewer of another
        con.execute("insert into marts.dups values (0, 'x')")
        con.execute(
            "delete from marts.dups where rowid = (select min(rowid) from marts.dups where k = 1)"
        )
        con.execute("update marts.small set label = 'b'")  # small: changed
        # steady: rebuilt with the same rows in another order (as dbt rebuilds a table)
        con.execute(
            "create or replace table marts.steady as select 49 - range as id from range(50)"
        )
        con.execute(
            "create or replace table marts.typed as select cast(range as double) as id from range(10)"
        )
        # renamed: the same values under another column name
        con.execute(
            "create or replace table marts.renamed as select range as line_id from range(1000)"
        )


def _rows(path: Path, name: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return sorted(con.execute(f"select * from marts.{name}").fetchall(), key=repr)


def _types(path: Path, name: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            "select column_name, data_type from duckdb_columns() "
            "where schema_name = 'marts' and table_name = ? order by column_index",
            [name],
        ).fetchall()


@pytest.fixture
def small_diffs(monkeypatch):
    """Hand-made marts are small: differences from 1,000 rows, up to 20 % of them changed."""
    monkeypatch.setattr(publish_updates, "DIFF_MIN_ROWS", 1000)
    monkeypatch.setattr(publish_updates, "MAX_CHANGED_SHARE", 0.2)


def test_a_publish_into_serving_writes_what_differs_and_holds_the_warehouse(
    tmp_path, monkeypatch, small_diffs
):
    monkeypatch.setenv("RETURNLENS_LANDING_DIR", str(tmp_path / "landing"))
    warehouse, serving = tmp_path / "warehouse.duckdb", tmp_path / "serving.duckdb"
    fresh = tmp_path / "fresh" / "serving.duckdb"
    root = tmp_path / "serving_parquet"
    _build(warehouse)
    first = publish(warehouse, serving, parquet=True, models=MARTS)
    assert set(first.updates) == set(MARTS)
    with duckdb.connect(str(serving)) as con:  # a table serving holds that is no mart any more
        con.execute("create table marts.retired as select 1 as id")
    _change(warehouse)
    second = publish(warehouse, serving, parquet=True, models=MARTS)

    assert {name: how.split(" ")[0] for name, how in second.updates.items()} == {
        "big": "updated",
        "dups": "updated",
        "small": "replaced",  # under DIFF_MIN_ROWS: copied whole
        "steady": "unchanged",
        "typed": "replaced",  # another column type
        "renamed": "replaced",  # another column name, the same values
    }
    # big: 5 + 2 + 2 rows out (changed, removed, the two amounts), 5 + 3 + 2 in
    assert second.updates["big"] == "updated (9 rows out, 10 in, of 2,001)"
    # dups (10 copies of each k): the groups of k = 0 (now 11) and k = 1 (now 9) replaced whole
    assert second.updates["dups"] == "updated (20 rows out, 20 in, of 1,000)"

    for name in MARTS:
        assert _rows(serving, name) == _rows(warehouse, name), name
        assert _types(serving, name) == _types(warehouse, name), name
    with duckdb.connect(str(serving), read_only=True) as con:
        tables = {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
        refreshed = json.loads(
            con.execute("select refreshed_at from marts.publish_log").fetchone()[0]
        )
    assert tables == {*MARTS, "publish_log", "publish_gate_results"}
    assert set(refreshed.values()) == {second.published_at.isoformat()}

    # the same warehouse published into a fresh file: the same content, mart by mart
    publish(warehouse, fresh, parquet=False, models=MARTS)
    ours = mart_checksums(serving, run_metadata=True).tables
    theirs = mart_checksums(fresh, run_metadata=True).tables
    assert {n: ours[n] for n in MARTS} == {n: theirs[n] for n in MARTS}

    # Parquet: the unchanged mart is the first version's file, the others were written again
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    folder, old = root / manifest["folder"], root / "versions" / first.publish_id
    assert (folder / "steady.parquet").samefile(old / "steady.parquet")
    assert manifest["tables"]["steady"]["publish_id"] == first.publish_id
    for name in ("big", "dups", "renamed", "small", "typed"):
        assert not (folder / f"{name}.parquet").samefile(old / f"{name}.parquet"), name
        with duckdb.connect() as con:
            got = con.execute(
                "select * from read_parquet(?)", [str(folder / f"{name}.parquet")]
            ).fetchall()
        assert sorted(got, key=repr) == _rows(warehouse, name), name


def _recorded(serving: Path) -> dict[str, list[int]]:
    with duckdb.connect(str(serving), read_only=True) as con:
        return json.loads(con.execute("select fingerprints from marts.publish_log").fetchone()[0])


def test_serving_side_fingerprints_come_from_the_previous_publish(
    tmp_path, monkeypatch, small_diffs
):
    """Serving's side of each mart's fingerprint is what the previous publish recorded (it was
    the build's then): not hashed again, unless serving no longer has that many rows or the
    file records none (an earlier version's)."""
    monkeypatch.setenv("RETURNLENS_LANDING_DIR", str(tmp_path / "landing"))
    warehouse, serving = tmp_path / "warehouse.duckdb", tmp_path / "serving.duckdb"
    _build(warehouse)
    publish(warehouse, serving, parquet=False, models=MARTS)  # a fresh file: none recorded
    hashed: list[str] = []
    fingerprint = publish_updates._fingerprint
    monkeypatch.setattr(
        publish_updates,
        "_fingerprint",
        lambda con, relation: hashed.append(relation) or fingerprint(con, relation),
    )
    publish(warehouse, serving, parquet=False, models=MARTS)
    both = [f'"marts"."{n}"' for n in MARTS] + [f'"build"."marts"."{n}"' for n in MARTS]
    assert sorted(hashed) == sorted(both)  # none recorded yet: both sides hashed
    # recorded: each mart's row count and hash sum, as computed here from the warehouse
    with duckdb.connect(str(warehouse), read_only=True) as con:
        expected = {
            n: list(con.execute(f"select count(*), sum(hash(t)) from marts.{n} as t").fetchone())
            for n in MARTS
        }
    assert _recorded(serving) == expected

    hashed.clear()
    again = publish(warehouse, serving, parquet=False, models=MARTS)
    assert all(r.startswith('"build".') for r in hashed)  # serving's side not hashed
    assert {how.split(" ")[0] for how in again.updates.values()} == {"unchanged"}

    _change(warehouse)
    with duckdb.connect(str(serving)) as con:  # serving's big lost a row behind the log's back
        con.execute("delete from marts.big where line_id = 7")
    hashed.clear()
    changed = publish(warehouse, serving, parquet=False, models=MARTS)
    assert '"marts"."big"' in hashed and '"marts"."steady"' not in hashed
    assert changed.updates["steady"].startswith("unchanged")
    for name in MARTS:
        assert _rows(serving, name) == _rows(warehouse, name), name

    with duckdb.connect(str(serving)) as con:  # as a publish of an earlier version wrote it
        con.execute("alter table marts.publish_log drop column fingerprints")
    hashed.clear()
    publish(warehouse, serving, parquet=False, models=MARTS)
    assert '"marts"."steady"' in hashed
    partial = publish(warehouse, serving, parquet=False, models=MARTS, refresh=["big"])
    assert list(partial.updates) == ["big"]
    assert _recorded(serving).keys() == set(MARTS)  # the kept marts' as recorded before


def test_many_changed_rows_copy_the_mart_whole(tmp_path, monkeypatch, small_diffs):
    monkeypatch.setenv("RETURNLENS_LANDING_DIR", str(tmp_path / "landing"))
    warehouse, serving = tmp_path / "warehouse.duckdb", tmp_path / "serving.duckdb"
    _build(warehouse)
    publish(warehouse, serving, parquet=False, models=MARTS)
    with duckdb.connect(str(warehouse)) as con:  # 500 of 2,000 rows changed: 1,000 out and in
        con.execute("update marts.big set is_returned = not is_returned where line_id < 500")
    again = publish(warehouse, serving, parquet=False, models=MARTS)
    assert again.updates["big"] == "replaced (2,000 rows)"
    assert _rows(serving, "big") == _rows(warehouse, "big")


def test_an_unreadable_serving_file_is_replaced_by_a_fresh_one(tmp_path, monkeypatch):
    monkeypatch.setenv("RETURNLENS_LANDING_DIR", str(tmp_path / "landing"))
    warehouse, serving = tmp_path / "warehouse.duckdb", tmp_path / "serving.duckdb"
    _build(warehouse)
    serving.write_bytes(b"not a database")
    result = publish(warehouse, serving, parquet=False, models=MARTS)
    assert {how.split(" ")[0] for how in result.updates.values()} == {"copied"}
    for name in MARTS:
        assert _rows(serving, name) == _rows(warehouse, name), name


def _started(serving: Path):
    with duckdb.connect(str(serving), read_only=True) as con:
        return con.execute("select file_started_at from marts.publish_log").fetchone()[0]


def test_after_an_erasure_serving_is_written_afresh_also_by_a_partial_publish(
    tmp_path, monkeypatch, small_diffs
):
    """A deleted row's bytes stay in a file's free blocks: after `forget-customer`, the next
    publish, partial or not, writes a new file (docs/security.md)."""
    from returnlens.ingest.raw_tables import FORGOTTEN_DDL

    monkeypatch.setenv("RETURNLENS_LANDING_DIR", str(tmp_path / "landing"))
    warehouse, serving = tmp_path / "warehouse.duckdb", tmp_path / "serving.duckdb"
    _build(warehouse)
    first = publish(warehouse, serving, parquet=False, models=MARTS)
    assert _started(serving) == first.published_at
    again = publish(warehouse, serving, parquet=False, models=MARTS)
    assert set(again.updates.values()) == {f"unchanged ({n:,} rows)" for n in again.tables.values()}
    assert _started(serving) == first.published_at  # the same file, copied

    _change(warehouse)
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema if not exists raw")
        con.execute(FORGOTTEN_DDL)
        con.execute(
            "insert into raw.forgotten_customers values ('h', current_timestamp::timestamp)"
        )
    partial = publish(warehouse, serving, parquet=False, models=MARTS, refresh=["big"])
    assert list(partial.updates) == ["big"] and partial.updates["big"].startswith("copied")
    assert _started(serving) == partial.published_at  # a new file
    assert _rows(serving, "big") == _rows(warehouse, "big")
    # the marts it kept are as the first publish wrote them (the warehouse's before _change)
    with duckdb.connect(str(serving), read_only=True) as con:
        assert con.execute("select label from marts.small").fetchall() == [("a",)]
        assert con.execute("select count(*) from marts.dups").fetchone()[0] == 1000
    full = publish(warehouse, serving, parquet=False, models=MARTS)
    assert {how.split(" ")[0] for how in full.updates.values()} == {
        "updated",
        "replaced",
        "unchanged",
    }
    assert _started(serving) == partial.published_at


def test_a_serving_file_that_does_not_say_when_it_was_started_is_written_afresh(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("RETURNLENS_LANDING_DIR", str(tmp_path / "landing"))
    warehouse, serving = tmp_path / "warehouse.duckdb", tmp_path / "serving.duckdb"
    _build(warehouse)
    publish(warehouse, serving, parquet=False, models=MARTS)
    with duckdb.connect(str(serving)) as con:  # as a publish of an earlier version wrote it
        con.execute("alter table marts.publish_log drop column file_started_at")
    result = publish(warehouse, serving, parquet=False, models=MARTS)
    assert {how.split(" ")[0] for how in result.updates.values()} == {"copied"}
    assert _started(serving) == result.published_at


def test_a_serving_file_mostly_free_blocks_is_written_afresh(tmp_path, monkeypatch):
    """A mart dropped from serving (no longer public) frees its blocks in the copy; once more
    than half of the file is free, the next publish writes a new file (compacted) instead of
    copying it again."""
    monkeypatch.setenv("RETURNLENS_LANDING_DIR", str(tmp_path / "landing"))
    warehouse, serving = tmp_path / "warehouse.duckdb", tmp_path / "serving.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.kept as select range as id from range(1000)")
        con.execute(
            "create table marts.retired as "
            "select range as id, md5(range::varchar) as v from range(300000)"
        )
    publish(warehouse, serving, parquet=False, models=["kept", "retired"])
    dropped = publish(warehouse, serving, parquet=False, models=["kept"])
    assert dropped.updates == {"kept": "unchanged (1,000 rows)"}
    with duckdb.connect(str(serving), read_only=True) as con:
        free, total = con.execute(
            "select free_blocks, total_blocks from pragma_database_size() "
            "where database_name = current_database()"
        ).fetchone()
        assert "retired" not in {r[0] for r in con.execute("show tables").fetchall()}
    assert free > total / 2  # the retired mart's blocks
    again = publish(warehouse, serving, parquet=False, models=["kept"])
    assert again.updates == {"kept": "copied (1,000 rows)"}
    assert _started(serving) == again.published_at
    assert _rows(serving, "kept") == _rows(warehouse, "kept")
