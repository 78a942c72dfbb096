"""The demo shop's orders as Shopify's admin "Export orders" CSV (Orders -> Export):
`shopify_export/orders_export_1.csv`, one row per line item (docs/sources/shopify.md,
"Generated layout": the admin export form), where the admin export's adapter reads it
(returnlens/adapters/shopify_export.py). It replaces the native orders and order lines; products, customers, the returns portal's returns
and the other sources stay native, the returns and survey answers naming orders and lines by
the export's keys (`Id`, `Id`-<position>). Every order's rows carry `Name` and `Id`; the order-level
fields (e-mail, statuses, amounts, dates, addresses, payment, source, taxes) are on its first
row only, as the export writes them; each row has its line item's fields and `Vendor`.

Values: `Name` #(1000 + order number), `Id` the order number (the connector tables' order
`id`), `Created at` / `Paid at` the order time in Europe/Amsterdam (`2026-01-01 19:07:56
+0100`), `Fulfilled at` the shipping time, `Financial Status` paid, partially_refunded or
refunded by `Refunded Amount` (the order's refunded return lines, refund or store credit or
keep-it, summed: the export's only trace of returns), `Subtotal` the lines after discounts,
`Taxes` their VAT part (NL, BE 21 %, DE 19 %, else 21 %), `Total` the native order total,
addresses the customer's (billing = shipping), `Source` as in the connector layout.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from returnlens.demo.layouts.common import native, number, remove, rewrite_csv
from returnlens.profile import load_profile
from returnlens.warehouse import quote_ident as qi
from returnlens.warehouse import quote_literal as ql

# the columns of the export, in its order (SOURCES.md, Shopify's help centre)
ADDRESS = ("Name", "Street", "Address1", "Address2", "Company", "City", "Zip", "Province")
COLUMNS = (
    "Name",
    "Email",
    "Financial Status",
    "Paid at",
    "Fulfillment Status",
    "Fulfilled at",
    "Accepts Marketing",
    "Currency",
    "Subtotal",
    "Shipping",
    "Taxes",
    "Total",
    "Discount Code",
    "Discount Amount",
    "Shipping Method",
    "Created at",
    "Lineitem quantity",
    "Lineitem name",
    "Lineitem price",
    "Lineitem compare at price",
    "Lineitem sku",
    "Lineitem requires shipping",
    "Lineitem taxable",
    "Lineitem fulfillment status",
    *(f"Billing {a}" for a in (*ADDRESS, "Country", "Phone")),
    *(f"Shipping {a}" for a in (*ADDRESS, "Country", "Phone")),
    "Notes",
    "Note Attributes",
    "Cancelled at",
    "Payment Method",
    "Payment Reference",
    "Refunded Amount",
    "Vendor",
    "Outstanding Balance",
    "Employee",
    "Location",
    "Device ID",
    "Id",
    "Tags",
    "Risk Level",
    "Source",
    "Lineitem discount",
    *(f"Tax {n} {k}" for n in range(1, 6) for k in ("Name", "Value")),
    "Phone",
    "Receipt Number",
)
FINANCIAL_STATUSES = ("paid", "partially_refunded", "refunded")
VAT = {"NL": 21, "BE": 21, "DE": 19}
DEFAULT_VAT = 21


def _when(expr: str) -> str:
    """A native UTC timestamp text as the export writes times: local with a numeric offset."""
    utc = f"cast({expr} as timestamp)"
    local = f"timezone('Europe/Amsterdam', timezone('UTC', {utc}))"
    hours = f"cast(date_diff('hour', {utc}, {local}) as integer)"
    return (
        f"case when {expr} is not null then strftime({local}, '%Y-%m-%d %H:%M:%S') || ' ' || "
        f"case when {hours} < 0 then '-' else '+' end || lpad(cast(abs({hours}) as varchar), 2, "
        "'0') || '00' end"
    )


def _money(expr: str) -> str:
    return f"cast(cast({expr} as decimal(12, 2)) as varchar)"


def write_shopify_export(out: Path, con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rewrite the native landing folder `out`: its orders as the admin export."""
    currency = load_profile(out).reporting_currency
    vat = " ".join(f"when {ql(c)} then {r}" for c, r in VAT.items())
    first = "l.line_number = '1'"

    def order_level(expr: str) -> str:
        return f"case when {first} then {expr} end"

    con.execute(
        f"""
        create or replace temp table _refunded as
        select order_id, sum(cast(refund_amount_eur as decimal(12, 2))) as refunded
        from {native(out, "returns", "returns_*.csv")}
        where refunded_at is not null group by order_id
        """
    )
    con.execute(
        f"""
        create or replace temp table _order_sums as
        select order_id,
            sum(cast(unit_price_eur as decimal(12, 2)) * cast(quantity as integer)
                - cast(discount_eur as decimal(12, 2))) as subtotal,
            sum(cast(discount_eur as decimal(12, 2))) as discount
        from {native(out, "shop", "order_lines_*.csv")} group by order_id
        """
    )
    values = {
        "Name": f"'#' || cast(1000 + {number('o.order_id')} as varchar)",
        "Email": order_level("c.email"),
        "Financial Status": order_level(
            "case when coalesce(r.refunded, 0) = 0 then 'paid' "
            "when r.refunded >= cast(o.order_total_eur as decimal(12, 2)) then 'refunded' "
            "else 'partially_refunded' end"
        ),
        "Paid at": order_level(_when("o.ordered_at")),
        "Fulfillment Status": order_level(
            "case when o.shipped_at is not null then 'fulfilled' else 'unfulfilled' end"
        ),
        "Fulfilled at": order_level(_when("o.shipped_at")),
        "Accepts Marketing": order_level("'no'"),
        "Currency": order_level(ql(currency)),
        "Subtotal": order_level(_money("s.subtotal")),
        "Shipping": order_level("'0.00'"),
        "Taxes": order_level(_money("round(s.subtotal * o.vat / (100 + o.vat), 2)")),
        "Total": order_level(_money("o.order_total_eur")),
        "Discount Amount": order_level(_money("s.discount")),
        "Shipping Method": order_level("'Standard'"),
        "Created at": order_level(_when("o.ordered_at")),
        "Lineitem quantity": "l.quantity",
        "Lineitem name": "p.product_name",
        "Lineitem price": "l.unit_price_eur",
        "Lineitem sku": "l.sku",
        "Lineitem requires shipping": "'true'",
        "Lineitem taxable": "'true'",
        "Lineitem fulfillment status": "case when o.shipped_at is not null then 'fulfilled' "
        "else 'pending' end",
        "Refunded Amount": order_level(_money("coalesce(r.refunded, 0)")),
        "Vendor": "p.supplier_id",
        "Outstanding Balance": order_level("'0.00'"),
        "Id": f"cast({number('o.order_id')} as varchar)",
        "Risk Level": order_level("'Low'"),
        "Source": order_level(
            f"case o.channel when 'app' then case when {number('o.order_id')} % 2 = 0 "
            "then 'iphone' else 'android' end else o.channel end"
        ),
        "Lineitem discount": "l.discount_eur",
        "Tax 1 Name": order_level("'VAT ' || cast(o.vat as varchar) || '%'"),
        "Tax 1 Value": order_level(_money("round(s.subtotal * o.vat / (100 + o.vat), 2)")),
        "Payment Method": order_level("'iDEAL'"),
        "Phone": order_level("c.phone"),
    }
    for side in ("Billing", "Shipping"):
        values.update(
            {
                f"{side} Name": order_level("c.first_name || ' ' || c.last_name"),
                f"{side} Street": order_level("c.street"),
                f"{side} Address1": order_level("c.street"),
                f"{side} City": order_level("c.city"),
                f"{side} Zip": order_level("c.postal_code"),
                f"{side} Country": order_level("o.shipping_country"),
                f"{side} Phone": order_level("c.phone"),
            }
        )
    select = ", ".join(
        f"{values.get(col, 'cast(null as varchar)')} as {qi(col)}" for col in COLUMNS
    )
    path = out / "shopify_export" / "orders_export_1.csv"
    path.parent.mkdir(exist_ok=True)
    con.execute(
        f"""
        copy (
            select {select}
            from {native(out, "shop", "order_lines_*.csv")} as l
            join (select *, case shipping_country {vat} else {DEFAULT_VAT} end as vat
                from {native(out, "shop", "orders_*.csv")}) as o on l.order_id = o.order_id
            left join {native(out, "shop", "customers*.csv")} as c
                on o.customer_id = c.customer_id
            left join {native(out, "shop", "products*.csv")} as p on l.sku = p.sku
            left join _order_sums as s on o.order_id = s.order_id
            left join _refunded as r on o.order_id = r.order_id
            order by {number("o.order_id")}, cast(l.line_number as integer)
        ) to {ql(str(path))} (format csv, header true)
        """
    )
    remove(out / "shop", "orders_*.csv")
    remove(out / "shop", "order_lines_*.csv")
    # the returns portal and the survey tool name the order as the shop does: by its `Id`,
    # the line by the adapter's `Id`-<position> (the native line number, rows in its order)
    order_id = f"cast({number('f.order_id')} as varchar)"
    rewrite_csv(
        con,
        out / "returns",
        "returns_*.csv",
        {
            "order_id": order_id,
            "order_line_id": f"{order_id} || '-' || "
            "regexp_extract(f.order_line_id, '-([0-9]+)$', 1)",
        },
    )
    rewrite_csv(con, out / "surveys", "nps_*.csv", {"order_id": order_id})
    (n,) = con.execute(
        f"select count(*) from read_csv({ql(str(path))}, header = true, all_varchar = true)"
    ).fetchone()
    return {"shopify export rows": n}
