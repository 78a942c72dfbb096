"""The demo shop as WooCommerce's REST API v3 delivers it: orders and refunds as JSON in
`landing/woocommerce/` (docs/sources/woocommerce.md, "Generated layout").

- `orders_<yyyy-mm>.json` (month of the order): a JSON array of orders as
  `GET /wp-json/wc/v3/orders` answers, status `completed`, prices incl. tax: each line item's
  gross amount is split into net and tax at the country's VAT rate (NL, BE 21 %, DE 19 %,
  otherwise 21 %), the tax rounded to the cent, so `subtotal + subtotal_tax` is the native
  unit price x quantity and `total + total_tax` that minus the discount, exactly;
- `refunds_<yyyy-mm>.json` (month of the refund): the refunds as
  `GET /orders/<id>/refunds` answers them: one refund per native RMA that was refunded
  (refunded_at set: refunds, store credits, keep-it), at the refund time, its `reason` the
  RMA's first line's reason text, one line item per returned line with negative `quantity`,
  `total`, `total_tax` (the refunded amount incl. VAT split like the order's), the order line
  in `meta_data` `_refunded_item_id`, the order in `_links.up`.

Returns that were not refunded (exchanges, open returns) have no WooCommerce refund and are
not written. Products stay in `shop/products.csv` (WooCommerce's products lack category,
supplier and cost), customers in `shop/customers.csv`, with WooCommerce's ids: a customer, an
order and a refund are the number of the native id (`C0000328` -> 328, `O0000429` -> 429,
`RMA0000181` -> 181), a line item order number x 100 + line number, a refund line item
its position among all refunded lines in (rma_id, order_line_id) order; `product_id` and
`variation_id` the product's and the sku's position in order.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from returnlens.demo.layouts.common import (
    gmt_iso,
    line_number_id,
    local_iso,
    months,
    native,
    number,
    rekey_customers_and_orders,
    remove,
    write_json,
)
from returnlens.profile import load_profile
from returnlens.warehouse import quote_literal as ql

PLATFORM = "woocommerce"
SITE = "https://shop.example"  # the REST API's base in `_links`
VAT = {"NL": 21, "BE": 21, "DE": 19}
DEFAULT_VAT = 21


def _money(cents: str) -> str:
    """Whole cents as WooCommerce's amount text with 2 decimals (`-9.00`)."""
    return (
        f"(case when {cents} < 0 then '-' else '' end || cast(abs({cents}) // 100 as varchar) "
        f"|| '.' || lpad(cast(abs({cents}) % 100 as varchar), 2, '0'))"
    )


def _cents(expr: str) -> str:
    return f"cast(round(cast({expr} as decimal(12, 2)) * 100) as bigint)"


def _tax(gross: str, rate: str) -> str:
    """The VAT part of a gross amount in cents, rounded to the cent."""
    return f"cast(round({gross} * {rate} / (100.0 + {rate})) as bigint)"


