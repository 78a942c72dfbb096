"""WooCommerce refunds onto `raw.returns`: the select behind `woocommerce.flatten_returns`.

A refund (`GET /orders/<id>/refunds`) names neither its order's currency nor, in every case,
the order line it refunds, so each refunded line item is joined with the parent order as the
folder's `orders_*.json` hold it: the parent is `parent_id` (refunds landed as orders of type
`shop_order_refund`), else the order `_links.up` points at (the REST response); the order line
is the item's `_refunded_item_id` meta, else the parent's only line with the same `product_id`
and `variation_id`. See docs/sources/woocommerce.md.

The orders files are read once per batch of refunds files (`parents_statements`: temp tables
`_woocommerce_parents`, `_woocommerce_parent_lines`, `_woocommerce_line_matches`), and every
refunds file's select joins those: reading them again for each refunds file made a load
quadratic in the number of files.
"""

from __future__ import annotations

from returnlens.adapters.common import ADAPTER_REASON, array, text, utc_text
from returnlens.warehouse import quote_literal as ql

DOCS = "docs/sources/woocommerce.md"
# an amount as WooCommerce writes it with dp=2 (the default): exact to the cent; trailing
# zeros of a higher dp are exact too, anything else would need rounding
EXACT = "-?[0-9]{1,15}([.][0-9]{1,2}0*)?"
GMT = "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]+)?"


def gmt(expr: str) -> str:
    """A `*_gmt` date-time (UTC, written without offset: `2017-03-22T19:28:02`) as the
    contracts' UTC text; with an offset it is converted; anything else is left to the check."""
    return (
        f"case when regexp_full_match({expr}, {ql(GMT)}) then replace({expr}, 'T', ' ') "
        f"else {utc_text(expr)} end"
    )


def cents(expr: str) -> str:
    """The amount in whole cents (hugeint), null when it is not exact to the cent."""
    return (
        f"case when regexp_full_match({expr}, {ql(EXACT)}) "
        f"then cast(cast({expr} as decimal(38, 2)) * 100 as hugeint) end"
    )


def money(cents: str) -> str:
    """Whole cents as the contracts' decimal text (`-9.00`), exactly."""
    return (
        f"case when {cents} is not null then (case when {cents} < 0 then '-' else '' end) "
        f"|| cast(abs({cents}) // 100 as varchar) || '.' "
        f"|| lpad(cast(abs({cents}) % 100 as varchar), 2, '0') end"
    )


def inexact(field: str) -> str:
    """The reason for an amount that is not exact to the cent."""
    return (
        f"{field} is not an amount exact to the cent: it is not loaded rounded; export with "
        "dp=2 (the default)"
    )


PARENTS = "_woocommerce_parents"
PARENT_LINES = "_woocommerce_parent_lines"
LINE_MATCHES = "_woocommerce_line_matches"


def parents_statements(orders_ctes: str, order_reason: str) -> list[str]:
    """The statements that stage the folder's orders once, for every refunds file to join:
    `orders_ctes` define `orders_flat` (the folder's orders), `order_reason` is why an order of
    it is not loaded (over its columns). An order id delivered twice counts as its first
    delivery (by file, then position in the file)."""
    first = "file_no || '/' || lpad(cast(order_no as varchar), 9, '0')"
    return [
        f"""
    create or replace temp table {PARENTS} as
    with {orders_ctes},
    firsts as (
        select id, arg_min(currency, {first}) as currency,
            arg_min({order_reason}, {first}) as order_reason,
            arg_min(o, {first}) as o
        from orders_flat where id is not null
        group by id
    )
    select id, currency, order_reason, {array("o", "$.line_items")} as line_items from firsts
    """,
        f"""
    create or replace temp table {PARENT_LINES} as
    select
        id as order_id,
        {text("li", "$.id")} as line_id,
        coalesce({text("li", "$.product_id")}, '0') as product_id,
        coalesce({text("li", "$.variation_id")}, '0') as variation_id,
        nullif({text("li", "$.sku")}, '') as sku
    from (select id, unnest(line_items) as li from {PARENTS})
    """,
        f"""
    create or replace temp table {LINE_MATCHES} as
    select order_id, product_id, variation_id, any_value(line_id) as line_id,
        any_value(sku) as sku, count(*) as n
    from {PARENT_LINES} group by all
    """,
    ]


