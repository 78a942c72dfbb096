"""The demo shop as a connector lands Shopify: Fivetran's connector tables as Parquet in
`landing/shopify/` (docs/sources/shopify.md, "Generated layout").

Tables written, typed as Fivetran's schema types them (ids bigint, amounts decimal, instants
timestamp with time zone, flags boolean): `order`, `order_line`, `product`, `product_variant`,
`product_option`, `inventory_item`, `return`, `return_line_item`, `refund`,
`order_line_refund`, `customer`, `customer_address`. The native orders, order lines, products,
returns and customers are removed; clickstream, NPS, forecasts, suppliers, batches and
interventions stay native, with the ids Shopify gives their customers, orders and products.

Ids (Shopify's are whole numbers): an order is the number of the native order id
(`O0000429` -> 429, `name` #1429), a customer likewise (`C0000328` -> 328), an order line
order number x 100 + line number, a product its position among the native product ids in
order, a variant (and its inventory item) its position among the skus, a return and its refund
the RMA's number, a return line item and refund line item the line's position among all return
lines in (rma_id, order_line_id) order.

Mapping: `source_name` web -> web, app -> iphone (even order numbers) or android (odd),
marketplace -> marketplace; `product_type` the first type of seed `shopify_product_types`
with the product's category and subcategory; options Size (unless one-size) and Color;
`vendor` the supplier id; `return_reason` the first enum value of seed
`shopify_return_reasons` with the reason code (DAMAGED_IN_TRANSIT -> DEFECTIVE, LATE_DELIVERY
-> OTHER: no such enum value), `customer_note` the reason text; a refunded line (refunded_at
set) gets a refund at refunded_at with one refund line (restock_type `no_restock` for keep-it,
else `return`; `subtotal` the refunded amount incl. VAT); `return.status` CLOSED when refunded
or exchanged, OPEN when received, else REQUESTED; a customer's `phone` in E.164 (the native
spaces removed, as Shopify stores it), its address one `customer_address` row (id the
customer's number, `is_default`, `address_1` the street) that `default_address_id` names.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from returnlens.demo.layouts.common import (
    has_files,
    line_number_id,
    native,
    number,
    rekey_customers_and_orders,
    remove,
    rewrite_csv,
    seed_rows,
    values_table,
    write_parquet,
)
from returnlens.profile import load_profile
from returnlens.warehouse import quote_literal as ql

PLATFORM = "shopify"
# Shopify's return reason enum has no transit damage or late delivery
REASON_FALLBACK = {"DAMAGED_IN_TRANSIT": "DEFECTIVE", "LATE_DELIVERY": "OTHER"}
VAT = "21"  # the VAT rate of the tax part of a refund line (total_tax), in %


def _ts(expr: str) -> str:
    """A native UTC timestamp text as an instant (Fivetran: timestamp with time zone)."""
    return f"timezone('UTC', cast({expr} as timestamp))"


def _mappings(con: duckdb.DuckDBPyConnection) -> None:
    types, seen = [], set()
    for row in seed_rows("shopify_product_types"):
        if (row["category"], row["subcategory"]) not in seen:
            seen.add((row["category"], row["subcategory"]))
            types.append((row["category"], row["subcategory"], row["product_type"]))
    values_table(
        con, "_types", types, "category varchar, subcategory varchar, product_type varchar"
    )
    reasons = {}
    for row in seed_rows("shopify_return_reasons"):
        if row["reason_code"]:
            reasons.setdefault(row["reason_code"], row["return_reason"])
    for code, enum in REASON_FALLBACK.items():
        reasons.setdefault(code, enum)
    values_table(
        con, "_reasons", list(reasons.items()), "reason_code varchar, return_reason varchar"
    )


def write_shopify(out: Path, con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rewrite the native landing folder `out` into the Shopify connector-table layout."""
    folder = out / PLATFORM
    currency = load_profile(out).reporting_currency
    _mappings(con)
    con.execute(
        f"""
        create or replace temp table _products as
        select p.*, dense_rank() over (order by p.product_id) as pid,
            row_number() over (order by p.sku) as vid
        from {native(out, "shop", "products*.csv")} as p
        """
    )
    con.execute(
        f"create or replace temp table _orders as select * from "
        f"{native(out, 'shop', 'orders_*.csv')}"
    )
    con.execute(
        f"create or replace temp table _lines as select * from "
        f"{native(out, 'shop', 'order_lines_*.csv')}"
    )
    con.execute(
        f"""
        create or replace temp table _ret as
        select r.*, row_number() over (order by r.rma_id, r.order_line_id) as item_no
        from {native(out, "returns", "returns_*.csv")} as r
        """
    )
    no_deleted = "false as _fivetran_deleted"
    write_parquet(
        con,
        f"""
        select
            {number("order_id")} as id,
            '#' || cast(1000 + {number("order_id")} as varchar) as name,
            {number("customer_id")} as customer_id,
            {_ts("ordered_at")} as created_at,
            {_ts("ordered_at")} as processed_at,
            cast(null as timestamptz) as cancelled_at,
            {ql(currency)} as currency,
            {ql(currency)} as presentment_currency,
            cast(order_total_eur as decimal(12, 2)) as total_price,
            case channel when 'app' then case when {number("order_id")} % 2 = 0
                then 'iphone' else 'android' end else channel end as source_name,
            shipping_country as shipping_address_country_code,
            false as test,
            {no_deleted}
        from _orders order by id
        """,
        folder / "order.parquet",
    )
    write_parquet(
        con,
        f"""
        select
            {line_number_id("l.order_id", "l.line_number")} as id,
            {number("l.order_id")} as order_id,
            cast(l.line_number as integer) - 1 as index,
            l.sku,
            p.product_name as name,
            cast(l.quantity as integer) as quantity,
            cast(l.unit_price_eur as decimal(10, 2)) as price,
            cast(l.discount_eur as decimal(10, 2)) as total_discount,
            p.pid as product_id,
            p.vid as variant_id,
            {no_deleted}
        from _lines as l left join _products as p on l.sku = p.sku
        order by id
        """,
        folder / "order_line.parquet",
    )
    write_parquet(
        con,
        f"""
        select
            p.pid as id,
            any_value(p.product_name) as title,
            coalesce(any_value(t.product_type), upper(left(any_value(p.subcategory), 1))
                || substr(any_value(p.subcategory), 2))
                as product_type,
            any_value(p.supplier_id) as vendor,
            'active' as status,
            {no_deleted}
        from _products as p
        left join _types as t on p.category = t.category and p.subcategory = t.subcategory
        group by p.pid order by id
        """,
        folder / "product.parquet",
    )
    write_parquet(
        con,
        f"""
        select pid * 10 + 1 as id, pid as product_id, 'Color' as name, 1 as position,
            {no_deleted}
        from _products group by pid having bool_and(size = 'one-size')
        union all
        select pid * 10 + position, pid, name, position, {no_deleted}
        from (select distinct pid from _products where size <> 'one-size')
        cross join (values ('Size', 1), ('Color', 2)) as o(name, position)
        order by product_id, position
        """,
        folder / "product_option.parquet",
    )
    write_parquet(
        con,
        f"""
        select
            vid as id,
            pid as product_id,
            vid as inventory_item_id,
            sku,
            case when size = 'one-size' then colour else size || ' / ' || colour end as title,
            cast(list_price_eur as decimal(10, 2)) as price,
            cast(weight_g as integer) as grams,
            case when size = 'one-size' then colour else size end as option_1,
            case when size = 'one-size' then null else colour end as option_2,
            cast(null as varchar) as option_3,
            {no_deleted}
        from _products order by id
        """,
        folder / "product_variant.parquet",
    )
    write_parquet(
        con,
        f"""
        select vid as id, cast(unit_cost_eur as decimal(10, 2)) as unit_cost_amount,
            {ql(currency)} as unit_cost_currency_code, {no_deleted}
        from _products order by id
        """,
        folder / "inventory_item.parquet",
    )
    _returns(con, folder)
    _customers(con, out, folder, currency)
    remove(out / "shop", "orders_*.csv")
    remove(out / "shop", "order_lines_*.csv")
    remove(out / "shop", "products*.csv")
    remove(out / "returns", "returns_*.csv")
    _rekey_other_files(con, out)
    counts = {}
    for table in ("order", "order_line", "product_variant", "return_line_item", "customer"):
        path = ql(str(folder / f"{table}.parquet"))
        (counts[f"shopify {table}"],) = con.execute(
            f"select count(*) from read_parquet({path})"
        ).fetchone()
    return counts


