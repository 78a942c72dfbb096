"""The demo shop as a shop on Shopify that sells on bol.com and ships returns with Sendcloud
delivers it: one landing folder with Shopify's connector tables (orders, lines, products; no
Shopify returns), Sendcloud's returns of the web and app orders and bol.com's returns of the
marketplace orders, and the shop's other files native (tests/integration/test_mixed_deliveries.py).

Composed from the layouts' own writers (returnlens/demo/layouts/), each on a copy of the native
folder, so every platform file is exactly what its layout writes:

- the shop's skus are the EANs bol.com keys its items by (the bol.com layout's `_ean`), in the
  products, order lines, web events and forecasts, so Shopify's variant sku is the EAN;
- bol.com: the marketplace orders' return lines, `orderId` = Shopify's order `id`;
- Sendcloud: the other return lines, `order_number` = Shopify's order `name` ('#1429', as
  Sendcloud's Shopify integration names the order; the demo's Shopify ids are small numbers,
  so order id 1429 exists too: staging must take the name as delivered);
- Shopify: `write_shopify` on the native folder with EAN skus; its return and refund tables
  are removed (the returns come from the two platforms).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from returnlens.demo.generator import generate
from returnlens.demo.layouts.common import (
    connect,
    has_files,
    native,
    number,
    remove,
    rewrite_csv,
    rewrite_jsonl,
    rewrite_parquet,
)
from returnlens.demo.layouts.returns_platforms import write_bol, write_sendcloud
from returnlens.demo.layouts.shopify import write_shopify
from returnlens.warehouse import quote_literal as ql

SHOPIFY_RETURN_TABLES = ("return", "return_line_item", "refund", "order_line_refund")


def _keep_returns(con, out: Path, where: str, order_id: str, sku: str = "f.sku") -> None:
    """Replace the native returns of `out` by one CSV of the lines of orders `where` (a
    condition on the order's channel `o.channel`), `order_id` and `sku` rewritten."""
    returns = native(out, "returns", "returns_*.csv")
    orders = native(out, "shop", "orders_*.csv")
    cols = [r[0] for r in con.execute(f"describe select * from {returns}").fetchall()]
    exprs = {"order_id": order_id, "sku": sku}
    select = ", ".join(f"{exprs.get(c, 'f.' + c)} as {c}" for c in cols)
    con.execute(
        f"create or replace temp table _kept as select {select} from {returns} as f "
        f"join {orders} as o on f.order_id = o.order_id where {where}"
    )
    remove(out / "returns", "returns_*.csv")
    target = ql(str(out / "returns" / "returns_mixed.csv"))
    con.execute(f"copy _kept to {target} (format csv, header true)")


def write_mixed(out: Path, seed: int, scale: float) -> None:
    """Generate the demo shop (`seed`, `scale`) into `out` as the mixed delivery."""
    generate(out, seed=seed, scale=scale)
    bol, sendcloud = out.parent / f"{out.name}_bol", out.parent / f"{out.name}_sendcloud"
    for work in (bol, sendcloud):
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(out, work)
    con = connect()
    try:
        # bol.com: the marketplace orders' returns; leaves `_ean` (sku -> EAN) in `con`
        _keep_returns(
            con, bol, "o.channel = 'marketplace'", f"cast({number('f.order_id')} as varchar)"
        )
        write_bol(bol, con)
        ean = "(select e.ean from _ean as e where e.sku = f.sku)"
        # the shop's skus are the EANs
        for folder, pattern in (("shop", "products*.csv"), ("shop", "order_lines_*.csv")):
            rewrite_csv(con, out / folder, pattern, {"sku": ean})
            rewrite_csv(con, sendcloud / folder, pattern, {"sku": ean})
        if has_files(out, "web", "events_*.jsonl"):
            rewrite_jsonl(con, out / "web", "events_*.jsonl", {"sku": ean})
        rewrite_parquet(con, out / "planning", "forecasts_*.parquet", {"sku": ean})
        # Sendcloud: the other returns, the order by Shopify's name, the item by EAN
        _keep_returns(
            con,
            sendcloud,
            "o.channel <> 'marketplace'",
            f"'#' || cast(1000 + {number('f.order_id')} as varchar)",
            ean,
        )
        write_sendcloud(sendcloud, con)
    finally:
        con.close()
    con = connect()
    try:
        write_shopify(out, con)
    finally:
        con.close()
    for table in SHOPIFY_RETURN_TABLES:
        (out / "shopify" / f"{table}.parquet").unlink()
    for work, platform in ((bol, "bol"), (sendcloud, "sendcloud")):
        shutil.copytree(work / platform, out / platform)
        shutil.rmtree(work)
