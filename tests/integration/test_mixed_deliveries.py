"""Mixed deliveries: Shopify orders with Sendcloud returns of the web and app orders and bol.com
returns of the marketplace orders, in ONE landing folder, publish one consistent set of marts.

The folder is the demo shop (seed 11, scale 0.05) composed from the layouts' writers
(tests/integration/mixed_deliveries.py); the real pipeline (`returnlens run`) runs on it. The
expectations are counted from the landing files with the json module and DuckDB's Parquet
reader, never from the code under test: each platform item names its order (Shopify's order
`id`) and sku (the EAN, Shopify's variant sku); its order line is the line of that order with
that sku (the first by `index`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from tests.integration.mixed_deliveries import write_mixed

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SEED, SCALE = 11, 0.05


def _items(landing: Path) -> dict[str, dict[str, list[tuple[str, str, str, int]]]]:
    """Per platform and file name: its items as (rma id, order id, sku, quantity)."""
    out: dict[str, dict[str, list]] = {"bol": {}, "sendcloud": {}}
    for path in sorted((landing / "bol").glob("returns_*.json")):
        doc = json.loads(path.read_text())
        out["bol"][path.name] = [
            (str(i["rmaId"]), i["orderId"], i["ean"], i["expectedQuantity"])
            for r in doc["returns"]
            for i in r["returnItems"]
        ]
    for path in sorted((landing / "sendcloud").glob("returns_*.json")):
        out["sendcloud"][path.name] = [
            (str(r["id"]), r["order_number"], i["sku"], i["quantity"])
            for r in json.loads(path.read_text())
            for i in r["parcel_items"]
        ]
    return out


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory):
    data = tmp_path_factory.mktemp("mixed_deliveries")
    landing = data / "landing"
    write_mixed(landing, SEED, SCALE)
    env = {
        **os.environ,
        "RETURNLENS_DATA_DIR": str(data),
        "RETURNLENS_LANDING_DIR": str(landing),
        "DAGSTER_HOME": str(data / "dagster_home"),
    }
    for k in ("RETURNLENS_WAREHOUSE", "RETURNLENS_SERVING"):
        env.pop(k, None)
    run = subprocess.run(
        [str(BIN / "returnlens"), "run"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    return landing, data / "warehouse.duckdb", run


def test_the_mixed_folder_publishes(mixed_run):
    _, _, run = mixed_run
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    assert "published: yes" in run.stdout, run.stdout[-3000:]


def test_every_platform_item_is_a_return_line_of_its_order_line(mixed_run):
    landing, warehouse, _ = mixed_run
    items = _items(landing)
    con = duckdb.connect()
    lines = con.execute(
        "select cast(order_id as varchar), sku, cast(id as varchar) "
        f"from read_parquet('{landing / 'shopify' / 'order_line.parquet'}') "
        "order by order_id, sku, index desc"
    ).fetchall()
    channel = dict(
        con.execute(
            "select cast(id as varchar), source_name "
            f"from read_parquet('{landing / 'shopify' / 'order.parquet'}')"
        ).fetchall()
    )
    # Sendcloud names the order by Shopify's name ('#1429'), bol.com by its id
    by_name = dict(
        con.execute(
            "select name, cast(id as varchar) "
            f"from read_parquet('{landing / 'shopify' / 'order.parquet'}')"
        ).fetchall()
    )
    con.close()
    assert any(name[1:] in channel for name in by_name)  # a name's number is another id
    first_line = {(o, s): line for o, s, line in lines}  # the last written: the lowest index
    want: dict[tuple[str, str], int] = Counter()
    returned: dict[str, int] = Counter()
    for platform, files in items.items():
        n = sum(len(v) for v in files.values())
        assert n > 100, f"{platform}: only {n} items written"
        for rows in files.values():
            for rma, named, sku, qty in rows:
                order = by_name[named] if platform == "sendcloud" else named
                line = first_line[(order, sku)]  # KeyError: the file names no order line
                want[(rma, line)] += qty
                returned[line] += qty
                # bol.com returns are the marketplace orders', Sendcloud's the others'
                assert (channel[order] == "marketplace") == (platform == "bol")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        got = {
            (rma, line): qty
            for rma, line, qty in con.execute(
                "select rma_id, order_line_id, sum(returned_quantity) from marts.fct_returns "
                "group by all"
            ).fetchall()
        }
        unlinked = con.execute(
            "select count(*) from marts.fct_returns where not has_known_order_line"
        ).fetchone()[0]
        per_line = dict(
            con.execute(
                "select order_line_id, returned_quantity from marts.fct_order_lines "
                "where returned_quantity > 0"
            ).fetchall()
        )
    finally:
        con.close()
    assert unlinked == 0
    assert got == dict(want)
    assert per_line == dict(returned)


def test_the_load_audit_accounts_for_every_platform_item(mixed_run):
    landing, warehouse, _ = mixed_run
    items = _items(landing)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        audit = con.execute(
            "select landing_source, landing_path, status, rows_in, rows_loaded, "
            "rows_quarantined from marts.rpt_load_audit "
            "where landing_source in ('bol', 'sendcloud') and is_latest_load_of_file"
        ).fetchall()
        quarantined = con.execute(
            "select count(*) from marts.rpt_load_audit where rows_quarantined > 0 "
            "or is_file_quarantined"
        ).fetchone()[0]
    finally:
        con.close()
    got = {
        (src, Path(path).name): (rows_in, loaded, q) for src, path, _, rows_in, loaded, q in audit
    }
    want = {
        (platform, name): (len(rows), len(rows), 0)
        for platform, files in items.items()
        for name, rows in files.items()
    }
    assert got == want
    assert quarantined == 0
