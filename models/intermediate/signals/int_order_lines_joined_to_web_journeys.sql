{#
    One row per order line with what the customer did on the site before buying it: the
    identified customer's web events in the look-back window (signal_var journey_lookback_days)
    up to the moment of the order. Views, size-guide views and cart events count when they
    are about the line's product (any sku of its product_id); category views when about any
    product of its category. Marketplace orders have no purchase session: has_web_journey is
    false and the behaviour columns are null for them.
    Journeys of lines up to the finalisation horizon come from the incremental
    int_web_events_aggregated_to_order_lines, the few after it (pending) are computed here by
    the same macro; what a later delivery can change (returns, sizes, category) is joined
    here at every run, so a late return updates its line without reading any web event.
#}
with

order_lines as (

    select * from {{ ref('fct_order_lines') }}

),

orders as (

    select * from {{ ref('stg_shop__orders') }}

),

events as (

    select * from {{ ref('stg_web__events') }}

),

products as (

    select * from {{ ref('dim_products') }}

),

product_size_counts as (

    select
        product_id,
        count(distinct size) as sizes
    from products
    group by 1

),

{# the sizes of a product in one order, for bracketing: distinct rows, then counted (a
   distinct count over a window is DuckDB-only; a grouped distinct count ran out of memory at
   10M order lines under the default budget, issue 16). It reads the table, not the
   order_lines CTE: DuckDB materialises a CTE read twice (all 10M lines, 3.2 GB at 10M) #}
sizes_in_orders as (

    select
        order_id,
        product_id,
        count(size) as sizes_in_order
    from (
        select distinct
            order_lines.order_id,
            order_lines.product_id,
            products.size
        from {{ ref('fct_order_lines') }} as order_lines
        left join products
            on order_lines.sku = products.sku
    ) as sizes_of_lines
    group by 1, 2

),

lines_with_orders as (

    select
        order_lines.order_line_id,
        order_lines.order_id,
        order_lines.customer_key,
        order_lines.product_id,
        order_lines.sku,
        order_lines.category,
        order_lines.channel,
        order_lines.quantity,
        order_lines.returned_quantity,
        order_lines.has_return,
        order_lines.ordered_at,
        order_lines.ordered_date,
        orders.session_id is not null as has_web_journey,
        coalesce(product_size_counts.sizes, 0) > 1 as is_sized_product,
        sizes_in_orders.sizes_in_order
    from order_lines
    inner join orders
        on order_lines.order_id = orders.order_id
    left join product_size_counts
        on order_lines.product_id = product_size_counts.product_id
    left join sizes_in_orders
        on
            order_lines.order_id = sizes_in_orders.order_id
            and order_lines.product_id is not distinct from sizes_in_orders.product_id

),

identified_events as (

    select
        events.customer_key,
        events.session_id,
        events.event_type,
        events.event_at,
        products.product_id,
        products.category
    from events
    left join products
        on events.sku = products.sku
    where events.customer_key is not null

),

finalised_journeys as (

    select * from {{ ref('int_web_events_aggregated_to_order_lines') }}

),

{# the lines with a purchase session that are not finalised yet: ids only first. Anti-joined
   with all their columns, DuckDB built its hash table from the ~9M wide lines (customer_key,
   product, category, time), ~2.4 GB at 10M order lines, and ran out of memory under the
   default budget in 4 of 11 10M builds (issue 16, docs/operations.md "Memory"); the ids
   take a fraction of that. The tables are read here, not the CTEs: DuckDB materialises a
   CTE read twice (all its rows) #}
pending_line_ids as (

    select order_lines.order_line_id
    from {{ ref('fct_order_lines') }} as order_lines
    inner join {{ ref('stg_shop__orders') }} as orders
        on order_lines.order_id = orders.order_id
    left join {{ ref('int_web_events_aggregated_to_order_lines') }} as finalised
        on order_lines.order_line_id = finalised.order_line_id
    where orders.session_id is not null and finalised.order_line_id is null

),

{# the columns the journeys macro reads, from the order lines themselves: a second reader
   of lines_with_orders (or of the order_lines and orders CTEs) made DuckDB materialise
   all their rows (10M wide lines), which ran out of memory under the default budget
   (issue 16); fct_order_lines has one row per order_line_id (tested unique) #}
pending_lines as (

    select
        order_lines.order_line_id,
        order_lines.customer_key,
        order_lines.product_id,
        order_lines.category,
        order_lines.ordered_at
    from {{ ref('fct_order_lines') }} as order_lines
    inner join pending_line_ids
        on order_lines.order_line_id = pending_line_ids.order_line_id

),

pending_journeys as (

    {{ aggregate_web_journeys('pending_lines', 'identified_events') }}

),

journeys as (

    select
        order_line_id,
        sessions,
        product_views,
        category_views,
        first_product_view_at,
        size_guide_views,
        cart_adds,
        cart_removes
    from finalised_journeys

    union all

    select
        order_line_id,
        sessions,
        product_views,
        category_views,
        first_product_view_at,
        size_guide_views,
        cart_adds,
        cart_removes
    from pending_journeys

),

final as (

    select
        line_facts.order_line_id,
        line_facts.order_id,
        line_facts.customer_key,
        line_facts.product_id,
        line_facts.sku,
        line_facts.category,
        line_facts.channel,
        line_facts.has_web_journey,
        line_facts.is_sized_product,
        line_facts.sizes_in_order > 1 as is_bracketing,
        case when line_facts.has_web_journey then coalesce(journeys.sessions, 0) end
            as sessions_in_lookback,
        case when line_facts.has_web_journey then coalesce(journeys.product_views, 0) end
            as product_views,
        case when line_facts.has_web_journey then coalesce(journeys.category_views, 0) end
            as category_views,
        case when line_facts.has_web_journey then coalesce(journeys.size_guide_views, 0) end
            as size_guide_views,
        case when line_facts.has_web_journey then coalesce(journeys.cart_adds, 0) end
            as cart_adds,
        case when line_facts.has_web_journey then coalesce(journeys.cart_removes, 0) end
            as cart_removes,
        {{ dbt.datediff('journeys.first_product_view_at', 'line_facts.ordered_at', 'second') }}
        / 60.0 as decision_minutes,
        journeys.first_product_view_at,
        line_facts.quantity,
        line_facts.returned_quantity,
        line_facts.has_return,
        line_facts.ordered_at,
        line_facts.ordered_date
    from lines_with_orders as line_facts
    left join journeys
        on
            line_facts.order_line_id = journeys.order_line_id
            and line_facts.has_web_journey

)

select * from final
