"""The demo shop's returns as bol.com (Retailer API v10) or Sendcloud (Returns API v3) deliver
them: the native returns CSVs replaced by the platform's JSON pages, the rest of the shop native.

Each platform keys the order line of a returned item by what it knows of it, so the shop's
files are re-keyed to match (docs/sources/bol.md, sendcloud.md: "The order line"):

- **bol.com** names an item by `orderId` and `ean`: every sku becomes an EAN-13 (GS1 prefix 871,
  the variant's position among the skus in sku order, the check digit), in the products,
  order lines, web events and forecasts, and order lines are keyed `order_id-ean`;
- **Sendcloud** names it by `order_number` and `sku`: order lines are keyed `order_id-sku`.

One JSON file per month of the return's request, like the native files. Ids: a return's number
is the native RMA's (`RMA0000181` -> bol.com `returnId` "181", Sendcloud `id` 181); bol.com's
`rmaId` (one per item) is 60000000 + the item's position among all return lines in
(rma_id, order_line_id) order. Outcomes (docs/sources/<platform>.md, "What the generated
layout lacks"):

- bol.com `processingResults`: a refund (refunded_at set) is ACCEPTED RETURN_RECEIVED at the
  refund time, a keep-it refund ACCEPTED CUSTOMER_KEEPS_PRODUCT_PAID; an inspected exchange
  ACCEPTED EXCHANGE_PRODUCT at receipt; received otherwise PENDING RETURN_RECEIVED at receipt;
  not yet received: no processing result (`handled` false).
- Sendcloud `refund.refund_type`: refund and keep_it -> money, store_credit -> credit,
  exchange -> exchange; `status` delivered (received) else ready to send; `delivered_at_iso` =
  received_at.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from returnlens.demo.layouts.common import (
    local_iso,
    months,
    native,
    number,
    remove,
    rewrite_csv,
    rewrite_parquet,
    rewrite_web_events,
    seed_rows,
    values_table,
    write_json,
)
from returnlens.warehouse import quote_literal as ql

EAN_PREFIX = "871"  # GS1 Netherlands
RMA_ID_BASE = 60_000_000
# native resolution -> Sendcloud refund.refund_type (Sendcloud has no keep-it)
SENDCLOUD_REFUND_TYPES = {
    "refund": "money",
    "keep_it": "money",
    "store_credit": "credit",
    "exchange": "exchange",
}


def _returns(con: duckdb.DuckDBPyConnection, out: Path) -> None:
    """`_ret`: the native return lines with the product name, unit price and the line's
    position among all return lines; `_rma`: one row per RMA with its month."""
    con.execute(
        f"""
        create or replace temp table _ret as
        select r.*, p.product_name, l.unit_price_eur,
            row_number() over (order by r.rma_id, r.order_line_id) as item_no
        from {native(out, "returns", "returns_*.csv")} as r
        left join {native(out, "shop", "products*.csv")} as p on r.sku = p.sku
        left join {native(out, "shop", "order_lines_*.csv")} as l
            on r.order_line_id = l.order_line_id
        """
    )
    con.execute(
        """
        create or replace temp table _rma as
        select rma_id, strftime(min(cast(requested_at as timestamp)), '%Y-%m') as month
        from _ret group by rma_id
        """
    )


def _reason_map(con: duckdb.DuckDBPyConnection, seed: str, cols: tuple[str, ...]) -> None:
    """`_reasons`: the first row of a platform's reason seed per reason code (its texts)."""
    rows, seen = [], set()
    for row in seed_rows(seed):
        if row["reason_code"] not in seen:
            seen.add(row["reason_code"])
            rows.append(tuple(row[c] or None for c in ("reason_code", *cols)))
    values_table(con, "_reasons", rows, ", ".join(f"{c} varchar" for c in ("reason_code", *cols)))


def _ean() -> str:
    """The EAN-13 of `sku_no` (position of the sku in sku order, from 1)."""
    body = f"{ql(EAN_PREFIX)} || lpad(cast(sku_no as varchar), 9, '0')"
    weights = (
        f"list_sum(list_transform(range(12), lambda i: cast(substr({body}, i + 1, 1) as integer)"
        " * case when i % 2 = 0 then 1 else 3 end))"
    )
    return f"{body} || cast((10 - {weights} % 10) % 10 as varchar)"


