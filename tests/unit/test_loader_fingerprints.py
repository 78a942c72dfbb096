"""The loader skips unchanged landing files by their size and times, re-hashing only files that
changed on disk (issue 16: re-hashing every landing file cost 14-23 s per run at 10M lines)."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import blake3
import duckdb
import pytest

from returnlens.ingest import loader
from returnlens.ingest.contracts import entity
from returnlens.ingest.loader import load_entity

pytestmark = pytest.mark.unit

HEADER = "supplier_id,supplier_name,country_code,lead_time_days\n"


@pytest.fixture()
def suppliers(tmp_path, monkeypatch):
    folder = tmp_path / "landing" / "purchasing"
    folder.mkdir(parents=True)
    path = folder / "suppliers.csv"
    path.write_text(HEADER + "S1,Acme,NL,10\nS2,Beta,DE,5\n")
    # a delivery written well before the run (the default margin is 2 s, for FAT and shares)
    monkeypatch.setattr(loader, "RACY_MARGIN_NS", 20_000_000)
    time.sleep(0.05)
    return path


def _load(con, path):
    res = load_entity(con, entity("suppliers"), path.parent.parent)
    (f,) = res.files
    return f


def _loads(con) -> int:
    return con.execute(
        "select count(*) from raw.load_audit where entity = 'suppliers' and status = 'loaded'"
    ).fetchall()[0][0]


def _rewrite_same_size(path, rows: str) -> None:
    """New content of the file's size, its times moved on: a changed delivery."""
    before = path.stat().st_size
    path.write_text(HEADER + rows)
    assert path.stat().st_size == before
    _shift_mtime(path, 60)


def _shift_mtime(path, seconds: int) -> None:
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 1_000_000_000))
    time.sleep(0.05)  # past the (shortened) racy margin of the change time utime set


def test_a_rerun_without_new_files_skips_them_by_size_and_mtime_without_hashing(con, suppliers):
    first = _load(con, suppliers)
    assert first.status == "loaded" and first.unchanged_by is None
    again = _load(con, suppliers)
    assert (again.status, again.unchanged_by) == ("unchanged", "size+mtime")
    assert _loads(con) == 1


def test_a_touched_file_with_the_same_content_is_hashed_once_and_not_reloaded(con, suppliers):
    _load(con, suppliers)
    _shift_mtime(suppliers, 60)
    touched = _load(con, suppliers)
    assert (touched.status, touched.unchanged_by) == ("unchanged", "checksum")
    after = _load(con, suppliers)  # the new times are remembered: no second hash
    assert (after.status, after.unchanged_by) == ("unchanged", "size+mtime")
    assert _loads(con) == 1


def test_a_changed_file_of_the_same_size_with_a_new_mtime_is_rehashed_and_reloaded(con, suppliers):
    _load(con, suppliers)
    _rewrite_same_size(suppliers, "S1,Acme,NL,11\nS2,Beta,DE,6\n")
    changed = _load(con, suppliers)
    assert (changed.status, changed.unchanged_by) == ("loaded", None)
    assert con.execute(
        "select supplier_id, lead_time_days from raw.suppliers order by 1"
    ).fetchall() == [("S1", 11), ("S2", 6)]