def write_woocommerce(out: Path, con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rewrite the native landing folder `out` into the WooCommerce layout."""
    folder = out / PLATFORM
    folder.mkdir(exist_ok=True)
    currency = load_profile(out).reporting_currency
    vat = " ".join(f"when {ql(c)} then {r}" for c, r in VAT.items())
    con.execute(
        f"""
        create or replace temp table _products as
        select sku, product_name,
            dense_rank() over (order by product_id) as pid,
            row_number() over (order by sku) as vid
        from {native(out, "shop", "products*.csv")}
        """
    )
    con.execute(
        f"create or replace temp table _orders as select *, "
        f"case shipping_country {vat} else {DEFAULT_VAT} end as vat "
        f"from {native(out, 'shop', 'orders_*.csv')}"
    )
    con.execute(
        f"""
        create or replace temp table _lines as
        select l.*, o.vat, p.product_name, p.pid, p.vid,
            {line_number_id("l.order_id", "l.line_number")} as line_id,
            {_cents("l.unit_price_eur")} * cast(l.quantity as bigint) as gross_sub,
            {_cents("l.unit_price_eur")} * cast(l.quantity as bigint)
                - {_cents("l.discount_eur")} as gross_total
        from {native(out, "shop", "order_lines_*.csv")} as l
        join _orders as o on l.order_id = o.order_id
        left join _products as p on l.sku = p.sku
        """
    )
    con.execute(
        f"""
        create or replace temp table _ret as
        select r.*, l.line_id, l.vat, l.product_name, l.pid, l.vid,
            {_cents("r.refund_amount_eur")} as gross,
            row_number() over (order by r.rma_id, r.order_line_id) as item_no
        from {native(out, "returns", "returns_*.csv")} as r
        join _lines as l on r.order_line_id = l.order_line_id
        where r.refunded_at is not null
        """
    )
    _refunds(con, folder)
    _orders(con, folder, currency)
    remove(out / "shop", "orders_*.csv")
    remove(out / "shop", "order_lines_*.csv")
    remove(out / "returns", "returns_*.csv")
    rekey_customers_and_orders(con, out)
    counts = {}
    for name, table in (("orders", "_orders"), ("order line items", "_lines")):
        (counts[f"woocommerce {name}"],) = con.execute(f"select count(*) from {table}").fetchone()
    (counts["woocommerce refunded lines"],) = con.execute("select count(*) from _ret").fetchone()
    return counts


def _refunds(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    tax = _tax("r.gross", "r.vat")
    con.execute(
        f"""
        create or replace temp table _refund_lines as
        select
            r.rma_id, r.item_no, r.order_id, r.refunded_at, r.reason_text, r.gross,
            struct_pack(
                id := r.item_no,
                name := r.product_name,
                product_id := r.pid,
                variation_id := r.vid,
                quantity := -cast(r.quantity as integer),
                tax_class := '',
                subtotal := {_money(f"-(r.gross - {tax})")},
                subtotal_tax := {_money(f"-{tax}")},
                total := {_money(f"-(r.gross - {tax})")},
                total_tax := {_money(f"-{tax}")},
                meta_data := [struct_pack(
                    key := '_refunded_item_id', value := cast(r.line_id as varchar)
                )],
                sku := r.sku
            ) as item
        from _ret as r
        """
    )
    con.execute(
        f"""
        create or replace temp table _refunds as
        select
            {number("rma_id")} as id,
            any_value(order_id) as order_id,
            strftime(max(cast(refunded_at as timestamp)), '%Y-%m') as month,
            struct_pack(
                id := {number("rma_id")},
                date_created := left({local_iso("max(refunded_at)")}, 19),
                date_created_gmt := {gmt_iso("max(refunded_at)")},
                amount := {_money("sum(gross)")},
                reason := coalesce(arg_min(reason_text, item_no), ''),
                refunded_by := 1,
                refunded_payment := true,
                meta_data := [],
                line_items := list(item order by item_no),
                shipping_lines := [],
                tax_lines := [],
                fee_lines := [],
                _links := struct_pack(
                    up := [struct_pack(
                        href := {ql(SITE + "/wp-json/wc/v3/orders/")}
                            || cast({number("any_value(order_id)")} as varchar)
                    )]
                )
            ) as refund,
            sum(gross) as gross
        from _refund_lines group by rma_id
        """
    )
    for month in months(con, "_refunds", "month || '-01'"):
        write_json(
            con,
            f"select unnest(refund) from _refunds where month = {ql(month)} order by id",
            folder / f"refunds_{month}.json",
            array=True,
        )


def _orders(con: duckdb.DuckDBPyConnection, folder: Path, currency: str) -> None:
    sub_tax = _tax("gross_sub", "vat")
    total_tax = _tax("gross_total", "vat")
    con.execute(
        f"""
        create or replace temp table _line_items as
        select
            order_id, line_number,
            {total_tax} as tax_cents,
            {sub_tax} - {total_tax} as discount_tax_cents,
            (gross_sub - {sub_tax}) - (gross_total - {total_tax}) as discount_cents,
            struct_pack(
                id := line_id,
                name := product_name,
                product_id := pid,
                variation_id := vid,
                quantity := cast(quantity as integer),
                tax_class := '',
                subtotal := {_money(f"gross_sub - {sub_tax}")},
                subtotal_tax := {_money(sub_tax)},
                total := {_money(f"gross_total - {total_tax}")},
                total_tax := {_money(total_tax)},
                sku := sku
            ) as item
        from _lines
        """
    )
    for month in months(con, "_orders", "ordered_at"):
        write_json(
            con,
            f"""
            select
                {number("o.order_id")} as id,
                0 as parent_id,
                cast({number("o.order_id")} as varchar) as number,
                'checkout' as created_via,
                'completed' as status,
                {ql(currency)} as currency,
                true as prices_include_tax,
                left({local_iso("o.ordered_at")}, 19) as date_created,
                {gmt_iso("o.ordered_at")} as date_created_gmt,
                {_money("sum(li.discount_cents)")} as discount_total,
                {_money("sum(li.discount_tax_cents)")} as discount_tax,
                '0.00' as shipping_total,
                {_money("sum(li.tax_cents)")} as total_tax,
                cast(o.order_total_eur as varchar) as total,
                {number("o.customer_id")} as customer_id,
                struct_pack(country := o.shipping_country) as billing,
                struct_pack(country := o.shipping_country) as shipping,
                list(li.item order by cast(li.line_number as integer)) as line_items,
                coalesce(any_value(rf.refunds), []) as refunds
            from _orders as o
            join _line_items as li on o.order_id = li.order_id
            left join (
                select order_id, list(struct_pack(
                    id := id, reason := refund.reason, total := {_money("-gross")}
                ) order by id) as refunds
                from _refunds group by order_id
            ) as rf on o.order_id = rf.order_id
            where strftime(cast(o.ordered_at as timestamp), '%Y-%m') = {ql(month)}
            group by o.order_id, o.customer_id, o.ordered_at, o.order_total_eur,
                o.shipping_country
            order by id
            """,
            folder / f"orders_{month}.json",
            array=True,
        )
