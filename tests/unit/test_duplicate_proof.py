"""The loader's cheap proof that no key repeats (`raw_writes._distinct_in_order`) against a
brute-force count of repeated keys: it may only say "no repeat" when there is none."""

from __future__ import annotations

import random

import duckdb
import pytest

from returnlens.ingest.contracts import entity
from returnlens.ingest.raw_tables import ensure_raw_schema
from returnlens.ingest.raw_writes import MAX_RUNS, _distinct_in_order, _may_repeat

pytestmark = pytest.mark.unit

WEB = entity("web_events")


def _table(files: dict[str, list[str | None]]) -> duckdb.DuckDBPyConnection:
    """raw.web_events holding these keys per file, in this order (the other columns null)."""
    con = duckdb.connect()
    ensure_raw_schema(con, [WEB])
    rows = [(key, name, n) for name, keys in files.items() for n, key in enumerate(keys, start=1)]
    con.executemany(
        "insert into raw.web_events (event_id, _source_file, _file_row_number) values (?, ?, ?)",
        rows,
    )
    return con


def _repeats(files: dict[str, list[str | None]], batch: list[str]) -> bool:
    """A key of a batch file that another row of the batch, or any other file, also holds."""
    inside = [k for f in batch for k in files[f] if k is not None]
    outside = {k for f, keys in files.items() if f not in batch for k in keys}
    return len(set(inside)) < len(inside) or any(k in outside for k in inside)


def _ids(numbers) -> list[str]:
    return [f"E{n:08d}" for n in numbers]


CASES = {
    "ascending, no repeat": ({"a": _ids(range(1, 100)), "b": _ids(range(100, 200))}, ["a", "b"]),
    "months overlap, no repeat": (
        {"a": _ids([*range(1, 90), 95, 97]), "b": _ids([90, 91, 96, *range(98, 150)])},
        ["a", "b"],
    ),
    "months overlap, a key in both": (
        {"a": _ids([*range(1, 90), 95, 97]), "b": _ids([90, 95, 96, *range(98, 150)])},
        ["a", "b"],
    ),
    "repeat at a run boundary within a file": (
        {"a": _ids([1, 2, 3, 3, 4, 5])},
        ["a"],
    ),
    "repeat across runs within a file": ({"a": _ids([1, 5, 9, 2, 5, 11])}, ["a"]),
    "descending file": ({"a": _ids(range(50, 0, -1))}, ["a"]),
    "descending file with a repeat": ({"a": _ids([*range(50, 0, -1), 7])}, ["a"]),
    "another file holds a key": (
        {"old": _ids([1, 40, 500]), "a": _ids(range(30, 60))},
        ["a"],
    ),
    "another file in range, no repeat": (
        {"old": _ids([1, 41, 500]), "a": _ids(range(30, 80, 2))},
        ["a"],
    ),
    "null keys": ({"a": [*_ids([1, 2]), None, None, *_ids([3, 4])]}, ["a"]),
    "null keys and a repeat": ({"a": [*_ids([1, 2]), None, *_ids([2, 4])]}, ["a"]),
    "a re-delivered file is not another file": (
        {"a": _ids(range(1, 20)), "b": _ids(range(20, 40))},
        ["a", "b"],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_proof_never_misses_a_repeated_key(name):
    files, batch = CASES[name]
    con = _table(files)
    truth = _repeats(files, batch)
    proved = _distinct_in_order(con, WEB, batch)
    if truth:
        assert proved is not False, name  # a repeat is never proved away
        assert _may_repeat(con, WEB, batch), name
    else:
        assert proved is not True, name  # distinct 64-bit hashes here: no false alarm
        assert not _may_repeat(con, WEB, batch), name


def test_ascending_keys_are_proved_distinct_without_the_sort():
    con = _table({"a": _ids([*range(1, 990, 2), 1001]), "b": _ids([*range(990, 2000, 2)])})
    assert _distinct_in_order(con, WEB, ["a", "b"]) is False  # proved, not "does not apply"


def test_too_many_runs_fall_back_to_the_sort():
    keys = list(range(4 * MAX_RUNS))
    random.Random(1).shuffle(keys)
    con = _table({"a": _ids(keys)})
    assert _distinct_in_order(con, WEB, ["a"]) is None
    assert not _may_repeat(con, WEB, ["a"])


def test_random_batches_agree_with_brute_force():
    rng = random.Random(16)
    for _ in range(60):
        files = {}
        start = 0
        for f in ("old", "a", "b", "c"):
            n = rng.randint(1, 40)
            keys = list(range(start, start + n))
            if rng.random() < 0.5:  # runs out of order
                rng.shuffle(keys)
            if rng.random() < 0.3:  # a repeat within the file or with another one
                keys.insert(rng.randint(0, len(keys)), rng.randint(0, start + n))
            files[f] = _ids(keys)
            start += n - rng.randint(0, 10)  # neighbouring files overlap a little
        batch = rng.sample(["a", "b", "c"], rng.randint(1, 3))
        con = _table(files)
        truth = _repeats(files, batch)
        assert _may_repeat(con, WEB, batch) or not truth, (files, batch)
        if truth:
            assert _distinct_in_order(con, WEB, batch) is not False, (files, batch)


# text whose order could differ between DuckDB and Python (NUL, non-ASCII, digits, prefixes)
ODD_TEXT = ["\x00", "a", "é", "€", "\U0001f600", "1", "10", "2", " ", "E0", "E00"]


def test_odd_keys_stored_interleaved_agree_with_brute_force():
    """Keys of any text and NULLs, the files' rows interleaved in storage, part of them written
    in the open transaction (as the loader's batch is): the proof never misses a repeat and
    raises no false alarm. The runs and ranges are compared in Python, the rows by DuckDB."""
    rng = random.Random(7)
    for _ in range(40):
        pool: list[str] = []
        rows = []
        for f in ("old", "x", "a", "b", "c"):
            keys = []
            for _ in range(rng.randint(0, 25)):
                if rng.random() < 0.1:
                    keys.append(None)
                    continue
                new = "".join(rng.choices(ODD_TEXT, k=rng.randint(0, 4)))
                k = rng.choice(pool) if pool and rng.random() < 0.4 else new
                keys.append(k)
                pool.append(k)
            if rng.random() < 0.5:  # ascending runs, NULLs where they were
                ordered = iter(sorted(k for k in keys if k is not None))
                keys = [None if k is None else next(ordered) for k in keys]
            rows += [(k, f, n) for n, k in enumerate(keys, start=1)]
        if rng.random() < 0.5:
            rng.shuffle(rows)
        con = duckdb.connect()
        ensure_raw_schema(con, [WEB])
        insert = (
            "insert into raw.web_events (event_id, _source_file, _file_row_number) values (?, ?, ?)"
        )
        split = rng.randint(0, len(rows))
        if rows[:split]:
            con.executemany(insert, rows[:split])
        con.execute("begin transaction")
        if rows[split:]:
            con.executemany(insert, rows[split:])
        batch = rng.sample(["a", "b", "c"], rng.randint(1, 3))
        files = {f: [k for k, g, _ in rows if g == f] for f in ("old", "x", "a", "b", "c")}
        truth = _repeats(files, batch)
        proved = _distinct_in_order(con, WEB, batch)
        if truth:
            assert proved is not False, (batch, rows)  # a repeat is never proved away
        else:
            assert proved is not True, (batch, rows)  # distinct 64-bit hashes: no false alarm
        assert _may_repeat(con, WEB, batch) == truth, (batch, rows)
