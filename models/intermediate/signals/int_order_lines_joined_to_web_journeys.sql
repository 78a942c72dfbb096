{#
    One row per order line with what the customer did on the site before buying it: the
    identified customer's web events in the look-back window (signal_var journey_lookback_days)
    up to the moment of the order. Views, size-guide views and cart events count when they
    are about the line's product (any sku of its product_id); category views when about any
    product of its category. Marketplace orders have no purchase session: has_web_journey is
    false and the behaviour columns are null for them.
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
        count(distinct products.size) over (
            partition by order_lines.order_id, order_lines.product_id
        ) as sizes_in_order
    from order_lines
    inner join orders
        on order_lines.order_id = orders.order_id
    left join products
        on order_lines.sku = products.sku
    left join product_size_counts
        on order_lines.product_id = product_size_counts.product_id

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

lines_joined_to_events as (

    select
        line_facts.order_line_id,
        events.session_id,
        events.event_at,
        events.event_at < line_facts.ordered_at as is_before_order,
        events.event_type = 'product_view' as is_view,
        events.product_id = line_facts.product_id as is_same_product,
        events.category = line_facts.category as is_same_category,
        events.event_type
    from lines_with_orders as line_facts
    inner join identified_events as events
        on
            line_facts.customer_key = events.customer_key
            and line_facts.ordered_at >= events.event_at
            and events.event_at >= {{ dbt.dateadd(
                'day', -1 * signal_var('journey_lookback_days'), 'line_facts.ordered_at'
            ) }}
    where line_facts.has_web_journey

),

events_aggregated_to_lines as (

    select
        order_line_id,
        count(distinct session_id) as sessions,
        sum(case when is_view and is_same_product and is_before_order then 1 else 0 end)
            as product_views,
        sum(case when is_view and is_same_category and is_before_order then 1 else 0 end)
            as category_views,
        min(case when is_view and is_same_product and is_before_order then event_at end)
            as first_product_view_at,
        sum(
            case
                when event_type = 'size_guide_view' and is_same_product then 1 else 0
            end
        ) as size_guide_views,
        sum(case when event_type = 'add_to_cart' and is_same_product then 1 else 0 end)
            as cart_adds,
        sum(case when event_type = 'remove_from_cart' and is_same_product then 1 else 0 end)
            as cart_removes
    from lines_joined_to_events
    group by 1

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
    left join events_aggregated_to_lines as journeys
        on line_facts.order_line_id = journeys.order_line_id

)

select * from final