def _returns(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    refunded = "r.refunded_at is not null"
    write_parquet(
        con,
        f"""
        select
            {number("r.rma_id")} as id,
            {number("any_value(r.order_id)")} as order_id,
            '#' || cast(1000 + {number("any_value(r.order_id)")} as varchar) || '-R'
                || cast(row_number() over (partition by any_value(r.order_id)
                    order by r.rma_id) as varchar) as name,
            case
                when bool_or({refunded}) then 'CLOSED'
                when bool_or(r.resolution = 'exchange' and r.inspected_at is not null)
                    then 'CLOSED'
                when bool_or(r.received_at is not null) then 'OPEN'
                else 'REQUESTED'
            end as status,
            {_ts("min(r.requested_at)")} as created_at,
            cast(sum(cast(r.quantity as integer)) as integer) as total_quantity,
            false as _fivetran_deleted
        from _ret as r group by r.rma_id order by id
        """,
        folder / "return.parquet",
    )
    write_parquet(
        con,
        f"""
        select
            r.item_no as id,
            {number("r.rma_id")} as return_id,
            {line_number_id("r.order_id", "regexp_extract(r.order_line_id, '([0-9]+)$', 1)")}
                as order_line_id,
            cast(r.quantity as integer) as quantity,
            coalesce(m.return_reason, 'UNKNOWN') as return_reason,
            cast(null as varchar) as return_reason_note,
            r.reason_text as customer_note,
            false as _fivetran_deleted
        from _ret as r left join _reasons as m on r.reason_code = m.reason_code
        order by id
        """,
        folder / "return_line_item.parquet",
    )
    write_parquet(
        con,
        f"""
        select
            {number("r.rma_id")} as id,
            {number("any_value(r.order_id)")} as order_id,
            {_ts("max(r.refunded_at)")} as created_at,
            {_ts("max(r.refunded_at)")} as processed_at,
            false as _fivetran_deleted
        from _ret as r where {refunded} group by r.rma_id order by id
        """,
        folder / "refund.parquet",
    )
    amount = "cast(r.refund_amount_eur as decimal(10, 2))"
    write_parquet(
        con,
        f"""
        select
            r.item_no as id,
            {number("r.rma_id")} as refund_id,
            {line_number_id("r.order_id", "regexp_extract(r.order_line_id, '([0-9]+)$', 1)")}
                as order_line_id,
            cast(r.quantity as integer) as quantity,
            case when r.resolution = 'keep_it' then 'no_restock' else 'return' end
                as restock_type,
            {amount} as subtotal,
            cast(round({amount} * {VAT} / (100 + {VAT}), 2) as decimal(10, 2)) as total_tax,
            false as _fivetran_deleted
        from _ret as r where {refunded} order by id
        """,
        folder / "order_line_refund.parquet",
    )


def _customers(con: duckdb.DuckDBPyConnection, out: Path, folder: Path, currency: str) -> None:
    """The native customers as `customer` and `customer_address` (one default address each);
    the native file is removed."""
    con.execute(
        f"create or replace temp table _customers as select * from "
        f"{native(out, 'shop', 'customers*.csv')}"
    )
    write_parquet(
        con,
        f"""
        select
            {number("customer_id")} as id,
            email,
            first_name,
            last_name,
            nullif(replace(phone, ' ', ''), '') as phone,
            'enabled' as state,
            true as verified_email,
            {ql(currency)} as currency,
            {_ts("created_at")} as created_at,
            {_ts("created_at")} as updated_at,
            {number("customer_id")} as default_address_id,
            false as _fivetran_deleted
        from _customers order by id
        """,
        folder / "customer.parquet",
    )
    write_parquet(
        con,
        f"""
        select
            {number("customer_id")} as id,
            {number("customer_id")} as customer_id,
            first_name,
            last_name,
            first_name || ' ' || last_name as name,
            street as address_1,
            cast(null as varchar) as address_2,
            city,
            country_code,
            postal_code as zip,
            true as is_default
        from _customers order by id
        """,
        folder / "customer_address.parquet",
    )
    remove(out / "shop", "customers*.csv")


def _rekey_other_files(con: duckdb.DuckDBPyConnection, out: Path) -> None:
    """The native files that stay name customers, orders and products by Shopify's ids."""
    rekey_customers_and_orders(con, out)
    product = (
        "(select cast(any_value(p.pid) as varchar) from _products as p where p.product_id = {})"
    )
    if has_files(out, "purchasing", "batches*.csv"):
        rewrite_csv(
            con, out / "purchasing", "batches*.csv", {"product_id": product.format("f.product_id")}
        )
    if has_files(out, "interventions", "interventions*.csv"):
        rewrite_csv(
            con,
            out / "interventions",
            "interventions*.csv",
            {
                "scope_value": "case when f.scope_type = 'product' then "
                f"{product.format('f.scope_value')} else f.scope_value end"
            },
        )
