"""Shopify as Fivetran, Airbyte or dlt land it (connector tables) onto `raw.orders`,
`raw.order_lines`, `raw.products`, `raw.returns` and `raw.customers` (docs/sources/shopify.md).

The reference schema is Fivetran's Shopify connector (table and column names exactly as its
schema reference documents them; Airbyte's and dlt's names are mapped on the page). Each raw
table has one **driving** connector table whose files are the deliveries (one row per row of
the file, audited per file): `order` -> raw.orders, `order_line` -> raw.order_lines,
`product_variant` -> raw.products, `return_line_item` -> raw.returns, `customer` ->
raw.customers. The other tables a row needs (the order's currency, the line's sku, the return,
the refund lines with `restock_type`, the customer's default address) are **joined from every
file of that table** in the folder, in the same DuckDB statement (`shopify_tables.py` reads each
as text). A customer's name, e-mail, phone and address go into raw.customers' PII columns only
(erased by forget-customer like a native customer's), never into `_extra` or a reason.

Mappings are seeds: `shopify_return_reasons` (the return reason enum -> reason_code),
`shopify_restock_types` (restock_type -> resolution, disposition, goods received) and
`shopify_source_names` (source_name -> channel; a source_name not there loads as it is and the
channel value set of the shop profile judges it), `shopify_product_types` (product_type ->
category, subcategory) and `shopify_option_names` (which option holds size, which colour).

**Currency**: Shopify's amounts (`total_price`, `price`, refund `subtotal`) are in the order's
`currency` (the shop currency; `presentment_currency` is what the customer saw). They load
unchanged with their currency when the shop profile accepts it (values.currency: by default
the reporting currency alone); dbt converts another listed currency into the reporting currency
with the exchange_rates source. A row of an order in a currency the profile does not list is
quarantined with a reason naming that setting.

Quarantined besides the contract's checks: a row the connector marks deleted
(`_fivetran_deleted`), a test order, a currency the profile does not list, a return
reason or restock type not in its seed, a return line whose return, order line or order is not
delivered, a refund line amount that is not exact to the cent, a customer without id, without a
default address, or whose id the file repeats with other values.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from returnlens.adapters.common import (
    ADAPTER_REASON,
    accepted_currencies,
    currency_setting,
    reading,
    register_seeds,
    stage_rows,
)
from returnlens.adapters.shopify_sql import (
    DOCS,
    flatten_customers,
    flatten_order_lines,
    flatten_orders,
    flatten_products,
    flatten_returns,
    register_accepted_currencies,
)
from returnlens.adapters.shopify_tables import (
    file_select,
    patterns,
    table_files,
    table_select,
)
from returnlens.ingest.contracts import Entity, FileSpec, entity
from returnlens.ingest.readers import ReadPaths
from returnlens.profile import load_profile
from returnlens.warehouse import quote_ident as qi

PLATFORM = "shopify"
SEEDS = (
    "shopify_return_reasons",
    "shopify_restock_types",
    "shopify_source_names",
    "shopify_product_types",
    "shopify_option_names",
)
UNREADABLE = (duckdb.InvalidInputException, duckdb.ConversionException, duckdb.IOException)


@dataclass(frozen=True)
class TableAdapter:
    """One raw table fed by Shopify connector tables: its entity, driving table and joins."""

    name: str  # the platform (its landing folder and docs page)
    label: str
    entity: Entity
    table: str  # the driving connector table (its files are the deliveries)
    lookups: tuple[str, ...]  # connector tables joined from every file in the folder
    flatten: Callable[[str, dict[str, str], str, int, str], str]
    seeds: tuple[str, ...] = SEEDS

    def fingerprint(self, landing_dir: Path) -> str:
        """What the rows depend on besides the driving file (part of the contract hash): the
        shop's reporting currency (rows of another currency are quarantined), and the name,
        size and times of the files of the tables joined into them, so a refund delivered after
        its return re-reads the return's file. Like the loader's skip of unchanged files, by
        size and time, never by reading them: hashing every joined table on every run cost a
        full read of the shop's Shopify history (issue 16)."""
        digest = hashlib.sha256()
        digest.update(f"{currency_setting(load_profile(landing_dir))};".encode())
        for t in self.lookups:
            for f in table_files(landing_dir / PLATFORM, t):
                st = f.stat()
                digest.update(
                    f"{f.name}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns};".encode()
                )
        return digest.hexdigest()


def _entity(name: str, table: str, reads: tuple[str, ...], description: str) -> Entity:
    (main, main_fmt), *others = patterns(table)
    return Entity(
        source=PLATFORM,
        name=name,
        pattern=main,
        format=main_fmt,
        also=tuple(FileSpec(p, f) for p, f in others),
        key=entity(name).key,
        affects=entity(name).affects,
        columns=entity(name).columns,
        optional=True,
        adapter=PLATFORM,
        reads=tuple(p for t in reads for p, _ in patterns(t)),
        description=description,
    )


