{#
    The order line of every return line whose delivered order_line_id is not an order line of
    raw: a returns platform names the line its own way (Sendcloud `order_number-sku`, bol.com
    `orderId-ean`), so the line is matched by order and sku. The order by its id or by the
    number the shop shows the customer (Shopify's `name` '#1001', WooCommerce's `number`, kept
    by the adapters in `_extra`): as delivered first, then with a leading '#' ignored on both
    sides (so '#1429' is the order named #1429 even when an order has the id 1429), the id
    before the number; the line by its sku; two lines of one order with the same sku: the first
    by line number. One row per matched (rma_id, delivered_order_line_id); a return line that
    matches nothing has none.

    A table: stg_returns__return_lines, a view read by most returns models and their tests,
    joins it, so the matching (an anti-join of every return line with every order line) runs
    once per run instead of on every scan. Keys only: no free text, no customer data.
#}
{{ config(materialized='table') }}

with

delivered as (

    select
        rma_id,
        order_id,
        order_line_id,
        sku
    from {{ source('returns', 'returns') }}

),

order_lines as (

    select
        order_line_id,
        order_id,
        sku,
        line_number
    from {{ source('shop', 'order_lines') }}

),

order_references as (

    {# every name an order goes by: its id, then the number the shop shows the customer #}
    select
        order_id,
        order_id as order_reference,
        1 as reference_rank
    from {{ source('shop', 'orders') }}

    union all

    select
        order_id,
        {{ json_text('_extra', 'name') }} as order_reference,
        2 as reference_rank
    from {{ source('shop', 'orders') }}
    where {{ json_text('_extra', 'name') }} is not null

    union all

    select
        order_id,
        {{ json_text('_extra', 'number') }} as order_reference,
        2 as reference_rank
    from {{ source('shop', 'orders') }}
    where {{ json_text('_extra', 'number') }} is not null

),

delivered_without_order_line as (

    select delivered.*
    from delivered
    left join order_lines on delivered.order_line_id = order_lines.order_line_id
    where order_lines.order_line_id is null

),

order_lines_matched_by_sku as (

    select
        delivered_without_order_line.rma_id,
        delivered_without_order_line.order_line_id as delivered_order_line_id,
        order_lines.order_line_id,
        order_lines.order_id,
        row_number() over (
            partition by
                delivered_without_order_line.rma_id,
                delivered_without_order_line.order_line_id
            order by
                {# as delivered ('#1429' is the name #1429, not order id 1429) before
                   without the '#', then the id before the number #}
                case
                    when delivered_without_order_line.order_id = order_references.order_reference
                        then 0
                    else 1
                end,
                order_references.reference_rank,
                order_lines.line_number,
                order_lines.order_line_id
        ) as match_rank
    from delivered_without_order_line
    inner join order_references
        on
            trim(leading '#' from delivered_without_order_line.order_id)
            = trim(leading '#' from order_references.order_reference)
    inner join order_lines
        on
            order_references.order_id = order_lines.order_id
            and delivered_without_order_line.sku = order_lines.sku

),

final as (

    select

        ---------- ids
        rma_id,
        delivered_order_line_id,
        order_line_id,
        order_id

    from order_lines_matched_by_sku
    where match_rank = 1

)

select * from final
