{#
    One row per order line: the customer's behaviour on the site before buying the product
    (see int_order_lines_joined_to_web_journeys) next to what came back of the line.
    Web events are an optional source: a shop that delivered none gets this mart (and
    sig_return_rate_by_behaviour_band) empty, never lines with zero views that look like data;
    marts.rpt_source_availability says "not available: no web events delivered".
#}
with

journeys as (

    select * from {{ ref('int_order_lines_joined_to_web_journeys') }}

),

web_events as (

    select * from {{ ref('stg_web__events') }}

),

final as (

    select
        cast(order_line_id as string) as order_line_id,
        cast(order_id as string) as order_id,
        cast(customer_key as string) as customer_key,
        cast(product_id as string) as product_id,
        cast(sku as string) as sku,
        cast(category as string) as category,
        cast(channel as string) as channel,
        has_web_journey,
        is_sized_product,
        is_bracketing,
        coalesce(size_guide_views > 0, false) as has_size_guide_view,
        cast(sessions_in_lookback as bigint) as sessions_in_lookback,
        cast(product_views as bigint) as product_views,
        cast(category_views as bigint) as category_views,
        cast(size_guide_views as bigint) as size_guide_views,
        cast(cart_adds as bigint) as cart_adds,
        cast(cart_removes as bigint) as cart_removes,
        cast(decision_minutes as double) as decision_minutes,
        cast(quantity as bigint) as quantity,
        cast(returned_quantity as bigint) as returned_quantity,
        has_return,
        cast(ordered_date as date) as ordered_date,
        cast(ordered_at as timestamp) as ordered_at,
        cast(first_product_view_at as timestamp) as first_product_view_at
    from journeys
    {# a count (one row), not exists(): DuckDB planned the uncorrelated exists as a cross
       product that buffered all 10M journey rows, out of memory under the default budget
       (issue 16) #}
    where (select count(*) from web_events) > 0

)

select * from final