_RETURN_LOOKUPS = ("return", "order_line", "order", "order_line_refund", "refund")
# raw table -> adapter (one folder, five raw tables)
ADAPTERS: dict[str, TableAdapter] = {
    a.entity.name: a
    for a in (
        TableAdapter(
            PLATFORM,
            "Shopify order table",
            _entity(
                "orders",
                "order",
                (),
                "Shopify orders (connector table `order`), one row "
                "per order, loaded into raw.orders (docs/sources/shopify.md).",
            ),
            "order",
            (),
            flatten_orders,
        ),
        TableAdapter(
            PLATFORM,
            "Shopify order_line table",
            _entity(
                "order_lines",
                "order_line",
                (),
                "Shopify order lines (connector table "
                "`order_line`), loaded into raw.order_lines (docs/sources/shopify.md).",
            ),
            "order_line",
            ("order", "order_line"),
            flatten_order_lines,
        ),
        TableAdapter(
            PLATFORM,
            "Shopify product_variant table",
            _entity(
                "products",
                "product_variant",
                ("product", "product_option", "inventory_item", "shop"),
                "Shopify product variants (connector table `product_variant`, joined with "
                "product, product_option and inventory_item), loaded into raw.products "
                "(docs/sources/shopify.md).",
            ),
            "product_variant",
            ("product", "product_option", "inventory_item", "shop"),
            flatten_products,
        ),
        TableAdapter(
            PLATFORM,
            "Shopify return_line_item table",
            _entity(
                "returns",
                "return_line_item",
                ("return", "refund", "order_line_refund"),
                "Shopify return line items (connector table `return_line_item`, joined "
                "with return, order_line, order_line_refund and refund), loaded into "
                "raw.returns (docs/sources/shopify.md).",
            ),
            "return_line_item",
            _RETURN_LOOKUPS,
            flatten_returns,
        ),
        TableAdapter(
            PLATFORM,
            "Shopify customer table",
            _entity(
                "customers",
                "customer",
                ("customer_address",),
                "Shopify customers (connector table `customer`, joined with customer_address "
                "for the default address), loaded into raw.customers (docs/sources/shopify.md). "
                "Holds personal data (PII).",
            ),
            "customer",
            ("customer_address",),
            flatten_customers,
        ),
    )
}


def _why(exc: BaseException) -> str:
    if isinstance(exc, duckdb.IOException):
        return "the file cannot be opened"
    return "it is not a readable Parquet, CSV (UTF-8, with a header) or JSON lines file"


def _fail(p, text: str, rows_in: int | None = None) -> None:
    p.rows_in = rows_in
    p.error = text


def stage(con: duckdb.DuckDBPyConnection, ent: Entity, batch: list, paths: ReadPaths) -> None:
    """Flatten each driving file of the batch (joined with the other tables) into `_stage`."""
    adapter = ADAPTERS[ent.name]
    cols = ", ".join(f"{qi(c.name)} varchar" for c in ent.columns)
    con.execute(
        f"create or replace temp table _stage ({cols}, _extra varchar, _source_file varchar, "
        f"_file_order bigint, _file_row_number bigint, {ADAPTER_REASON} varchar)"
    )
    register_seeds(con, adapter.seeds)
    for p in batch:
        if p.size == 0:
            _fail(
                p,
                f"{p.name}: the file is empty (0 bytes). Export the {adapter.table} table "
                f"again and deliver it ({DOCS}).",
                0,
            )
            continue
        folder = p.path.parent
        profile = load_profile(folder.parent)
        reporting = profile.reporting_currency
        register_accepted_currencies(con, accepted_currencies(profile))
        try:
            with reading(p.name):
                driving = file_select(con, adapter.table, p.path)
                con.execute(f"select count(*) from ({driving})").fetchall()
        except UNREADABLE as exc:
            _fail(
                p,
                f"{p.name}: cannot be read as the {adapter.label}: {_why(exc)}. Export the "
                f"table again as described in {DOCS} and deliver it under the same name (it "
                "replaces the failed delivery). Rows in the file: unknown (row count unknown).",
            )
            continue
        lookups = {}
        for t in adapter.lookups:
            for f in table_files(folder, t):
                try:
                    with reading(f"{PLATFORM}/{f.name}"):
                        con.execute(f"select count(*) from ({file_select(con, t, f)})").fetchall()
                except UNREADABLE as exc:
                    _fail(
                        p,
                        f"{p.name}: not loaded: the {t} table it is joined with cannot be "
                        f"read ({PLATFORM}/{f.name}: {_why(exc)}). Export that table again "
                        f"({DOCS}); this file loads on the next run.",
                    )
                    break
            if p.error:
                break
            lookups[t] = table_select(con, t, table_files(folder, t))
        if p.error:
            continue
        select = adapter.flatten(driving, lookups, p.name, p.order, reporting)
        joined = f" joined with the {', '.join(adapter.lookups)} table(s)" if lookups else ""
        with reading(f"{p.name}{joined}"):
            n = stage_rows(con, ent, select, p.order)
        if n == 0:
            _fail(
                p,
                f"{p.name}: holds no row (a header only). An empty export is not "
                f"loaded: remove it, or deliver the table with its rows ({DOCS}).",
                0,
            )