def returns_select(path: str, name: str, order: int) -> str:
    """The flatten select of one refunds file, joined with the orders `parents_statements`
    staged."""
    refunded_item = (
        "json_extract_string(list_filter("
        f"{array('li', '$.meta_data')}, "
        "lambda m: json_extract_string(m, '$.key') = '_refunded_item_id')[1], '$.value')"
    )
    return f"""
    with
    doc as (
        select cast(content as json) as j from read_text({ql(path)})
    ),
    refunds_list as (
        select case
            when json_type(j) = 'ARRAY' then cast(j as json[])
            when json_type(j) = 'OBJECT' and json_exists(j, '$.id') then [j]
            else []
        end as rs
        from doc
    ),
    refunds as (
        select unnest(rs) as r, unnest(generate_series(1, len(rs))) as refund_no
        from refunds_list
    ),
    items as (
        select
            r, refund_no,
            len({array("r", "$.line_items")}) = 0 as has_no_items,
            -- a refund without line items still gives one row (quarantined): nothing is dropped
            unnest(case when len({array("r", "$.line_items")}) = 0 then [cast(null as json)]
                else {array("r", "$.line_items")} end) as li,
            unnest(generate_series(1, greatest(len({array("r", "$.line_items")}), 1)))
                as item_no
        from refunds
    ),
    flat as (
        select
            refund_no, item_no, has_no_items,
            {text("r", "$.id")} as refund_id,
            coalesce(nullif({text("r", "$.parent_id")}, '0'), regexp_extract(
                {text("r", "$._links.up[0].href")}, '/orders/([0-9]+)/?$', 1)) as parent,
            {text("r", "$.date_created_gmt")} as created_gmt,
            nullif(trim({text("r", "$.reason")}), '') as reason,
            {text("r", "$.amount")} as amount,
            {text("r", "$.refunded_payment")} as refunded_payment,
            {text("li", "$.id")} as item_id,
            coalesce({text("li", "$.product_id")}, '0') as product_id,
            coalesce({text("li", "$.variation_id")}, '0') as variation_id,
            nullif({text("li", "$.sku")}, '') as item_sku,
            {text("li", "$.name")} as product_name,
            {text("li", "$.quantity")} as quantity,
            {text("li", "$.total")} as total,
            {text("li", "$.total_tax")} as total_tax,
            {cents(text("li", "$.total"))} as total_cents,
            {cents(text("li", "$.total_tax"))} as total_tax_cents,
            {refunded_item} as refunded_item_id
        from items
    ),
    joined as (
        select
            flat.*,
            nullif(parent, '') as parent_id,
            parents.id as o_id,
            parents.currency as o_currency,
            parents.order_reason as o_reason,
            -- by product and variation only when one line of the order has them
            coalesce(by_item.line_id, case when by_product.n = 1 then by_product.line_id end)
                as line_id,
            coalesce(by_item.sku, case when by_product.n = 1 then by_product.sku end)
                as line_sku,
            by_item.line_id is null and by_product.n > 1 as is_ambiguous
        from flat
        left join {PARENTS} as parents on flat.parent = parents.id
        left join {PARENT_LINES} as by_item
            on flat.parent = by_item.order_id and flat.refunded_item_id = by_item.line_id
        left join {LINE_MATCHES} as by_product
            on flat.refunded_item_id is null
            and flat.parent = by_product.order_id
            and flat.product_id = by_product.product_id
            and flat.variation_id = by_product.variation_id
    )
    select
        refund_id as rma_id,
        parent_id as order_id,
        line_id as order_line_id,
        coalesce(item_sku, line_sku) as sku,
        case when regexp_full_match(quantity, '-[0-9]+') then substr(quantity, 2)
            when regexp_full_match(quantity, '-[0-9]+[.][0-9]+') then substr(quantity, 2)
            else quantity end as quantity,
        cast(null as varchar) as reason_code,
        reason as reason_text,
        {gmt("created_gmt")} as requested_at,
        cast(null as varchar) as received_at,
        cast(null as varchar) as inspected_at,
        -- the refund is WooCommerce's only event: it stands in as the request (required);
        -- refunded_at stays empty so no request-to-refund lead time of 0 is reported
        cast(null as varchar) as refunded_at,
        cast(null as varchar) as condition_grade,
        cast(null as varchar) as disposition,
        'refund' as resolution,
        {money("-(total_cents + coalesce(total_tax_cents, 0))")} as refund_amount_eur,
        'refunded' as status,
        cast(json_object(
            'date_created_gmt', created_gmt, 'refund_item_id', item_id, 'refunded_item_id', refunded_item_id,
            'product_id', product_id, 'variation_id', variation_id, 'name', product_name,
            'total', total, 'total_tax', total_tax, 'refund_amount', amount,
            'refunded_payment', refunded_payment, 'currency', o_currency
        ) as varchar) as _extra,
        {ql(name)} as _source_file,
        {order} as _file_order,
        row_number() over (order by refund_no, item_no) as _file_row_number,
        concat_ws('; ',
            case when refund_id is null
                then 'missing id (every WooCommerce refund has one): export the refund again'
                when not regexp_full_match(refund_id, '[0-9]+')
                then 'id is not a whole number as the REST API writes it' end,
            case when has_no_items
                then 'no line_items: an amount refunded without naming the goods (a refund '
                    || 'by amount), not a returned item; refund the line items in WooCommerce '
                    || 'to count the return' end,
            case when parent_id is null
                then 'the parent order is not named (no parent_id, no _links.up): save the '
                    || 'response of GET /orders/<id>/refunds as it is ({DOCS})'
                when o_id is null
                then 'the parent order is in no orders_*.json of the folder: its currency '
                    || 'and order line are unknown; deliver the order''s page (GET /orders): '
                    || 'this file is then read again ({DOCS})'
                when o_reason <> '' then 'the parent order is not loaded: ' || o_reason end,
            case when o_id is not null and not has_no_items and line_id is null
                then case when is_ambiguous
                    then 'the refunded order line is ambiguous: no _refunded_item_id in '
                        || 'meta_data and several lines of the parent order have this '
                        || 'product_id and variation_id'
                    else 'the refunded order line is not in the parent order (by '
                        || '_refunded_item_id, or product_id and variation_id)' end end,
            case when not has_no_items and regexp_full_match(quantity, '[0-9]+([.][0-9]+)?')
                then case when quantity = '0' or regexp_full_match(quantity, '0[.]0+')
                    then 'quantity is 0: an amount refunded on the line without goods (a '
                        || 'price adjustment), not a returned item'
                    else 'line_items quantity is not negative as WooCommerce writes refunded '
                        || 'quantities: export the refund again' end end,
            case when total is not null and total_cents is null
                then {ql(inexact("line_items total"))} end,
            case when total_tax is not null and total_tax_cents is null
                then {ql(inexact("line_items total_tax"))} end
        ) as {ADAPTER_REASON}
    from joined
    """