def write_bol(out: Path, con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rewrite the native landing folder `out` into the bol.com layout."""
    _returns(con, out)
    _reason_map(con, "bol_return_reasons", ("main_reason", "detailed_reason"))
    con.execute(
        f"""
        create or replace temp table _ean as
        select sku, {_ean()} as ean from (
            select sku, row_number() over (order by sku) as sku_no
            from {native(out, "shop", "products*.csv")}
        )
        """
    )
    ean = "(select e.ean from _ean as e where e.sku = f.sku)"
    con.execute(
        f"""
        create or replace temp table _items as
        select
            r.rma_id, r.item_no,
            struct_pack(
                rmaId := {RMA_ID_BASE} + r.item_no,
                orderId := r.order_id,
                ean := e.ean,
                title := r.product_name,
                expectedQuantity := cast(r.quantity as integer),
                returnReason := struct_pack(
                    mainReason := coalesce(m.main_reason, 'Andere reden'),
                    detailedReason := m.detailed_reason,
                    customerComments := r.reason_text
                ),
                handled := coalesce(o.processing_result = 'ACCEPTED', false),
                processingResults := case when o.handling_result is null
                    then [] else [struct_pack(
                        quantity := cast(r.quantity as integer),
                        processingResult := o.processing_result,
                        handlingResult := o.handling_result,
                        processingDateTime := {local_iso("o.processed_at")}
                    )] end
            ) as item
        from _ret as r
        join _ean as e on r.sku = e.sku
        left join _reasons as m on r.reason_code = m.reason_code
        cross join lateral (
            select
                case
                    when r.refunded_at is not null and r.resolution = 'keep_it'
                        then 'CUSTOMER_KEEPS_PRODUCT_PAID'
                    when r.refunded_at is not null then 'RETURN_RECEIVED'
                    when r.received_at is not null and r.resolution = 'exchange'
                        and r.inspected_at is not null then 'EXCHANGE_PRODUCT'
                    when r.received_at is not null then 'RETURN_RECEIVED'
                end as handling_result,
                case
                    when r.refunded_at is not null then 'ACCEPTED'
                    when r.received_at is not null and r.resolution = 'exchange'
                        and r.inspected_at is not null then 'ACCEPTED'
                    when r.received_at is not null then 'PENDING'
                end as processing_result,
                coalesce(r.refunded_at, r.received_at) as processed_at
        ) as o
        """
    )
    folder = out / "bol"
    folder.mkdir(exist_ok=True)
    for month in months(con, "_ret", "requested_at"):
        write_json(
            con,
            f"""
            select list(ret order by return_no) as returns from (
                select
                    {number("r.rma_id")} as return_no,
                    struct_pack(
                        returnId := cast({number("r.rma_id")} as varchar),
                        registrationDateTime := {local_iso("min(x.requested_at)")},
                        fulfilmentMethod := 'FBR',
                        returnItems := list(i.item order by i.item_no)
                    ) as ret
                from _rma as r
                join _items as i on r.rma_id = i.rma_id
                join _ret as x on i.rma_id = x.rma_id and i.item_no = x.item_no
                where r.month = {ql(month)}
                group by r.rma_id
            )
            """,
            folder / f"returns_{month}.json",
            array=False,
        )
    remove(out / "returns", "returns_*.csv")
    # the shop's files keyed as bol.com keys the items: sku = EAN, order line orderId-EAN
    rewrite_csv(con, out / "shop", "products*.csv", {"sku": ean})
    rewrite_csv(
        con,
        out / "shop",
        "order_lines_*.csv",
        {"sku": ean, "order_line_id": f"f.order_id || '-' || {ean}"},
    )
    rewrite_web_events(con, out, {"sku": ean})
    rewrite_parquet(con, out / "planning", "forecasts_*.parquet", {"sku": ean})
    (n,) = con.execute("select count(*) from _items").fetchone()
    return {"bol return items": n}


def write_sendcloud(out: Path, con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rewrite the native landing folder `out` into the Sendcloud layout."""
    _returns(con, out)
    # reason ids: the position of the description in the seed (a portal's reason ids)
    rows, seen = [], set()
    for no, row in enumerate(seed_rows("sendcloud_return_reasons"), start=1):
        if row["reason_code"] not in seen:
            seen.add(row["reason_code"])
            rows.append((row["reason_code"], no, row["return_reason"]))
    values_table(
        con, "_reasons", rows, "reason_code varchar, reason_id integer, description varchar"
    )
    refund_types = list(SENDCLOUD_REFUND_TYPES.items())
    values_table(con, "_refund_types", refund_types, "resolution varchar, refund_type varchar")
    con.execute(
        """
        create or replace temp table _items as
        select
            r.rma_id, r.item_no,
            struct_pack(
                description := r.product_name,
                quantity := cast(r.quantity as integer),
                sku := r.sku,
                value := struct_pack(
                    value := cast(r.unit_price_eur as decimal(10, 2)), currency := 'EUR'
                ),
                return_reason := case when m.reason_code is not null then struct_pack(
                    id := m.reason_id, description := m.description) end,
                return_message := r.reason_text
            ) as item
        from _ret as r
        left join _reasons as m on r.reason_code = m.reason_code
        """
    )
    folder = out / "sendcloud"
    folder.mkdir(exist_ok=True)
    for month in months(con, "_ret", "requested_at"):
        write_json(
            con,
            f"""
            select
                {number("r.rma_id")} as id,
                any_value(x.order_id) as order_number,
                {local_iso("any_value(x.requested_at)")} as created_at,
                {local_iso("any_value(x.received_at)")} as delivered_at_iso,
                case when any_value(x.received_at) is not null then 'delivered'
                    else 'ready to send' end as status,
                'drop_off_point' as delivery_option,
                struct_pack(refund_type := any_value(t.refund_type)) as refund,
                list(i.item order by i.item_no) as parcel_items
            from _rma as r
            join _items as i on r.rma_id = i.rma_id
            join _ret as x on i.rma_id = x.rma_id and i.item_no = x.item_no
            left join _refund_types as t on x.resolution = t.resolution
            where r.month = {ql(month)}
            group by r.rma_id
            order by id
            """,
            folder / f"returns_{month}.json",
            array=True,
        )
    remove(out / "returns", "returns_*.csv")
    # the shop's order lines keyed as Sendcloud keys the items: order_number-sku
    rewrite_csv(
        con, out / "shop", "order_lines_*.csv", {"order_line_id": "f.order_id || '-' || f.sku"}
    )
    (n,) = con.execute("select count(*) from _items").fetchone()
    return {"sendcloud parcel items": n}