def test_new_content_under_the_old_size_and_mtime_is_still_seen(con, suppliers):
    """A copy that keeps the modification time (`cp -p`, `rsync -t`, unzip) of a file of the
    same size: the change time still moves, so the file is hashed and reloaded."""
    _load(con, suppliers)
    st = suppliers.stat()
    suppliers.write_text(HEADER + "S1,Acme,NL,12\nS2,Beta,DE,7\n")
    os.utime(suppliers, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (suppliers.stat().st_size, suppliers.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    changed = _load(con, suppliers)
    assert changed.status == "loaded"
    assert con.execute(
        "select supplier_id, lead_time_days from raw.suppliers order by 1"
    ).fetchall() == [("S1", 12), ("S2", 7)]


def test_a_file_hashed_right_after_it_was_written_is_hashed_again_next_time(tmp_path):
    """Within the timestamp granularity a rewrite can keep size and times ("racy", as in git):
    such a fingerprint is not trusted, the next run reads the file again."""
    folder = tmp_path / "landing" / "purchasing"
    folder.mkdir(parents=True)
    path = folder / "suppliers.csv"
    path.write_text(HEADER + "S1,Acme,NL,10\n")
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        assert _load(con, path).status == "loaded"
        again = _load(con, path)
    assert (again.status, again.unchanged_by) == ("unchanged", "checksum")


PROC_IO = Path("/proc/self/io")


def _bytes_read() -> int:
    """Bytes this process (all its threads, DuckDB's too) has read by system calls so far."""
    for line in PROC_IO.read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


@pytest.mark.skipif(not PROC_IO.exists(), reason="counts reads in /proc/self/io (Linux)")
def test_an_unchanged_file_is_not_read_at_all_and_a_touched_one_only_hashed(con, suppliers):
    """Counted in the bytes the process reads: a rerun does not read (nor hash) a file of
    unchanged size and times; a new mtime has it hashed once (read whole) but not reloaded;
    new content of the same size under a new mtime is hashed and loaded."""
    rows = 60_000
    suppliers.write_text(
        HEADER + "".join(f"S{i:06d},Supplier {i},NL,{i % 40}\n" for i in range(rows))
    )
    _shift_mtime(suppliers, -60)  # written well before the run (not "racy")
    size = suppliers.stat().st_size
    assert _load(con, suppliers).rows_loaded == rows

    before = _bytes_read()
    again = _load(con, suppliers)
    assert (again.status, again.unchanged_by) == ("unchanged", "size+mtime")
    assert _bytes_read() - before < size // 10  # a stat and the warehouse's own pages

    _shift_mtime(suppliers, 60)
    before = _bytes_read()
    touched = _load(con, suppliers)
    assert (touched.status, touched.unchanged_by) == ("unchanged", "checksum")
    assert _bytes_read() - before >= size  # hashed: read once, whole
    assert _loads(con) == 1

    text = suppliers.read_text().replace("S000007,Supplier 7,NL,7", "S000007,Supplier 7,NL,8")
    suppliers.write_text(text)
    assert suppliers.stat().st_size == size
    _shift_mtime(suppliers, 60)
    before = _bytes_read()
    changed = _load(con, suppliers)
    assert changed.status == "loaded" and _bytes_read() - before >= size
    assert con.execute(
        "select lead_time_days from raw.suppliers where supplier_id = 'S000007'"
    ).fetchall() == [(8,)]


# A file's checksum is BLAKE3, tagged with its algorithm (issue 16: SHA-256 cost 0.65 s CPU per
# 1.2 GB of JSON lines, BLAKE3 0.2 s). Warehouses written before hold untagged SHA-256 digests:
# a file is compared with the digest of the algorithm that was stored, so an unchanged file is
# not reloaded after the upgrade.


def _audited_checksums(con) -> list[str]:
    return [
        c
        for (c,) in con.execute(
            "select checksum from raw.load_audit where entity = 'suppliers' order by finished_at"
        ).fetchall()
    ]


def _as_written_before_blake3(con, path) -> str:
    """Rewrite the stored checksums of `path` as the loader wrote them before: bare SHA-256."""
    old = hashlib.sha256(path.read_bytes()).hexdigest()
    con.execute("update raw.load_audit set checksum = ? where entity = 'suppliers'", [old])
    con.execute("update raw.landing_fingerprints set checksum = ?", [old])
    return old


def test_a_file_checksum_is_blake3_tagged_with_its_algorithm(con, suppliers):
    assert _load(con, suppliers).status == "loaded"
    expected = "blake3:" + blake3.blake3(suppliers.read_bytes()).hexdigest()
    assert loader.file_checksum(suppliers) == expected
    assert _audited_checksums(con) == [expected]
    fingerprints = con.execute("select checksum from raw.landing_fingerprints").fetchall()
    assert fingerprints == [(expected,)]


@pytest.mark.parametrize("touched", [False, True])
def test_an_unchanged_file_audited_with_sha256_before_the_upgrade_is_not_reloaded(
    con, suppliers, touched
):
    """Untouched, the stored fingerprint says unchanged; touched (times moved, as by a copy of
    the data folder), the file is hashed with SHA-256, the stored digest's algorithm."""
    _load(con, suppliers)
    old = _as_written_before_blake3(con, suppliers)
    if touched:
        _shift_mtime(suppliers, 60)
    again = _load(con, suppliers)
    assert again.status == "unchanged"
    assert again.unchanged_by == ("checksum" if touched else "size+mtime")
    assert _loads(con) == 1
    assert con.execute("select checksum from raw.landing_fingerprints").fetchall() == [(old,)]


def test_a_file_changed_after_the_upgrade_is_reloaded_and_audited_with_blake3(con, suppliers):
    _load(con, suppliers)
    _as_written_before_blake3(con, suppliers)
    _rewrite_same_size(suppliers, "S1,Acme,NL,13\nS2,Beta,DE,8\n")
    changed = _load(con, suppliers)
    assert changed.status == "loaded"
    new = "blake3:" + blake3.blake3(suppliers.read_bytes()).hexdigest()
    assert _audited_checksums(con)[-1] == new
    assert con.execute("select checksum from raw.landing_fingerprints").fetchall() == [(new,)]
    assert _load(con, suppliers).status == "unchanged"
